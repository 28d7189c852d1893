//! The oracle side of the projection tests: a 3D scene's GPU inputs, the
//! f64 forward and backward of a random `dL/d` head layer, the GPU chain,
//! and the per-group comparison with its tolerances.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_reference::{tile_lists, tile_of};
use synctalk_train::cpu::{
    self, backward, forward, pose_backward as cpu_pose_backward, project, Forward, Gradients,
    OutputGrad, SplatGrad,
};
use synctalk_train::gpu::{
    forward_backward, project_backward, project_forward, unpack_rect, FrameParams, GpuGradients,
    GpuParams, Intersections, PoseParams, ProjectInputs, ProjectKernels, ProjectOutput, RasterGrad,
    RasterInputs, RasterKernels, RasterOutput, TILE,
};

use crate::scene::{device, near_threshold};
use crate::scene3d::{Options3, Scene3};

/// Per-Gaussian gradients: `|gpu − oracle| ≤ RTOL |oracle| + ATOL scale`,
/// `scale` the largest `|oracle|` of the group over the scene. For `dL/dw`,
/// `dL/d` view and `dL/d` pose (sums over all Gaussians, with
/// cancellation) `scale` is the sum of the magnitudes of the per-Gaussian
/// terms instead.
pub const RTOL: f64 = 1e-3;
pub const ATOL: f64 = 1e-4;

/// Relative distance to a blending threshold below which a pixel's `dL/d`
/// head is zeroed (f32 and f64 may branch differently there).
pub const MARGIN: f64 = 1e-4;

pub struct Trainer {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub raster: RasterKernels,
    pub project: ProjectKernels,
}

impl Trainer {
    pub fn new() -> Self {
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
pub struct Inputs {
    pub params: GpuParams,
    pub frame: FrameParams,
    pub pose: PoseParams,
}

impl Inputs {
    pub fn new(scene: &Scene3) -> Self {
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

    pub fn project(&self) -> ProjectInputs<'_> {
        ProjectInputs {
            params: &self.params,
            frame: self.frame,
            pose: self.pose,
        }
    }
}

/// The oracle's forward, a random `dL/d` head (zero near blending
/// thresholds) and the oracle's backward of it.
pub struct Oracle {
    pub fwd: Forward,
    pub grad_head: Vec<[f32; 4]>,
    pub excluded: usize,
    /// Per oracle splat (`fwd.splats` order).
    pub raster: Vec<SplatGrad>,
    pub grads: Gradients,
}

impl Oracle {
    pub fn new(scene: &Scene3, seed: u64) -> Self {
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
    pub fn raster_by_gaussian(&self, n: usize) -> Vec<RasterGrad> {
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
    pub fn view_terms(&self, scene: &Scene3) -> ([f64; 12], [f64; 6], [f64; 12]) {
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
    pub fn coeff_terms(&self, scene: &Scene3) -> Vec<f64> {
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

pub fn view_words(rotation: &[f64; 9], translation: &[f64; 3]) -> [f64; 12] {
    std::array::from_fn(|k| {
        if k < 9 {
            rotation[k]
        } else {
            translation[k - 9]
        }
    })
}

/// Worst `|gpu − oracle| / tolerance` of one group (asserting it is ≤ 1).
pub fn check_group(name: &str, group: &str, gpu: &[f64], oracle: &[f64], floor: &[f64]) -> f64 {
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
pub fn compare(
    name: &str,
    scene: &Scene3,
    oracle: &Oracle,
    gpu: &GpuGradients,
) -> Vec<(String, f64)> {
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
pub fn gpu_chain(
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
pub fn check_splats(name: &str, oracle: &Oracle, fwd: &ProjectOutput) {
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

pub fn options(width: u32, height: u32, gaussians: usize, num_bases: usize) -> Options3 {
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

pub fn cases() -> Vec<(&'static str, u64, Options3)> {
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

pub fn print_report(
    name: &str,
    n: usize,
    visible: usize,
    excluded: usize,
    report: &[(String, f64)],
) {
    let groups: Vec<String> = report.iter().map(|(g, w)| format!("{g} {w:.1e}")).collect();
    eprintln!(
        "{name}: {n} Gaussians, {visible} visible, {excluded} pixels excluded; worst error / \
         tolerance: {}",
        groups.join(", ")
    );
}

/// Branches the scenes' Gaussians took, summed over scenes.
#[derive(Debug, Default)]
pub struct Coverage {
    /// Visible with a gradient, past the FOV clamp in x or y.
    pub fov_clamped: usize,
    /// Colour channels clamped at 0 of visible Gaussians with a gradient.
    pub sh_clamped: usize,
    /// Culled behind the near plane.
    pub behind: usize,
    /// Culled by the GPU only (opacity below 1/255 or an empty trimmed rectangle).
    pub faint: usize,
}

pub fn coverage(scene: &Scene3, oracle: &Oracle, fwd: &ProjectOutput, cov: &mut Coverage) {
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

pub fn bits(g: &GpuGradients) -> Vec<u32> {
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
