//! The backward against central finite differences (eps 1e-6, f64) for
//! every parameter group, the deformation coefficients and the pose, on
//! random scenes that keep every perturbation on the same branch; and the
//! VJP dot-product identity `<u, J v> = <Jᵀ u, v>`.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_reference::{blend_pixel, tile_lists, tile_of, Step};
use synctalk_train::cpu::{forward, project};

use crate::fd::{self, Var};
use crate::scene::{Options, Scene};

/// Relative tolerance on each derivative.
const RTOL: f64 = 1e-6;
/// Absolute tolerance, times the largest |derivative| of the group (at least 1).
const ATOL: f64 = 1e-8;

/// Branches the accepted scenes went through.
#[derive(Default, Debug)]
struct Coverage {
    fov_clamped_visible: usize,
    sh_clamped: usize,
    alpha_clamped: usize,
    faint: usize,
    stopped: usize,
}

fn coverage(scene: &Scene, cov: &mut Coverage) {
    let frame = scene.frame();
    let fwd = forward(&scene.params, &frame).expect("forward");
    let mut blended = vec![false; scene.params.len()];
    let (w, h) = (scene.camera.width, scene.camera.height);
    let lists = tile_lists(&fwd.splats, w, h);
    for py in 0..h {
        for px in 0..w {
            let list = &lists[tile_of(px, py, w)];
            blend_pixel(
                list.iter().map(|&k| &fwd.splats[k]),
                px,
                py,
                |s, step| match step {
                    Step::Blended { clamped } => {
                        blended[s.index] = true;
                        cov.alpha_clamped += usize::from(clamped);
                    }
                    Step::Faint => cov.faint += 1,
                    Step::Stop => cov.stopped += 1,
                    Step::Outside => {}
                },
            );
        }
    }
    for (i, raw) in fwd.raws.iter().enumerate() {
        let Some(b) = project::branches(
            &fwd.view,
            raw,
            scene.params.sh_degree,
            scene.params.sh_used(i),
        ) else {
            continue;
        };
        if blended[i] && (b[0] != 0 || b[1] != 0) {
            cov.fov_clamped_visible += 1;
        }
        if blended[i] {
            cov.sh_clamped += b[2..].iter().filter(|&&v| v != 0).count();
        }
    }
}

/// Checks every derivative of the scene; `None` if some perturbation
/// changes a branch (the scene is then re-drawn). Returns the worst error
/// relative to the tolerance, per group.
fn check_scene(scene: &Scene, seed: u64) -> Option<Vec<(&'static str, f64, f64)>> {
    let u = fd::probe(scene, seed ^ 0x5eed);
    let base = fd::base_branches(scene, &u);
    let grads = fd::analytic(scene, &u);
    let names = fd::group_names(&scene.params);
    let mut report = Vec::new();
    for (name, vars) in names.into_iter().zip(fd::all_vars(scene)) {
        let mut pairs = Vec::new();
        for var in vars {
            let numeric = fd::directional(scene, &u, &base, &[(var, 1.0)])?;
            pairs.push((var, fd::component(&grads, var), numeric));
        }
        let scale = pairs.iter().fold(1.0f64, |m, p| m.max(p.1.abs()));
        let mut worst = 0.0f64;
        let mut max_abs = 0.0f64;
        for &(var, an, num) in &pairs {
            let err = (an - num).abs();
            let tol = RTOL * num.abs().max(an.abs()) + ATOL * scale;
            assert!(
                err <= tol,
                "seed {seed}: {name} {var:?}: analytic {an:e}, finite difference {num:e}, error {err:e} > {tol:e}"
            );
            worst = worst.max(err / tol);
            max_abs = max_abs.max(an.abs());
        }
        report.push((name, worst, max_abs));
    }
    Some(report)
}

fn run(options: &[Options], first_seed: u64) -> Coverage {
    let mut cov = Coverage::default();
    let mut seed = first_seed;
    for opt in options {
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(
                tries <= 5,
                "no scene without a branch change near it in 5 tries"
            );
            let scene = Scene::random(seed, *opt);
            seed += 1;
            if let Some(report) = check_scene(&scene, seed) {
                for (name, worst, max_abs) in report {
                    eprintln!("seed {}: {name:15} worst error/tolerance {worst:.3}, max |grad| {max_abs:.3e}", seed - 1);
                    // Zero gradients would make the check vacuous.
                    assert!(
                        max_abs > 0.0 || name == "sh" && opt.sh_degree == 0,
                        "{name}: all zero"
                    );
                }
                coverage(&scene, &mut cov);
                break;
            }
            eprintln!(
                "seed {}: a perturbation changes a branch, re-drawing",
                seed - 1
            );
        }
    }
    cov
}

#[test]
fn every_group_matches_finite_differences() {
    let o = |sh_degree, num_bases, pose, translucent| Options {
        sh_degree,
        num_bases,
        pose,
        translucent,
    };
    let cov = run(
        &[
            o(1, 2, true, true),
            o(1, 3, false, false),
            o(0, 1, true, false),
            o(1, 2, true, false),
        ],
        1,
    );
    eprintln!("{cov:?}");
    assert!(cov.fov_clamped_visible > 0, "{cov:?}");
    assert!(cov.sh_clamped > 0, "{cov:?}");
    assert!(cov.alpha_clamped > 0, "{cov:?}");
    assert!(cov.faint > 0, "{cov:?}");
    assert!(cov.stopped > 0, "{cov:?}");
}

/// `<u, J v>` by a central difference along a random direction `v` of every
/// input at once, against `<Jᵀ u, v>` from the backward.
#[test]
fn vjp_dot_product() {
    let mut checked = 0;
    for seed in 100..110 {
        let opt = Options {
            sh_degree: 1,
            num_bases: 2,
            pose: true,
            translucent: seed % 2 == 0,
        };
        let scene = Scene::random(seed, opt);
        let u = fd::probe(&scene, seed);
        let base = fd::base_branches(&scene, &u);
        let mut rng = Pcg64::seed_from_u64(seed + 7);
        let dir: Vec<(Var, f64)> = fd::all_vars(&scene)
            .into_iter()
            .flatten()
            .map(|v| (v, rng.random_range(-1.0..1.0)))
            .collect();
        let Some(jv) = fd::directional(&scene, &u, &base, &dir) else {
            continue;
        };
        let g = fd::analytic(&scene, &u);
        let jtu: f64 = dir.iter().map(|&(v, d)| fd::component(&g, v) * d).sum();
        let norm: f64 = dir
            .iter()
            .map(|&(v, d)| (fd::component(&g, v) * d).abs())
            .sum();
        let err = (jv - jtu).abs();
        eprintln!("seed {seed}: <u, Jv> {jv:e}, <J^T u, v> {jtu:e}, error {err:e}");
        // Relative to the sum of the magnitudes of the terms.
        assert!(err <= 1e-6 * norm + 1e-9, "seed {seed}: {jv:e} vs {jtu:e}");
        checked += 1;
    }
    assert!(
        checked >= 8,
        "only {checked} scenes without a branch change"
    );
}

/// The branch record sees a crossing: the opaque stack's front Gaussian
/// made faint changes it, a step far below any threshold does not.
#[test]
fn branches_see_cutoffs() {
    let opt = Options {
        sh_degree: 1,
        num_bases: 1,
        pose: false,
        translucent: false,
    };
    let scene = Scene::random(7, opt);
    let u = fd::probe(&scene, 7);
    let base = fd::base_branches(&scene, &u);
    let front = scene.params.len() - 3;
    let logit = Var::Param(3, front);
    assert!(fd::directional(&scene, &u, &base, &[(logit, 1.0)]).is_some());
    // ±8 (8e6 x EPS) from 8..11: at opacity 0.5..0.9 nothing is clamped.
    assert!(fd::directional(&scene, &u, &base, &[(logit, 8e6)]).is_none());
}
