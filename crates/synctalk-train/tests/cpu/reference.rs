//! The forward against `synctalk_reference::render` (the renderer's tested
//! reference), and the pose correction against a direct axis-angle rotation.

use glam::{DMat3, DVec3};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_gaussians::synthetic::{orbit_camera, random_deformation, RandomCloud};
use synctalk_gaussians::Image;
use synctalk_reference::{project, rasterize, render, Layers, View};
use synctalk_train::cpu::{
    forward, pose_delta, posed_view, quantize, CpuError, Frame, Params, POSE_UNITS,
};

use crate::scene::rotation_about;

fn layer(rng: &mut Pcg64, w: u32, h: u32, translucent: bool) -> Image {
    let mut img = Image::solid(w, h, [0; 4]);
    for px in img.data.chunks_mut(4) {
        for c in px.iter_mut() {
            *c = rng.random_range(0..=255);
        }
        if !translucent {
            px[3] = 255;
        }
    }
    img
}

/// Same bytes as the reference render (and the same head layer, bit for
/// bit), with deformation, both SH degrees, off-centre principal points,
/// translucent and opaque layers, with and without a torso.
#[test]
fn forward_matches_reference_render() {
    let mut visible = 0;
    for seed in 0..12u64 {
        let mut rng = Pcg64::seed_from_u64(seed);
        let g = RandomCloud {
            count: 120,
            sh_degree: (seed % 2) as u32,
            half_extent: 1.0,
            center: [0.0; 3],
            log_scale: (-4.0, -2.0),
        }
        .generate(seed);
        let d = random_deformation(seed + 50, g.len(), 3, 0.05);
        let w32: Vec<f32> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
        let (width, height) = (rng.random_range(32..64u32), rng.random_range(32..64u32));
        let mut cam = orbit_camera(
            width,
            height,
            1.1 * width as f32,
            3.5,
            0.4 * seed as f32,
            0.2,
        );
        cam.cx += rng.random_range(-4.0..4.0);
        cam.cy += rng.random_range(-4.0..4.0);
        let bg = layer(&mut rng, width, height, seed % 3 == 0);
        let torso = layer(&mut rng, width, height, true);
        let layers = Layers {
            background: &bg,
            torso: (seed % 4 != 1).then_some(&torso),
        };
        let params = Params::from_cloud(&g, Some(&d)).expect("params");
        let coeffs: Vec<f64> = w32.iter().map(|&v| f64::from(v)).collect();
        let frame = Frame {
            camera: &cam,
            pose: [0.0; 6],
            coeffs: &coeffs,
            layers,
        };
        let fwd = forward(&params, &frame).expect("forward");
        let splats = project(&g, Some((&d, &w32)), &cam);
        visible += splats.len();
        assert_eq!(fwd.splats.len(), splats.len(), "seed {seed}");
        assert_eq!(fwd.head, rasterize(&splats, width, height), "seed {seed}");
        let want = render(&g, Some((&d, &w32)), &cam, layers);
        assert_eq!(quantize(&fwd.image, width, height), want, "seed {seed}");
    }
    assert!(visible > 500, "{visible}");
}

fn cloud(sh_degree: u32) -> synctalk_gaussians::Gaussians {
    RandomCloud {
        count: 3,
        sh_degree,
        half_extent: 1.0,
        center: [0.0; 3],
        log_scale: (-3.0, -2.0),
    }
    .generate(1)
}

#[test]
fn unsupported_inputs_are_errors() {
    assert_eq!(
        Params::from_cloud(&cloud(2), None),
        Err(CpuError::ShDegree(2))
    );
    let params = Params::from_cloud(&cloud(1), None).expect("params");
    let cam = orbit_camera(20, 20, 20.0, 3.0, 0.0, 0.0);
    let bg = Image::solid(20, 21, [0; 4]);
    let frame = Frame {
        camera: &cam,
        pose: [0.0; 6],
        coeffs: &[],
        layers: Layers {
            background: &bg,
            torso: None,
        },
    };
    assert!(matches!(
        forward(&params, &frame),
        Err(CpuError::LayerSize { .. })
    ));
    let bg = Image::solid(20, 20, [0; 4]);
    let frame = Frame {
        coeffs: &[1.0],
        layers: Layers {
            background: &bg,
            torso: None,
        },
        ..frame
    };
    assert!(matches!(
        forward(&params, &frame),
        Err(CpuError::Length { .. })
    ));
}

/// `pose_delta` is torch_trainer.py's Rodrigues formula: a rotation about the
/// rotation vector by its length (in `POSE_UNITS`), and exactly the identity
/// at 0, where the refined view is the tracked one bit for bit.
#[test]
fn pose_delta_is_axis_angle() {
    let mut rng = Pcg64::seed_from_u64(3);
    for _ in 0..20 {
        let d: [f64; 6] = std::array::from_fn(|_| rng.random_range(-30.0..30.0));
        let rv = DVec3::new(
            d[0] * POSE_UNITS[0],
            d[1] * POSE_UNITS[1],
            d[2] * POSE_UNITS[2],
        );
        let (r, t) = pose_delta(&d);
        let want = rotation_about(rv, rv.length());
        assert!(
            (r - want).abs().to_cols_array().iter().all(|&e| e < 1e-14),
            "{r} vs {want}"
        );
        assert_eq!(t, DVec3::new(d[3] * 0.1, d[4] * 0.1, d[5] * 1.0));
    }
    let (r, t) = pose_delta(&[0.0; 6]);
    assert_eq!((r, t), (DMat3::IDENTITY, DVec3::ZERO));
    let cam = orbit_camera(30, 20, 25.0, 3.0, 0.3, -0.2);
    let view = View::from_camera(&cam);
    assert_eq!(posed_view(&view, &[0.0; 6]), view);
}
