//! A diagnostic of a run that goes wrong: the first value of the last
//! step's gradients or of the training state that is not finite.

use super::{TrainError, Trainer};

impl Trainer {
    /// The first group of the training state holding a value that is not
    /// finite (NaN or ±∞), with how many such values it holds; `None` when
    /// all are finite. Reads the whole state back (a diagnostic: `synctalk
    /// train --check-finite`).
    pub async fn non_finite(&self) -> Result<Option<(&'static str, usize)>, TrainError> {
        let bad = |v: &[f32]| v.iter().filter(|x| !x.is_finite()).count();
        // The last step's gradients first: a bad one poisons Adam's moments
        // and then the parameters.
        let g = self.step.read_grads(&self.device, &self.queue).await?;
        let [d_theta, w, d_pose] = self
            .controller
            .read_gradients(&self.device, &self.queue, self.step.d_pose())
            .await?;
        let grads: [(&'static str, usize); 6] = [
            ("gradients of the Gaussians", bad(&g.gauss.concat())),
            ("gradients of the SH", bad(&g.sh)),
            ("gradients of the bases", bad(&g.bases)),
            ("deformation coefficients w", bad(&w)),
            ("gradients of θ", bad(&d_theta)),
            ("gradient of the pose", bad(&d_pose)),
        ];
        if let Some(found) = grads.into_iter().find(|g| g.1 > 0) {
            return Ok(Some(found));
        }
        let (step, c) = self.state().await?;
        let p = &step.params;
        let kind = |j: usize| {
            p.gauss
                .iter()
                .skip(j)
                .step_by(3)
                .flatten()
                .copied()
                .collect::<Vec<f32>>()
        };
        let groups: [(&'static str, usize); 12] = [
            ("means and opacity logits", bad(&kind(0))),
            ("quaternions", bad(&kind(1))),
            ("log-scales", bad(&kind(2))),
            ("SH coefficients", bad(&p.sh)),
            ("deformation bases", bad(&p.bases)),
            (
                "Gaussians' Adam moments",
                bad(&step.moments[0][0]) + bad(&step.moments[0][1]),
            ),
            (
                "SH Adam moments",
                bad(&step.moments[1][0]) + bad(&step.moments[1][1]),
            ),
            (
                "bases' Adam moments",
                bad(&step.moments[2][0]) + bad(&step.moments[2][1]),
            ),
            ("controller θ", bad(&c.theta)),
            (
                "controller Adam moments",
                bad(&c.moments[0]) + bad(&c.moments[1]),
            ),
            ("pose corrections", bad(&c.poses.concat())),
            (
                "pose Adam moments",
                bad(&c.pose_moments[0].concat()) + bad(&c.pose_moments[1].concat()),
            ),
        ];
        Ok(groups.into_iter().find(|g| g.1 > 0))
    }
}
