//! What the training loop needs from a step beyond one update: the refined
//! view built on the GPU from the pose table ([`PoseView`]) against the
//! host's, and the state read back and re-uploaded (checkpoints,
//! densification) continuing bit for bit.

use std::sync::Arc;

use synctalk_train::gpu::{
    ControllerConfig, ControllerInputs, ControllerKernels, ControllerStep, PoseView, StepInputs,
    StepKernels, TrainStep,
};

use crate::oracle3d::{options, Inputs, Trainer};
use crate::scene3d::Scene3;
use crate::step::{groups, make, perturbed, run_step, target_of};

fn config(frames: usize) -> ControllerConfig {
    ControllerConfig {
        input: 52,
        hidden: 16,
        bases: 2,
        reg_w: 1e-3,
        frames,
        pose_lr: 0.02,
    }
}

pub(crate) fn read_f32(t: &Trainer, b: &wgpu::Buffer, words: usize) -> Vec<f32> {
    let dst = t.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 4 * words as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = t.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(b, 0, &dst, 0, 4 * words as u64);
    t.queue.submit([enc.finish()]);
    dst.slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    t.device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("poll");
    let v = bytemuck::cast_slice(&dst.slice(..).get_mapped_range().expect("range")).to_vec();
    v
}

/// One controlled step on frame row `row` of a 3-row pose table holding
/// the scene's pose there: with the view built on the GPU, the loss and
/// `dL/d pose` equal (to f32 rounding) the step given the host's refined
/// view; and with the table's row zero the view is the tracked one.
#[test]
fn the_gpu_pose_view_is_the_hosts() {
    let t = Trainer::new();
    let kernels = Arc::new(StepKernels::new(&t.device));
    let ck = Arc::new(ControllerKernels::new(&t.device));
    let truth = Scene3::random(11, options(48, 40, 50, 2));
    let (target, under) = target_of(&truth);
    let scene = perturbed(truth);
    let posed = Inputs::new(&scene);
    let (head, _) = scene.views();
    let pose = scene.pose.map(|v| v as f32);
    assert!(pose.iter().any(|&v| v != 0.0), "the scene has a pose");
    let row = 1u32;
    let mut table = vec![[0f32; 6]; 3];
    table[row as usize] = pose;
    let theta = vec![0.01f32; config(3).theta_words()];
    let cond = vec![0.5f32; 52];
    let mut unposed = Inputs::new(&scene);
    unposed.frame = synctalk_train::gpu::FrameParams::new(
        &head,
        unposed.params.len(),
        unposed.params.sh_degree,
        &[0.0; 2],
    )
    .expect("frame");
    unposed.pose = synctalk_train::gpu::PoseParams::new(&head, &[0.0; 6]);

    let run = |inputs: &Inputs, gpu_view: bool| -> (f32, Vec<f32>) {
        let step = make(&t, &kernels, inputs, &target, &under, 4096);
        let mut ctrl = ControllerStep::new(
            &t.device,
            &t.queue,
            ck.clone(),
            config(3),
            &theta,
            &table,
            step.gradient_sources(),
        )
        .expect("controller");
        let pv = PoseView::new(&t.device, ctrl.poses(), 3);
        pv.write(&t.queue, &head, row).expect("pose view");
        ctrl.write_inputs(
            &t.queue,
            &ControllerInputs {
                cond: &cond,
                step: 1,
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
                step: 1,
            },
            &ctrl,
            gpu_view.then_some(&pv),
        )
        .expect("encode");
        t.queue.submit([enc.finish()]);
        let loss = pollster::block_on(step.read_loss(&t.device, &t.queue)).expect("loss")[0];
        (loss, read_f32(&t, step.d_pose(), 6))
    };
    let (host_loss, host_grad) = run(&posed, false);
    let (gpu_loss, gpu_grad) = run(&unposed, true);
    eprintln!(
        "pose view: loss host {host_loss} gpu {gpu_loss}; d pose {host_grad:?} vs {gpu_grad:?}"
    );
    assert!(
        (host_loss - gpu_loss).abs() <= 1e-5 * host_loss.abs(),
        "loss {host_loss} vs {gpu_loss}"
    );
    let scale = host_grad.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "the pose has a gradient");
    for (a, b) in host_grad.iter().zip(&gpu_grad) {
        assert!(
            (a - b).abs() <= 2e-3 * scale,
            "d pose {host_grad:?} vs {gpu_grad:?}"
        );
    }
    // Unrefined: the host's unposed view and a zero row agree exactly in
    // rotation (the identity), so only the translation's rounding differs.
    let (plain_loss, _) = run(&unposed, false);
    assert!(
        (plain_loss - gpu_loss).abs() > 1e-6,
        "the pose changed the image"
    );
}

/// Three steps, the state read back and a new step made from it: its
/// fourth step gives the same loss and parameters, bit for bit, as the
/// original's fourth; and the controller's state survives
/// `read_state` / `set_state`.
#[test]
fn a_step_from_read_back_state_continues_bit_for_bit() {
    let t = Trainer::new();
    let kernels = Arc::new(StepKernels::new(&t.device));
    let truth = Scene3::random(12, options(40, 40, 40, 2));
    let (target, under) = target_of(&truth);
    let inputs = Inputs::new(&perturbed(truth));
    let a = make(&t, &kernels, &inputs, &target, &under, 4096);
    for n in 1..=3 {
        run_step(&t, &a, &inputs, n);
    }
    let state = pollster::block_on(a.read_state(&t.device, &t.queue)).expect("state");
    assert!(
        state.moments.iter().all(|m| m[1].iter().any(|&v| v > 0.0)),
        "three steps leave second moments"
    );
    let b = TrainStep::from_state(
        &t.device,
        kernels.clone(),
        a_config(&inputs),
        &state,
        &under,
        &target,
    )
    .expect("from state");
    run_step(&t, &a, &inputs, 4);
    run_step(&t, &b, &inputs, 4);
    let la = pollster::block_on(a.read_loss(&t.device, &t.queue)).expect("loss");
    let lb = pollster::block_on(b.read_loss(&t.device, &t.queue)).expect("loss");
    assert_eq!(la, lb);
    assert_eq!(
        pollster::block_on(a.read_state(&t.device, &t.queue)).expect("state"),
        pollster::block_on(b.read_state(&t.device, &t.queue)).expect("state")
    );
    // A moment of the wrong length is refused.
    let mut bad = state.clone();
    bad.moments[2][0].pop();
    assert!(TrainStep::from_state(
        &t.device,
        kernels.clone(),
        a_config(&inputs),
        &bad,
        &under,
        &target
    )
    .is_err());

    let ck = Arc::new(ControllerKernels::new(&t.device));
    let theta: Vec<f32> = (0..config(2).theta_words())
        .map(|i| (i as f32 * 0.37).sin() * 0.1)
        .collect();
    let ctrl = ControllerStep::new(
        &t.device,
        &t.queue,
        ck,
        config(2),
        &theta,
        &[[0.0; 6]; 2],
        a.gradient_sources(),
    )
    .expect("controller");
    let mut cs =
        pollster::block_on(ctrl.read_state(&t.device, &t.queue)).expect("controller state");
    assert_eq!(cs.theta, theta);
    cs.poses[1] = [0.1, -0.2, 0.3, 0.4, 0.5, 0.6];
    cs.moments[1][3] = 0.25;
    cs.pose_moments[0][1][2] = 0.5;
    ctrl.set_state(&t.queue, &cs).expect("set state");
    assert_eq!(
        pollster::block_on(ctrl.read_state(&t.device, &t.queue)).expect("state"),
        cs
    );
}

fn a_config(inputs: &Inputs) -> synctalk_train::gpu::StepConfig {
    let [width, height] = inputs.frame.image_size;
    synctalk_train::gpu::StepConfig {
        width,
        height,
        isect_capacity: 4096,
        weights: synctalk_train::cpu::LossWeights::default(),
        groups: groups(&inputs.params),
    }
}
