//! MCMC position noise on the GPU (`noise.wgsl`, see
//! [`crate::train::mcmc`]): one dispatch per step after Adam, on the
//! Gaussians' buffer. [`position_noise_cpu`] is the same arithmetic on the
//! host, for the test.

use bytemuck::{Pod, Zeroable};

use super::kernel::{Bind, Kernel};

/// `noise.wgsl`'s uniform.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct NoiseParams {
    /// Gaussians.
    pub count: u32,
    /// The run's seed.
    pub seed: u32,
    /// The step.
    pub step: u32,
    /// Unused.
    pub pad: u32,
    /// `means_lr · NOISE_LR`.
    pub scaler: f32,
    /// Unused.
    pub pad1: [f32; 3],
}

/// The position-noise kernel bound to one `gauss` buffer.
pub struct PositionNoise {
    kernel: Kernel,
    params: wgpu::Buffer,
    group: wgpu::BindGroup,
    count: u32,
}

impl PositionNoise {
    /// Compiles the kernel for the `count` Gaussians of `gauss`.
    pub fn new(device: &wgpu::Device, gauss: &wgpu::Buffer, count: u32) -> Self {
        let kernel = Kernel::from_parts(
            device,
            &[include_str!("quat.wgsl"), include_str!("noise.wgsl")],
            "position_noise",
            &[Bind::Uniform, Bind::Write],
        );
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("position noise"),
            size: size_of::<NoiseParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let group = kernel.bind(device, &[&params, gauss]);
        Self {
            kernel,
            params,
            group,
            count,
        }
    }

    /// Writes the uniform for `step` and records the dispatch.
    pub fn encode(
        &self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        seed: u32,
        step: u32,
        scaler: f32,
    ) {
        let p = NoiseParams {
            count: self.count,
            seed,
            step,
            pad: 0,
            scaler,
            pad1: [0.0; 3],
        };
        queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&p));
        self.kernel
            .encode_threads(encoder, &self.group, "position noise", self.count);
    }
}

fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// `noise.wgsl` on the host, in f32 (the same hash, the same formulas).
pub fn position_noise_cpu(gauss: &mut [[f32; 4]], seed: u32, step: u32, scaler: f32) {
    for i in 0..gauss.len() / 3 {
        let a = gauss[3 * i];
        let q = gauss[3 * i + 1];
        let ls = gauss[3 * i + 2];
        let opacity = 1.0 / (1.0 + (-a[3]).exp());
        let gate = 1.0 / (1.0 + (-100.0 * ((1.0 - opacity) - 0.995)).exp());
        let mut h = pcg(seed ^ pcg(step ^ pcg(i as u32)));
        let mut u = [0f32; 4];
        for v in &mut u {
            h = pcg(h);
            *v = ((h >> 8) as f32 + 1.0) / 16_777_216.0;
        }
        let r0 = (-2.0 * u[0].ln()).max(0.0).sqrt();
        let r1 = (-2.0 * u[2].ln()).max(0.0).sqrt();
        let tau = std::f32::consts::TAU;
        let n = glam::Vec3::new(
            r0 * (tau * u[1]).cos(),
            r0 * (tau * u[1]).sin(),
            r1 * (tau * u[3]).cos(),
        );
        let quat = glam::Vec4::from(q);
        let len = quat.length();
        let [w, x, y, z] = if len > 0.0 {
            (quat / len).to_array()
        } else {
            [1.0, 0.0, 0.0, 0.0]
        };
        let r = glam::Mat3::from_cols(
            glam::Vec3::new(
                1.0 - 2.0 * (y * y + z * z),
                2.0 * (x * y + w * z),
                2.0 * (x * z - w * y),
            ),
            glam::Vec3::new(
                2.0 * (x * y - w * z),
                1.0 - 2.0 * (x * x + z * z),
                2.0 * (y * z + w * x),
            ),
            glam::Vec3::new(
                2.0 * (x * z + w * y),
                2.0 * (y * z - w * x),
                1.0 - 2.0 * (x * x + y * y),
            ),
        );
        let s2 = glam::Vec3::new(
            (2.0 * ls[0]).exp(),
            (2.0 * ls[1]).exp(),
            (2.0 * ls[2]).exp(),
        );
        let v = n * (gate * scaler);
        let d = r * ((r.transpose() * v) * s2);
        gauss[3 * i] = [a[0] + d.x, a[1] + d.y, a[2] + d.z, a[3]];
    }
}
