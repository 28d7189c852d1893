//! The trainer's re-creations of its step: the host-side edits (MCMC
//! refinement, basis smoothing), growth of the intersection buffers, and
//! the rebuild from a state that both use, with everything bound to the
//! step (controller, pose table, noise, the mesh prior) made anew.

use rand::SeedableRng;
use rand_pcg::Pcg64;

use super::{
    adam_groups, bound_to, capacity_for, mcmc, mesh_prior, smooth, Rebuild, RebuildCause,
    TrainError, Trainer,
};
use crate::gpu::{StepConfig, StepState, TrainStep};

impl Trainer {
    /// Gives the step the mesh prior at `state`'s Gaussians (nothing when
    /// the run has none).
    pub(super) fn apply_mesh_prior(&mut self, state: &StepState) -> Result<(), TrainError> {
        let (device, queue) = (&self.device, &self.queue);
        mesh_prior::apply(
            &mut self.step,
            device,
            queue,
            self.mesh.as_ref(),
            state,
            &self.settings,
        )
    }

    /// MCMC relocation and growth (see [`mcmc`]) when `refine`, the bases
    /// smoothed over neighbours (see [`smooth`]) when `smooth`: the state
    /// read back, changed on the host, and the step re-created from it
    /// (recorded as a rebuild at the next step).
    pub(super) async fn edit_on_host(
        &mut self,
        refine: bool,
        smooth: bool,
    ) -> Result<(), TrainError> {
        let mut state = self.step.read_state(&self.device, &self.queue).await?;
        let bad = |v: &[f32]| v.iter().any(|x| !x.is_finite());
        let p = &state.params;
        if bad(&p.gauss.concat()) || bad(&p.sh) || bad(&p.bases) {
            return Err(TrainError::Diverged {
                step: self.iteration,
                what: "a Gaussian parameter is not finite".into(),
            });
        }
        if refine {
            let mut rng =
                Pcg64::seed_from_u64(self.settings.seed ^ 0x6d63_6d63 ^ u64::from(self.iteration));
            mcmc::relocate(&mut state, &mut rng);
            mcmc::add(&mut state, self.settings.max_gaussians, &mut rng);
        }
        if smooth {
            smooth::smooth_bases(&mut state, self.settings.basis_smooth as f32);
        }
        let cap = self.step.isect_capacity();
        self.rebuild(&state, cap).await?;
        let cause = if refine {
            RebuildCause::Densification
        } else {
            RebuildCause::Smoothing
        };
        self.note_rebuild(cause, [0, 0]);
        Ok(())
    }

    fn note_rebuild(&mut self, cause: RebuildCause, pairs: [u32; 2]) {
        self.rebuilds.push(Rebuild {
            step: self.iteration,
            cause,
            pairs,
            gaussians: self.step.num_gaussians(),
            capacity: self.step.isect_capacity(),
        });
    }

    /// The step's re-creations in this process, in order.
    pub fn rebuilds(&self) -> &[Rebuild] {
        &self.rebuilds
    }

    /// Re-creates the step with room for `needed` pairs and a margin,
    /// keeping the state.
    pub(super) async fn grow_capacity(&mut self, pairs: [u32; 2]) -> Result<(), TrainError> {
        let needed = pairs[1];
        let cap = needed
            .saturating_add(needed / 2)
            .min(synctalk_sort::MAX_SORT_KEYS);
        if cap <= self.step.isect_capacity() {
            return Ok(());
        }
        let state = self.step.read_state(&self.device, &self.queue).await?;
        self.rebuild(&state, cap).await?;
        self.note_rebuild(RebuildCause::Growth, pairs);
        Ok(())
    }

    /// Replaces the step with one made from `state` (any Gaussian count)
    /// with intersection capacity `cap`.
    pub async fn rebuild(&mut self, state: &StepState, cap: u32) -> Result<(), TrainError> {
        let config = StepConfig {
            width: self.step.width(),
            height: self.step.height(),
            isect_capacity: cap.max(capacity_for(state.params.len())),
            weights: self.settings.loss_weights(),
            groups: adam_groups(&self.settings, state.params.len(), self.iteration),
        };
        let pixels = config.width as usize * config.height as usize;
        let blank = vec![0u32; pixels];
        let under = vec![[0f32; 4]; pixels];
        self.step = TrainStep::from_state(
            &self.device,
            self.kernels.clone(),
            config,
            state,
            &under,
            &blank,
        )?;
        self.apply_mesh_prior(state)?;
        // Everything bound to the step is made anew, as a resume makes it:
        // on an H200 a run whose controller was only re-bound to the new
        // step rendered an empty head from then on, while the same state
        // resumed in a fresh process trained on (docs/trainer.md).
        let ctrl = self
            .controller
            .read_state(&self.device, &self.queue)
            .await?;
        (self.controller, self.pose_view, self.noise) = bound_to(
            &self.device,
            &self.queue,
            &self.controller_kernels,
            self.controller.config().clone(),
            &ctrl,
            &self.step,
        )?;
        Ok(())
    }
}
