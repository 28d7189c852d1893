//! The start of training, as torch_trainer.py's `build`: Gaussians at the initial
//! points (isotropic, 2.5 pixels wide at the median depth, opacity 0.3,
//! the points' colours as SH DC, no deformation) and a controller with
//! torch's default `Linear` initialisation.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_gaussians::DEFORM_CHANNELS;

use crate::gpu::{GpuParams, SH_FLOATS};

/// `Y_0^0`: SH DC to colour.
const SH_C0: f32 = 0.282_094_8;

/// Points to start from, in head space, with their colours in [0, 1].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InitialPoints {
    /// Positions.
    pub positions: Vec<[f32; 3]>,
    /// Colours.
    pub colours: Vec<[f32; 3]>,
}

/// The Gaussians of `points`: each `px_cm` head-space units wide per pixel
/// at the median depth (torch_trainer.py: `log(2.5 · px_cm)`), `K = bases`.
pub fn initial_params(
    points: &InitialPoints,
    px_cm: f32,
    bases: usize,
    sh_degree: u32,
) -> GpuParams {
    let n = points.positions.len();
    let log_scale = (2.5 * px_cm).ln();
    let logit = (0.3f32 / 0.7).ln();
    let mut gauss = Vec::with_capacity(3 * n);
    let mut sh = vec![0f32; SH_FLOATS * n];
    for (i, (p, c)) in points.positions.iter().zip(&points.colours).enumerate() {
        gauss.push([p[0], p[1], p[2], logit]);
        gauss.push([1.0, 0.0, 0.0, 0.0]);
        gauss.push([log_scale, log_scale, log_scale, 0.0]);
        for (k, &v) in c.iter().enumerate() {
            sh[SH_FLOATS * i + k] = (v - 0.5) / SH_C0;
        }
    }
    GpuParams {
        sh_degree,
        num_bases: bases,
        gauss,
        sh,
        bases: vec![0.0; DEFORM_CHANNELS * bases * n],
    }
}

/// The controller's θ (`input → hidden → hidden → bases`,
/// [`crate::cpu::Controller`]'s layout) drawn as torch's `nn.Linear`
/// initialises itself: weights and biases uniform in `±1/sqrt(fan_in)`.
pub fn initial_theta(input: usize, hidden: usize, bases: usize, seed: u64) -> Vec<f32> {
    let mut rng = Pcg64::seed_from_u64(seed ^ 0x5eed_c0de);
    let mut theta = Vec::with_capacity(crate::cpu::Controller::len_of(input, hidden, bases));
    for (fan_in, fan_out) in [(input, hidden), (hidden, hidden), (hidden, bases)] {
        let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
        // Weights [out][in], then biases.
        for _ in 0..fan_in * fan_out + fan_out {
            theta.push(rng.random_range(-bound..=bound));
        }
    }
    theta
}

/// The start of a run on `ds` (torch_trainer.py's `build`): the initial points'
/// Gaussians, 2.5 pixels wide at the median head depth, and the
/// controller's θ.
pub fn start(ds: &crate::dataset::Dataset, s: &super::Settings) -> (GpuParams, Vec<f32>) {
    let (positions, colours) = crate::dataset::initial_points(ds, s.init_points, s.seed);
    let mut depths: Vec<f64> = ds.head_to_camera.iter().map(|m| m[2][3]).collect();
    depths.sort_by(f64::total_cmp);
    let depth = depths.get(depths.len() / 2).copied().unwrap_or(1.0);
    let px_cm = (depth / ds.fx) as f32;
    let params = initial_params(
        &InitialPoints { positions, colours },
        px_cm,
        s.bases,
        s.sh_degree,
    );
    let theta = initial_theta(ds.blendshape_names.len(), s.hidden, s.bases, s.seed);
    (params, theta)
}
