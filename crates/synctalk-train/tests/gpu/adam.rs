//! The Adam kernel against the f64 `cpu::adam_step` over a few steps, with
//! torch_trainer.py's groups and regularisers.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use synctalk_train::cpu::{adam_step, AdamConfig};
use synctalk_train::gpu::{AdamBuffers, AdamGroup, AdamKernel, Regulariser};
use wgpu::util::DeviceExt;

use crate::scene::device;

fn buffer(device: &wgpu::Device, data: &[f32], usage: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(data),
        usage,
    })
}

fn read(device: &wgpu::Device, queue: &wgpu::Queue, src: &wgpu::Buffer) -> Vec<f32> {
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
    let v = bytemuck::cast_slice(&dst.slice(..).get_mapped_range().expect("range")).to_vec();
    v
}

/// The regulariser's gradient in f64.
fn reg_grad(r: Regulariser, p: f64) -> f64 {
    match r {
        Regulariser::None => 0.0,
        Regulariser::Sigmoid(c) => {
            let s = 1.0 / (1.0 + (-p).exp());
            f64::from(c) * s * (1.0 - s)
        }
        Regulariser::Exp(c) => f64::from(c) * p.exp(),
        Regulariser::Abs(c) => f64::from(c) * p.signum() * f64::from(u8::from(p != 0.0)),
        Regulariser::Square(c) => 2.0 * f64::from(c) * p,
    }
}

/// Five steps of each of torch_trainer.py's groups with fresh random gradients per
/// step: parameters within 1e-6 |p| + 1e-3 lr (the update's f32 rounding),
/// moments within 1e-5 relative (plus a floor for cancelling sums).
#[test]
fn adam_matches_oracle() {
    let (device, queue) = device();
    let kernel = AdamKernel::new(&device);
    let mut rng = Pcg64::seed_from_u64(3);
    let n = 300;
    let groups = [
        (AdamGroup::gauss(n, 1e-3), 12 * n),
        (AdamGroup::sh(), 12 * n),
        (AdamGroup::bases(11 * 4 * n, 1e-3), 11 * 4 * n),
        (AdamGroup::pose(0.02), 6),
    ];
    let mut worst = 0f64;
    for (group, count) in groups {
        use wgpu::BufferUsages as U;
        let p0: Vec<f32> = (0..count).map(|_| rng.random_range(-2.0..2.0)).collect();
        let param = buffer(&device, &p0, U::STORAGE | U::COPY_SRC);
        let zeros = vec![0f32; count];
        let m1 = buffer(&device, &zeros, U::STORAGE | U::COPY_SRC);
        let m2 = buffer(&device, &zeros, U::STORAGE | U::COPY_SRC);
        let grad = buffer(&device, &zeros, U::STORAGE | U::COPY_DST);
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: std::mem::size_of::<synctalk_train::gpu::AdamParams>() as u64,
            usage: U::UNIFORM | U::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = kernel.bind(
            &device,
            &AdamBuffers {
                params: &uniform,
                grad: &grad,
                param: &param,
                m1: &m1,
                m2: &m2,
            },
        );
        let mut p: Vec<f64> = p0.iter().map(|&v| f64::from(v)).collect();
        let mut m = vec![0.0; count];
        let mut v = vec![0.0; count];
        let stride = group.lr.len();
        for t in 1..=5u32 {
            // Some words get no gradient (only the regulariser moves them).
            let g: Vec<f32> = (0..count)
                .map(|_| {
                    if rng.random_bool(0.2) {
                        0.0
                    } else {
                        rng.random_range(-1e-2..1e-2)
                    }
                })
                .collect();
            let params = group.params(t, count as u32).expect("group");
            queue.write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
            queue.write_buffer(&grad, 0, bytemuck::cast_slice(&g));
            let mut enc = device.create_command_encoder(&Default::default());
            kernel.encode(&mut enc, &bind, count as u32);
            queue.submit([enc.finish()]);
            for i in 0..count {
                let slot = i % stride;
                let r = group.reg.get(slot).copied().unwrap_or_default();
                let cfg = AdamConfig {
                    lr: f64::from(group.lr[slot] as f32),
                    beta1: group.beta1,
                    beta2: group.beta2,
                    eps: group.eps,
                };
                let gi = f64::from(g[i]) + reg_grad(r, p[i]);
                adam_step(&cfg, t, &mut p[i], gi, &mut m[i], &mut v[i]);
            }
        }
        let (gp, gm, gv) = (
            read(&device, &queue, &param),
            read(&device, &queue, &m1),
            read(&device, &queue, &m2),
        );
        for i in 0..count {
            let lr = group.lr[i % stride];
            let err = (f64::from(gp[i]) - p[i]).abs();
            let tol = 1e-6 * p[i].abs() + 1e-3 * lr;
            worst = worst.max(err / tol);
            assert!(err <= tol, "word {i}: gpu {} cpu {}", gp[i], p[i]);
            // Floors: f32 rounding of the terms (|g| < 1e-2), whose sum
            // may cancel.
            for (a, b, floor) in [(gm[i], m[i], 1e-9), (gv[i], v[i], 1e-13)] {
                assert!(
                    (f64::from(a) - b).abs() <= 1e-5 * b.abs() + floor,
                    "moment of word {i}: gpu {a} cpu {b}"
                );
            }
        }
    }
    eprintln!("adam: worst parameter error {worst:.3} of tolerance");
}

#[test]
fn groups_follow_train_py() {
    let g = AdamGroup::gauss(10, 1.92e-3);
    assert_eq!(g.lr.len(), 12);
    assert_eq!(g.lr[3], 5e-2);
    assert_eq!(g.lr[11], 0.0);
    assert!(AdamGroup::sh().params(1, 12).is_some());
    let bad = AdamGroup {
        lr: vec![1.0; 17],
        ..AdamGroup::sh()
    };
    assert!(bad.params(1, 17).is_none());
}
