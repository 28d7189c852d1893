//! The backward's reductions: determinism (run to run, and under the
//! renderer's compaction), the precision of `dL/dw` over many Gaussians,
//! the pose kernel.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_train::cpu::pose_backward as cpu_pose_backward;
use synctalk_train::gpu::{
    deform_backward, forward_backward, invert_ids, pose_backward, project_backward, unpack_rect,
    FrameParams, Intersections, InvertIds, PoseParams, RasterInputs, TILE, VIEW_WORDS,
};

use crate::scene3d::Scene3;

use crate::oracle3d::{bits, gpu_chain, options, Inputs, Oracle, Trainer};

#[test]
fn backward_is_deterministic() {
    let t = Trainer::new();
    let scene = Scene3::random(41, options(96, 80, 300, 3));
    let inputs = Inputs::new(&scene);
    let oracle = Oracle::new(&scene, 42);
    let (_, _, a) = gpu_chain(&t, &inputs, &oracle.grad_head);
    let (_, _, b) = gpu_chain(&t, &inputs, &oracle.grad_head);
    assert_eq!(bits(&a), bits(&b));
}

/// The renderer's compaction (visible splats at atomic-counter slots, in
/// any order) changes no bit of the gradients: the splats of the GPU
/// forward are shuffled into slots, the map back comes from `invert_ids`.
#[test]
fn compaction_changes_nothing() {
    let t = Trainer::new();
    let ids_kernel = InvertIds::new(&t.device);
    let scene = Scene3::random(81, options(80, 64, 200, 3));
    let inputs = Inputs::new(&scene);
    let oracle = Oracle::new(&scene, 82);
    let (fwd, _, plain) = gpu_chain(&t, &inputs, &oracle.grad_head);
    let n = inputs.params.len();
    let mut rng = Pcg64::seed_from_u64(83);
    let mut visible: Vec<u32> = (0..n as u32)
        .filter(|&i| fwd.splat_of[i as usize] != 0)
        .collect();
    for i in (1..visible.len()).rev() {
        visible.swap(i, rng.random_range(0..=i));
    }
    // Slots past the count hold stale ids, some out of range.
    let mut ids = visible.clone();
    ids.extend((0..50).map(|_| rng.random_range(0..2 * n as u32)));
    let splat_of = invert_ids(
        &t.device,
        &t.queue,
        &ids_kernel,
        visible.len() as u32,
        &ids,
        n,
    )
    .expect("invert_ids");
    for (k, &g) in visible.iter().enumerate() {
        assert_eq!(splat_of[g as usize], k as u32 + 1);
    }
    assert_eq!(splat_of.iter().filter(|&&s| s != 0).count(), visible.len());
    let splats: Vec<_> = visible.iter().map(|&g| fwd.splats[g as usize]).collect();
    let rects: Vec<[u32; 4]> = visible
        .iter()
        .map(|&g| unpack_rect(fwd.rects[g as usize]))
        .collect();
    let mut order: Vec<u32> = (0..visible.len() as u32).collect();
    order.sort_by_key(|&k| fwd.depth_keys[visible[k as usize] as usize]);
    let [width, height] = inputs.frame.image_size;
    let isect = Intersections::build(&rects, &order, width.div_ceil(TILE), height.div_ceil(TILE))
        .expect("intersections");
    let raster = forward_backward(
        &t.device,
        &t.queue,
        &t.raster,
        &RasterInputs {
            width,
            height,
            splats: &splats,
            isect: &isect,
            grad_image: &oracle.grad_head,
        },
    )
    .expect("raster");
    let compacted = project_backward(
        &t.device,
        &t.queue,
        &t.project,
        &inputs.project(),
        &splat_of,
        &raster.grads,
    )
    .expect("backward");
    assert_eq!(bits(&plain), bits(&compacted));
}

/// `dL/dw` through the two-stage reduction over 70,000 Gaussians (274
/// workgroups: the second stage sums more than one row per thread), and
/// `dL/dB_k = w_k dL/d raw` bit for bit.
#[test]
fn coefficient_reduction_is_accurate() {
    let t = Trainer::new();
    let mut rng = Pcg64::seed_from_u64(51);
    let n = 70_000usize;
    let k_n = 3usize;
    let coeffs: Vec<f32> = (0..k_n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut spread = || {
        let mag = 10f64.powf(rng.random_range(-3.0..1.0));
        (if rng.random::<bool>() { mag } else { -mag }) as f32
    };
    let d_gauss: Vec<[f32; 4]> = (0..3 * n)
        .map(|j| {
            let mut v = [0f32; 4].map(|_| spread());
            if j % 3 == 2 {
                v[3] = 0.0;
            }
            v
        })
        .collect();
    let bases: Vec<f32> = (0..11 * k_n * n).map(|_| spread()).collect();
    let view = synctalk_reference::View::from_camera(&synctalk_gaussians::Camera::centered(
        64, 64, 60.0, 60.0,
    ));
    let frame = FrameParams::new(&view, n, 1, &coeffs).expect("frame");
    let (d_bases, d_coeffs) =
        deform_backward(&t.device, &t.queue, &t.project, &frame, &bases, &d_gauss).expect("deform");
    let again =
        deform_backward(&t.device, &t.queue, &t.project, &frame, &bases, &d_gauss).expect("deform");
    assert_eq!((&d_bases, &d_coeffs), (&again.0, &again.1));
    let channel = |i: usize, c: usize| -> f32 {
        let g = &d_gauss[3 * i..3 * i + 3];
        [
            g[0][0], g[0][1], g[0][2], g[1][0], g[1][1], g[1][2], g[1][3], g[2][0], g[2][1],
            g[2][2], g[0][3],
        ][c]
    };
    let rows = frame.partial_rows() as f64;
    let mut worst = 0.0f64;
    for k in 0..k_n {
        let (mut exact, mut abs) = (0.0f64, 0.0f64);
        for i in 0..n {
            for c in 0..11 {
                let at = (k * 11 + c) * n + i;
                let d = channel(i, c);
                assert_eq!(d_bases[at], coeffs[k] * d, "dB[{k}][{c}][{i}]");
                let term = f64::from(bases[at]) * f64::from(d);
                exact += term;
                abs += term.abs();
            }
        }
        // 11-term dot products, a 256-leaf tree, ⌈rows / 256⌉ sequential
        // rows, another tree: |error| ≤ (11 + 8 + ⌈rows/256⌉ + 8 + 2) u Σ|term|.
        let u = f64::from(f32::EPSILON) / 2.0;
        let bound = (29.0 + (rows / 256.0).ceil()) * u * abs;
        let e = (f64::from(d_coeffs[k]) - exact).abs();
        assert!(
            e <= bound,
            "dw[{k}]: {} vs {exact}, bound {bound:e}",
            d_coeffs[k]
        );
        worst = worst.max(e / (u * abs));
    }
    eprintln!(
        "coefficient reduction over {n} Gaussians ({rows} rows): worst |error| = {worst:.2} u Σ|term|"
    );
}

/// The pose kernel alone against `cpu::pose_backward`, from zero to large
/// corrections.
#[test]
fn pose_backward_matches_the_oracle() {
    let t = Trainer::new();
    let mut rng = Pcg64::seed_from_u64(61);
    let mut worst = 0.0f64;
    for case in 0..24 {
        let camera = {
            let mut c = synctalk_gaussians::Camera::centered(64, 64, 60.0, 60.0);
            let rot = glam::Mat3::from_euler(
                glam::EulerRot::YXZ,
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
            );
            c.rotation = rot.transpose().to_cols_array_2d();
            c
        };
        let head = synctalk_reference::View::from_camera(&camera);
        let size = [0.0, 1e-6, 1e-3, 0.1, 1.0, 3.0, 20.0, 100.0][case % 8];
        let pose: [f64; 6] =
            std::array::from_fn(|_| f64::from((rng.random_range(-1.0..1.0) * size) as f32));
        let view_grad: [f32; VIEW_WORDS] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
        let ours = pose_backward(
            &t.device,
            &t.queue,
            &t.project,
            &PoseParams::new(&head, &pose),
            &view_grad,
        )
        .expect("pose");
        let g: Vec<f64> = view_grad.iter().map(|&v| f64::from(v)).collect();
        let rot = glam::DMat3::from_cols_slice(&g[..9]);
        let tr = glam::DVec3::from_slice(&g[9..]);
        let theirs = cpu_pose_backward(&head, &pose, &rot, tr);
        let scale = theirs.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for k in 0..6 {
            let e =
                (f64::from(ours[k]) - theirs[k]).abs() / (1e-4 * theirs[k].abs() + 1e-5 * scale);
            assert!(
                e <= 1.0,
                "pose {pose:?}: d[{k}] gpu {} oracle {}",
                ours[k],
                theirs[k]
            );
            worst = worst.max(e);
        }
    }
    eprintln!("pose backward: worst error / tolerance {worst:.2}");
}

/// The mesh prior's gradient in `deform_bwd.wgsl` against
/// `mesh_prior::loss_and_gradient` (f64), with the image's `dL/d raw`
/// beside it: the two add.
#[test]
fn mesh_prior_gradient_matches_the_reference() {
    use synctalk_train::gpu::{deform_backward_prior, MeshPriorParams};
    use synctalk_train::train::mesh_prior::loss_and_gradient;
    let t = Trainer::new();
    let mut rng = Pcg64::seed_from_u64(71);
    let (n, k_n, dim) = (700usize, 5usize, 52usize);
    let mut r = |s: f32| rng.random_range(-s..s);
    let coeffs: Vec<f32> = (0..k_n).map(|_| r(1.0)).collect();
    let bases: Vec<f32> = (0..11 * k_n * n).map(|_| r(0.5)).collect();
    let z: Vec<f32> = (0..dim).map(|_| r(2.0)).collect();
    let m: Vec<f32> = (0..3 * dim * n).map(|_| r(0.05)).collect();
    let trust: Vec<f32> = (0..n)
        .map(|i| if i % 7 == 0 { 0.0 } else { r(1.0).abs() })
        .collect();
    let d_gauss: Vec<[f32; 4]> = (0..3 * n)
        .map(|j| {
            [
                r(1e-5),
                r(1e-5),
                r(1e-5),
                if j % 3 == 2 { 0.0 } else { r(1e-5) },
            ]
        })
        .collect();
    let lambda = 0.3f64;
    let view = synctalk_reference::View::from_camera(&synctalk_gaussians::Camera::centered(
        64, 64, 60.0, 60.0,
    ));
    let frame = FrameParams::new(&view, n, 1, &coeffs).expect("frame");
    let prior = MeshPriorParams::new((2.0 * lambda / n as f64) as f32, &z).expect("prior");
    let (d_bases, d_coeffs) = deform_backward_prior(
        &t.device, &t.queue, &t.project, &frame, &bases, &d_gauss, &prior, &m, &trust,
    )
    .expect("deform");
    let (image_bases, image_coeffs) =
        deform_backward(&t.device, &t.queue, &t.project, &frame, &bases, &d_gauss).expect("deform");
    let (_, want_bases, want_coeffs) = loss_and_gradient(lambda, &bases, &coeffs, &z, &m, &trust);
    let scale = want_bases.iter().fold(0f64, |a, v| a.max(v.abs()));
    for at in 0..d_bases.len() {
        let want = f64::from(image_bases[at]) + want_bases[at];
        assert!(
            (f64::from(d_bases[at]) - want).abs() <= 1e-4 * scale + 1e-9,
            "dB[{at}]: {} vs {want}",
            d_bases[at]
        );
    }
    for k in 0..k_n {
        let want = f64::from(image_coeffs[k]) + want_coeffs[k];
        let mag = want_coeffs[k].abs().max(f64::from(image_coeffs[k]).abs());
        assert!(
            (f64::from(d_coeffs[k]) - want).abs() <= 1e-4 * mag.max(1e-6),
            "dw[{k}]: {} vs {want}",
            d_coeffs[k]
        );
    }
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let image: Vec<f64> = image_coeffs.iter().map(|&v| f64::from(v)).collect();
    assert!(
        norm(&want_coeffs) > 10.0 * norm(&image),
        "the prior's part of dL/dw ({}) must dominate the image's ({}) for the test to test it",
        norm(&want_coeffs),
        norm(&image)
    );
}
