//! The SyncTalk portrait file format, version 1 (`.stk`).
//!
//! One little-endian file holds everything the browser needs for one avatar:
//! metadata, camera, canonical Gaussians, the learned deformation, the
//! head-pose track, layer images and the networks. It is a sequence of
//! chunks, each with its own length and CRC-32, so it can be parsed while it
//! streams in ([`StreamParser`]). The specification is
//! `docs/portrait-format.md` at the top of the repository.
//!
//! The reader checks every length, count, checksum and value before
//! allocating for it: a truncated, corrupt or hostile file gives a
//! [`PortraitError`] naming the chunk and field, never a panic.

mod chunks;
mod error;
mod model;
mod stream;

pub use chunks::{limits, MAGIC, VERSION_MAJOR, VERSION_MINOR};
pub use error::PortraitError;
pub use model::*;
pub use stream::{Chunk, Received, StreamParser};

use std::path::Path;

impl Portrait {
    /// Parses a whole portrait file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PortraitError> {
        let mut p = StreamParser::new();
        p.push(bytes)?;
        p.finish()
    }

    /// Reads and parses a portrait file.
    pub fn read_file(path: &Path) -> Result<Self, PortraitError> {
        let bytes = std::fs::read(path).map_err(|source| PortraitError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Serialises the portrait (validating it first).
    pub fn to_bytes(&self) -> Result<Vec<u8>, PortraitError> {
        chunks::write(self)
    }

    /// Writes the portrait to a file.
    pub fn write_file(&self, path: &Path) -> Result<(), PortraitError> {
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|source| PortraitError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The first layer with `role`, if any.
    pub fn layer(&self, role: LayerRole) -> Option<&Layer> {
        self.layers.iter().find(|l| l.role == role)
    }
}
