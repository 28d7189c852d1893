//! The refined view built on the GPU from the pose table
//! (`pose_view.wgsl`): torch_trainer.py's `views[t] @ pose_delta(pose_d[t])`, so
//! that the pose optimiser's output feeds the next step without a
//! read-back. [`PoseView::encode`] runs the kernel and copies its result
//! into a step's frame uniform (world-to-camera and camera centre) and pose
//! uniform (the 6-vector); the host still writes the rest of both.

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};
use synctalk_reference::View;

use super::kernel::{Bind, Kernel};
use super::{FrameParams, GpuError, PoseParams};

/// `pose_view.wgsl`'s uniform.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct PoseViewParams {
    /// The tracked head-to-camera by columns: rotation, then translation.
    pub head: [[f32; 4]; 4],
    /// The pose table's row.
    pub frame: u32,
    /// Unused.
    pub pad: [u32; 3],
}

impl PoseViewParams {
    /// The uniform of the tracked view `head` and pose-table row `frame`.
    pub fn new(head: &View, frame: u32) -> Self {
        let f = |v: f64| v as f32;
        let r = head.rotation;
        let t = head.translation;
        let col = |c: glam::DVec3| [f(c.x), f(c.y), f(c.z), 0.0];
        Self {
            head: [
                col(r.x_axis),
                col(r.y_axis),
                col(r.z_axis),
                [f(t.x), f(t.y), f(t.z), 1.0],
            ],
            frame,
            pad: [0; 3],
        }
    }
}

/// Bytes `pose_view.wgsl` writes: 7 vec4.
const OUT_BYTES: u64 = 7 * 16;
/// Bytes of the frame uniform it fills: the view (64) and camera centre (16).
const FRAME_BYTES: u64 = 80;
/// Bytes of the pose uniform's 6-vector it fills (with its 2 spare words).
const DELTA_BYTES: u64 = 32;

/// The kernel, its uniform and output, bound to one pose table.
pub struct PoseView {
    kernel: Kernel,
    params: wgpu::Buffer,
    out: wgpu::Buffer,
    group: wgpu::BindGroup,
    rows: u32,
}

impl PoseView {
    /// Compiles the kernel and binds it to `poses` (`rows` × 6 f32, e.g.
    /// [`super::ControllerStep::poses`]).
    pub fn new(device: &wgpu::Device, poses: &wgpu::Buffer, rows: u32) -> Self {
        use Bind::{Read, Uniform, Write};
        let kernel = Kernel::from_parts(
            device,
            &[
                include_str!("rotation.wgsl"),
                include_str!("pose_view.wgsl"),
            ],
            "pose_view",
            &[Uniform, Read, Write],
        );
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("pose view params"),
            size: size_of::<PoseViewParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let out = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("pose view out"),
            size: OUT_BYTES,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let group = kernel.bind(device, &[&params, poses, &out]);
        Self {
            kernel,
            params,
            out,
            group,
            rows,
        }
    }

    /// Writes the uniform: the tracked view `head` of pose-table row
    /// `frame`.
    pub fn write(&self, queue: &wgpu::Queue, head: &View, frame: u32) -> Result<(), GpuError> {
        if frame >= self.rows {
            return Err(GpuError::TooLarge {
                what: "pose frame",
                got: frame.into(),
                max: u64::from(self.rows.max(1) - 1),
            });
        }
        let p = PoseViewParams::new(head, frame);
        queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&p));
        Ok(())
    }

    /// Records the kernel and the copies into `frame` (a [`FrameParams`]
    /// uniform) and `pose` (a [`PoseParams`] uniform).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        frame: &wgpu::Buffer,
        pose: &wgpu::Buffer,
    ) {
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("pose view"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.kernel.pipeline);
            pass.set_bind_group(0, &self.group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        debug_assert_eq!(offset_of!(FrameParams, view), 0);
        debug_assert_eq!(offset_of!(FrameParams, cam_pos), 64);
        encoder.copy_buffer_to_buffer(&self.out, 0, frame, 0, FRAME_BYTES);
        encoder.copy_buffer_to_buffer(
            &self.out,
            FRAME_BYTES,
            pose,
            offset_of!(PoseParams, delta) as u64,
            DELTA_BYTES,
        );
    }
}
