//! [`TrainStep`]: one GPU-resident step (GPU depth sort, binning and tile
//! sort) against the CPU-intersection path of `train_step.rs`, 20 steps
//! lowering the loss, and determinism.

use std::sync::Arc;

use synctalk_reference::Layers;
use synctalk_train::cpu::{forward, LossWeights};
use synctalk_train::gpu::{
    forward_backward, image_loss, pack_target, project_backward, project_forward, under_layer,
    unpack_rect, AdamGroup, GpuParams, Intersections, LossInputs, LossKernels, RasterInputs,
    StepConfig, StepInputs, StepKernels, TrainStep, TILE,
};

use crate::oracle3d::{options, Inputs, Trainer};
use crate::scene3d::Scene3;

/// The target (the oracle's render of `truth`) and the layer under the head.
pub(crate) fn target_of(truth: &Scene3) -> (Vec<u32>, Vec<[f32; 4]>) {
    let fwd = forward(&truth.params, &truth.frame()).expect("oracle forward");
    let target = fwd
        .image
        .iter()
        .zip(&fwd.head)
        .map(|(p, h)| {
            let q = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            let mask = if h[3] > 0.5 { 2 } else { 4 };
            pack_target([q(p[0]), q(p[1]), q(p[2])], mask)
        })
        .collect();
    let under = under_layer(Layers {
        background: &truth.background,
        torso: None,
    });
    (target, under)
}

/// The start of training from `truth`: colours and opacities off.
pub(crate) fn perturbed(mut scene: Scene3) -> Scene3 {
    for (o, sh) in scene
        .params
        .opacity_logits
        .iter_mut()
        .zip(&mut scene.params.sh)
    {
        *o -= 1.0;
        for v in &mut sh[0] {
            *v = f64::from((*v * 0.3 + 0.4) as f32);
        }
    }
    scene
}

pub(crate) fn groups(p: &GpuParams) -> [AdamGroup; 3] {
    [
        AdamGroup::gauss(p.len(), 1.6e-4 * 12.0),
        AdamGroup::sh(),
        AdamGroup::bases(p.bases.len(), 1e-3),
    ]
}

pub(crate) fn make(
    t: &Trainer,
    kernels: &Arc<StepKernels>,
    inputs: &Inputs,
    target: &[u32],
    under: &[[f32; 4]],
    isect_capacity: u32,
) -> TrainStep {
    let [width, height] = inputs.frame.image_size;
    TrainStep::new(
        &t.device,
        kernels.clone(),
        StepConfig {
            width,
            height,
            isect_capacity,
            weights: LossWeights::default(),
            groups: groups(&inputs.params),
        },
        &inputs.params,
        under,
        target,
    )
    .expect("train step")
}

pub(crate) fn run_step(t: &Trainer, step: &TrainStep, inputs: &Inputs, n: u32) {
    let mut enc = t.device.create_command_encoder(&Default::default());
    step.encode(
        &t.queue,
        &mut enc,
        &StepInputs {
            frame: inputs.frame,
            pose: inputs.pose,
            step: n,
        },
    )
    .expect("encode");
    t.queue.submit([enc.finish()]);
}

fn close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * scale + 1e-6 * y.abs(),
            "{what}[{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

#[test]
fn one_step_matches_the_cpu_intersection_path() {
    let t = Trainer::new();
    let kernels = Arc::new(StepKernels::new(&t.device));
    let loss_kernels = LossKernels::new(&t.device);
    for (seed, (w, h, n)) in [(3u64, (48, 48, 60)), (11, (40, 56, 90)), (5, (64, 32, 40))] {
        let truth = Scene3::random(seed, options(w, h, n, 2));
        let (target, under) = target_of(&truth);
        let inputs = Inputs::new(&perturbed(truth));
        let step = make(&t, &kernels, &inputs, &target, &under, 4096);
        run_step(&t, &step, &inputs, 1);
        let lists = pollster::block_on(step.read_lists(&t.device, &t.queue)).expect("lists");
        let loss = pollster::block_on(step.read_loss(&t.device, &t.queue)).expect("loss");
        let grads = pollster::block_on(step.read_grads(&t.device, &t.queue)).expect("grads");

        // The CPU path: the lists built on the host between the kernels.
        let pf = project_forward(&t.device, &t.queue, &t.project, &inputs.project()).expect("fwd");
        let mut order: Vec<u32> = (0..inputs.params.len() as u32).collect();
        order.sort_by_key(|&i| (pf.depth_keys[i as usize], i));
        let rects: Vec<[u32; 4]> = pf.rects.iter().map(|&r| unpack_rect(r)).collect();
        let isect = Intersections::build(&rects, &order, w.div_ceil(TILE), h.div_ceil(TILE))
            .expect("intersections");
        assert!(!isect.is_empty());
        assert_eq!(lists.stats, [isect.len() as u32; 2], "seed {seed}");
        assert_eq!(lists.ranges, isect.ranges, "seed {seed}: ranges");
        assert_eq!(lists.isect_vals, isect.isect_vals, "seed {seed}: lists");
        assert_eq!(lists.offsets, isect.offsets, "seed {seed}: offsets");

        let raster = |grad_image: &[[f32; 4]]| {
            forward_backward(
                &t.device,
                &t.queue,
                &t.raster,
                &RasterInputs {
                    width: w,
                    height: h,
                    splats: &pf.splats,
                    isect: &isect,
                    grad_image,
                },
            )
            .expect("raster")
        };
        let head = raster(&vec![[0.0; 4]; (w * h) as usize]).image;
        let cpu_loss = image_loss(
            &t.device,
            &t.queue,
            &loss_kernels,
            &LossInputs {
                width: w,
                height: h,
                head: &head,
                under: &under,
                target: &target,
                weights: LossWeights::default(),
            },
        )
        .expect("loss");
        close("loss", &loss, &cpu_loss.terms);
        let splat_grads = raster(&cpu_loss.grad_head).grads;
        let g = project_backward(
            &t.device,
            &t.queue,
            &t.project,
            &inputs.project(),
            &pf.splat_of,
            &splat_grads,
        )
        .expect("backward");
        close("d gauss", &grads.gauss.concat(), &g.params.gauss.concat());
        close("d sh", &grads.sh, &g.params.sh);
        close("d bases", &grads.bases, &g.params.bases);
    }
}

#[test]
fn twenty_resident_steps_lower_the_loss_deterministically() {
    let start = std::time::Instant::now();
    let t = Trainer::new();
    let kernels = Arc::new(StepKernels::new(&t.device));
    let truth = Scene3::random(7, options(48, 48, 60, 2));
    let (target, under) = target_of(&truth);
    let inputs = Inputs::new(&perturbed(truth));
    let steps = [0, 1].map(|_| make(&t, &kernels, &inputs, &target, &under, 4096));
    let mut losses = [Vec::new(), Vec::new()];
    let compile = start.elapsed().as_secs_f64();
    for n in 1..=20u32 {
        for (step, l) in steps.iter().zip(&mut losses) {
            run_step(&t, step, &inputs, n);
            l.push(pollster::block_on(step.read_loss(&t.device, &t.queue)).expect("loss")[0]);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "resident train: loss {:?}, setup {compile:.2} s, total {secs:.2} s",
        losses[0]
    );
    let l = &losses[0];
    assert!(l[19] < 0.8 * l[0], "the loss did not fall: {l:?}");
    assert!(l.windows(2).filter(|w| w[1] > w[0]).count() <= 3);
    // Two runs: bit-identical losses and parameters.
    assert_eq!(losses[0], losses[1]);
    let p: Vec<GpuParams> = steps
        .iter()
        .map(|s| pollster::block_on(s.read_params(&t.device, &t.queue)).expect("params"))
        .collect();
    assert_eq!(p[0], p[1]);
}

#[test]
fn overflowing_the_capacity_is_reported_and_safe() {
    let t = Trainer::new();
    let kernels = Arc::new(StepKernels::new(&t.device));
    let truth = Scene3::random(3, options(48, 48, 60, 2));
    let (target, under) = target_of(&truth);
    let inputs = Inputs::new(&perturbed(truth));
    let big = make(&t, &kernels, &inputs, &target, &under, 4096);
    run_step(&t, &big, &inputs, 1);
    let total = pollster::block_on(big.read_lists(&t.device, &t.queue))
        .expect("lists")
        .stats[1];
    let small = make(&t, &kernels, &inputs, &target, &under, total / 2);
    run_step(&t, &small, &inputs, 1);
    let lists = pollster::block_on(small.read_lists(&t.device, &t.queue)).expect("lists");
    assert_eq!(lists.stats, [total / 2, total]);
    assert!(lists
        .ranges
        .iter()
        .all(|r| r[0] <= r[1] && r[1] <= total / 2));
    let loss = pollster::block_on(small.read_loss(&t.device, &t.queue)).expect("loss");
    assert!(loss.iter().all(|v| v.is_finite()));
}

/// The controller driving `w` from a condition inside the step
/// ([`TrainStep::encode_controlled`]): 20 steps lower the loss, the
/// controller's θ and `w` move, and two runs give the same bits.
#[test]
fn twenty_controlled_steps_lower_the_loss_deterministically() {
    use rand::{Rng, SeedableRng};
    use synctalk_train::gpu::{
        ControllerConfig, ControllerInputs, ControllerKernels, ControllerStep,
    };
    let t = Trainer::new();
    let kernels = Arc::new(StepKernels::new(&t.device));
    let ck = Arc::new(ControllerKernels::new(&t.device));
    let truth = Scene3::random(7, options(48, 48, 60, 2));
    let (target, under) = target_of(&truth);
    let inputs = Inputs::new(&perturbed(truth));
    let mut rng = rand_pcg::Pcg64::seed_from_u64(4);
    let config = ControllerConfig {
        input: 52,
        hidden: 64,
        bases: 2,
        reg_w: 1e-3,
        frames: 1,
        pose_lr: 0.02,
    };
    let theta: Vec<f32> = (0..config.theta_words())
        .map(|_| rng.random_range(-0.1..0.1))
        .collect();
    let cond: Vec<f32> = (0..52).map(|_| rng.random_range(-1.0..1.0)).collect();
    let steps = [0, 1].map(|_| make(&t, &kernels, &inputs, &target, &under, 4096));
    let mut ctrls: Vec<ControllerStep> = steps
        .iter()
        .map(|s| {
            ControllerStep::new(
                &t.device,
                &t.queue,
                ck.clone(),
                config.clone(),
                &theta,
                &[[0.0; 6]],
                s.gradient_sources(),
            )
            .expect("controller")
        })
        .collect();
    let mut losses = [Vec::new(), Vec::new()];
    for n in 1..=20u32 {
        for ((step, ctrl), l) in steps.iter().zip(&mut ctrls).zip(&mut losses) {
            ctrl.write_inputs(
                &t.queue,
                &ControllerInputs {
                    cond: &cond,
                    step: n,
                    pose: None,
                    pose_only: false,
                },
            )
            .expect("inputs");
            let mut enc = t.device.create_command_encoder(&Default::default());
            step.encode_controlled(
                &t.queue,
                &mut enc,
                &StepInputs {
                    frame: inputs.frame,
                    pose: inputs.pose,
                    step: n,
                },
                ctrl,
                None,
            )
            .expect("encode");
            t.queue.submit([enc.finish()]);
            l.push(pollster::block_on(step.read_loss(&t.device, &t.queue)).expect("loss")[0]);
        }
    }
    eprintln!("controlled train: loss {:?}", losses[0]);
    let l = &losses[0];
    assert!(l[19] < 0.8 * l[0], "the loss did not fall: {l:?}");
    assert_eq!(losses[0], losses[1]);
    let read = |b: &wgpu::Buffer| -> Vec<u32> {
        let dst = t.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: b.size(),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = t.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(b, 0, &dst, 0, b.size());
        t.queue.submit([enc.finish()]);
        dst.slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
        t.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
        let v = bytemuck::cast_slice(&dst.slice(..).get_mapped_range().expect("range")).to_vec();
        v
    };
    let th: Vec<Vec<u32>> = ctrls.iter().map(|c| read(c.theta())).collect();
    assert_eq!(th[0], th[1]);
    let moved = th[0][..theta.len()]
        .iter()
        .zip(&theta)
        .filter(|(a, b)| f32::from_bits(**a) != **b)
        .count();
    assert!(moved > theta.len() / 2, "θ barely moved: {moved}");
    let p: Vec<GpuParams> = steps
        .iter()
        .map(|s| pollster::block_on(s.read_params(&t.device, &t.queue)).expect("params"))
        .collect();
    assert_eq!(p[0], p[1]);
}
