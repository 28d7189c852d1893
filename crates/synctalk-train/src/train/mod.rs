//! The training loop ([`Trainer`]): torch_trainer.py's schedule on the GPU-resident
//! step. Each step draws a training frame, uploads its target and the
//! layer under the head, adds noise to its condition and normalises it,
//! and records in one encoder the controller's forward, the refined view
//! from the GPU pose table ([`crate::gpu::PoseView`]), the whole
//! [`TrainStep`] and the controller's and pose table's updates. Nothing is
//! read back except every [`LOG_EVERY`] steps (the loss terms, the
//! composite for the PSNR, the binning's counts).
//!
//! Schedules, as torch_trainer.py: SH degree 1 from step 1000, the means' rate
//! decayed by `0.01^(step / iters)`, poses refined from `--pose-start`, the
//! MCMC opacity and scale terms over the current Gaussian count.

pub mod agreement;
mod checkpoint;
mod data;
mod diagnose;
pub mod export;
mod fit;
mod init;
mod log;
pub mod mcmc;
pub mod mesh_prior;
mod rebuild;
mod settings;
pub mod smooth;

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

pub use checkpoint::{Checkpoint, CheckpointError, Header};
pub use data::{view_of, TrainData, NEAR};
pub use init::{initial_params, initial_theta, start, InitialPoints};
pub use log::{LogRow, Rebuild, RebuildCause};
pub use settings::Settings;

use synctalk_gaussians::DEFORM_CHANNELS;

use crate::cpu::Normalizer;
use crate::gpu::{
    AdamGroup, ControllerConfig, ControllerInputs, ControllerKernels, ControllerState,
    ControllerStep, FrameParams, GpuError, GpuParams, PoseParams, PoseView, PositionNoise,
    StepConfig, StepInputs, StepKernels, StepState, TrainStep,
};

/// Steps between read-backs for the log.
pub const LOG_EVERY: u32 = 50;

/// The intersection capacity a step starts with, per Gaussian.
const PAIRS_PER_GAUSSIAN: u32 = 24;

/// Why training cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A GPU-side check or transfer failed.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// Settings the kernels cannot take.
    #[error("setting {what}: {why}")]
    Setting {
        /// The setting.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// A dataset the trainer cannot use.
    #[error("dataset: {0}")]
    Data(String),
    /// A value the run depends on stopped being a number.
    #[error("training diverged at step {step}: {what}")]
    Diverged {
        /// The step.
        step: u32,
        /// What is not finite.
        what: String,
    },
}

/// A training run's state on the GPU and the host.
pub struct Trainer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    kernels: Arc<StepKernels>,
    controller_kernels: Arc<ControllerKernels>,
    settings: Settings,
    step: TrainStep,
    controller: ControllerStep,
    pose_view: PoseView,
    noise: PositionNoise,
    norm: Normalizer,
    train_frames: Vec<usize>,
    rng: Pcg64,
    iteration: u32,
    log: Vec<LogRow>,
    rebuilds: Vec<Rebuild>,
    under: Vec<[f32; 4]>,
    noisy: Vec<f64>,
    cond: Vec<f32>,
    mesh: Option<mesh_prior::FaceMotion>,
}

fn setting(what: &'static str, why: impl Into<String>) -> TrainError {
    TrainError::Setting {
        what,
        why: why.into(),
    }
}

impl Trainer {
    /// Starts training on `data` from the Gaussians `params` and the
    /// controller's `theta` (zero moments, zero pose table).
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        data: &impl TrainData,
        settings: Settings,
        params: GpuParams,
        theta: Vec<f32>,
    ) -> Result<Self, TrainError> {
        let frames = data.frames();
        let state = ControllerState {
            theta,
            moments: [0, 1].map(|_| vec![0.0; 0]),
            poses: vec![[0.0; 6]; frames.max(1)],
            pose_moments: [0, 1].map(|_| vec![[0.0; 6]; frames.max(1)]),
        };
        Self::resume(
            device,
            queue,
            data,
            settings,
            StepState::fresh(params),
            state,
            0,
            Vec::new(),
        )
    }

    /// Continues training from a saved state at step `iteration` (a
    /// checkpoint's). Empty controller moments mean zeros.
    #[allow(clippy::too_many_arguments)]
    pub fn resume(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        data: &impl TrainData,
        settings: Settings,
        state: StepState,
        mut controller_state: ControllerState,
        iteration: u32,
        log: Vec<LogRow>,
    ) -> Result<Self, TrainError> {
        let (width, height) = data.size();
        let frames = data.frames();
        let train_frames = data.train_frames();
        if train_frames.is_empty() || train_frames.iter().any(|&t| t >= frames) {
            return Err(TrainError::Data("no training frames".into()));
        }
        if settings.sh_degree > crate::cpu::MAX_SH_DEGREE {
            return Err(setting("sh-degree", "at most 1"));
        }
        if settings.iters == 0 {
            return Err(setting("iters", "at least 1"));
        }
        let input = data.condition(train_frames[0]).len();
        let norm = condition_normalizer(data, &train_frames)
            .map_err(|e| TrainError::Data(e.to_string()))?;
        let mesh = mesh_prior::fit_for(data, &train_frames, &norm, &settings)?;
        let n = state.params.len();
        let kernels = Arc::new(StepKernels::new(device));
        let step_config = StepConfig {
            width,
            height,
            isect_capacity: capacity_for(n),
            weights: settings.loss_weights(),
            groups: adam_groups(&settings, n, iteration),
        };
        let target = data.target(train_frames[0]);
        let mut under = Vec::new();
        data::unpack_under(data.under(train_frames[0]), &mut under);
        let mut step =
            TrainStep::from_state(device, kernels.clone(), step_config, &state, &under, target)?;
        mesh_prior::apply(&mut step, device, queue, mesh.as_ref(), &state, &settings)?;
        let config = ControllerConfig {
            input,
            hidden: settings.hidden,
            bases: settings.bases,
            reg_w: settings.reg_weight,
            frames: frames.max(1),
            pose_lr: settings.pose_lr,
        };
        let words = config.theta_words();
        for m in &mut controller_state.moments {
            if m.is_empty() {
                *m = vec![0.0; words];
            }
        }
        let controller_kernels = Arc::new(ControllerKernels::new(device));
        let (controller, pose_view, noise) = bound_to(
            device,
            queue,
            &controller_kernels,
            config,
            &controller_state,
            &step,
        )?;
        let rng = Pcg64::seed_from_u64(settings.seed ^ u64::from(iteration).rotate_left(32));
        Ok(Self {
            device: device.clone(),
            queue: queue.clone(),
            kernels,
            controller_kernels,
            settings,
            step,
            controller,
            pose_view,
            noise,
            norm,
            train_frames,
            rng,
            iteration,
            log,
            rebuilds: Vec::new(),
            under,
            noisy: Vec::with_capacity(input),
            cond: Vec::with_capacity(input),
            mesh,
        })
    }

    /// Steps taken.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The log so far.
    pub fn log(&self) -> &[LogRow] {
        &self.log
    }

    /// The condition normaliser (folded into the controller at export).
    pub fn normalizer(&self) -> &Normalizer {
        &self.norm
    }

    /// Gaussians now.
    pub fn gaussians(&self) -> usize {
        self.step.num_gaussians() as usize
    }

    /// The loss terms of the last step (total, L1, SSIM, alpha), read back.
    pub async fn last_loss(&self) -> Result<[f32; 4], TrainError> {
        Ok(self.step.read_loss(&self.device, &self.queue).await?)
    }

    /// Takes one step: returns the log row when one was taken. The future
    /// is ready at once natively (`pollster::block_on` it) except at log
    /// and densification steps, where it waits for their read-backs; in a
    /// browser those resolve while the page's event loop runs.
    pub async fn step(&mut self, data: &impl TrainData) -> Result<Option<LogRow>, TrainError> {
        let it = self.iteration;
        let s = &self.settings;
        let t = self.train_frames[self.rng.random_range(0..self.train_frames.len())];
        let sh = s.sh_degree_at(it);
        let refine = s.refines_pose_at(it);
        let pose_step = refine.then(|| it - s.pose_start + 1);
        let noise = s.cond_noise;
        let groups = adam_groups(s, self.step.num_gaussians() as usize, it);
        self.step.set_adam_groups(groups)?;
        data::unpack_under(data.under(t), &mut self.under);
        self.step
            .set_frame(&self.queue, data.target(t), &self.under)?;
        self.noisy.clear();
        for &c in data.condition(t) {
            let e = standard_normal(&mut self.rng);
            self.noisy.push(f64::from(c) + noise * e);
        }
        self.cond.clear();
        self.cond
            .extend(self.norm.apply(&self.noisy).iter().map(|&v| v as f32));
        self.controller.write_inputs(
            &self.queue,
            &ControllerInputs {
                cond: &self.cond,
                step: it + 1,
                pose: pose_step.map(|p| (t as u32, p)),
                pose_only: false,
            },
        )?;
        let head = data.view(t);
        self.pose_view.write(&self.queue, &head, t as u32)?;
        let n = self.step.num_gaussians() as usize;
        let frame = FrameParams::new(&head, n, sh, &vec![0.0; self.settings.bases])?;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        self.step.encode_controlled(
            &self.queue,
            &mut encoder,
            &StepInputs {
                frame,
                pose: PoseParams::new(&head, &[0.0; 6]),
                step: it + 1,
            },
            &self.controller,
            Some(&self.pose_view),
        )?;
        let scaler = s.means_lr_at(it) * mcmc::NOISE_LR;
        self.noise
            .encode(&self.queue, &mut encoder, s.seed as u32, it, scaler as f32);
        self.queue.submit([encoder.finish()]);
        // Frees the finished steps' staging memory without waiting.
        let _ = self.device.poll(wgpu::PollType::Poll);
        self.iteration += 1;
        // The log reads this step's buffers: before densification replaces
        // the step.
        let row = if it.is_multiple_of(LOG_EVERY) {
            Some(self.take_log(data, t, it).await?)
        } else {
            None
        };
        let refine = mcmc::refines_at(it, self.settings.iters);
        // The smoothing runs every 100 steps, with the refinement inside its
        // window and on its own before and after it.
        let smooth =
            self.settings.basis_smooth > 0.0 && it > 0 && it.is_multiple_of(mcmc::REFINE_EVERY);
        if refine || smooth {
            self.edit_on_host(refine, smooth).await?;
        } else if self.mesh.is_some() && it > 0 && it.is_multiple_of(mcmc::REFINE_EVERY) {
            // Where no edit re-creates the step (before and after the
            // refinement's window), the prior follows the moving Gaussians.
            let state = self.step.read_state(&self.device, &self.queue).await?;
            self.apply_mesh_prior(&state)?;
        }
        Ok(row)
    }

    async fn take_log(
        &mut self,
        data: &impl TrainData,
        t: usize,
        it: u32,
    ) -> Result<LogRow, TrainError> {
        let terms = self.step.read_loss(&self.device, &self.queue).await?;
        if !terms[0].is_finite() {
            return Err(TrainError::Diverged {
                step: it,
                what: format!("the loss is {}", terms[0]),
            });
        }
        // dL/dθ sums every Gaussian's gradient (through w): a gradient that
        // is not finite anywhere shows here before Adam spreads it.
        let [d_theta, _, _] = self
            .controller
            .read_gradients(&self.device, &self.queue, self.step.d_pose())
            .await?;
        if let Some(v) = d_theta.iter().find(|v| !v.is_finite()) {
            return Err(TrainError::Diverged {
                step: it,
                what: format!("the controller's gradient holds {v}"),
            });
        }
        let pred = self.step.read_composite(&self.device, &self.queue).await?;
        let psnr = psnr(&pred, data.target(t));
        let [used, needed] = self.step.read_stats(&self.device, &self.queue).await?;
        if needed > self.step.isect_capacity()
            || u64::from(used) * 4 > u64::from(self.step.isect_capacity()) * 3
        {
            self.grow_capacity([used, needed]).await?;
        }
        let row = LogRow {
            step: it,
            loss: terms[0],
            l1: terms[1],
            ssim: terms[2],
            alpha: terms[3],
            psnr,
            gaussians: self.step.num_gaussians(),
        };
        self.log.push(row);
        Ok(row)
    }

    /// The whole state as a checkpoint.
    pub async fn checkpoint(&self, fingerprint: Option<String>) -> Result<Checkpoint, TrainError> {
        let (step, controller) = self.state().await?;
        Ok(Checkpoint {
            header: Header {
                settings: self.settings.clone(),
                step: self.iteration,
                log: self.log.clone(),
                gaussians: step.params.len(),
                theta_words: controller.theta.len(),
                frames: controller.poses.len(),
                fingerprint,
            },
            step,
            controller,
        })
    }

    /// Continues from `checkpoint` on `data`.
    pub fn from_checkpoint(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        data: &impl TrainData,
        checkpoint: Checkpoint,
    ) -> Result<Self, TrainError> {
        let Checkpoint {
            header,
            step,
            controller,
        } = checkpoint;
        Self::resume(
            device,
            queue,
            data,
            header.settings,
            step,
            controller,
            header.step,
            header.log,
        )
    }

    /// The Gaussians' and the controller's state now.
    pub async fn state(&self) -> Result<(StepState, ControllerState), TrainError> {
        Ok((
            self.step.read_state(&self.device, &self.queue).await?,
            self.controller
                .read_state(&self.device, &self.queue)
                .await?,
        ))
    }
}

/// What a training run binds to its step, made from `state` (as at a
/// resume, and after every re-creation of the step): the controller step
/// tied to `step`'s gradients, the pose view over its pose table, the MCMC
/// noise over `step`'s Gaussians.
fn bound_to(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &Arc<ControllerKernels>,
    config: ControllerConfig,
    state: &ControllerState,
    step: &TrainStep,
) -> Result<(ControllerStep, PoseView, PositionNoise), TrainError> {
    let controller = ControllerStep::new(
        device,
        queue,
        Arc::clone(kernels),
        config,
        &state.theta,
        &state.poses,
        step.gradient_sources(),
    )?;
    controller.set_state(queue, state)?;
    let pose_view = PoseView::new(device, controller.poses(), state.poses.len() as u32);
    let noise = PositionNoise::new(device, step.gauss(), step.num_gaussians());
    Ok((controller, pose_view, noise))
}

/// The Adam groups of `n` Gaussians at `step`.
fn adam_groups(s: &Settings, n: usize, step: u32) -> [AdamGroup; 3] {
    [
        AdamGroup::gauss(n, s.means_lr_at(step)),
        AdamGroup::sh(),
        AdamGroup::bases(DEFORM_CHANNELS * s.bases * n, s.reg_weight),
    ]
}

/// A standard normal draw (Box–Muller; rand 0.9 has no normal
/// distribution, and one formula is not worth a dependency).
fn standard_normal(rng: &mut Pcg64) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn capacity_for(n: usize) -> u32 {
    (n as u64 * u64::from(PAIRS_PER_GAUSSIAN)).clamp(4096, u64::from(synctalk_sort::MAX_SORT_KEYS))
        as u32
}

/// The controller's input normaliser as the trainer fits it: on the
/// conditions of `frames` (the training frames) of `data`.
pub fn condition_normalizer(
    data: &impl TrainData,
    frames: &[usize],
) -> Result<Normalizer, crate::cpu::CpuError> {
    let conds: Vec<Vec<f64>> = frames
        .iter()
        .map(|&t| data.condition(t).iter().map(|&v| f64::from(v)).collect())
        .collect();
    Normalizer::fit(&conds)
}

/// PSNR (dB) of the composite `pred` (straight RGB in [0, 1]) against the
/// packed target.
pub fn psnr(pred: &[[f32; 4]], target: &[u32]) -> f32 {
    let mut se = 0f64;
    for (p, &q) in pred.iter().zip(target) {
        let [r, g, b, _] = q.to_le_bytes();
        for (a, b) in p[..3].iter().zip([r, g, b]) {
            let d = f64::from(a.clamp(0.0, 1.0)) - f64::from(b) / 255.0;
            se += d * d;
        }
    }
    let mse = se / (3 * pred.len().max(1)) as f64;
    (10.0 * (1.0 / mse.max(1e-10)).log10()) as f32
}
