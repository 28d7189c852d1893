//! The controller MLP's backward and L2 term against central finite
//! differences, the normaliser, and torch_trainer.py's pose Adam rule.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_train::cpu::{adam_step, pose_adam_step, AdamConfig, Controller, Normalizer};

/// torch's `Linear` initialisation: U(±1/sqrt(fan_in)) for weights and biases.
pub fn random_controller(rng: &mut Pcg64, d: usize, h: usize, k: usize) -> Controller {
    let mut c = Controller::zeros(d, h, k);
    let fans = [d, d, h, h, h, h];
    for ((o, l), fan) in c.segments().into_iter().zip(fans) {
        let b = 1.0 / (fan as f64).sqrt();
        for v in &mut c.theta[o..o + l] {
            *v = rng.random_range(-b..b);
        }
    }
    c
}

#[test]
fn controller_backward_matches_finite_differences() {
    let mut rng = Pcg64::seed_from_u64(11);
    let (d, h, k) = (52, 64, 8);
    let c = random_controller(&mut rng, d, h, k);
    let x: Vec<f64> = (0..d).map(|_| rng.random_range(-2.0..2.0)).collect();
    let dw: Vec<f64> = (0..k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let reg_w = 1e-3;
    let loss = |c: &Controller| -> f64 {
        let f = c.forward(&x).expect("forward");
        f.w.iter().zip(&dw).map(|(a, b)| a * b).sum::<f64>() + c.l2(reg_w).0
    };
    let f = c.forward(&x).expect("forward");
    let mut g = c.backward(&f, &dw).expect("backward");
    let l2 = c.l2(reg_w).1;
    for (a, b) in g.theta.iter_mut().zip(&l2.theta) {
        *a += b;
    }
    let eps = 1e-6;
    let mut worst = 0f64;
    let mut probe = c.clone();
    for i in 0..c.theta.len() {
        let v = c.theta[i];
        probe.theta[i] = v + eps;
        let lp = loss(&probe);
        probe.theta[i] = v - eps;
        let lm = loss(&probe);
        probe.theta[i] = v;
        let fd = (lp - lm) / (2.0 * eps);
        let err = (fd - g.theta[i]).abs();
        let tol = 1e-6 * g.theta[i].abs().max(1e-3);
        worst = worst.max(err / tol);
        assert!(err <= tol, "θ[{i}]: fd {fd} analytic {}", g.theta[i]);
    }
    eprintln!("controller fd: worst {worst:.3} of tolerance");
    // The L2 term: reg_w 1e-2 Σ_tensors mean θ².
    let direct: f64 = c
        .segments()
        .iter()
        .map(|&(o, l)| c.theta[o..o + l].iter().map(|v| v * v).sum::<f64>() / l as f64)
        .sum::<f64>()
        * reg_w
        * 1e-2;
    assert!((direct - c.l2(reg_w).0).abs() <= 1e-15);
    assert!(c.forward(&x[1..]).is_err());
    assert!(c.backward(&f, &dw[1..]).is_err());
}

#[test]
fn normalizer_is_train_py_s() {
    let conds = vec![vec![0.0, 1.0], vec![2.0, 1.0], vec![4.0, 1.0]];
    let n = Normalizer::fit(&conds).expect("fit");
    assert_eq!(n.mean, vec![2.0, 1.0]);
    let std = (8.0f64 / 3.0).sqrt();
    assert!((n.scale[0] - 1.0 / (std + 0.05)).abs() < 1e-15);
    assert!((n.scale[1] - 20.0).abs() < 1e-12);
    let y = n.apply(&[2.0, 2.0]);
    assert_eq!(y[0], 0.0);
    assert!((y[1] - 20.0).abs() < 1e-12);
    assert!(Normalizer::fit(&[]).is_err());
    assert!(Normalizer::fit(&[vec![1.0], vec![1.0, 2.0]]).is_err());
}

/// torch_trainer.py: `popt.step()` over the whole table (one step counter; zero
/// gradient off the frame), then every other row put back.
#[test]
fn pose_adam_moves_only_the_frame_s_row() {
    let cfg = AdamConfig::new(0.02, 1e-8);
    let mut rng = Pcg64::seed_from_u64(5);
    let rows = 4;
    let mut poses: Vec<[f64; 6]> = (0..rows)
        .map(|_| std::array::from_fn(|_| rng.random_range(-1.0..1.0)))
        .collect();
    let start = poses.clone();
    let (mut m, mut v) = (vec![[0.0; 6]; rows], vec![[0.0; 6]; rows]);
    // The torch semantics written out: a whole-table Adam, then restore.
    let mut tp = poses.clone();
    let (mut tm, mut tv) = (vec![[0.0; 6]; rows], vec![[0.0; 6]; rows]);
    for (t, frame) in [1usize, 1, 3].into_iter().enumerate() {
        let grad: [f64; 6] = std::array::from_fn(|_| rng.random_range(-0.1..0.1));
        pose_adam_step(&cfg, t as u32 + 1, &mut poses, &mut m, &mut v, frame, &grad)
            .expect("pose step");
        let before = tp.clone();
        for r in 0..rows {
            for c in 0..6 {
                let g = if r == frame { grad[c] } else { 0.0 };
                adam_step(
                    &cfg,
                    t as u32 + 1,
                    &mut tp[r][c],
                    g,
                    &mut tm[r][c],
                    &mut tv[r][c],
                );
            }
        }
        let row = tp[frame];
        tp = before;
        tp[frame] = row;
    }
    assert_eq!(poses, tp);
    assert_eq!(m, tm);
    assert_eq!(v, tv);
    assert_eq!(poses[0], start[0]);
    assert_eq!(poses[2], start[2]);
    assert_ne!(poses[1], start[1]);
    // Row 1's moments decayed during frame 3's step.
    assert!(m[1][0] != 0.0);
    assert!(pose_adam_step(&cfg, 1, &mut poses, &mut m, &mut v, rows, &[0.0; 6]).is_err());
}
