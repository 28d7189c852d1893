//! The controller kernels and the pose Adam against the f64 oracle
//! (`cpu::Controller`, `cpu::adam_step`, `cpu::pose_adam_step`).

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_train::cpu::{adam_step, pose_adam_step, AdamConfig, Controller, POSE_WEIGHT};
use synctalk_train::gpu::{
    AdamGroup, ControllerConfig, ControllerInputs, ControllerKernels, ControllerStep,
    GradientSources, VIEW_WORDS,
};
use wgpu::util::DeviceExt;

use crate::scene::device;

fn read(device: &wgpu::Device, queue: &wgpu::Queue, src: &wgpu::Buffer, words: usize) -> Vec<f32> {
    let dst = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: src.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(src, 0, &dst, 0, src.size());
    queue.submit([enc.finish()]);
    dst.slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("poll");
    let v: Vec<f32> =
        bytemuck::cast_slice(&dst.slice(..).get_mapped_range().expect("range")).to_vec();
    v[..words].to_vec()
}

fn random_theta(rng: &mut Pcg64, c: &mut Controller) {
    let fans = [c.input, c.input, c.hidden, c.hidden, c.hidden, c.hidden];
    for ((o, l), fan) in c.segments().into_iter().zip(fans) {
        let b = 1.0 / (fan as f64).sqrt();
        for v in &mut c.theta[o..o + l] {
            *v = f64::from(rng.random_range(-b..b) as f32);
        }
    }
}

/// Three steps of torch_trainer.py's sizes (52 → 64 → 64 → 32): per step, `w` and
/// the hidden activations against the oracle's forward at the GPU's θ
/// (within 1e-5 of the layer's largest magnitude), `dL/dθ` (L2 included)
/// against the oracle's backward per tensor (within 2e-5 of the tensor's
/// largest gradient, plus 1e-5 relative), and θ after Adam against the f64
/// Adam fed the GPU's gradient (1e-6 |θ| + 1e-3 lr). The pose table against
/// `pose_adam_step` over frames 1, 1, 3 (rows 0 and 2 must not move).
#[test]
#[allow(clippy::needless_range_loop)] // parallel arrays of the oracle and the GPU
fn controller_and_pose_adam_match_the_oracle() {
    let (device, queue) = device();
    let kernels = Arc::new(ControllerKernels::new(&device));
    let mut rng = Pcg64::seed_from_u64(21);
    let (d, h, k) = (52, 64, 32);
    let reg_w = 1e-3;
    let mut c = Controller::zeros(d, h, k);
    random_theta(&mut rng, &mut c);
    let rows = 4;
    let poses0: Vec<[f32; 6]> = (0..rows)
        .map(|_| std::array::from_fn(|_| rng.random_range(-1.0..1.0)))
        .collect();
    use wgpu::BufferUsages as U;
    let sums = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 4 * (VIEW_WORDS + k) as u64,
        usage: U::STORAGE | U::COPY_DST,
        mapped_at_creation: false,
    });
    let d_pose = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: &[0u8; 32],
        usage: U::STORAGE | U::COPY_DST,
    });
    let theta32: Vec<f32> = c.theta.iter().map(|&v| v as f32).collect();
    let config = ControllerConfig {
        input: d,
        hidden: h,
        bases: k,
        reg_w,
        frames: rows,
        pose_lr: 0.02,
    };
    let mut step = ControllerStep::new(
        &device,
        &queue,
        kernels,
        config.clone(),
        &theta32,
        &poses0,
        GradientSources {
            sums: &sums,
            dw_offset: VIEW_WORDS as u32,
            d_pose: &d_pose,
        },
    )
    .expect("controller step");
    let words = c.theta.len();
    let group = AdamGroup::controller();
    let cfg = AdamConfig {
        lr: f64::from(group.lr[0] as f32),
        ..AdamConfig::new(1e-3, 1e-8)
    };
    let (mut m, mut v) = (vec![0.0; words], vec![0.0; words]);
    let pose_cfg = AdamConfig {
        lr: f64::from(0.02f32),
        ..AdamConfig::new(0.02, 1e-8)
    };
    let mut poses: Vec<[f64; 6]> = poses0.iter().map(|r| r.map(f64::from)).collect();
    let (mut pm, mut pv) = (vec![[0.0; 6]; rows], vec![[0.0; 6]; rows]);
    let mut theta_gpu = theta32.clone();
    let (mut worst_w, mut worst_g, mut worst_p) = (0f64, 0f64, 0f64);
    for (t, frame) in [1u32, 1, 3].into_iter().enumerate() {
        let t = t as u32 + 1;
        let cond: Vec<f32> = (0..d).map(|_| rng.random_range(-2.0..2.0)).collect();
        let dw: Vec<f32> = (0..k).map(|_| rng.random_range(-1e-2..1e-2)).collect();
        let dp: [f32; 6] = std::array::from_fn(|_| rng.random_range(-0.1..0.1));
        let mut sums_data = vec![7.0f32; VIEW_WORDS];
        sums_data.extend(&dw);
        queue.write_buffer(&sums, 0, bytemuck::cast_slice(&sums_data));
        queue.write_buffer(&d_pose, 0, bytemuck::cast_slice(&dp));
        step.write_inputs(
            &queue,
            &ControllerInputs {
                cond: &cond,
                step: t,
                pose: Some((frame, t)),
                pose_only: false,
            },
        )
        .expect("inputs");
        let mut enc = device.create_command_encoder(&Default::default());
        step.encode_forward(&mut enc);
        step.encode_backward(&mut enc);
        queue.submit([enc.finish()]);
        let w = read(&device, &queue, step.coeffs(), k);
        let acts = read(&device, &queue, step.activations(), 2 * h);
        let grad = read(&device, &queue, step.grad(), words);
        let theta_after = read(&device, &queue, step.theta(), words);
        let pose_after = read(&device, &queue, step.poses(), 6 * rows);

        // The oracle at the GPU's θ before this step.
        let at = Controller {
            theta: theta_gpu.iter().map(|&v| f64::from(v)).collect(),
            ..c.clone()
        };
        let x: Vec<f64> = cond.iter().map(|&v| f64::from(v)).collect();
        let f = at.forward(&x).expect("forward");
        for (name, gpu, cpu) in [
            ("h1", &acts[..h], &f.h1),
            ("h2", &acts[h..], &f.h2),
            ("w", &w[..], &f.w),
        ] {
            let scale = cpu.iter().fold(0f64, |a, b| a.max(b.abs()));
            for (i, (&a, &b)) in gpu.iter().zip(cpu.iter()).enumerate() {
                let err = (f64::from(a) - b).abs();
                worst_w = worst_w.max(err / scale);
                assert!(err <= 1e-5 * scale, "{name}[{i}]: gpu {a} cpu {b}");
            }
        }
        let dw64: Vec<f64> = dw.iter().map(|&v| f64::from(v)).collect();
        let mut g = at.backward(&f, &dw64).expect("backward");
        for (a, b) in g.theta.iter_mut().zip(&at.l2(reg_w).1.theta) {
            *a += b;
        }
        for (o, l) in at.segments() {
            let scale = g.theta[o..o + l].iter().fold(0f64, |a, b| a.max(b.abs()));
            for i in o..o + l {
                let err = (f64::from(grad[i]) - g.theta[i]).abs();
                let tol = 2e-5 * scale + 1e-5 * g.theta[i].abs();
                worst_g = worst_g.max(err / tol);
                assert!(err <= tol, "dθ[{i}]: gpu {} cpu {}", grad[i], g.theta[i]);
            }
        }
        // Adam on θ from the GPU's own gradient.
        for i in 0..words {
            let mut p = f64::from(theta_gpu[i]);
            adam_step(&cfg, t, &mut p, f64::from(grad[i]), &mut m[i], &mut v[i]);
            let err = (f64::from(theta_after[i]) - p).abs();
            let tol = 1e-6 * p.abs() + 1e-3 * cfg.lr;
            worst_p = worst_p.max(err / tol);
            assert!(
                err <= tol,
                "θ[{i}] after Adam: gpu {} cpu {p}",
                theta_after[i]
            );
        }
        theta_gpu = theta_after;
        // The pose table.
        let f = frame as usize;
        let pg: [f64; 6] =
            std::array::from_fn(|j| f64::from(dp[j]) + 2.0 * POSE_WEIGHT * poses[f][j]);
        pose_adam_step(&pose_cfg, t, &mut poses, &mut pm, &mut pv, f, &pg).expect("pose");
        for r in 0..rows {
            for j in 0..6 {
                let (a, b) = (f64::from(pose_after[6 * r + j]), poses[r][j]);
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs() + 1e-3 * pose_cfg.lr * f64::from(t),
                    "pose[{r}][{j}]: gpu {a} cpu {b}"
                );
            }
        }
        for r in [0, 2] {
            assert_eq!(&pose_after[6 * r..6 * r + 6], &poses0[r], "row {r} moved");
        }
    }
    eprintln!(
        "controller: worst forward {worst_w:.2e} of scale, gradient {worst_g:.3} and Adam {worst_p:.3} of tolerance"
    );
    // Wrong sizes are errors, not panics.
    assert!(step
        .write_inputs(
            &queue,
            &ControllerInputs {
                cond: &[0.0; 3],
                step: 1,
                pose: None,
                pose_only: false,
            },
        )
        .is_err());
    assert!(step
        .write_inputs(
            &queue,
            &ControllerInputs {
                cond: &[0.0; 52],
                step: 1,
                pose: Some((rows as u32, 1)),
                pose_only: false,
            },
        )
        .is_err());
}
