//! Byte layout of the file header and of each chunk's payload.
//!
//! This module holds the framing (signature, version, chunk headers,
//! padding) and `Cur`, the bounds-checked payload reader; `decode` reads each
//! chunk type, `image` the pixels of image layers, and `write` writes a
//! whole file.

mod decode;
mod image;
mod write;

pub(crate) use decode::decode_chunk;
pub(crate) use image::{decode_layer, encode_png};
pub(crate) use write::write;

use crate::stream::tag_str;
use crate::*;

/// File signature (first 8 bytes).
pub const MAGIC: [u8; 8] = *b"STKPORT\x1a";
/// Major version written and read.
pub const VERSION_MAJOR: u16 = 1;
/// Minor version written (readers accept any minor of their major).
pub const VERSION_MINOR: u16 = 0;

pub(crate) const FILE_HEADER: usize = 16;
pub(crate) const CHUNK_HEADER: usize = 24;
const FLAG_CRITICAL: u32 = 1;

/// Limits the reader enforces.
pub mod limits {
    /// Largest chunk payload.
    pub const MAX_CHUNK_BYTES: u64 = 1 << 30;
    /// Most Gaussians.
    pub const MAX_GAUSSIANS: u64 = 16_000_000;
    /// Largest `META` JSON.
    pub const MAX_META_BYTES: usize = 1 << 20;
    /// Largest image side (camera and layers).
    pub const MAX_IMAGE_SIDE: u32 = synctalk_gaussians::MAX_IMAGE_SIDE;
    /// Most layer images.
    pub const MAX_LAYERS: usize = 100_000;
    /// Most networks.
    pub const MAX_NETWORKS: usize = 16;
    /// Most deformation bases.
    pub const MAX_BASES: u32 = 32;
    /// Most controller layers.
    pub const MAX_CONTROLLER_LAYERS: u32 = 16;
    /// Widest controller layer.
    pub const MAX_CONTROLLER_WIDTH: u32 = 4096;
    /// Most head-pose frames.
    pub const MAX_POSE_FRAMES: u32 = 10_000_000;
    /// Longest network name.
    pub const MAX_NAME: usize = 256;
}

pub(crate) fn padding(len: u64) -> usize {
    ((8 - len % 8) % 8) as usize
}

pub(crate) fn check_file_header(b: &[u8]) -> Result<(), PortraitError> {
    if b[..8] != MAGIC {
        return Err(PortraitError::BadMagic);
    }
    let major = u16::from_le_bytes([b[8], b[9]]);
    let minor = u16::from_le_bytes([b[10], b[11]]);
    if crc32fast::hash(&b[..12]) != u32::from_le_bytes([b[12], b[13], b[14], b[15]]) {
        return Err(PortraitError::HeaderChecksum);
    }
    if major != VERSION_MAJOR {
        return Err(PortraitError::Version { major, minor });
    }
    Ok(())
}

pub(crate) fn parse_chunk_header(b: &[u8]) -> Result<([u8; 4], u32, u64, u32), PortraitError> {
    let tag = [b[0], b[1], b[2], b[3]];
    let flags = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let len = u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
    let crc = u32::from_le_bytes([b[16], b[17], b[18], b[19]]);
    let reserved = u32::from_le_bytes([b[20], b[21], b[22], b[23]]);
    if !tag
        .iter()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b' ')
    {
        return Err(PortraitError::field(
            &tag_str(&tag),
            "tag",
            "not an upper-case ASCII chunk tag (corrupt file?)",
        ));
    }
    if reserved != 0 || flags & !FLAG_CRITICAL != 0 {
        return Err(PortraitError::field(
            &tag_str(&tag),
            "flags",
            "reserved bits set",
        ));
    }
    Ok((tag, flags, len, crc))
}

/// A bounds-checked little-endian reader over one chunk's payload.
struct Cur<'a> {
    chunk: &'static str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn new(chunk: &'static str, b: &'a [u8]) -> Self {
        Self { chunk, b, pos: 0 }
    }
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], PortraitError> {
        if self.b.len() - self.pos < n {
            return Err(PortraitError::field(
                self.chunk,
                field,
                format!(
                    "payload ends early ({} bytes left, {n} needed)",
                    self.b.len() - self.pos
                ),
            ));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, f: &'static str) -> Result<u8, PortraitError> {
        Ok(self.take(1, f)?[0])
    }
    fn u16(&mut self, f: &'static str) -> Result<u16, PortraitError> {
        let s = self.take(2, f)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self, f: &'static str) -> Result<u32, PortraitError> {
        let s = self.take(4, f)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    /// `n` finite floats stored at `precision`.
    fn floats(
        &mut self,
        n: usize,
        precision: Precision,
        f: &'static str,
    ) -> Result<Vec<f32>, PortraitError> {
        let size = if precision == Precision::F32 { 4 } else { 2 };
        let need = n
            .checked_mul(size)
            .ok_or_else(|| PortraitError::field(self.chunk, f, "size overflows"))?;
        let s = self.take(need, f)?;
        let v: Vec<f32> = match precision {
            Precision::F32 => s
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Precision::F16 => s
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        };
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(PortraitError::field(
                self.chunk,
                f,
                format!("value {i} is not finite"),
            ));
        }
        Ok(v)
    }
    fn f32s(&mut self, n: usize, f: &'static str) -> Result<Vec<f32>, PortraitError> {
        self.floats(n, Precision::F32, f)
    }
    fn end(&self) -> Result<(), PortraitError> {
        if self.pos != self.b.len() {
            return Err(PortraitError::field(
                self.chunk,
                "length",
                format!(
                    "{} unexpected bytes at the end of the payload",
                    self.b.len() - self.pos
                ),
            ));
        }
        Ok(())
    }
}
