//! The projection kernels against the f64 oracle (`synctalk_train::cpu`):
//! the forward's splats, the backward given the oracle's own per-splat
//! gradients, and the whole GPU chain (projection forward, raster forward
//! and backward, projection backward) against `cpu::backward` for a random
//! `dL/d` head layer; the coefficient and pose reductions; determinism.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_reference::{tile_lists, tile_of};
use synctalk_train::cpu::{
    self, backward, forward, pose_backward as cpu_pose_backward, project, Forward, Gradients,
    OutputGrad, SplatGrad,
};
use synctalk_train::gpu::{
    deform_backward, forward_backward, invert_ids, pose_backward, project_backward,
    project_forward, unpack_rect, FrameParams, GpuGradients, GpuParams, Intersections, InvertIds,
    PoseParams, ProjectInputs, ProjectKernels, ProjectOutput, RasterGrad, RasterInputs,
    RasterKernels, RasterOutput, TILE, VIEW_WORDS,
};

use crate::scene::{device, near_threshold};
use crate::scene3d::{Options3, Scene3};

/// Per-Gaussian gradients: `|gpu − oracle| ≤ RTOL |oracle| + ATOL scale`,
/// `scale` the largest `|oracle|` of the group over the scene. For `dL/dw`,
/// `dL/d` view and `dL/d` pose (sums over all Gaussians, with
/// cancellation) `scale` is the sum of the magnitudes of the per-Gaussian
/// terms instead.
const RTOL: f64 = 1e-3;
const ATOL: f64 = 1e-4;

/// Relative distance to a blending threshold below which a pixel's `dL/d`
/// head is zeroed (f32 and f64 may branch differently there).
const MARGIN: f64 = 1e-4;

struct Trainer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    raster: RasterKernels,
    project: ProjectKernels,
}

impl Trainer {
    fn new() -> Self {
        let (device, queue) = device();
        let raster = RasterKernels::new(&device);
        let project = ProjectKernels::new(&device);
        Self {
            device,
            queue,
            raster,
            project,
        }
    }
}

/// The GPU side of a scene: parameters, frame and pose uniforms.
struct Inputs {
    params: GpuParams,
    frame: FrameParams,
    pose: PoseParams,
}

impl Inputs {
    fn new(scene: &Scene3) -> Self {
        let (head, view) = scene.views();
        let params = GpuParams::from_cpu(&scene.params);
        let coeffs: Vec<f32> = scene.coeffs.iter().map(|&c| c as f32).collect();
        let frame = FrameParams::new(&view, params.len(), params.sh_degree, &coeffs)
            .expect("frame uniform");
        Self {
            params,
            frame,
            pose: PoseParams::new(&head, &scene.pose),
        }
    }

    fn project(&self) -> ProjectInputs<'_> {
        ProjectInputs {
            params: &self.params,
            frame: self.frame,
            pose: self.pose,
        }
    }
}

/// The oracle's forward, a random `dL/d` head (zero near blending
/// thresholds) and the oracle's backward of it.
struct Oracle {
    fwd: Forward,
    grad_head: Vec<[f32; 4]>,
    excluded: usize,
    /// Per oracle splat (`fwd.splats` order).
    raster: Vec<SplatGrad>,
    grads: Gradients,
}

impl Oracle {
    fn new(scene: &Scene3, seed: u64) -> Self {
        let frame = scene.frame();
        let fwd = forward(&scene.params, &frame).expect("forward");
        let (w, h) = (scene.camera.width, scene.camera.height);
        let lists = tile_lists(&fwd.splats, w, h);
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut excluded = 0;
        let mut grad_head = Vec::with_capacity(scene.pixels());
        for py in 0..h {
            for px in 0..w {
                let list = &lists[tile_of(px, py, w)];
                let g = [0; 4].map(|_| rng.random_range(-1.0f32..1.0));
                if near_threshold(&fwd.splats, list, px, py, MARGIN) {
                    excluded += 1;
                    grad_head.push([0.0; 4]);
                } else {
                    grad_head.push(g);
                }
            }
        }
        let head64: Vec<[f64; 4]> = grad_head.iter().map(|g| g.map(f64::from)).collect();
        let raster = cpu::raster::backward(&fwd.splats, w, h, &head64);
        let mut out = OutputGrad::zeros(scene.pixels());
        out.head = head64;
        let grads = backward(&scene.params, &frame, &fwd, &out).expect("backward");
        Self {
            fwd,
            grad_head,
            excluded,
            raster,
            grads,
        }
    }

    /// The oracle's per-splat gradients indexed by Gaussian, in f32.
    fn raster_by_gaussian(&self, n: usize) -> Vec<RasterGrad> {
        let mut out = vec![RasterGrad::default(); n];
        for (s, g) in self.fwd.splats.iter().zip(&self.raster) {
            out[s.index] = RasterGrad {
                xy: g.mean.map(|v| v as f32),
                conic: g.conic.map(|v| v as f32),
                opacity: g.opacity as f32,
                color: g.color.map(|v| v as f32),
            };
        }
        out
    }

    /// Per component, the sum of the magnitudes of the per-Gaussian terms
    /// of `dL/d` view (12, column-major then translation) and `dL/d` pose
    /// (6), and the oracle's `dL/d` view.
    fn view_terms(&self, scene: &Scene3) -> ([f64; 12], [f64; 6], [f64; 12]) {
        let (head, _) = scene.views();
        let p = &scene.params;
        let (mut view_abs, mut pose_abs, mut view) = ([0.0; 12], [0.0; 6], [0.0; 12]);
        for (s, g) in self.fwd.splats.iter().zip(&self.raster) {
            let i = s.index;
            let mut vg = project::ViewGrad::default();
            let mut sh = vec![[0.0; 3]; p.sh_used(i).len()];
            project::backward(
                &self.fwd.view,
                &self.fwd.raws[i],
                p.sh_degree,
                p.sh_used(i),
                g,
                &mut sh,
                &mut vg,
            );
            let flat = view_words(&vg.rotation.to_cols_array(), &vg.translation.to_array());
            for k in 0..12 {
                view_abs[k] += flat[k].abs();
                view[k] += flat[k];
            }
            let d = cpu_pose_backward(&head, &scene.pose, &vg.rotation, vg.translation);
            for k in 0..6 {
                pose_abs[k] += d[k].abs();
            }
        }
        (view_abs, pose_abs, view)
    }

    /// Per basis, the sum of `|B_k,i[c] · dL/d raw_i[c]|` over Gaussians
    /// and channels.
    fn coeff_terms(&self, scene: &Scene3) -> Vec<f64> {
        let p = &scene.params;
        let g = &self.grads.params;
        let k_n = p.num_bases;
        let mut out = vec![0.0; k_n];
        for i in 0..p.len() {
            let mut d = [0.0; 11];
            d[..3].copy_from_slice(&g.means[i]);
            d[3..7].copy_from_slice(&g.quats[i]);
            d[7..10].copy_from_slice(&g.log_scales[i]);
            d[10] = g.opacity_logits[i];
            for (k, o) in out.iter_mut().enumerate() {
                let b = &p.bases[i * k_n + k];
                *o += (0..11).map(|c| (b[c] * d[c]).abs()).sum::<f64>();
            }
        }
        out
    }
}

fn view_words(rotation: &[f64; 9], translation: &[f64; 3]) -> [f64; 12] {
    std::array::from_fn(|k| {
        if k < 9 {
            rotation[k]
        } else {
            translation[k - 9]
        }
    })
}

/// Worst `|gpu − oracle| / tolerance` of one group (asserting it is ≤ 1).
fn check_group(name: &str, group: &str, gpu: &[f64], oracle: &[f64], floor: &[f64]) -> f64 {
    assert_eq!(gpu.len(), oracle.len(), "{name}: {group} length");
    let mut worst = 0.0f64;
    for (k, (&x, &y)) in gpu.iter().zip(oracle).enumerate() {
        let tol = (RTOL * y.abs() + ATOL * floor[k % floor.len()]).max(f64::MIN_POSITIVE);
        let e = (x - y).abs() / tol;
        assert!(
            e <= 1.0,
            "{name}: {group}[{k}]: gpu {x:e} oracle {y:e} (tolerance {tol:e})"
        );
        worst = worst.max(e);
    }
    worst
}

/// Compares every gradient; returns the worst fraction of the tolerance
/// per group, by name.
fn compare(name: &str, scene: &Scene3, oracle: &Oracle, gpu: &GpuGradients) -> Vec<(String, f64)> {
    let ours = gpu.to_cpu();
    let mut report = Vec::new();
    for ((group, a), (_, b)) in ours
        .params
        .groups()
        .into_iter()
        .zip(oracle.grads.params.groups())
    {
        let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        report.push((group.to_string(), check_group(name, group, a, b, &[scale])));
    }
    let coeff_floor = oracle.coeff_terms(scene);
    report.push((
        "coeffs".into(),
        check_group(
            name,
            "coeffs",
            &ours.coeffs,
            &oracle.grads.coeffs,
            &coeff_floor,
        ),
    ));
    let (view_abs, pose_abs, view) = oracle.view_terms(scene);
    let gpu_view: Vec<f64> = gpu.view.iter().map(|&v| f64::from(v)).collect();
    report.push((
        "view".into(),
        check_group(name, "view", &gpu_view, &view, &view_abs),
    ));
    report.push((
        "pose".into(),
        check_group(name, "pose", &ours.pose, &oracle.grads.pose, &pose_abs),
    ));
    // A vacuous comparison would pass anything.
    for (group, values) in oracle.grads.params.groups() {
        let nonzero = values.iter().any(|&v| v != 0.0);
        assert!(
            nonzero || group == "bases" && scene.params.num_bases == 0,
            "{name}: oracle {group} all zero"
        );
    }
    report
}

/// The GPU chain: projection forward, intersections (built on the CPU from
/// the GPU's rectangles and depths), raster forward and backward,
/// projection backward.
fn gpu_chain(
    t: &Trainer,
    inputs: &Inputs,
    grad_head: &[[f32; 4]],
) -> (ProjectOutput, RasterOutput, GpuGradients) {
    let fwd = project_forward(&t.device, &t.queue, &t.project, &inputs.project()).expect("fwd");
    let n = inputs.params.len();
    let mut order: Vec<u32> = (0..n as u32).collect();
    // Depth bits of positive floats sort as the floats; culled last.
    order.sort_by_key(|&i| (fwd.depth_keys[i as usize], i));
    let rects: Vec<[u32; 4]> = fwd.rects.iter().map(|&r| unpack_rect(r)).collect();
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
            splats: &fwd.splats,
            isect: &isect,
            grad_image: grad_head,
        },
    )
    .expect("raster");
    let grads = project_backward(
        &t.device,
        &t.queue,
        &t.project,
        &inputs.project(),
        &fwd.splat_of,
        &raster.grads,
    )
    .expect("backward");
    (fwd, raster, grads)
}

/// Checks the GPU forward's splats against the oracle's: the same Gaussians
/// visible (the GPU also culls opacity below 1/255, which the oracle blends
/// nowhere), values within f32 error.
fn check_splats(name: &str, oracle: &Oracle, fwd: &ProjectOutput) {
    let mut seen = vec![false; fwd.splat_of.len()];
    for (s, g) in oracle.fwd.splats.iter().zip(&oracle.raster) {
        seen[s.index] = true;
        let slot = fwd.splat_of[s.index];
        if slot == 0 {
            // Culled for opacity below 1/255 or an empty trimmed rectangle:
            // then the oracle blends it nowhere either.
            assert!(
                *g == SplatGrad::default(),
                "{name}: Gaussian {} culled on the GPU only (opacity {})",
                s.index,
                s.opacity
            );
            continue;
        }
        let ours = &fwd.splats[slot as usize - 1];
        let close = |a: f32, b: f64, tol: f64| (f64::from(a) - b).abs() <= tol * (1.0 + b.abs());
        for k in 0..2 {
            assert!(
                close(ours.xy[k], s.mean[k], 1e-5),
                "{name}: {} mean",
                s.index
            );
        }
        for k in 0..3 {
            let scale = s.conic[0].abs().max(s.conic[2].abs());
            assert!(
                (f64::from(ours.conic[k]) - s.conic[k]).abs() <= 1e-4 * scale,
                "{name}: {} conic {:?} vs {:?}",
                s.index,
                ours.conic,
                s.conic
            );
            assert!(
                close(ours.color[k], s.color[k], 1e-5),
                "{name}: {} colour",
                s.index
            );
        }
        assert!(
            close(ours.opacity, s.opacity, 1e-6),
            "{name}: {} opacity",
            s.index
        );
    }
    for (i, &slot) in fwd.splat_of.iter().enumerate() {
        assert!(
            slot == 0 || seen[i],
            "{name}: Gaussian {i} visible on the GPU only"
        );
    }
}

fn options(width: u32, height: u32, gaussians: usize, num_bases: usize) -> Options3 {
    Options3 {
        width,
        height,
        gaussians,
        sh_degree: 1,
        num_bases,
        pose: true,
        outside: 0.08,
        culled: 0.08,
        opaque: 0.1,
    }
}

fn cases() -> Vec<(&'static str, u64, Options3)> {
    vec![
        ("small K=2", 1, options(48, 40, 40, 2)),
        ("K=3", 2, options(80, 64, 150, 3)),
        (
            "SH degree 0, no pose, K=4",
            3,
            Options3 {
                sh_degree: 0,
                pose: false,
                ..options(64, 64, 120, 4)
            },
        ),
        (
            "dense K=4",
            4,
            Options3 {
                opaque: 0.25,
                ..options(96, 96, 400, 4)
            },
        ),
    ]
}

fn print_report(name: &str, n: usize, visible: usize, excluded: usize, report: &[(String, f64)]) {
    let groups: Vec<String> = report.iter().map(|(g, w)| format!("{g} {w:.1e}")).collect();
    eprintln!(
        "{name}: {n} Gaussians, {visible} visible, {excluded} pixels excluded; worst error / \
         tolerance: {}",
        groups.join(", ")
    );
}

/// Branches the scenes' Gaussians took, summed over scenes.
#[derive(Debug, Default)]
struct Coverage {
    /// Visible with a gradient, past the FOV clamp in x or y.
    fov_clamped: usize,
    /// Colour channels clamped at 0 of visible Gaussians with a gradient.
    sh_clamped: usize,
    /// Culled behind the near plane.
    behind: usize,
    /// Culled by the GPU only (opacity below 1/255 or an empty trimmed rectangle).
    faint: usize,
}

fn coverage(scene: &Scene3, oracle: &Oracle, fwd: &ProjectOutput, cov: &mut Coverage) {
    let p = &scene.params;
    let mut splat = vec![None; p.len()];
    for (s, g) in oracle.fwd.splats.iter().zip(&oracle.raster) {
        splat[s.index] = Some(g);
    }
    for (i, raw) in oracle.fwd.raws.iter().enumerate() {
        let Some(b) = project::branches(&oracle.fwd.view, raw, p.sh_degree, p.sh_used(i)) else {
            cov.behind += 1;
            continue;
        };
        match splat[i] {
            Some(g) if fwd.splat_of[i] == 0 => cov.faint += usize::from(*g == SplatGrad::default()),
            Some(g) if *g != SplatGrad::default() => {
                cov.fov_clamped += usize::from(b[0] != 0 || b[1] != 0);
                cov.sh_clamped += b[2..].iter().filter(|&&v| v != 0).count();
            }
            _ => {}
        }
    }
}

/// The projection backward alone, fed the oracle's per-splat gradients.
#[test]
fn projection_backward_matches_the_oracle() {
    let t = Trainer::new();
    let mut cov = Coverage::default();
    for (name, seed, o) in cases() {
        let scene = Scene3::random(seed, o);
        let inputs = Inputs::new(&scene);
        let oracle = Oracle::new(&scene, seed + 100);
        let fwd = project_forward(&t.device, &t.queue, &t.project, &inputs.project()).expect("fwd");
        check_splats(name, &oracle, &fwd);
        let n = scene.params.len();
        // Splat i is Gaussian i: the oracle's gradients by Gaussian serve.
        let grads = project_backward(
            &t.device,
            &t.queue,
            &t.project,
            &inputs.project(),
            &fwd.splat_of,
            &oracle.raster_by_gaussian(n),
        )
        .expect("backward");
        let report = compare(name, &scene, &oracle, &grads);
        let visible = fwd.splat_of.iter().filter(|&&s| s != 0).count();
        print_report(name, n, visible, oracle.excluded, &report);
        coverage(&scene, &oracle, &fwd, &mut cov);
    }
    eprintln!("{cov:?}");
    assert!(
        cov.fov_clamped >= 5 && cov.sh_clamped >= 5 && cov.behind >= 5 && cov.faint >= 5,
        "{cov:?}"
    );
}

/// The whole GPU chain against `cpu::backward`.
#[test]
fn whole_chain_matches_the_oracle() {
    let t = Trainer::new();
    for (name, seed, o) in cases() {
        let scene = Scene3::random(seed, o);
        let inputs = Inputs::new(&scene);
        let oracle = Oracle::new(&scene, seed + 200);
        let (fwd, raster, grads) = gpu_chain(&t, &inputs, &oracle.grad_head);
        check_splats(name, &oracle, &fwd);
        // The head layer, where the gradient is not zeroed.
        let mut worst_image = 0.0f64;
        for (p, (ours, theirs)) in raster.image.iter().zip(&oracle.fwd.head).enumerate() {
            if oracle.grad_head[p] == [0.0; 4] {
                continue;
            }
            for c in 0..4 {
                let e = (f64::from(ours[c]) - theirs[c]).abs();
                assert!(e <= 1e-4, "{name}: pixel {p}: {ours:?} vs {theirs:?}");
                worst_image = worst_image.max(e);
            }
        }
        let report = compare(name, &scene, &oracle, &grads);
        let visible = fwd.splat_of.iter().filter(|&&s| s != 0).count();
        print_report(name, scene.params.len(), visible, oracle.excluded, &report);
        eprintln!("{name}: worst head-layer error {worst_image:.1e}");
    }
}

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

fn bits(g: &GpuGradients) -> Vec<u32> {
    let p = &g.params;
    p.gauss
        .iter()
        .flatten()
        .chain(&p.sh)
        .chain(&p.bases)
        .chain(&g.coeffs)
        .chain(&g.view)
        .chain(&g.pose)
        .map(|v| v.to_bits())
        .collect()
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

/// Bad inputs are errors, not panics or GPU faults.
#[test]
fn inputs_are_validated() {
    let t = Trainer::new();
    let scene = Scene3::random(71, options(32, 32, 10, 2));
    let inputs = Inputs::new(&scene);
    let mut short = inputs.params.clone();
    short.sh.pop();
    let bad = ProjectInputs {
        params: &short,
        ..inputs.project()
    };
    assert!(project_forward(&t.device, &t.queue, &t.project, &bad).is_err());
    let mut frame = inputs.frame;
    frame.num_bases = 1;
    let bad = ProjectInputs {
        frame,
        ..inputs.project()
    };
    assert!(project_forward(&t.device, &t.queue, &t.project, &bad).is_err());
    let n = inputs.params.len();
    let splat_of = vec![n as u32 + 1; n];
    let grads = vec![RasterGrad::default(); n];
    assert!(project_backward(
        &t.device,
        &t.queue,
        &t.project,
        &inputs.project(),
        &splat_of,
        &grads
    )
    .is_err());
    let view = scene.views().1;
    assert!(FrameParams::new(&view, 4, 2, &[]).is_err());
    assert!(FrameParams::new(&view, 4, 1, &[0.0; 33]).is_err());
}

/// The trainer's forward projection is the renderer's preprocess.wgsl
/// (deformation, culling, EWA, tile rectangle), and its frame uniform the
/// renderer's `Frame`.
#[test]
fn projection_source_matches_the_renderer() {
    let render = |f: &str| {
        std::fs::read_to_string(format!(
            "{}/../synctalk-render/src/shaders/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("renderer shader")
    };
    let preprocess = render("preprocess.wgsl");
    let common = render("common.wgsl");
    let ours_fwd = include_str!("../../src/gpu/project_fwd.wgsl");
    let ours_gaussian = include_str!("../../src/gpu/gaussian.wgsl");
    let ours_frame = include_str!("../../src/gpu/frame.wgsl");
    fn block(src: &str, from: &str, to: &str) -> Vec<String> {
        let lines: Vec<String> = src
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect();
        let a = lines.iter().position(|l| l.starts_with(from)).expect(from);
        let b = a + lines[a..].iter().position(|l| l.starts_with(to)).expect(to);
        lines[a..=b].to_vec()
    }
    assert_eq!(
        block(ours_fwd, "let pv = ", "if (hi.x <= lo.x"),
        block(&preprocess, "let pv = ", "if (hi.x <= lo.x")
    );
    assert_eq!(
        block(ours_gaussian, "let g0 = ", "op_logit += "),
        block(&preprocess, "let g0 = ", "op_logit += ")
    );
    assert_eq!(
        block(ours_frame, "struct Frame {", "}"),
        block(&common, "struct Frame {", "}")
    );
    assert_eq!(std::mem::size_of::<FrameParams>(), 288);
}
