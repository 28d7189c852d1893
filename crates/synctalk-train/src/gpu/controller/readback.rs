//! Read-backs of a [`ControllerStep`]'s state and last gradients: futures
//! that resolve once the GPU has written them.

use super::{ControllerState, ControllerStep, POSE_WORDS};
use crate::gpu::transfer::{cast, read_back};
use crate::gpu::GpuError;

impl ControllerStep {
    /// The last step's dL/dθ, w and dL/d pose (`d_pose`, the step's
    /// buffer), for diagnostics (`Trainer::non_finite`).
    pub async fn read_gradients(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        d_pose: &wgpu::Buffer,
    ) -> Result<[Vec<f32>; 3], GpuError> {
        let encoder = device.create_command_encoder(&Default::default());
        let out = read_back(
            device,
            queue,
            encoder,
            &[
                (&self.grad, 4 * self.config.theta_words()),
                (&self.coeffs, 4 * self.config.bases),
                (d_pose, 4 * POSE_WORDS),
            ],
        )
        .await?;
        Ok([cast(&out[0]), cast(&out[1]), cast(&out[2])])
    }

    /// θ's and the pose table's state, once the GPU has written it.
    pub async fn read_state(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<ControllerState, GpuError> {
        let words = 4 * self.config.theta_words();
        let rows = 4 * POSE_WORDS * self.config.frames.max(1);
        let encoder = device.create_command_encoder(&Default::default());
        let out = read_back(
            device,
            queue,
            encoder,
            &[
                (&self.theta, words),
                (&self.moments[0], words),
                (&self.moments[1], words),
                (&self.poses, rows),
                (&self.pose_moments[0], rows),
                (&self.pose_moments[1], rows),
            ],
        )
        .await?;
        let f = |i: usize| -> Vec<f32> { cast(&out[i]) };
        let rows = |i: usize| -> Vec<[f32; POSE_WORDS]> {
            f(i).chunks_exact(POSE_WORDS)
                .map(|c| std::array::from_fn(|k| c[k]))
                .collect()
        };
        Ok(ControllerState {
            theta: f(0),
            moments: [f(1), f(2)],
            poses: rows(3),
            pose_moments: [rows(4), rows(5)],
        })
    }
}
