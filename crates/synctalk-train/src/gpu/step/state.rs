//! A step's trainable state on the host ([`StepState`]).

use synctalk_gaussians::DEFORM_CHANNELS;

use crate::gpu::{GpuParams, SH_FLOATS};

/// A step's trainable state on the host: the parameters and their Adam
/// moments, for checkpoints and for re-creating a step at another size
/// (densification).
#[derive(Clone, Debug, PartialEq)]
pub struct StepState {
    /// The parameters.
    pub params: GpuParams,
    /// `[first, second]` Adam moments of the Gaussians (`12 n`), the SH
    /// (`12 n`) and the bases (`11 K n`), in the parameters' layouts.
    pub moments: [[Vec<f32>; 2]; 3],
}

impl StepState {
    /// `params` with zero moments.
    pub fn fresh(params: GpuParams) -> Self {
        let n = params.len();
        let words = [
            12 * n,
            SH_FLOATS * n,
            DEFORM_CHANNELS * params.num_bases * n,
        ];
        Self {
            params,
            moments: words.map(|w| [vec![0.0; w], vec![0.0; w]]),
        }
    }
}
