//! The loss gradients against central finite differences: SSIM alone, the
//! image loss with respect to the composite and the head alpha, and the
//! whole chain from the loss to the parameters.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_train::cpu::{
    backward, branches, forward, image_loss, ssim, Branches, LossWeights, Target, MASK_INSIDE,
    MASK_MOUTH, MASK_OUTSIDE,
};

use crate::fd::{self, Var, EPS};
use crate::scene::{Options, Scene};

fn random_rgb(rng: &mut Pcg64, n: usize) -> Vec<[f64; 3]> {
    (0..n)
        .map(|_| std::array::from_fn(|_| rng.random_range(0.0..1.0)))
        .collect()
}

#[test]
fn ssim_of_an_image_with_itself_is_one() {
    let mut rng = Pcg64::seed_from_u64(1);
    let a = random_rgb(&mut rng, 20 * 15);
    let (s, g) = ssim::ssim(&a, &a, 20, 15).expect("ssim");
    assert!((s - 1.0).abs() < 1e-12, "{s}");
    // A maximum: zero gradient.
    assert!(g.iter().flatten().all(|v| v.abs() < 1e-12));
    assert!(ssim::ssim(&a[..100], &a[..100], 10, 10).is_err());
}

/// Tolerance: 1e-6 relative plus 1e-9 absolute (derivatives are about
/// 1 / (number of SSIM terms) ~ 1e-3; the rounding of the central
/// difference is about 1e-16 / 1e-6 ~ 1e-10).
#[test]
fn ssim_gradient_matches_finite_differences() {
    let mut rng = Pcg64::seed_from_u64(2);
    let (w, h) = (17, 14);
    let a = random_rgb(&mut rng, w * h);
    // b correlated with a so that SSIM is far from 0.
    let b: Vec<[f64; 3]> = a
        .iter()
        .map(|p| p.map(|v| (0.7 * v + rng.random_range(0.0..0.3)).min(1.0)))
        .collect();
    let (_, g) = ssim::ssim(&a, &b, w, h).expect("ssim");
    let mut worst = 0.0f64;
    for p in 0..w * h {
        for c in 0..3 {
            let mut x = a.clone();
            x[p][c] += EPS;
            let sp = ssim::ssim(&x, &b, w, h).expect("ssim").0;
            x[p][c] -= 2.0 * EPS;
            let sm = ssim::ssim(&x, &b, w, h).expect("ssim").0;
            let num = (sp - sm) / (2.0 * EPS);
            let err = (num - g[p][c]).abs();
            let tol = 1e-6 * num.abs() + 1e-9;
            assert!(err <= tol, "pixel {p} channel {c}: {} vs {num}", g[p][c]);
            worst = worst.max(err / tol);
        }
    }
    eprintln!("ssim: worst error/tolerance {worst:.3}");
}

struct Frame {
    scene: Scene,
    gt: Vec<[f64; 3]>,
    masks: Vec<u8>,
}

/// A scene, a target 0.05 or more away from the render in every channel
/// (the L1 kink stays out of reach of the finite differences), and masks
/// with every bit used.
fn frame(seed: u64) -> Frame {
    let scene = Scene::random(
        seed,
        Options {
            sh_degree: 1,
            num_bases: 2,
            pose: true,
            translucent: false,
        },
    );
    let fwd = forward(&scene.params, &scene.frame()).expect("forward");
    let mut rng = Pcg64::seed_from_u64(seed + 1000);
    let gt = fwd
        .image
        .iter()
        .map(|p| {
            std::array::from_fn(|c| {
                let d = rng.random_range(0.05..0.3);
                if rng.random_bool(0.5) {
                    p[c] + d
                } else {
                    p[c] - d
                }
            })
        })
        .collect();
    let masks = (0..scene.pixels())
        .map(|_| {
            let mut m = 0u8;
            if rng.random_bool(0.3) {
                m |= MASK_MOUTH;
            }
            m | match rng.random_range(0..3) {
                0 => MASK_INSIDE | 1,
                1 => MASK_OUTSIDE,
                _ => 1,
            }
        })
        .collect();
    Frame { scene, gt, masks }
}

fn target(f: &Frame) -> Target<'_> {
    Target {
        rgb: &f.gt,
        masks: &f.masks,
        width: f.scene.camera.width as usize,
        height: f.scene.camera.height as usize,
    }
}

/// `dL/dimage` and `dL/dhead` of the image loss against finite differences
/// of the loss in the RGB and head alpha (the only values it reads) of
/// every 3rd pixel; tolerance 1e-6 relative plus 1e-10 absolute.
#[test]
fn image_loss_gradient_matches_finite_differences() {
    let f = frame(21);
    let t = target(&f);
    let weights = LossWeights::default();
    let fwd = forward(&f.scene.params, &f.scene.frame()).expect("forward");
    let (loss, grad) = image_loss(&fwd, &t, &weights).expect("loss");
    assert!(
        loss.l1 > 0.0 && loss.ssim < 1.0 && loss.alpha > 0.0,
        "{loss:?}"
    );
    let value = |image: &[[f64; 4]], head: &[[f64; 4]]| {
        let mut g = fwd.clone();
        g.image = image.to_vec();
        g.head = head.to_vec();
        image_loss(&g, &t, &weights).expect("loss").0.total
    };
    let mut worst = 0.0f64;
    // The loss reads the composite's RGB and the head's alpha only.
    for p in 0..fwd.image.len() {
        assert_eq!(grad.image[p][3], 0.0);
        assert_eq!(&grad.head[p][..3], &[0.0; 3]);
    }
    // Every 3rd pixel (masks are random per pixel).
    let slots = (0..fwd.image.len())
        .step_by(3)
        .flat_map(|p| [(p, 0, false), (p, 1, false), (p, 2, false), (p, 3, true)]);
    for (p, c, on_head) in slots {
        let moved = |step: f64| {
            let (mut image, mut head) = (fwd.image.clone(), fwd.head.clone());
            if on_head {
                head[p][c] += step;
            } else {
                image[p][c] += step;
            }
            value(&image, &head)
        };
        let an = if on_head {
            grad.head[p][c]
        } else {
            grad.image[p][c]
        };
        let num = (moved(EPS) - moved(-EPS)) / (2.0 * EPS);
        let err = (num - an).abs();
        let tol = 1e-6 * num.abs() + 1e-10;
        assert!(
            err <= tol,
            "pixel {p} channel {c} head {on_head}: {an:e} vs {num:e}"
        );
        worst = worst.max(err / tol);
    }
    eprintln!("image loss: worst error/tolerance {worst:.3}");
}

/// The loss through the whole backward, against finite differences of the
/// loss in every 7th input of every group (same tolerances as the probe
/// tests: 1e-6 relative plus 1e-8 times the group's largest derivative).
#[test]
fn loss_to_parameters_matches_finite_differences() {
    let weights = LossWeights::default();
    let mut done = false;
    for seed in 30..35 {
        let f = frame(seed);
        let t = target(&f);
        let s = &f.scene;
        let eval = |params: &_, coeffs: &[f64], pose| -> (f64, Branches) {
            let frame = s.frame_with(coeffs, pose);
            let fwd = forward(params, &frame).expect("forward");
            let (loss, _) = image_loss(&fwd, &t, &weights).expect("loss");
            let mut b = branches(params, &frame, &fwd);
            // The L1 kink is a branch too.
            b.0.extend(
                fwd.image
                    .iter()
                    .zip(&f.gt)
                    .flat_map(|(p, g)| (0..3).map(move |c| i64::from(p[c] > g[c]))),
            );
            (loss.total, b)
        };
        let frame0 = s.frame();
        let fwd = forward(&s.params, &frame0).expect("forward");
        let (_, grad_out) = image_loss(&fwd, &t, &weights).expect("loss");
        let grads = backward(&s.params, &frame0, &fwd, &grad_out).expect("backward");
        let base = eval(&s.params, &s.coeffs, s.pose).1;
        let mut rows = Vec::new();
        let mut crossed = false;
        'groups: for vars in fd::all_vars(s) {
            let picked: Vec<Var> = vars
                .iter()
                .copied()
                .step_by(if vars.len() > 20 { 7 } else { 1 })
                .collect();
            let mut pairs = Vec::new();
            for var in picked {
                let (p, c, q) = fd::moved(s, &[(var, 1.0)], EPS);
                let (lp, bp) = eval(&p, &c, q);
                let (p, c, q) = fd::moved(s, &[(var, 1.0)], -EPS);
                let (lm, bm) = eval(&p, &c, q);
                if bp != base || bm != base {
                    crossed = true;
                    break 'groups;
                }
                pairs.push((var, fd::component(&grads, var), (lp - lm) / (2.0 * EPS)));
            }
            rows.push(pairs);
        }
        if crossed {
            eprintln!("seed {seed}: a perturbation changes a branch, re-drawing");
            continue;
        }
        for pairs in rows {
            let scale = pairs.iter().fold(1.0f64, |m, p| m.max(p.1.abs()));
            for (var, an, num) in pairs {
                let err = (an - num).abs();
                let tol = 1e-6 * num.abs().max(an.abs()) + 1e-8 * scale;
                assert!(
                    err <= tol,
                    "seed {seed}: {var:?}: analytic {an:e}, finite difference {num:e}"
                );
            }
        }
        done = true;
        break;
    }
    assert!(done, "no scene without a branch change near it");
}

/// The parameter-only terms against central differences, every word.
#[test]
fn regularisers_match_finite_differences() {
    use synctalk_train::cpu::{regularisers, Params};
    let mut rng = Pcg64::seed_from_u64(5);
    let (n, k) = (7, 3);
    let mut r = |a: f64| rng.random_range(-a..a);
    let params = Params {
        sh_degree: 1,
        num_bases: k,
        means: (0..n).map(|_| [r(1.0), r(1.0), r(1.0)]).collect(),
        quats: (0..n).map(|_| [1.0, r(0.2), r(0.2), r(0.2)]).collect(),
        log_scales: (0..n).map(|_| [r(3.0), r(3.0), r(3.0)]).collect(),
        opacity_logits: (0..n).map(|_| r(4.0)).collect(),
        sh: (0..n).map(|_| [[r(1.0); 3]; 4]).collect(),
        bases: (0..n * k)
            .map(|_| std::array::from_fn(|_| r(0.1)))
            .collect(),
    };
    let pose: [f64; 6] = std::array::from_fn(|_| r(2.0));
    let reg_w = 0.3;
    let (_, g) = regularisers(&params, &pose, reg_w);
    let h = 1e-6;
    let check = |what: &str, an: f64, f: &dyn Fn(f64) -> f64| {
        let fd = (f(h) - f(-h)) / (2.0 * h);
        assert!(
            (fd - an).abs() <= 1e-7 * an.abs() + 1e-10,
            "{what}: fd {fd} analytic {an}"
        );
    };
    for i in 0..n {
        check("opacity", g.params.opacity_logits[i], &|d| {
            let mut p = params.clone();
            p.opacity_logits[i] += d;
            regularisers(&p, &pose, reg_w).0
        });
        for c in 0..3 {
            check("log-scale", g.params.log_scales[i][c], &|d| {
                let mut p = params.clone();
                p.log_scales[i][c] += d;
                regularisers(&p, &pose, reg_w).0
            });
        }
    }
    for j in 0..n * k {
        for c in 0..11 {
            check("basis", g.params.bases[j][c], &|d| {
                let mut p = params.clone();
                p.bases[j][c] += d;
                regularisers(&p, &pose, reg_w).0
            });
        }
    }
    for c in 0..6 {
        check("pose", g.pose[c], &|d| {
            let mut q = pose;
            q[c] += d;
            regularisers(&params, &q, reg_w).0
        });
    }
    assert!(g.params.means.iter().flatten().all(|&v| v == 0.0));
}
