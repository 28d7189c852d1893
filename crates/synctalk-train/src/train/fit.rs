//! Test-time pose fitting (torch_trainer.py's `fit_pose`): a held-out frame's 6-DoF
//! pose correction fitted with everything else frozen, to separate what the
//! tracker's pose error costs from the model's own error. Adam at
//! `--pose-lr` on the plain L1 loss of the composite (no mouth weight, SSIM
//! or alpha term, no L2 on the correction), from zero, on the GPU-resident
//! step with every other rate zero and the controller frozen.

use std::sync::Arc;

use super::{adam_groups, data, TrainData, TrainError, Trainer};
use crate::cpu::LossWeights;
use crate::gpu::{
    AdamGroup, ControllerConfig, ControllerInputs, ControllerStep, FrameParams, PoseParams,
    PoseView, StepConfig, StepInputs, StepState, TrainStep,
};

impl Trainer {
    /// The pose correction (in [`crate::cpu::POSE_UNITS`]) fitted to frame
    /// `t` in `steps` steps; the training state is untouched.
    pub async fn fit_pose(
        &self,
        data: &impl TrainData,
        t: usize,
        steps: u32,
    ) -> Result<[f64; 6], TrainError> {
        let (state, ctrl) = self.state().await?;
        let n = state.params.len();
        let frozen = |g: AdamGroup| AdamGroup {
            lr: vec![0.0],
            reg: Vec::new(),
            ..g
        };
        let config = StepConfig {
            width: self.step.width(),
            height: self.step.height(),
            isect_capacity: self.step.isect_capacity(),
            weights: LossWeights {
                mouth: 0.0,
                ssim: 0.0,
                alpha: 0.0,
            },
            groups: adam_groups(&self.settings, n, 0).map(frozen),
        };
        let mut under = Vec::new();
        data::unpack_under(data.under(t), &mut under);
        let step = TrainStep::from_state(
            &self.device,
            self.kernels.clone(),
            config,
            &StepState::fresh(state.params),
            &under,
            data.target(t),
        )?;
        let s = &self.settings;
        let mut controller = ControllerStep::new(
            &self.device,
            &self.queue,
            Arc::clone(&self.controller_kernels),
            ControllerConfig {
                input: data.condition(t).len(),
                hidden: s.hidden,
                bases: s.bases,
                reg_w: s.reg_weight,
                frames: 1,
                pose_lr: s.pose_lr,
            },
            &ctrl.theta,
            &[[0.0; 6]],
            step.gradient_sources(),
        )?;
        let pose_view = PoseView::new(&self.device, controller.poses(), 1);
        let head = data.view(t);
        pose_view.write(&self.queue, &head, 0)?;
        let raw: Vec<f64> = data.condition(t).iter().map(|&v| f64::from(v)).collect();
        let cond: Vec<f32> = self.norm.apply(&raw).iter().map(|&v| v as f32).collect();
        let frame = FrameParams::new(&head, n, s.sh_degree, &vec![0.0; s.bases])?;
        for k in 1..=steps {
            controller.write_inputs(
                &self.queue,
                &ControllerInputs {
                    cond: &cond,
                    step: 1,
                    pose: Some((0, k)),
                    pose_only: true,
                },
            )?;
            let mut encoder = self.device.create_command_encoder(&Default::default());
            step.encode_controlled(
                &self.queue,
                &mut encoder,
                &StepInputs {
                    frame,
                    pose: PoseParams::new(&head, &[0.0; 6]),
                    step: k,
                },
                &controller,
                Some(&pose_view),
            )?;
            self.queue.submit([encoder.finish()]);
            let _ = self.device.poll(wgpu::PollType::Poll);
        }
        let fitted = controller.read_state(&self.device, &self.queue).await?;
        Ok(fitted.poses[0].map(f64::from))
    }
}
