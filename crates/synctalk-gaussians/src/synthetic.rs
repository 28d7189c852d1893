//! Seeded random scenes for tests and benchmarks.

use crate::{Camera, Deformation, Gaussians, DEFORM_CHANNELS};
use rand::{Rng, SeedableRng};

/// Parameters of a random cloud.
#[derive(Clone, Debug)]
pub struct RandomCloud {
    /// Number of Gaussians.
    pub count: usize,
    /// SH degree, 0..=3.
    pub sh_degree: u32,
    /// Centres are uniform in this cube around `center`: `center ± half_extent`.
    pub half_extent: f32,
    /// Centre of the cube.
    pub center: [f32; 3],
    /// Log-scales are uniform in this range.
    pub log_scale: (f32, f32),
}

impl RandomCloud {
    /// Generates the cloud from a seed.
    pub fn generate(&self, seed: u64) -> Gaussians {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let coeffs = crate::sh_coeffs_for_degree(self.sh_degree);
        let mut g = Gaussians {
            sh_degree: self.sh_degree,
            ..Default::default()
        };
        let e = self.half_extent;
        for _ in 0..self.count {
            g.positions.push(std::array::from_fn(|a| {
                self.center[a] + rng.random_range(-e..e)
            }));
            g.rotations
                .push(std::array::from_fn(|_| rng.random_range(-1.0..1.0f32)));
            if g.rotations
                .last()
                .is_some_and(|q| q.iter().all(|v| v.abs() < 1e-3))
            {
                *g.rotations.last_mut().expect("pushed") = [1.0, 0.0, 0.0, 0.0];
            }
            g.log_scales.push(std::array::from_fn(|_| {
                rng.random_range(self.log_scale.0..self.log_scale.1)
            }));
            g.opacity_logits.push(rng.random_range(-4.0..4.0));
            g.sh.push(std::array::from_fn(|_| rng.random_range(-1.5..1.5)));
            for _ in 1..coeffs {
                g.sh.push(std::array::from_fn(|_| rng.random_range(-0.4..0.4)));
            }
        }
        g
    }
}

/// A random deformation basis with offsets of roughly `magnitude`.
pub fn random_deformation(seed: u64, n: usize, num_bases: usize, magnitude: f32) -> Deformation {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    Deformation {
        num_bases,
        bases: (0..num_bases * DEFORM_CHANNELS * n)
            .map(|_| rng.random_range(-magnitude..magnitude))
            .collect(),
    }
}

/// A camera at distance `dist` from the origin looking at it, rotated by
/// `yaw` and `pitch` (radians).
pub fn orbit_camera(
    width: u32,
    height: u32,
    focal: f32,
    dist: f32,
    yaw: f32,
    pitch: f32,
) -> Camera {
    let rot = glam::Mat3::from_rotation_x(pitch) * glam::Mat3::from_rotation_y(yaw);
    let t = glam::Vec3::new(0.0, 0.0, dist);
    let mut cam = Camera::centered(width, height, focal, focal);
    cam.rotation = rot.transpose().to_cols_array_2d();
    cam.translation = t.to_array();
    cam
}
