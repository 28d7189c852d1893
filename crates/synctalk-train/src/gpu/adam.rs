//! Adam on the GPU (`adam.wgsl`): one torch Adam step per parameter word,
//! f32, bias-corrected, with per-slot learning rates and the elementwise
//! regularisers of [`crate::cpu::regularisers`] added to the gradient, the
//! moments in GPU buffers. Tested against [`crate::cpu::adam_step`].
//!
//! A buffer of interleaved fields (the `gauss` layout: position and opacity
//! logit, quaternion, log-scale and a pad) is one dispatch whose
//! [`AdamGroup`] gives each of its `stride` slots a learning rate and a
//! regulariser: torch_trainer.py's parameter groups are slots.
//! [`AdamGroup::gauss`], [`AdamGroup::sh`], [`AdamGroup::bases`] and
//! [`AdamGroup::pose`] hold torch_trainer.py's settings.

use bytemuck::{Pod, Zeroable};

use super::kernel::{Bind, Kernel};
use super::SH_FLOATS;
use crate::cpu::{MCMC_WEIGHT, POSE_WEIGHT};

/// The most slots of a group.
pub const MAX_SLOTS: usize = 16;

/// torch_trainer.py's learning rates: means (before its decay), log-scales,
/// quaternions, opacity logits, SH DC, SH rest, bases, controller, pose.
pub mod lr {
    /// Means, at step 0; torch_trainer.py decays it by `0.01^(step / iters)`.
    pub const MEANS: f64 = 1.6e-4 * 12.0;
    /// Log-scales.
    pub const SCALES: f64 = 5e-3;
    /// Quaternions.
    pub const QUATS: f64 = 1e-3;
    /// Opacity logits.
    pub const OPACITIES: f64 = 5e-2;
    /// SH DC.
    pub const SH0: f64 = 2.5e-3;
    /// SH degree 1.
    pub const SHN: f64 = 2.5e-3 / 20.0;
    /// Deformation bases.
    pub const BASES: f64 = 2e-3;
    /// The controller MLP (eps 1e-8).
    pub const CONTROLLER: f64 = 1e-3;
    /// The per-frame pose (`--pose-lr`, eps 1e-8).
    pub const POSE: f64 = 0.02;
}

/// A slot's regulariser, added to the gradient: `c · f(p)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Regulariser {
    /// None.
    #[default]
    None,
    /// `c · sigmoid(p)`.
    Sigmoid(f32),
    /// `c · exp(p)`.
    Exp(f32),
    /// `c · |p|` (gradient `c · sign(p)`, 0 at 0).
    Abs(f32),
    /// `c · p²`.
    Square(f32),
}

impl Regulariser {
    fn code(self) -> (u32, f32) {
        match self {
            Self::None => (0, 0.0),
            Self::Sigmoid(c) => (1, c),
            Self::Exp(c) => (2, c),
            Self::Abs(c) => (3, c),
            Self::Square(c) => (4, c),
        }
    }
}

/// One buffer's optimiser settings: `lr[i % stride]`, `reg[i % stride]`.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamGroup {
    /// Learning rate per slot.
    pub lr: Vec<f64>,
    /// Regulariser per slot (empty: none).
    pub reg: Vec<Regulariser>,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f64,
}

impl AdamGroup {
    /// The `gauss` buffer of `n` Gaussians (`[x, y, z, opacity logit,
    /// qw, qx, qy, qz, lx, ly, lz, 0]`): torch_trainer.py's lrs (`means_lr`, the
    /// decayed means rate), eps 1e-15, the MCMC opacity and scale terms.
    pub fn gauss(n: usize, means_lr: f64) -> Self {
        let n = n.max(1) as f64;
        let op = Regulariser::Sigmoid((MCMC_WEIGHT / n) as f32);
        let sc = Regulariser::Exp((MCMC_WEIGHT / (3.0 * n)) as f32);
        let none = Regulariser::None;
        Self {
            lr: [
                [means_lr; 3].as_slice(),
                &[lr::OPACITIES],
                &[lr::QUATS; 4],
                &[lr::SCALES; 3],
                &[0.0],
            ]
            .concat(),
            reg: vec![
                none, none, none, op, none, none, none, none, sc, sc, sc, none,
            ],
            ..Self::torch(1e-15)
        }
    }

    /// The f32 SH ([`SH_FLOATS`] per Gaussian, DC first), eps 1e-15.
    pub fn sh() -> Self {
        let mut lr = vec![lr::SHN; SH_FLOATS];
        lr[..3].fill(lr::SH0);
        Self {
            lr,
            reg: Vec::new(),
            ..Self::torch(1e-15)
        }
    }

    /// The bases (`words` floats), eps 1e-15, `reg_w · mean|bases|`.
    pub fn bases(words: usize, reg_w: f64) -> Self {
        Self {
            lr: vec![lr::BASES],
            reg: vec![Regulariser::Abs((reg_w / words.max(1) as f64) as f32)],
            ..Self::torch(1e-15)
        }
    }

    /// One frame's pose 6-vector, `1e-3 |d|²`, eps 1e-8.
    pub fn pose(pose_lr: f64) -> Self {
        Self {
            lr: vec![pose_lr],
            reg: vec![Regulariser::Square(POSE_WEIGHT as f32)],
            ..Self::torch(1e-8)
        }
    }

    fn torch(eps: f64) -> Self {
        Self {
            lr: Vec::new(),
            reg: Vec::new(),
            beta1: 0.9,
            beta2: 0.999,
            eps,
        }
    }

    /// The uniform of step `t` (1 for the first) over `count` words; `None`
    /// without slots or with more than [`MAX_SLOTS`], or with more
    /// regulariser slots than learning-rate slots.
    pub fn params(&self, t: u32, count: u32) -> Option<AdamParams> {
        let stride = self.lr.len();
        if stride == 0 || stride > MAX_SLOTS || self.reg.len() > stride {
            return None;
        }
        let t = t.max(1) as i32;
        let mut p = AdamParams {
            count,
            stride: stride as u32,
            beta1: self.beta1 as f32,
            beta2: self.beta2 as f32,
            one_minus_beta1: (1.0 - self.beta1) as f32,
            one_minus_beta2: (1.0 - self.beta2) as f32,
            bc1: (1.0 - self.beta1.powi(t)) as f32,
            bc2_sqrt: (1.0 - self.beta2.powi(t)).sqrt() as f32,
            eps: self.eps as f32,
            pad: [0; 3],
            lr: [0.0; MAX_SLOTS],
            reg: [0.0; MAX_SLOTS],
            kind: [0; MAX_SLOTS],
        };
        for (d, &l) in p.lr.iter_mut().zip(&self.lr) {
            *d = l as f32;
        }
        for (i, r) in self.reg.iter().enumerate() {
            (p.kind[i], p.reg[i]) = r.code();
        }
        Some(p)
    }
}

/// `adam.wgsl`'s uniform.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct AdamParams {
    /// Words.
    pub count: u32,
    /// Slots.
    pub stride: u32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// `1 − beta1`, rounded from f64 (as torch).
    pub one_minus_beta1: f32,
    /// `1 − beta2`, rounded from f64.
    pub one_minus_beta2: f32,
    /// `1 − beta1^t`.
    pub bc1: f32,
    /// `sqrt(1 − beta2^t)`.
    pub bc2_sqrt: f32,
    /// Epsilon.
    pub eps: f32,
    /// Unused.
    pub pad: [u32; 3],
    /// Learning rate per slot.
    pub lr: [f32; MAX_SLOTS],
    /// Regulariser weight per slot.
    pub reg: [f32; MAX_SLOTS],
    /// Regulariser kind per slot.
    pub kind: [u32; MAX_SLOTS],
}

/// The buffers of one Adam dispatch (all `count` f32 words but `params`).
pub struct AdamBuffers<'a> {
    /// Uniform: [`AdamParams`].
    pub params: &'a wgpu::Buffer,
    /// The gradient.
    pub grad: &'a wgpu::Buffer,
    /// The parameters, updated in place.
    pub param: &'a wgpu::Buffer,
    /// First moments (zeros at the start), updated.
    pub m1: &'a wgpu::Buffer,
    /// Second moments (zeros at the start), updated.
    pub m2: &'a wgpu::Buffer,
}

/// The compiled Adam kernel.
pub struct AdamKernel {
    kernel: Kernel,
}

impl AdamKernel {
    /// Compiles the kernel on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Bind::{Read, Uniform, Write};
        Self {
            kernel: Kernel::new(
                device,
                include_str!("adam.wgsl"),
                "adam",
                &[Uniform, Read, Write, Write, Write],
            ),
        }
    }

    /// A bind group over `b`.
    pub fn bind(&self, device: &wgpu::Device, b: &AdamBuffers<'_>) -> wgpu::BindGroup {
        self.kernel
            .bind(device, &[b.params, b.grad, b.param, b.m1, b.m2])
    }

    /// Encodes one step over `count` words (the uniform's).
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder, group: &wgpu::BindGroup, count: u32) {
        self.kernel.encode_threads(encoder, group, "adam", count);
    }
}
