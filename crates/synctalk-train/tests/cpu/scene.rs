//! Random small scenes for the gradient tests: a handful of Gaussians placed
//! in camera space so that they land on screen, plus deliberate cases for
//! every branch (outside the FOV clamp, an SH channel clamped at 0, an
//! opaque stack that clamps alpha at 0.99 and stops pixels).

use glam::{DMat3, DVec3};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_gaussians::{Camera, Image, DEFORM_CHANNELS};
use synctalk_reference::{Layers, View};
use synctalk_train::cpu::{Frame, Params, SH_COEFFS};

/// A scene and a frame of it.
pub struct Scene {
    pub params: Params,
    pub camera: Camera,
    pub pose: [f64; 6],
    pub coeffs: Vec<f64>,
    pub background: Image,
    pub torso: Option<Image>,
}

impl Scene {
    pub fn frame(&self) -> Frame<'_> {
        self.frame_with(&self.coeffs, self.pose)
    }

    pub fn frame_with<'a>(&'a self, coeffs: &'a [f64], pose: [f64; 6]) -> Frame<'a> {
        Frame {
            camera: &self.camera,
            pose,
            coeffs,
            layers: Layers {
                background: &self.background,
                torso: self.torso.as_ref(),
            },
        }
    }

    pub fn pixels(&self) -> usize {
        (self.camera.width * self.camera.height) as usize
    }
}

/// Options of [`Scene::random`].
#[derive(Clone, Copy)]
pub struct Options {
    pub sh_degree: u32,
    pub num_bases: usize,
    /// Random pose correction (else zero).
    pub pose: bool,
    /// Translucent background and torso (else an opaque plate, binary torso).
    pub translucent: bool,
}

fn random_layer(rng: &mut Pcg64, w: u32, h: u32, alpha: impl Fn(&mut Pcg64) -> u8) -> Image {
    let mut img = Image::solid(w, h, [0; 4]);
    for px in img.data.chunks_mut(4) {
        for c in px.iter_mut().take(3) {
            *c = rng.random_range(0..=255);
        }
        px[3] = alpha(rng);
    }
    img
}

impl Scene {
    /// A random scene; `seed` decides everything.
    pub fn random(seed: u64, opt: Options) -> Scene {
        let mut rng = Pcg64::seed_from_u64(seed);
        let width = rng.random_range(32..=48u32);
        let height = rng.random_range(32..=48u32);
        let f = rng.random_range(0.9..1.3) * width as f32;
        let mut camera = Camera::centered(width, height, f, f * rng.random_range(0.95..1.05));
        camera.cx += rng.random_range(-3.0..3.0);
        camera.cy += rng.random_range(-3.0..3.0);
        let rot = glam::Mat3::from_euler(
            glam::EulerRot::YXZ,
            rng.random_range(-0.3..0.3),
            rng.random_range(-0.3..0.3),
            rng.random_range(-0.3..0.3),
        );
        camera.rotation = rot.transpose().to_cols_array_2d();
        camera.translation = [
            rng.random_range(-0.5..0.5),
            rng.random_range(-0.5..0.5),
            10.0,
        ];
        let view = View::from_camera(&camera);
        let (lim_xp, lim_xn, lim_yp, lim_yn) = view.fov_limits();

        let mut params = Params {
            sh_degree: opt.sh_degree,
            num_bases: opt.num_bases,
            ..Default::default()
        };
        // Adds a Gaussian at pixel (px, py), depth z, 2D sigma about `sigma_px`.
        let add = |params: &mut Params,
                   rng: &mut Pcg64,
                   px: f64,
                   py: f64,
                   z: f64,
                   sigma_px: f64,
                   logit: f64| {
            let u = (px - view.cx + 0.5) / view.fx;
            let v = (py - view.cy + 0.5) / view.fy;
            let cam = DVec3::new(u * z, v * z, z);
            let head = view.rotation.transpose() * (cam - view.translation);
            params.means.push(head.to_array());
            let q: [f64; 4] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
            let len = q.iter().map(|v| v * v).sum::<f64>().sqrt().max(0.1);
            let scale = rng.random_range(0.6..1.8);
            params.quats.push(q.map(|v| v / len * scale));
            let world = sigma_px * z / view.fx;
            params.log_scales.push(std::array::from_fn(|_| {
                (world * rng.random_range(0.5..1.5)).ln()
            }));
            params.opacity_logits.push(logit);
            let mut sh = [[0.0; 3]; SH_COEFFS];
            sh[0] = std::array::from_fn(|_| rng.random_range(-1.5..1.5));
            for c in sh.iter_mut().skip(1) {
                *c = std::array::from_fn(|_| rng.random_range(-0.5..0.5));
            }
            params.sh.push(sh);
        };
        let (w, h) = (f64::from(width), f64::from(height));
        let count = rng.random_range(5..=8);
        for _ in 0..count {
            let (px, py) = (
                rng.random_range(2.0..w - 2.0),
                rng.random_range(2.0..h - 2.0),
            );
            let z = rng.random_range(8.0..12.0);
            let sigma = rng.random_range(1.5..4.5);
            let logit = rng.random_range(-1.5..3.0);
            add(&mut params, &mut rng, px, py, z, sigma, logit);
        }
        // Outside the EWA clamp on one side (consecutive seeds cycle through
        // the four), wide enough to reach the image.
        let side = seed % 4;
        let (u, v) = match side {
            0 => (1.25 * lim_xp, 0.0),
            1 => (-1.25 * lim_xn, 0.0),
            2 => (0.0, 1.25 * lim_yp),
            _ => (0.0, -1.25 * lim_yn),
        };
        let (px, py) = (
            view.fx * u + view.cx - 0.5 + rng.random_range(-2.0..2.0),
            view.fy * v + view.cy - 0.5 + rng.random_range(-2.0..2.0),
        );
        add(&mut params, &mut rng, px, py, 10.0, 7.0, 1.5);
        // One SH channel clamped at 0.
        let (px, py) = (
            rng.random_range(4.0..w - 4.0),
            rng.random_range(4.0..h - 4.0),
        );
        add(&mut params, &mut rng, px, py, 9.5, 3.0, 1.0);
        let last = params.sh.len() - 1;
        params.sh[last][0][rng.random_range(0..3)] = -3.5;
        // An opaque stack: alpha clamped at 0.99 near the centres, pixels stop.
        let (px, py) = (
            rng.random_range(8.0..w - 8.0),
            rng.random_range(8.0..h - 8.0),
        );
        for k in 0..3 {
            let z = 7.0 + 1.3 * k as f64;
            let (dx, dy) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            let logit = rng.random_range(8.0..11.0);
            add(&mut params, &mut rng, px + dx, py + dy, z, 5.0, logit);
        }

        let n = params.means.len();
        let k_n = opt.num_bases;
        let mag = [0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.3];
        params.bases = (0..n * k_n)
            .map(|_| {
                std::array::from_fn::<f64, DEFORM_CHANNELS, _>(|c| {
                    rng.random_range(-1.0..1.0) * mag[c]
                })
            })
            .collect();
        let coeffs = (0..k_n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let pose = if opt.pose {
            std::array::from_fn(|_| rng.random_range(-2.0..2.0))
        } else {
            [0.0; 6]
        };
        let (background, torso) = if opt.translucent {
            (
                random_layer(&mut rng, width, height, |r| r.random_range(0..=255)),
                Some(random_layer(&mut rng, width, height, |r| {
                    r.random_range(0..=255)
                })),
            )
        } else {
            (
                random_layer(&mut rng, width, height, |_| 255),
                Some(random_layer(&mut rng, width, height, |r| {
                    if r.random_bool(0.5) {
                        255
                    } else {
                        0
                    }
                })),
            )
        };
        Scene {
            params,
            camera,
            pose,
            coeffs,
            background,
            torso,
        }
    }
}

/// `a` as an f64 rotation, for tests of the pose.
pub fn rotation_about(axis: DVec3, angle: f64) -> DMat3 {
    DMat3::from_axis_angle(axis.normalize(), angle)
}
