//! The trainer's settings: torch_trainer.py's command-line defaults.

use serde::{Deserialize, Serialize};

use crate::cpu::LossWeights;
use crate::dataset::Holdout;

/// What a training run does; the defaults are torch_trainer.py's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Steps (`--iters`).
    pub iters: u32,
    /// Deformation bases `K` (`--bases`, 1..=32).
    pub bases: usize,
    /// The controller's hidden width (`--hidden`, at most 64).
    pub hidden: usize,
    /// Highest SH degree (`--sh-degree`, 0 or 1); degree 1 from step 1000.
    pub sh_degree: u32,
    /// Gaussians placed at the start (`--init-points`).
    pub init_points: usize,
    /// The Gaussian budget of MCMC densification (`--max-gaussians`).
    pub max_gaussians: usize,
    /// L1 mouth weight (`--mouth-weight`).
    pub mouth_weight: f64,
    /// SSIM weight (`--ssim-weight`).
    pub ssim_weight: f64,
    /// Alpha-mask weight (`--alpha-weight`).
    pub alpha_weight: f64,
    /// Regulariser weight of the bases and the controller (`--reg-weight`).
    pub reg_weight: f64,
    /// Gaussian noise added to the condition each step (`--cond-noise`).
    pub cond_noise: f64,
    /// Smoothing of the deformation bases over each Gaussian's neighbours,
    /// every 100 steps from step 100 (`--basis-smooth`, 0..=1;
    /// 0: none; see [`crate::train::smooth`]). Checkpoints from before it
    /// existed had none.
    #[serde(default)]
    pub basis_smooth: f64,
    /// Weight λ of the mesh prior: each Gaussian near the face moves as the
    /// tracked face moves there (`--mesh-prior`; 0: none; see
    /// [`crate::train::mesh_prior`]). Checkpoints from before it existed had
    /// none.
    #[serde(default)]
    pub mesh_prior: f64,
    /// The mesh prior's reach, cm (`--mesh-reach`): a Gaussian `d` from the
    /// nearest landmark is held to it by `exp(−(d / reach)²)`.
    #[serde(default = "default_mesh_reach")]
    pub mesh_reach: f64,
    /// The per-frame pose optimiser's rate (`--pose-lr`; 0: no refinement).
    pub pose_lr: f64,
    /// The step from which poses are refined (`--pose-start`).
    pub pose_start: u32,
    /// Seed of every random choice.
    pub seed: u64,
    /// Which frames are held out (`--holdout`; checkpoints from before it
    /// existed held out the dataset's split).
    #[serde(default)]
    pub holdout: Holdout,
}

fn default_mesh_reach() -> f64 {
    1.5
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            iters: 12000,
            bases: 10,
            hidden: 64,
            sh_degree: 1,
            init_points: 20000,
            max_gaussians: 40000,
            mouth_weight: 4.0,
            ssim_weight: 0.2,
            alpha_weight: 0.05,
            reg_weight: 1e-3,
            cond_noise: 0.01,
            basis_smooth: 0.0,
            mesh_prior: 0.0,
            mesh_reach: default_mesh_reach(),
            pose_lr: 0.02,
            pose_start: 3000,
            seed: 0,
            holdout: Holdout::Dataset,
        }
    }
}

impl Settings {
    /// The image-loss weights.
    pub fn loss_weights(&self) -> LossWeights {
        LossWeights {
            mouth: self.mouth_weight,
            ssim: self.ssim_weight,
            alpha: self.alpha_weight,
        }
    }

    /// The SH degree used at `step` (torch_trainer.py: `min(step // 1000, degree)`).
    pub fn sh_degree_at(&self, step: u32) -> u32 {
        (step / 1000).min(self.sh_degree)
    }

    /// The means' learning rate at `step`: decayed by `0.01^(step / iters)`.
    pub fn means_lr_at(&self, step: u32) -> f64 {
        crate::gpu::adam::lr::MEANS * 0.01f64.powf(f64::from(step) / f64::from(self.iters.max(1)))
    }

    /// Whether the pose of the step's frame is refined at `step`.
    pub fn refines_pose_at(&self, step: u32) -> bool {
        self.pose_lr > 0.0 && step >= self.pose_start
    }
}
