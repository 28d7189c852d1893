//! MCMC position noise (`noise.wgsl`) against its CPU mirror: the same
//! hash, the same covariance; transparent Gaussians wander, opaque ones
//! stay.

use synctalk_train::gpu::{position_noise_cpu, PositionNoise};
use wgpu::util::DeviceExt;

use crate::scene::device;

#[test]
fn position_noise_matches_the_cpu_and_spares_opaque_gaussians() {
    let (device, queue) = device();
    let n = 300;
    let mut gauss = Vec::new();
    for i in 0..n {
        let f = i as f32;
        // Opacity from 0.0005 to ~0.99.
        let o = 0.0005 + 0.99 * (f / n as f32).powi(3);
        gauss.push([f * 0.01, -f * 0.02, 1.0 + f * 0.001, (o / (1.0 - o)).ln()]);
        gauss.push([
            1.0 + 0.1 * (f * 0.3).sin(),
            0.2 * (f * 0.7).cos(),
            0.1,
            -0.3,
        ]);
        gauss.push([-1.0 - 0.002 * f, -1.5, -0.5 + 0.001 * f, 0.0]);
    }
    let buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&gauss),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let noise = PositionNoise::new(&device, &buf, n as u32);
    let (seed, step, scaler) = (7u32, 1234u32, 0.05f32);
    let mut enc = device.create_command_encoder(&Default::default());
    noise.encode(&queue, &mut enc, seed, step, scaler);
    let read = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: buf.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    enc.copy_buffer_to_buffer(&buf, 0, &read, 0, buf.size());
    queue.submit([enc.finish()]);
    read.slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("poll");
    let gpu: Vec<[f32; 4]> =
        bytemuck::cast_slice(&read.slice(..).get_mapped_range().expect("range")).to_vec();
    let mut cpu = gauss.clone();
    position_noise_cpu(&mut cpu, seed, step, scaler);
    let mut moved = 0;
    for i in 0..n {
        let d_cpu: Vec<f32> = (0..3).map(|k| cpu[3 * i][k] - gauss[3 * i][k]).collect();
        let d_gpu: Vec<f32> = (0..3).map(|k| gpu[3 * i][k] - gauss[3 * i][k]).collect();
        let size = d_cpu.iter().fold(0f32, |m, v| m.max(v.abs()));
        for k in 0..3 {
            assert!(
                (d_cpu[k] - d_gpu[k]).abs() <= 1e-3 * size + 1e-6,
                "Gaussian {i}: gpu {d_gpu:?} cpu {d_cpu:?}"
            );
        }
        assert_eq!(gpu[3 * i + 1], gauss[3 * i + 1], "only the mean moves");
        let opacity = 1.0 / (1.0 + (-gauss[3 * i][3]).exp());
        if opacity > 0.3 {
            assert!(size < 1e-6, "Gaussian {i} (opacity {opacity}) moved {size}");
        } else if opacity < 0.002 && size > 1e-4 {
            moved += 1;
        }
    }
    assert!(moved > 20, "transparent Gaussians wander ({moved})");
}
