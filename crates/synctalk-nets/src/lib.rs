//! The portrait's audio networks, run with [tract](https://github.com/sonos/tract).
//!
//! **Face-Sync** maps one log-mel window — 100 frames × 80 bands, the last 7
//! after the video frame's time, exactly as `synctalk-audio` computes them
//! (`docs/audio-features.md`, spec v2) — to the frame's 52 blendshapes
//! (MediaPipe order, `_neutral` first), each in [0, 1]. The input
//! normalisation is part of the network: feed the raw log-mel values.
//!
//! Networks load from NNEF (a tar, tract-nnef: what the browser build reads,
//! without tract's ONNX front end) or, with the default `onnx` feature, from
//! ONNX; [`onnx_to_nnef`] converts one to the other.

use tract_nnef::prelude::*;

/// Mel frames per window (`synctalk_audio::CONTEXT`, spec v2).
pub const CONTEXT: usize = 100;
/// Mel bands.
pub const N_MELS: usize = 80;
/// Blendshapes out.
pub const BLENDSHAPES: usize = 52;

/// Why a network could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The model bytes are not a network this runner can use.
    #[error("network `{name}` cannot be loaded: {why}")]
    Load {
        /// Network name.
        name: String,
        /// Cause, from tract.
        why: String,
    },
    /// The input has the wrong size or non-finite values.
    #[error("network `{name}`: {why}")]
    Input {
        /// Network name.
        name: String,
        /// Cause.
        why: String,
    },
    /// tract failed while running the network.
    #[error("network `{name}` failed: {why}")]
    Run {
        /// Network name.
        name: String,
        /// Cause, from tract.
        why: String,
    },
}

type State = tract_nnef::tract_core::plan::SimpleState<TypedFact, Box<dyn TypedOp>>;

/// The Face-Sync network, optimised for a batch of one window. It keeps
/// one tract session, reused by every run.
pub struct FaceSync {
    state: State,
}

impl std::fmt::Debug for FaceSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceSync").finish_non_exhaustive()
    }
}

const NAME: &str = "face_sync";

/// Whether `bytes` look like a tar archive (an NNEF model).
pub fn is_nnef(bytes: &[u8]) -> bool {
    bytes.get(257..262) == Some(b"ustar".as_slice())
}

fn load_error(e: TractError) -> NetError {
    NetError::Load {
        name: NAME.into(),
        why: format!("{e:#}"),
    }
}

/// An ONNX Face-Sync model as a decluttered typed model with its input shape.
#[cfg(feature = "onnx")]
fn onnx_typed(bytes: &[u8]) -> TractResult<TypedModel> {
    use tract_onnx::prelude::{Framework as _, InferenceModelExt as _};
    tract_onnx::onnx()
        .model_for_read(&mut std::io::Cursor::new(bytes))?
        .with_input_fact(0, f32::fact([1, CONTEXT, N_MELS]).into())?
        .into_typed()?
        .into_decluttered()
}

/// Converts an ONNX Face-Sync model to NNEF (a tar, byte for byte the same
/// for the same model), the form the browser build loads.
#[cfg(feature = "onnx")]
pub fn onnx_to_nnef(onnx: &[u8]) -> Result<Vec<u8>, NetError> {
    let model = onnx_typed(onnx).map_err(load_error)?;
    tract_nnef::nnef()
        .write_to_tar_with_config(&model, Vec::new(), false, true)
        .map_err(load_error)
}

impl FaceSync {
    /// Loads an ONNX model (input `[1, 100, 80]`, output `[1, 52]`).
    #[cfg(feature = "onnx")]
    pub fn from_onnx(bytes: &[u8]) -> Result<Self, NetError> {
        Self::from_typed(onnx_typed(bytes).map_err(load_error)?)
    }

    /// Loads a model in either format, told apart by its bytes (an NNEF tar
    /// carries the `ustar` mark; anything else is read as ONNX).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NetError> {
        if is_nnef(bytes) {
            return Self::from_nnef(bytes);
        }
        #[cfg(feature = "onnx")]
        return Self::from_onnx(bytes);
        #[cfg(not(feature = "onnx"))]
        Err(NetError::Load {
            name: NAME.into(),
            why: "not an NNEF tar (this build reads NNEF networks only; `synctalk add-network` converts ONNX)".into(),
        })
    }

    /// Loads an NNEF model (a tar, as [`onnx_to_nnef`] writes).
    pub fn from_nnef(bytes: &[u8]) -> Result<Self, NetError> {
        let model = tract_nnef::nnef()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(load_error)?;
        Self::from_typed(model)
    }

    fn from_typed(model: TypedModel) -> Result<Self, NetError> {
        let load = load_error;
        let input = model
            .input_fact(0)
            .map_err(load)?
            .shape
            .as_concrete()
            .map(|s| s.to_vec());
        if input.as_deref() != Some(&[1, CONTEXT, N_MELS]) {
            return Err(NetError::Load {
                name: NAME.into(),
                why: format!(
                    "input shape {input:?}, want [1, {CONTEXT}, {N_MELS}] (audio-features spec v2; \
                     a network made for v1's 16-frame windows must be re-exported)"
                ),
            });
        }
        let plan = model
            .into_optimized()
            .map_err(load)?
            .into_runnable()
            .map_err(load)?;
        let out = plan
            .model()
            .output_fact(0)
            .map_err(load)?
            .shape
            .as_concrete()
            .map(|s| s.to_vec());
        if out.as_deref() != Some(&[1, BLENDSHAPES]) {
            return Err(NetError::Load {
                name: NAME.into(),
                why: format!("output shape {out:?}, want [1, {BLENDSHAPES}]"),
            });
        }
        let state = plan.spawn().map_err(load)?;
        Ok(Self { state })
    }

    /// The blendshapes for one window (`CONTEXT * N_MELS` values, mel frame
    /// major).
    pub fn run(&mut self, window: &[f32]) -> Result<[f32; BLENDSHAPES], NetError> {
        let bad = |why: String| NetError::Input {
            name: NAME.into(),
            why,
        };
        if window.len() != CONTEXT * N_MELS {
            return Err(bad(format!(
                "the window has {} values, want {}",
                window.len(),
                CONTEXT * N_MELS
            )));
        }
        if let Some(i) = window.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("window value {i} is not finite")));
        }
        let run = |e: TractError| NetError::Run {
            name: NAME.into(),
            why: format!("{e:#}"),
        };
        let input = Tensor::from_shape(&[1, CONTEXT, N_MELS], window).map_err(run)?;
        let out = self.state.run(tvec!(input.into())).map_err(run)?;
        let view = out[0].to_plain_array_view::<f32>().map_err(run)?;
        let mut b = [0f32; BLENDSHAPES];
        for (d, s) in b.iter_mut().zip(view.iter()) {
            *d = *s;
        }
        Ok(b)
    }
}
