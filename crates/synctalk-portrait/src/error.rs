//! Errors of the portrait reader and writer.

/// Why a portrait file was refused. Every variant names where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum PortraitError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The first bytes are not a portrait file's signature.
    #[error("not a SyncTalk portrait: bad signature in the file header")]
    BadMagic,
    /// A major version this reader does not understand.
    #[error(
        "file header: format version {major}.{minor} is not supported (this reader reads 1.x)"
    )]
    Version {
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// The file header's checksum does not match.
    #[error("file header: checksum mismatch (corrupt file)")]
    HeaderChecksum,
    /// The data ended early.
    #[error("truncated file: it ends inside {place} ({missing} more bytes expected)")]
    Truncated {
        /// Where: "file header", "chunk header after GAUS", "chunk GAUS"...
        place: String,
        /// Bytes missing, at least.
        missing: u64,
    },
    /// A chunk's payload checksum does not match.
    #[error("chunk {chunk}: checksum mismatch (corrupt file)")]
    ChunkChecksum {
        /// Chunk tag.
        chunk: String,
    },
    /// A value exceeds a limit of the format.
    #[error("chunk {chunk}, field `{field}`: {value} exceeds the limit of {limit}")]
    Limit {
        /// Chunk tag.
        chunk: String,
        /// Field.
        field: &'static str,
        /// The value found.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// A field holds an invalid value.
    #[error("chunk {chunk}, field `{field}`: {why}")]
    Field {
        /// Chunk tag.
        chunk: String,
        /// Field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A required chunk is absent.
    #[error("chunk {0} is missing")]
    Missing(&'static str),
    /// A chunk that may appear once appears again.
    #[error("chunk {0} appears more than once")]
    Duplicate(String),
    /// A critical chunk this reader does not know.
    #[error("chunk {0} is critical but unknown to this reader (file needs a newer version)")]
    UnknownCritical(String),
    /// Chunks out of order or bytes after the END chunk.
    #[error("chunk order: {0}")]
    Order(String),
}

impl PortraitError {
    pub(crate) fn field(chunk: &str, field: &'static str, why: impl Into<String>) -> Self {
        Self::Field {
            chunk: chunk.to_string(),
            field,
            why: why.into(),
        }
    }

    pub(crate) fn limit(chunk: &str, field: &'static str, value: u64, limit: u64) -> Self {
        Self::Limit {
            chunk: chunk.to_string(),
            field,
            value,
            limit,
        }
    }
}
