//! The portrait's audio networks, run with [tract](https://github.com/sonos/tract).
//!
//! Each maps one log-mel window — 100 frames × 80 bands, the last 7 after
//! the video frame's time, exactly as `synctalk-audio` computes them
//! (`docs/audio-features.md`, spec v2) — to a row of at most 52 values.
//! **Face-Sync** (`face_sync`) gives the frame's 52 blendshapes in
//! MediaPipe's order (`_neutral` first), each in [0, 1]; the **Expression
//! Generator** (`expression`) gives 52 offsets of the upper face from the
//! portrait's rest; **Head-Sync** (`head_sync`) gives 4 values: a head
//! rotation and the speech's activity (see `docs/portrait-format.md`).
//! The input normalisation is part of each network: feed the raw log-mel
//! values.
//!
//! Networks load from NNEF (a tar, tract-nnef: what the browser build reads,
//! without tract's ONNX front end) or, with the default `onnx` feature, from
//! ONNX; [`onnx_to_nnef`] converts one to the other.

use tract_nnef::prelude::*;

/// Mel frames per window (`synctalk_audio::CONTEXT`, spec v2).
pub const CONTEXT: usize = 100;
/// Mel bands.
pub const N_MELS: usize = 80;
/// Blendshapes out, and the most values any network gives.
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

/// A network of one log-mel window to a row of 1 to 52 values, optimised
/// for a batch of one window. It keeps one tract session, reused by every
/// run.
pub struct WindowNet {
    state: State,
    name: String,
    width: usize,
    /// The constants named in [`KEPT_CONSTANTS`] that the model holds.
    constants: Vec<Constant>,
}

/// Named constants a network may hold that the engine reads besides running
/// it: Face-Sync's per-phone mouth shapes (`table`, one row of 52 per
/// phone of its phonetic front end; see the engine's `visemes`).
pub const KEPT_CONSTANTS: [&str; 1] = ["table"];

/// The constant of [`KEPT_CONSTANTS`] a model node holds: tract names the
/// node of ONNX initializer `table` `table.0`, and its NNEF conversion
/// `table_0`.
fn kept_constant(node: &str) -> Option<&'static str> {
    KEPT_CONSTANTS.into_iter().find(|want| {
        node.strip_prefix(want).is_some_and(|rest| {
            rest.is_empty()
                || (rest.len() > 1
                    && rest.starts_with(['.', '_'])
                    && rest[1..].bytes().all(|b| b.is_ascii_digit()))
        })
    })
}

/// A constant of a network: its shape and its values (row major).
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    /// The constant's name in the model.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values.
    pub values: Vec<f32>,
}

/// The Face-Sync network (a [`WindowNet`] named `face_sync`).
pub type FaceSync = WindowNet;

impl std::fmt::Debug for WindowNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowNet")
            .field("name", &self.name)
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

const NAME: &str = "face_sync";

/// Whether `bytes` look like a tar archive (an NNEF model).
pub fn is_nnef(bytes: &[u8]) -> bool {
    bytes.get(257..262) == Some(b"ustar".as_slice())
}

fn load_error(name: &str) -> impl Fn(TractError) -> NetError + Copy + '_ {
    move |e| NetError::Load {
        name: name.into(),
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
    let model = onnx_typed(onnx).map_err(load_error(NAME))?;
    tract_nnef::nnef()
        .write_to_tar_with_config(&model, Vec::new(), false, true)
        .map_err(load_error(NAME))
}

impl WindowNet {
    /// Loads an ONNX Face-Sync model (input `[1, 100, 80]`, output `[1, 52]`).
    #[cfg(feature = "onnx")]
    pub fn from_onnx(bytes: &[u8]) -> Result<Self, NetError> {
        Self::load_onnx(NAME, bytes)
    }

    /// Loads a Face-Sync model in either format (see [`WindowNet::load`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NetError> {
        Self::load(NAME, bytes)
    }

    /// Loads an NNEF Face-Sync model (a tar, as [`onnx_to_nnef`] writes).
    pub fn from_nnef(bytes: &[u8]) -> Result<Self, NetError> {
        Self::load_nnef(NAME, bytes)
    }

    /// Loads network `name` in either format, told apart by its bytes (an
    /// NNEF tar carries the `ustar` mark; anything else is read as ONNX).
    pub fn load(name: &str, bytes: &[u8]) -> Result<Self, NetError> {
        if is_nnef(bytes) {
            return Self::load_nnef(name, bytes);
        }
        #[cfg(feature = "onnx")]
        return Self::load_onnx(name, bytes);
        #[cfg(not(feature = "onnx"))]
        Err(NetError::Load {
            name: name.into(),
            why: "not an NNEF tar (this build reads NNEF networks only; `synctalk add-network` converts ONNX)".into(),
        })
    }

    /// Loads ONNX network `name` (input `[1, 100, 80]`, output `[1, n]`,
    /// `n` from 1 to 52).
    #[cfg(feature = "onnx")]
    pub fn load_onnx(name: &str, bytes: &[u8]) -> Result<Self, NetError> {
        Self::from_typed(name, onnx_typed(bytes).map_err(load_error(name))?)
    }

    /// Loads NNEF network `name` (a tar, as [`onnx_to_nnef`] writes).
    pub fn load_nnef(name: &str, bytes: &[u8]) -> Result<Self, NetError> {
        let model = tract_nnef::nnef()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(load_error(name))?;
        Self::from_typed(name, model)
    }

    /// The network's name (`face_sync`, `expression`, `head_sync`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many values the network gives (its output is `[1, width]`).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The model's constant `name` (one of [`KEPT_CONSTANTS`]), if it holds
    /// one of that name with float values (the first, if tract split it).
    pub fn constant(&self, name: &str) -> Option<&Constant> {
        self.constants.iter().find(|c| c.name == name)
    }

    fn from_typed(name: &str, model: TypedModel) -> Result<Self, NetError> {
        let load = load_error(name);
        let input = model
            .input_fact(0)
            .map_err(load)?
            .shape
            .as_concrete()
            .map(|s| s.to_vec());
        if input.as_deref() != Some(&[1, CONTEXT, N_MELS]) {
            return Err(NetError::Load {
                name: name.into(),
                why: format!(
                    "input shape {input:?}, want [1, {CONTEXT}, {N_MELS}] (audio-features spec v2; \
                     a network made for v1's 16-frame windows must be re-exported)"
                ),
            });
        }
        // Read before optimisation, which folds constants into the ops.
        let constants = model
            .nodes()
            .iter()
            .filter_map(|n| {
                let name = kept_constant(&n.name)?;
                let t = n
                    .op_as::<tract_nnef::tract_core::ops::konst::Const>()?
                    .val();
                Some(Constant {
                    name: name.into(),
                    shape: t.shape().to_vec(),
                    values: t
                        .to_plain_array_view::<f32>()
                        .ok()?
                        .iter()
                        .copied()
                        .collect(),
                })
            })
            .collect();
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
        let width = match out.as_deref() {
            Some(&[1, n]) if (1..=BLENDSHAPES).contains(&n) => n,
            _ => {
                return Err(NetError::Load {
                    name: name.into(),
                    why: format!(
                        "output shape {out:?}, want [1, n] with n from 1 to {BLENDSHAPES}"
                    ),
                })
            }
        };
        let mut state = plan.spawn().map_err(load)?;
        // One run now, outside any frame-arena scope: what tract creates on
        // a session's first run and keeps (op states, scratch) comes from
        // the heap, not from the arena's slabs (which it would pin).
        let silent = Tensor::zero::<f32>(&[1, CONTEXT, N_MELS]).map_err(load)?;
        state.run(tvec!(silent.into())).map_err(load)?;
        Ok(Self {
            state,
            name: name.into(),
            width,
            constants,
        })
    }

    /// The network's values for one window (`CONTEXT * N_MELS` values, mel
    /// frame major): the first [`WindowNet::width`] of the 52, the rest 0.
    pub fn run(&mut self, window: &[f32]) -> Result<[f32; BLENDSHAPES], NetError> {
        let bad = |why: String| NetError::Input {
            name: self.name.clone(),
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
            name: self.name.clone(),
            why: format!("{e:#}"),
        };
        // tract allocates every op's output on every run: inside the scope
        // these come from the frame arena when the program installed it
        // (`synctalk-arena`), and are all freed before the scope ends.
        let state = &mut self.state;
        synctalk_arena::scope(|| -> TractResult<[f32; BLENDSHAPES]> {
            let input = Tensor::from_shape(&[1, CONTEXT, N_MELS], window)?;
            let out = state.run(tvec!(input.into()))?;
            let view = out[0].to_plain_array_view::<f32>()?;
            let mut b = [0f32; BLENDSHAPES];
            for (d, s) in b.iter_mut().zip(view.iter()) {
                *d = *s;
            }
            Ok(b)
        })
        .map_err(run)
    }
}
