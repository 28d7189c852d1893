//! The controller MLP and the per-frame pose optimiser on the GPU
//! ([`ControllerStep`]): `controller_fwd.wgsl` (the normalised condition →
//! `w`), `controller_bwd.wgsl` (`dL/dw`, read where `reduce.wgsl` leaves it
//! in the step's sums → `dL/dθ`, the L2 term `reg_w · 1e-2 · Σ mean θ²`
//! included), Adam on θ (`adam.wgsl`, [`AdamGroup::controller`]), and
//! `pose_adam.wgsl`, torch_trainer.py's pose rule (every row's moments step, only
//! the frame's row moves). Tested against [`crate::cpu::Controller`] and
//! [`crate::cpu::pose_adam_step`].
//!
//! One workgroup of 64 threads for the MLP (hidden width ≤ 64, bases ≤
//! [`super::MAX_BASES`]); 0.5 KiB of workgroup memory; at most 5 storage
//! buffers per kernel; every sum a fixed-order loop: deterministic.
//!
//! [`super::TrainStep::encode_controlled`] runs it inside a step: forward,
//! `w` copied into the frame uniform's coefficients, the step, backward and
//! the two Adam steps, in one encoder.

mod readback;

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use super::adam::AdamGroup;
use super::kernel::{Bind, Kernel};
use super::raster::dispatch_1d;
use super::{AdamKernel, FrameParams, GpuError, MAX_BASES, POSE_WORDS};
use crate::cpu::{CONTROLLER_L2, POSE_WEIGHT};

/// The widest hidden layer `controller_fwd.wgsl` / `_bwd` take.
pub const MAX_HIDDEN: usize = 64;

/// The controller kernels' uniform (`Controller` in controller.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ControllerParams {
    /// Condition channels `D`.
    pub input: u32,
    /// Hidden width `H`.
    pub hidden: u32,
    /// Bases `K`.
    pub bases: u32,
    /// Index of `dL/dw_0` in the sums buffer.
    pub dw_offset: u32,
    /// `2 reg_w 1e-2 / numel` per tensor (W1, b1, W2, b2, W3, b3), 2 unused.
    pub l2: [f32; 8],
}

/// `pose_adam.wgsl`'s uniform.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct PoseAdamParams {
    /// Rows `T`.
    pub rows: u32,
    /// The frame whose row moves (`rows` or more: none moves).
    pub frame: u32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// `1 − beta1`, rounded from f64.
    pub one_minus_beta1: f32,
    /// `1 − beta2`, rounded from f64.
    pub one_minus_beta2: f32,
    /// `1 − beta1^t`.
    pub bc1: f32,
    /// `sqrt(1 − beta2^t)`.
    pub bc2_sqrt: f32,
    /// Epsilon.
    pub eps: f32,
    /// Learning rate.
    pub lr: f32,
    /// `c` of the `c |d|²` term.
    pub reg: f32,
    /// Unused.
    pub pad: u32,
}

/// The compiled kernels of [`ControllerStep`].
pub struct ControllerKernels {
    fwd: Kernel,
    bwd: Kernel,
    pose: Kernel,
    adam: AdamKernel,
}

impl ControllerKernels {
    /// Compiles the kernels on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Bind::{Read, Uniform, Write};
        let prelude = include_str!("controller.wgsl");
        Self {
            fwd: Kernel::from_parts(
                device,
                &[prelude, include_str!("controller_fwd.wgsl")],
                "controller_fwd",
                &[Uniform, Read, Read, Write, Write],
            ),
            bwd: Kernel::from_parts(
                device,
                &[prelude, include_str!("controller_bwd.wgsl")],
                "controller_bwd",
                &[Uniform, Read, Read, Read, Read, Write],
            ),
            pose: Kernel::new(
                device,
                include_str!("pose_adam.wgsl"),
                "pose_adam",
                &[Uniform, Read, Write, Write, Write],
            ),
            adam: AdamKernel::new(device),
        }
    }
}

/// Sizes and settings of a [`ControllerStep`].
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerConfig {
    /// Condition channels `D` (torch_trainer.py: 52 blendshapes).
    pub input: usize,
    /// Hidden width `H` (torch_trainer.py `--hidden`, 64), at most [`MAX_HIDDEN`].
    pub hidden: usize,
    /// Bases `K`, at most [`MAX_BASES`].
    pub bases: usize,
    /// torch_trainer.py's `--reg-weight` (1e-3).
    pub reg_w: f64,
    /// Frames `T` of the pose table (at least 1).
    pub frames: usize,
    /// torch_trainer.py's `--pose-lr` (0.02).
    pub pose_lr: f64,
}

impl ControllerConfig {
    /// Words of θ.
    pub fn theta_words(&self) -> usize {
        crate::cpu::Controller::len_of(self.input, self.hidden, self.bases)
    }

    fn l2(&self) -> [f32; 8] {
        let (d, h, k) = (self.input, self.hidden, self.bases);
        let mut out = [0f32; 8];
        for (o, n) in out.iter_mut().zip([h * d, h, h * h, h, k * h, k]) {
            *o = (2.0 * self.reg_w * CONTROLLER_L2 / n.max(1) as f64) as f32;
        }
        out
    }
}

impl AdamGroup {
    /// The controller's θ: torch's defaults with lr 1e-3 (its L2 term is
    /// added by `controller_bwd.wgsl`, per tensor).
    pub fn controller() -> Self {
        Self {
            lr: vec![super::adam::lr::CONTROLLER],
            reg: Vec::new(),
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Per-step inputs of a [`ControllerStep`].
#[derive(Clone, Copy, Debug)]
pub struct ControllerInputs<'a> {
    /// The frame's normalised condition, `input` long (torch_trainer.py adds its
    /// `--cond-noise` before normalising).
    pub cond: &'a [f32],
    /// The controller's Adam step, 1 for the first.
    pub step: u32,
    /// `(frame, pose step)`: refine that frame's pose row with the pose
    /// optimiser's step number (1 for its first); `None` before torch_trainer.py's
    /// `--pose-start` (no pose step).
    pub pose: Option<(u32, u32)>,
    /// Test-time pose fitting (torch_trainer.py's `fit_pose`): θ is not updated
    /// and the pose step has no L2 term.
    pub pose_only: bool,
}

/// The controller's and the pose table's GPU state and bind groups, tied
/// to the buffers where a step leaves `dL/dw` and `dL/d pose`.
pub struct ControllerStep {
    kernels: Arc<ControllerKernels>,
    config: ControllerConfig,
    params: wgpu::Buffer,
    adam_params: wgpu::Buffer,
    pose_params: wgpu::Buffer,
    cond: wgpu::Buffer,
    theta: wgpu::Buffer,
    acts: wgpu::Buffer,
    coeffs: wgpu::Buffer,
    grad: wgpu::Buffer,
    poses: wgpu::Buffer,
    moments: [wgpu::Buffer; 2],
    pose_moments: [wgpu::Buffer; 2],
    fwd: wgpu::BindGroup,
    bwd: wgpu::BindGroup,
    adam: wgpu::BindGroup,
    pose: wgpu::BindGroup,
    pose_active: bool,
    theta_frozen: bool,
}

fn buffer(
    device: &wgpu::Device,
    label: &str,
    bytes: usize,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (bytes.max(16) as u64).next_multiple_of(16),
        usage,
        mapped_at_creation: false,
    })
}

/// The controller's and the pose table's trainable state on the host, for
/// checkpoints ([`ControllerStep::set_state`], `read_state`).
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerState {
    /// θ, [`crate::cpu::Controller`]'s layout.
    pub theta: Vec<f32>,
    /// θ's Adam moments (first, second).
    pub moments: [Vec<f32>; 2],
    /// The pose table.
    pub poses: Vec<[f32; POSE_WORDS]>,
    /// The pose table's Adam moments (first, second).
    pub pose_moments: [Vec<[f32; POSE_WORDS]>; 2],
}

/// Where a step's gradients are, for [`ControllerStep::new`].
#[derive(Clone, Copy)]
pub struct GradientSources<'a> {
    /// The reduction's totals; `dL/dw` at word `dw_offset` on.
    pub sums: &'a wgpu::Buffer,
    /// Word of `dL/dw_0` in `sums` ([`super::VIEW_WORDS`] in a step's).
    pub dw_offset: u32,
    /// `dL/d` the pose 6-vector ([`POSE_WORDS`] f32).
    pub d_pose: &'a wgpu::Buffer,
}

impl ControllerStep {
    /// Uploads θ (`config.theta_words()` f32, [`crate::cpu::Controller`]'s
    /// layout) and the pose table (`frames` rows), zero moments.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        kernels: Arc<ControllerKernels>,
        config: ControllerConfig,
        theta: &[f32],
        poses: &[[f32; POSE_WORDS]],
        sources: GradientSources<'_>,
    ) -> Result<Self, GpuError> {
        let too = |what, got: usize, max: usize| GpuError::TooLarge {
            what,
            got: got as u64,
            max: max as u64,
        };
        if config.hidden == 0 || config.hidden > MAX_HIDDEN {
            return Err(too("controller hidden width", config.hidden, MAX_HIDDEN));
        }
        if config.bases > MAX_BASES {
            return Err(too("controller bases", config.bases, MAX_BASES));
        }
        let words = config.theta_words();
        for (what, got, expected) in [
            ("controller parameters", theta.len(), words),
            ("pose table", poses.len(), config.frames.max(1)),
        ] {
            if got != expected {
                return Err(GpuError::Length {
                    what,
                    got,
                    expected,
                });
            }
        }
        use wgpu::BufferUsages as U;
        let st = U::STORAGE | U::COPY_SRC | U::COPY_DST;
        let uni = U::UNIFORM | U::COPY_DST;
        let params = buffer(
            device,
            "controller params",
            size_of::<ControllerParams>(),
            uni,
        );
        let adam_params = buffer(
            device,
            "controller adam",
            size_of::<super::AdamParams>(),
            uni,
        );
        let pose_params = buffer(device, "pose adam", size_of::<PoseAdamParams>(), uni);
        let cond = buffer(device, "controller cond", 4 * config.input, st);
        let theta_b = buffer(device, "controller theta", 4 * words, st);
        let acts = buffer(device, "controller acts", 8 * config.hidden, st);
        let coeffs = buffer(device, "controller w", 4 * config.bases, st);
        let grad = buffer(device, "controller grad", 4 * words, st);
        let m = [0, 1].map(|_| buffer(device, "controller moments", 4 * words, st));
        let pose_words = POSE_WORDS * poses.len();
        let poses_b = buffer(device, "poses", 4 * pose_words, st);
        let pm = [0, 1].map(|_| buffer(device, "pose moments", 4 * pose_words, st));
        // Fresh buffers are zeroed: only θ, the poses and the uniform.
        queue.write_buffer(&theta_b, 0, bytemuck::cast_slice(theta));
        queue.write_buffer(&poses_b, 0, bytemuck::cast_slice(poses));
        let cp = ControllerParams {
            input: config.input as u32,
            hidden: config.hidden as u32,
            bases: config.bases as u32,
            dw_offset: sources.dw_offset,
            l2: config.l2(),
        };
        queue.write_buffer(&params, 0, bytemuck::bytes_of(&cp));
        let k = &*kernels;
        let fwd = k
            .fwd
            .bind(device, &[&params, &cond, &theta_b, &acts, &coeffs]);
        let bwd = k.bwd.bind(
            device,
            &[&params, &cond, &theta_b, &acts, sources.sums, &grad],
        );
        let adam = k.adam.bind(
            device,
            &super::AdamBuffers {
                params: &adam_params,
                grad: &grad,
                param: &theta_b,
                m1: &m[0],
                m2: &m[1],
            },
        );
        let pose = k.pose.bind(
            device,
            &[&pose_params, sources.d_pose, &poses_b, &pm[0], &pm[1]],
        );
        Ok(Self {
            kernels,
            config,
            params,
            adam_params,
            pose_params,
            cond,
            theta: theta_b,
            acts,
            coeffs,
            grad,
            poses: poses_b,
            moments: m,
            pose_moments: pm,
            fwd,
            bwd,
            adam,
            pose,
            pose_active: false,
            theta_frozen: false,
        })
    }

    /// Replaces θ, the pose table and all their Adam moments with
    /// `state`'s (a checkpoint's); written when the queue next submits.
    pub fn set_state(&self, queue: &wgpu::Queue, state: &ControllerState) -> Result<(), GpuError> {
        let words = self.config.theta_words();
        let rows = self.config.frames.max(1);
        for (what, got, expected) in [
            ("controller parameters", state.theta.len(), words),
            ("controller moments", state.moments[0].len(), words),
            ("controller moments", state.moments[1].len(), words),
            ("pose table", state.poses.len(), rows),
            ("pose moments", state.pose_moments[0].len(), rows),
            ("pose moments", state.pose_moments[1].len(), rows),
        ] {
            if got != expected {
                return Err(GpuError::Length {
                    what,
                    got,
                    expected,
                });
            }
        }
        let w = |b: &wgpu::Buffer, v: &[f32]| queue.write_buffer(b, 0, bytemuck::cast_slice(v));
        w(&self.theta, &state.theta);
        w(&self.moments[0], &state.moments[0]);
        w(&self.moments[1], &state.moments[1]);
        w(&self.poses, state.poses.as_flattened());
        w(&self.pose_moments[0], state.pose_moments[0].as_flattened());
        w(&self.pose_moments[1], state.pose_moments[1].as_flattened());
        Ok(())
    }

    /// Writes this step's uniforms and condition.
    pub fn write_inputs(
        &mut self,
        queue: &wgpu::Queue,
        inputs: &ControllerInputs<'_>,
    ) -> Result<(), GpuError> {
        if inputs.cond.len() != self.config.input {
            return Err(GpuError::Length {
                what: "controller condition",
                got: inputs.cond.len(),
                expected: self.config.input,
            });
        }
        queue.write_buffer(&self.cond, 0, bytemuck::cast_slice(inputs.cond));
        let words = self.config.theta_words() as u32;
        let p = AdamGroup::controller()
            .params(inputs.step, words)
            .ok_or(GpuError::Adam)?;
        queue.write_buffer(&self.adam_params, 0, bytemuck::bytes_of(&p));
        self.pose_active = false;
        self.theta_frozen = inputs.pose_only;
        if let Some((frame, t)) = inputs.pose {
            let rows = self.config.frames.max(1);
            if frame as usize >= rows {
                return Err(GpuError::TooLarge {
                    what: "pose frame",
                    got: frame.into(),
                    max: rows as u64 - 1,
                });
            }
            let g = AdamGroup::pose(self.config.pose_lr);
            let a = g.params(t, 0).ok_or(GpuError::Adam)?;
            let pp = PoseAdamParams {
                rows: rows as u32,
                frame,
                beta1: a.beta1,
                beta2: a.beta2,
                one_minus_beta1: a.one_minus_beta1,
                one_minus_beta2: a.one_minus_beta2,
                bc1: a.bc1,
                bc2_sqrt: a.bc2_sqrt,
                eps: a.eps,
                lr: self.config.pose_lr as f32,
                reg: if inputs.pose_only {
                    0.0
                } else {
                    POSE_WEIGHT as f32
                },
                pad: 0,
            };
            queue.write_buffer(&self.pose_params, 0, bytemuck::bytes_of(&pp));
            self.pose_active = true;
        }
        Ok(())
    }

    /// Encodes the forward: `w` into [`ControllerStep::coeffs`].
    pub fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("controller forward"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.kernels.fwd.pipeline);
        pass.set_bind_group(0, &self.fwd, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }

    /// Copies `w` into `frame` (a [`FrameParams`] uniform)'s coefficients.
    pub fn encode_copy_coeffs(&self, encoder: &mut wgpu::CommandEncoder, frame: &wgpu::Buffer) {
        if self.config.bases == 0 {
            return;
        }
        encoder.copy_buffer_to_buffer(
            &self.coeffs,
            0,
            frame,
            std::mem::offset_of!(FrameParams, coeffs) as u64,
            4 * self.config.bases as u64,
        );
    }

    /// Encodes a copy of this step's condition into `dst` at `offset` (the
    /// mesh prior's uniform, `super::MeshPriorParams::z`).
    pub fn encode_copy_condition(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        dst: &wgpu::Buffer,
        offset: u64,
    ) {
        let bytes = 4 * self.config.input.min(super::MAX_PRIOR_DIM) as u64;
        if bytes > 0 {
            encoder.copy_buffer_to_buffer(&self.cond, 0, dst, offset, bytes);
        }
    }

    /// Encodes the backward (`dL/dθ` into [`ControllerStep::grad`]), Adam
    /// on θ, and, if [`ControllerInputs::pose`] was given, the pose step.
    pub fn encode_backward(&self, encoder: &mut wgpu::CommandEncoder) {
        let k = &*self.kernels;
        if !self.theta_frozen {
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("controller backward"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&k.bwd.pipeline);
                pass.set_bind_group(0, &self.bwd, &[]);
                pass.dispatch_workgroups(1, 1, 1);
            }
            k.adam
                .encode(encoder, &self.adam, self.config.theta_words() as u32);
        }
        if self.pose_active {
            let (x, y) = dispatch_1d((POSE_WORDS * self.config.frames.max(1)) as u32);
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("pose adam"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&k.pose.pipeline);
            pass.set_bind_group(0, &self.pose, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
    }

    /// The coefficients `w` of the last forward (`bases` f32).
    pub fn coeffs(&self) -> &wgpu::Buffer {
        &self.coeffs
    }

    /// θ (`theta_words` f32).
    pub fn theta(&self) -> &wgpu::Buffer {
        &self.theta
    }

    /// `dL/dθ` of the last backward, L2 term included.
    pub fn grad(&self) -> &wgpu::Buffer {
        &self.grad
    }

    /// The pose table, `[frames][6]` f32.
    pub fn poses(&self) -> &wgpu::Buffer {
        &self.poses
    }

    /// The hidden activations of the last forward, `h1` then `h2`.
    pub fn activations(&self) -> &wgpu::Buffer {
        &self.acts
    }

    /// The uniform (kept for the bind groups).
    pub fn params(&self) -> &wgpu::Buffer {
        &self.params
    }

    /// The settings.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }
}
