//! Random 3D scenes for the projection kernels: tens to hundreds of
//! Gaussians with K deformation bases, a random pose correction, all values
//! f32-representable so that the GPU and the f64 oracle start from the same
//! numbers; some Gaussians outside the FOV clamp, some with an SH channel
//! clamped at 0, some culled (behind the near plane, too faint), opaque
//! stacks. Gaussians within a relative 1e-3 of a projection branch (near
//! plane, FOV clamp, SH clamp, the 1/255 opacity cull) are dropped: f32 and
//! f64 may take different sides there.

use glam::DVec3;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_gaussians::{Camera, Image, DEFORM_CHANNELS};
use synctalk_reference::{Layers, View};
use synctalk_train::cpu::{posed_view, Frame, Params, SH_COEFFS};

/// A scene and a frame of it.
pub struct Scene3 {
    pub params: Params,
    pub camera: Camera,
    pub pose: [f64; 6],
    pub coeffs: Vec<f64>,
    pub background: Image,
}

/// Options of [`Scene3::random`].
#[derive(Clone, Copy, Debug)]
pub struct Options3 {
    pub width: u32,
    pub height: u32,
    pub gaussians: usize,
    pub sh_degree: u32,
    pub num_bases: usize,
    /// Random pose correction (else zero).
    pub pose: bool,
    /// Fractions of Gaussians outside the FOV clamp, culled (behind the near
    /// plane or below 1/255 opacity), in opaque stacks.
    pub outside: f64,
    pub culled: f64,
    pub opaque: f64,
}

fn r32(x: f64) -> f64 {
    f64::from(x as f32)
}

impl Scene3 {
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            camera: &self.camera,
            pose: self.pose,
            coeffs: &self.coeffs,
            layers: Layers {
                background: &self.background,
                torso: None,
            },
        }
    }

    pub fn pixels(&self) -> usize {
        (self.camera.width * self.camera.height) as usize
    }

    /// The unrefined view and the refined one the Gaussians are projected with.
    pub fn views(&self) -> (View, View) {
        let head = View::from_camera(&self.camera);
        (head, posed_view(&head, &self.pose))
    }

    pub fn random(seed: u64, o: Options3) -> Scene3 {
        let mut rng = Pcg64::seed_from_u64(seed);
        let (width, height) = (o.width, o.height);
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
        let k_n = o.num_bases;
        let coeffs: Vec<f64> = (0..k_n).map(|_| r32(rng.random_range(-1.0..1.0))).collect();
        let pose = if o.pose {
            std::array::from_fn(|_| r32(rng.random_range(-2.0..2.0)))
        } else {
            [0.0; 6]
        };
        let head = View::from_camera(&camera);
        let view = posed_view(&head, &pose);
        let (lim_xp, lim_xn, lim_yp, lim_yn) = view.fov_limits();
        let (w, h) = (f64::from(width), f64::from(height));

        let mut params = Params {
            sh_degree: o.sh_degree,
            num_bases: k_n,
            ..Default::default()
        };
        let mag = [0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.3];
        let mut stack = None;
        while params.len() < o.gaussians {
            let u: f64 = rng.random();
            let (mut px, mut py) = (
                rng.random_range(-8.0..w + 8.0),
                rng.random_range(-8.0..h + 8.0),
            );
            let mut z = rng.random_range(7.0..13.0);
            let mut sigma = rng.random_range(1.0..5.0);
            let mut logit = rng.random_range(-2.0..3.0);
            if u < o.outside {
                // Past the EWA clamp on a random side, wide enough to reach the image.
                let s = rng.random_range(1.1..1.6);
                let (tu, tv) = match rng.random_range(0..4) {
                    0 => (s * lim_xp, 0.0),
                    1 => (-s * lim_xn, 0.0),
                    2 => (0.0, s * lim_yp),
                    _ => (0.0, -s * lim_yn),
                };
                px = view.fx * tu + view.cx - 0.5 + rng.random_range(-3.0..3.0);
                py = view.fy * tv + view.cy - 0.5 + rng.random_range(-3.0..3.0);
                sigma = rng.random_range(6.0..10.0);
                logit = rng.random_range(0.0..3.0);
            } else if u < o.outside + o.culled {
                if rng.random_bool(0.5) {
                    z = rng.random_range(-2.0..0.1);
                } else {
                    logit = rng.random_range(-9.0..-6.5);
                }
            } else if u < o.outside + o.culled + o.opaque {
                // Stacks of three near one point: alpha clamped at 0.99, pixels stopped.
                let (sx, sy) = *stack.get_or_insert((px, py));
                px = sx + rng.random_range(-1.5..1.5);
                py = sy + rng.random_range(-1.5..1.5);
                sigma = rng.random_range(3.0..6.0);
                logit = rng.random_range(4.0..9.0);
                if rng.random_bool(0.34) {
                    stack = None;
                }
            }
            // Camera-space point of the pixel, back to head space.
            let cam = DVec3::new(
                (px - view.cx + 0.5) / view.fx * z,
                (py - view.cy + 0.5) / view.fy * z,
                z,
            );
            let p = view.rotation.transpose() * (cam - view.translation);
            params.means.push(p.to_array().map(r32));
            let q: [f64; 4] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
            let len = q.iter().map(|v| v * v).sum::<f64>().sqrt().max(0.1);
            let scale = rng.random_range(0.6..1.8);
            params.quats.push(q.map(|v| r32(v / len * scale)));
            let world = sigma * z.abs().max(1.0) / view.fx;
            params.log_scales.push(std::array::from_fn(|_| {
                r32((world * rng.random_range(0.5..1.5)).ln())
            }));
            params.opacity_logits.push(r32(logit));
            let mut sh = [[0.0; 3]; SH_COEFFS];
            sh[0] = std::array::from_fn(|_| r32(rng.random_range(-1.5..1.5)));
            if rng.random_bool(0.1) {
                // A channel clamped at 0.
                sh[0][rng.random_range(0..3)] = r32(rng.random_range(-4.0..-3.0));
            }
            for c in sh.iter_mut().skip(1) {
                *c = std::array::from_fn(|_| r32(rng.random_range(-0.6..0.6)));
            }
            params.sh.push(sh);
            for _ in 0..k_n {
                params
                    .bases
                    .push(std::array::from_fn::<f64, DEFORM_CHANNELS, _>(|c| {
                        r32(rng.random_range(-1.0..1.0) * mag[c])
                    }));
            }
        }
        let background = Image::solid(width, height, [0, 0, 0, 255]);
        let mut scene = Scene3 {
            params,
            camera,
            pose,
            coeffs,
            background,
        };
        scene.drop_knife_edges(&view);
        scene
    }

    /// Drops Gaussians within a relative 1e-3 of a branch of the projection.
    fn drop_knife_edges(&mut self, view: &View) {
        let near = |x: f64, edge: f64| ((x - edge) / edge).abs() < 1e-3;
        let p = &self.params;
        let (xp, xn, yp, yn) = view.fov_limits();
        let keep: Vec<bool> = (0..p.len())
            .map(|i| {
                let raw = p.deformed(i, &self.coeffs);
                let pv = view.rotation * raw.position + view.translation;
                if near(pv.z, view.near) {
                    return false;
                }
                if pv.z <= view.near {
                    return true;
                }
                let (rx, ry) = (pv.x / pv.z, pv.y / pv.z);
                if near(rx, xp) || near(rx, -xn) || near(ry, yp) || near(ry, -yn) {
                    return false;
                }
                let o = 1.0 / (1.0 + (-raw.opacity_logit).exp());
                if near(o, 1.0 / 255.0) {
                    return false;
                }
                let dir = (raw.position - view.position()).normalize();
                let sh = p.sh_used(i);
                let value = |c: usize| {
                    let mut r = 0.28209479177387814 * sh[0][c];
                    if p.sh_degree > 0 {
                        let c1 = 0.4886025119029199;
                        r += -c1 * dir.y * sh[1][c] + c1 * dir.z * sh[2][c] - c1 * dir.x * sh[3][c];
                    }
                    r + 0.5
                };
                (0..3).all(|c| value(c).abs() > 1e-3)
            })
            .collect();
        let k_n = p.num_bases;
        let mut out = Params {
            sh_degree: p.sh_degree,
            num_bases: k_n,
            ..Default::default()
        };
        for (i, _) in keep.iter().enumerate().filter(|(_, &k)| k) {
            out.means.push(p.means[i]);
            out.quats.push(p.quats[i]);
            out.log_scales.push(p.log_scales[i]);
            out.opacity_logits.push(p.opacity_logits[i]);
            out.sh.push(p.sh[i]);
            out.bases
                .extend_from_slice(&p.bases[i * k_n..(i + 1) * k_n]);
        }
        self.params = out;
    }
}
