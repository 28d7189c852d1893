//! The mesh prior's inputs to a [`TrainStep`] (`crate::train::mesh_prior`):
//! its per-Gaussian motion matrices and trust, bound to the deformation's
//! backward pass.

use super::{buffers, check_len, TrainStep};
use crate::gpu::{GpuError, MeshPriorParams};

impl TrainStep {
    /// Turns the mesh prior on (`crate::train::mesh_prior`): `scale` =
    /// `2 λ / n`, `m` (`3 D n`, Gaussian-major) and `trust` (`n`) for this
    /// step's Gaussians. The frame's condition reaches the prior's uniform
    /// from the controller each step ([`TrainStep::encode_controlled`]);
    /// steps encoded without the controller see a zero condition.
    pub fn set_mesh_prior(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        scale: f32,
        dim: usize,
        m: &[f32],
        trust: &[f32],
    ) -> Result<(), GpuError> {
        let n = self.n as usize;
        check_len("mesh prior M", m.len(), 3 * dim * n)?;
        check_len("mesh prior trust", trust.len(), n)?;
        let max = device.limits().max_storage_buffer_binding_size;
        let bytes = 4 * m.len() as u64;
        if bytes > max {
            return Err(GpuError::TooLarge {
                what: "mesh prior buffer (bytes; fewer Gaussians)",
                got: bytes,
                max,
            });
        }
        let params = MeshPriorParams::new(scale, &vec![0.0; dim])?;
        let b = &mut self.buffers;
        b.prior_m = buffers::filled(device, "mesh prior M", m);
        b.prior_trust = buffers::filled(device, "mesh prior trust", trust);
        queue.write_buffer(&b.prior, 0, bytemuck::bytes_of(&params));
        self.project = self.kernels.project.bind(device, &self.buffers.project());
        Ok(())
    }
}
