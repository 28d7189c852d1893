//! Incremental parsing: feed bytes as they arrive, get chunks as they complete.

use crate::chunks::{self, decode_chunk, CHUNK_HEADER, FILE_HEADER};
use crate::{Portrait, PortraitError};

/// A decoded chunk, as the stream parser hands it to [`Received`].
#[derive(Clone, Debug)]
pub enum Chunk {
    /// `META`.
    Meta(crate::Metadata),
    /// `CAMR`.
    Camera(synctalk_gaussians::Camera),
    /// `GAUS`.
    Gaussians(synctalk_gaussians::Gaussians, crate::Precision),
    /// `DEFM`.
    Deformation(crate::LearnedDeformation),
    /// `POSE`.
    Pose(crate::PoseTrack),
    /// `IMAG`.
    Layer(crate::Layer),
    /// `NETW`.
    Network(crate::Network),
    /// An unknown, non-critical chunk (skipped).
    Unknown,
    /// `END `: the file is complete.
    End,
}

/// The chunks received so far (each present once its last byte arrived).
#[derive(Default, Debug)]
pub struct Received {
    /// `META`.
    pub meta: Option<crate::Metadata>,
    /// `CAMR`.
    pub camera: Option<synctalk_gaussians::Camera>,
    /// `GAUS`.
    pub gaussians: Option<(synctalk_gaussians::Gaussians, crate::Precision)>,
    /// `DEFM`.
    pub deformation: Option<crate::LearnedDeformation>,
    /// `POSE`.
    pub pose: Option<crate::PoseTrack>,
    /// `IMAG` chunks, in file order.
    pub layers: Vec<crate::Layer>,
    /// `NETW` chunks, in file order.
    pub networks: Vec<crate::Network>,
}

enum State {
    FileHeader,
    ChunkHeader,
    Payload {
        tag: [u8; 4],
        flags: u32,
        len: u64,
        crc: u32,
    },
    Padding {
        left: usize,
    },
    Done,
}

/// Parses a portrait incrementally. Memory grows only with bytes actually
/// received (never with a declared length), and each chunk is checked and
/// decoded as soon as its last byte arrives.
pub struct StreamParser {
    state: State,
    buf: Vec<u8>,
    seen: Vec<[u8; 4]>,
    bytes: u64,
    last_tag: Option<[u8; 4]>,
    received: Received,
}

pub(crate) fn tag_str(tag: &[u8; 4]) -> String {
    tag.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// Appends a repeatable chunk, refusing more than `limit` of them.
fn push_limited<T>(
    list: &mut Vec<T>,
    item: T,
    tag: &str,
    limit: usize,
) -> Result<(), PortraitError> {
    if list.len() >= limit {
        return Err(PortraitError::limit(
            tag,
            "count",
            list.len() as u64 + 1,
            limit as u64,
        ));
    }
    list.push(item);
    Ok(())
}

impl Default for StreamParser {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamParser {
    /// A parser expecting the file header.
    pub fn new() -> Self {
        Self {
            state: State::FileHeader,
            buf: Vec::new(),
            seen: Vec::new(),
            bytes: 0,
            last_tag: None,
            received: Received::default(),
        }
    }

    /// Bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.bytes
    }

    /// The chunks decoded so far.
    pub fn received(&self) -> &Received {
        &self.received
    }

    /// Whether the END chunk was read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn place(&self) -> String {
        match &self.state {
            State::FileHeader => "the file header".into(),
            State::ChunkHeader => match &self.last_tag {
                Some(t) => format!("the chunk header after chunk {}", tag_str(t)),
                None => "the first chunk header".into(),
            },
            State::Payload { tag, .. } => format!("chunk {}", tag_str(tag)),
            State::Padding { .. } => "chunk padding".into(),
            State::Done => "nothing".into(),
        }
    }

    fn need(&self) -> u64 {
        match &self.state {
            State::FileHeader => FILE_HEADER as u64,
            State::ChunkHeader => CHUNK_HEADER as u64,
            State::Payload { len, .. } => *len,
            State::Padding { left } => *left as u64,
            State::Done => 0,
        }
    }

    /// Feeds bytes; returns the tags of the chunks they completed, in order
    /// (their contents are in [`Self::received`]).
    pub fn push(&mut self, mut data: &[u8]) -> Result<Vec<[u8; 4]>, PortraitError> {
        let mut out = Vec::new();
        self.bytes += data.len() as u64;
        while !data.is_empty() {
            if let State::Done = self.state {
                return Err(PortraitError::Order(format!(
                    "{} bytes follow the END chunk",
                    data.len()
                )));
            }
            let need = self.need();
            let want = (need - self.buf.len() as u64).min(data.len() as u64) as usize;
            self.buf.extend_from_slice(&data[..want]);
            data = &data[want..];
            if (self.buf.len() as u64) < need {
                break;
            }
            let bytes = std::mem::take(&mut self.buf);
            if let Some(c) = self.advance(&bytes)? {
                out.push(c);
            }
            // A zero-length payload or padding completes immediately.
            while self.need() == 0 && !matches!(self.state, State::Done) {
                if let Some(c) = self.advance(&[])? {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    fn advance(&mut self, bytes: &[u8]) -> Result<Option<[u8; 4]>, PortraitError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::FileHeader => {
                chunks::check_file_header(bytes)?;
                self.state = State::ChunkHeader;
                Ok(None)
            }
            State::ChunkHeader => {
                let (tag, flags, len, crc) = chunks::parse_chunk_header(bytes)?;
                if self.seen.is_empty() && &tag != b"META" {
                    return Err(PortraitError::Order(format!(
                        "the first chunk is {}, expected META",
                        tag_str(&tag)
                    )));
                }
                if len > chunks::limits::MAX_CHUNK_BYTES {
                    return Err(PortraitError::limit(
                        &tag_str(&tag),
                        "length",
                        len,
                        chunks::limits::MAX_CHUNK_BYTES,
                    ));
                }
                self.state = State::Payload {
                    tag,
                    flags,
                    len,
                    crc,
                };
                Ok(None)
            }
            State::Payload {
                tag,
                flags,
                len,
                crc,
            } => {
                let name = tag_str(&tag);
                if crc32fast::hash(bytes) != crc {
                    return Err(PortraitError::ChunkChecksum { chunk: name });
                }
                let singleton = !matches!(&tag, b"IMAG" | b"NETW");
                if singleton && self.seen.contains(&tag) {
                    return Err(PortraitError::Duplicate(name));
                }
                self.seen.push(tag);
                self.last_tag = Some(tag);
                let chunk = decode_chunk(
                    tag,
                    flags,
                    bytes,
                    self.received.gaussians.as_ref().map(|g| g.0.len()),
                )?;
                let end = matches!(chunk, Chunk::End);
                self.store(chunk)?;
                let pad = chunks::padding(len);
                self.state = if end {
                    State::Done
                } else if pad > 0 {
                    State::Padding { left: pad }
                } else {
                    State::ChunkHeader
                };
                Ok(Some(tag))
            }
            State::Padding { .. } => {
                if bytes.iter().any(|&b| b != 0) {
                    return Err(PortraitError::field(
                        &self.last_tag.map(|t| tag_str(&t)).unwrap_or_default(),
                        "padding",
                        "must be zero bytes",
                    ));
                }
                self.state = State::ChunkHeader;
                Ok(None)
            }
            State::Done => Ok(None),
        }
    }

    fn store(&mut self, c: Chunk) -> Result<(), PortraitError> {
        let p = &mut self.received;
        match c {
            Chunk::Meta(m) => p.meta = Some(m),
            Chunk::Camera(cam) => p.camera = Some(cam),
            Chunk::Gaussians(g, pr) => p.gaussians = Some((g, pr)),
            Chunk::Deformation(d) => p.deformation = Some(d),
            Chunk::Pose(t) => p.pose = Some(t),
            Chunk::Layer(l) => push_limited(&mut p.layers, l, "IMAG", chunks::limits::MAX_LAYERS)?,
            Chunk::Network(n) => {
                push_limited(&mut p.networks, n, "NETW", chunks::limits::MAX_NETWORKS)?
            }
            Chunk::Unknown | Chunk::End => {}
        }
        Ok(())
    }

    /// Ends the stream: the END chunk must have arrived and every required
    /// chunk must be present.
    pub fn finish(self) -> Result<Portrait, PortraitError> {
        if !self.is_done() {
            let missing = self.need().saturating_sub(self.buf.len() as u64).max(1);
            return Err(PortraitError::Truncated {
                place: self.place(),
                missing,
            });
        }
        let p = self.received;
        let (gaussians, precision) = p.gaussians.ok_or(PortraitError::Missing("GAUS"))?;
        Ok(Portrait {
            meta: p.meta.ok_or(PortraitError::Missing("META"))?,
            camera: p.camera.ok_or(PortraitError::Missing("CAMR"))?,
            gaussians,
            precision,
            deformation: p.deformation,
            pose: p.pose,
            layers: p.layers,
            networks: p.networks,
        })
    }
}
