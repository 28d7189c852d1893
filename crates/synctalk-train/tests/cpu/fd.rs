//! Central finite differences of a scalar of the forward, with a check that
//! no perturbation changes a branch of the forward.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_train::cpu::{backward, branches, forward, Branches, Gradients, OutputGrad, Params};

use crate::scene::Scene;

/// Finite-difference step (parameters are O(0.1..10)).
pub const EPS: f64 = 1e-6;

/// One scalar input of the forward.
#[derive(Clone, Copy, Debug)]
pub enum Var {
    /// Group index into `Params::groups`, then element.
    Param(usize, usize),
    /// Deformation coefficient.
    Coeff(usize),
    /// Pose component.
    Pose(usize),
}

/// Names of the groups checked, in order: the six parameter groups, `w`, pose.
pub fn group_names(params: &Params) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = params.groups().iter().map(|(n, _)| *n).collect();
    names.push("coeffs");
    names.push("pose");
    names
}

/// Every scalar input, by group (same order as [`group_names`]).
pub fn all_vars(scene: &Scene) -> Vec<Vec<Var>> {
    let mut out: Vec<Vec<Var>> = scene
        .params
        .groups()
        .iter()
        .enumerate()
        .map(|(g, (_, v))| (0..v.len()).map(|j| Var::Param(g, j)).collect())
        .collect();
    out.push((0..scene.coeffs.len()).map(Var::Coeff).collect());
    out.push((0..6).map(Var::Pose).collect());
    out
}

/// Random weights `u` of the probe `L = <u_image, image> + <u_head, head>`.
pub fn probe(scene: &Scene, seed: u64) -> OutputGrad {
    let mut rng = Pcg64::seed_from_u64(seed);
    let n = scene.pixels();
    let s = 1.0 / (n as f64).sqrt();
    let mut r = || std::array::from_fn(|_| rng.random_range(-1.0..1.0) * s);
    OutputGrad {
        image: (0..n).map(|_| r()).collect(),
        head: (0..n).map(|_| r()).collect(),
    }
}

fn dot(a: &[[f64; 4]], b: &[[f64; 4]]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (0..4).map(|k| x[k] * y[k]).sum::<f64>())
        .sum()
}

/// The probe's value and the forward's branches at perturbed inputs.
pub fn evaluate(
    scene: &Scene,
    params: &Params,
    coeffs: &[f64],
    pose: [f64; 6],
    u: &OutputGrad,
) -> (f64, Branches) {
    let frame = scene.frame_with(coeffs, pose);
    let fwd = forward(params, &frame).expect("forward");
    let b = branches(params, &frame, &fwd);
    (dot(&u.image, &fwd.image) + dot(&u.head, &fwd.head), b)
}

/// The scene's inputs moved by `step` along `dir` (per variable).
pub fn moved(scene: &Scene, dir: &[(Var, f64)], step: f64) -> (Params, Vec<f64>, [f64; 6]) {
    let mut params = scene.params.clone();
    let mut coeffs = scene.coeffs.clone();
    let mut pose = scene.pose;
    for &(var, d) in dir {
        match var {
            Var::Param(g, j) => params.groups_mut()[g].1[j] += step * d,
            Var::Coeff(k) => coeffs[k] += step * d,
            Var::Pose(k) => pose[k] += step * d,
        }
    }
    (params, coeffs, pose)
}

/// Central difference of the probe along `dir`, or `None` when a step of
/// `±EPS` changes a branch of the forward.
pub fn directional(
    scene: &Scene,
    u: &OutputGrad,
    base: &Branches,
    dir: &[(Var, f64)],
) -> Option<f64> {
    let (p, c, q) = moved(scene, dir, EPS);
    let (lp, bp) = evaluate(scene, &p, &c, q, u);
    let (p, c, q) = moved(scene, dir, -EPS);
    let (lm, bm) = evaluate(scene, &p, &c, q, u);
    (bp == *base && bm == *base).then_some((lp - lm) / (2.0 * EPS))
}

/// The analytic gradient of the probe.
pub fn analytic(scene: &Scene, u: &OutputGrad) -> Gradients {
    let frame = scene.frame();
    let fwd = forward(&scene.params, &frame).expect("forward");
    backward(&scene.params, &frame, &fwd, u).expect("backward")
}

/// The analytic derivative with respect to one variable.
pub fn component(g: &Gradients, var: Var) -> f64 {
    match var {
        Var::Param(gi, j) => g.params.groups()[gi].1[j],
        Var::Coeff(k) => g.coeffs[k],
        Var::Pose(k) => g.pose[k],
    }
}

/// The base branches of the scene.
pub fn base_branches(scene: &Scene, u: &OutputGrad) -> Branches {
    evaluate(scene, &scene.params, &scene.coeffs, scene.pose, u).1
}
