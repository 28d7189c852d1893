//! Checkpoints: everything a run needs to go on ([`Checkpoint`]), in one
//! file written whole or not at all (a temporary file renamed over the
//! old one).
//!
//! Layout: the magic `STKTRAIN`, a u32 version, a u32 header length, the
//! header (JSON: settings, step, log, counts, the dataset's fingerprint),
//! then little-endian f32 arrays in a fixed order: the Gaussians, SH and
//! bases with their two Adam moments each, θ with its moments, the pose
//! table with its moments. Every length is checked against the header on
//! reading.
//!
//! A resumed run reseeds its frame and noise draws from the seed and the
//! step, so it is deterministic but not the same draws as a run that was
//! never stopped.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{LogRow, Settings};
use crate::gpu::{ControllerState, GpuParams, StepState, POSE_WORDS, SH_FLOATS};

const MAGIC: &[u8; 8] = b"STKTRAIN";
const VERSION: u32 = 1;

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint of this version, or is damaged.
    #[error("{path}: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// The header of a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The run's settings.
    pub settings: Settings,
    /// Steps taken.
    pub step: u32,
    /// The log so far.
    pub log: Vec<LogRow>,
    /// Gaussians.
    pub gaussians: usize,
    /// Words of θ.
    pub theta_words: usize,
    /// Rows of the pose table.
    pub frames: usize,
    /// The dataset's fingerprint, if it has one.
    pub fingerprint: Option<String>,
}

/// A whole training state.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Settings, step and log.
    pub header: Header,
    /// The Gaussians with their moments.
    pub step: StepState,
    /// The controller and the pose table with their moments.
    pub controller: ControllerState,
}

fn format(path: &Path, why: impl Into<String>) -> CheckpointError {
    CheckpointError::Format {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

impl Checkpoint {
    /// Writes the checkpoint to `path` (through `path` + `.tmp`, renamed).
    pub fn write(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        };
        let header = serde_json::to_vec(&self.header).map_err(|e| format(path, e.to_string()))?;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        for a in self.arrays() {
            for v in a {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        let tmp = path.with_extension("tmp");
        {
            // Closed at the end of the block, before the rename.
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    fn arrays(&self) -> Vec<&[f32]> {
        let p = &self.step.params;
        let c = &self.controller;
        let mut out: Vec<&[f32]> = vec![p.gauss.as_flattened(), &p.sh, &p.bases];
        for m in &self.step.moments {
            out.push(&m[0]);
            out.push(&m[1]);
        }
        out.extend([
            c.theta.as_slice(),
            &c.moments[0],
            &c.moments[1],
            c.poses.as_flattened(),
            c.pose_moments[0].as_flattened(),
            c.pose_moments[1].as_flattened(),
        ]);
        out
    }

    /// Reads a checkpoint written by [`Checkpoint::write`].
    pub fn read(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(format(path, "not a synctalk training checkpoint"));
        }
        let word =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        if word(8) != VERSION {
            return Err(format(
                path,
                format!(
                    "checkpoint version {} (this build reads {VERSION})",
                    word(8)
                ),
            ));
        }
        let len = word(12) as usize;
        let body = bytes
            .get(16..16 + len)
            .ok_or_else(|| format(path, "truncated header"))?;
        let header: Header =
            serde_json::from_slice(body).map_err(|e| format(path, format!("header: {e}")))?;
        let s = &header.settings;
        let n = header.gaussians;
        let k = s.bases;
        let words = [
            12 * n,
            SH_FLOATS * n,
            11 * k * n,
            12 * n,
            12 * n,
            SH_FLOATS * n,
            SH_FLOATS * n,
            11 * k * n,
            11 * k * n,
            header.theta_words,
            header.theta_words,
            header.theta_words,
            POSE_WORDS * header.frames,
            POSE_WORDS * header.frames,
            POSE_WORDS * header.frames,
        ];
        let total: usize = words.iter().sum();
        let data = &bytes[16 + len..];
        if data.len() != 4 * total {
            return Err(format(
                path,
                format!(
                    "{} bytes of arrays, the header needs {}",
                    data.len(),
                    4 * total
                ),
            ));
        }
        let mut off = 0;
        let mut next = |w: usize| -> Vec<f32> {
            let v = data[off..off + 4 * w]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            off += 4 * w;
            v
        };
        let mut a: Vec<Vec<f32>> = words.iter().map(|&w| next(w)).collect::<Vec<_>>();
        if a.iter().flatten().any(|v| !v.is_finite()) {
            return Err(format(path, "holds values that are not finite"));
        }
        let mut take = || a.remove(0);
        let vec4 = |v: Vec<f32>| {
            v.chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect()
        };
        let rows = |v: Vec<f32>| {
            v.chunks_exact(POSE_WORDS)
                .map(|c| std::array::from_fn(|i| c[i]))
                .collect()
        };
        let params = GpuParams {
            sh_degree: s.sh_degree,
            num_bases: k,
            gauss: vec4(take()),
            sh: take(),
            bases: take(),
        };
        let moments = [[take(), take()], [take(), take()], [take(), take()]];
        let controller = ControllerState {
            theta: take(),
            moments: [take(), take()],
            poses: rows(take()),
            pose_moments: [rows(take()), rows(take())],
        };
        Ok(Self {
            header,
            step: StepState { params, moments },
            controller,
        })
    }
}
