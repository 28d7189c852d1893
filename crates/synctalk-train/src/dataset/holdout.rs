//! Which frames a run holds out for its evaluation.
//!
//! [`Holdout::Dataset`] keeps `dataset.json`'s split (`synctalk-prepare`
//! holds out the clip's last 10 %: a random cut of the person's motion).
//! [`Holdout::FarthestPoses`] is the pose-extrapolation split: it holds out
//! the [`FARTHEST_FRACTION`] of frames whose pose lies farthest from the
//! clip's mean pose and trains on all the others, so that the held-out
//! scores say how the portrait renders poses outside those it learned (the
//! runtime's head motion reaches them).
//!
//! A pose's distance from the mean is measured where it shows, in the
//! image: the canonical face's points are projected with the frame's
//! head-to-camera transform, the mean pose's picture is each point's mean
//! position over the clip, and the distance is the mean pixel distance of
//! the frame's points from it. Rotation and translation count together, in
//! one unit, by how far they move the face. The toolchain's
//! `synctalk_toolchain.holdout` computes the same (tested on the fixture).

use serde::{Deserialize, Serialize};

use super::Dataset;

/// The share of frames [`Holdout::FarthestPoses`] holds out (rounded up,
/// at least one frame, at most all but one).
pub const FARTHEST_FRACTION: f64 = 0.1;

/// Which frames are held out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Holdout {
    /// `dataset.json`'s split.
    #[default]
    Dataset,
    /// The [`FARTHEST_FRACTION`] of frames farthest from the mean pose.
    FarthestPoses,
}

impl Holdout {
    /// The name the command lines use (`dataset`, `poses`).
    pub fn name(self) -> &'static str {
        match self {
            Holdout::Dataset => "dataset",
            Holdout::FarthestPoses => "poses",
        }
    }
}

impl Dataset {
    /// Per frame, how far its pose is from the clip's mean pose: the mean
    /// distance in pixels of its projected canonical-face points from their
    /// mean positions over all frames (see the module's doc).
    pub fn pose_distances(&self) -> Vec<f64> {
        let projected: Vec<Vec<[f64; 2]>> = self
            .head_to_camera
            .iter()
            .map(|m| {
                self.canonical_face
                    .iter()
                    .map(|p| {
                        let p = p.map(f64::from);
                        let c: [f64; 3] = std::array::from_fn(|i| {
                            m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2] + m[i][3]
                        });
                        [
                            self.fx * c[0] / c[2] + self.cx,
                            self.fy * c[1] / c[2] + self.cy,
                        ]
                    })
                    .collect()
            })
            .collect();
        let n = projected.len().max(1) as f64;
        let mean: Vec<[f64; 2]> = (0..self.canonical_face.len())
            .map(|j| {
                let s = projected
                    .iter()
                    .fold([0.0; 2], |a, f| [a[0] + f[j][0], a[1] + f[j][1]]);
                [s[0] / n, s[1] / n]
            })
            .collect();
        projected
            .iter()
            .map(|f| {
                let d: f64 = f
                    .iter()
                    .zip(&mean)
                    .map(|(p, m)| ((p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2)).sqrt())
                    .sum();
                d / mean.len().max(1) as f64
            })
            .collect()
    }

    /// Sets [`Dataset::train`] and [`Dataset::val`] by `holdout`
    /// ([`Holdout::Dataset`] leaves them as loaded).
    pub fn hold_out(&mut self, holdout: Holdout) {
        if holdout == Holdout::Dataset {
            return;
        }
        let t = self.frame_count();
        let d = self.pose_distances();
        let mut order: Vec<usize> = (0..t).collect();
        // Farthest first; equal distances by frame.
        order.sort_by(|&a, &b| d[b].total_cmp(&d[a]).then(a.cmp(&b)));
        let count = ((t as f64 * FARTHEST_FRACTION).ceil() as usize)
            .max(1)
            .min(t.saturating_sub(1));
        let mut val = order[..count].to_vec();
        val.sort_unstable();
        self.train = (0..t).filter(|f| val.binary_search(f).is_err()).collect();
        self.val = val;
    }
}
