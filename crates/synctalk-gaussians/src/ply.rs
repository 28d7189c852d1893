//! The INRIA 3D Gaussian Splatting `.ply` layout (binary little-endian).
//!
//! Properties read by name: `x y z`, `f_dc_0..2`, `f_rest_0..` (0, 9, 24 or
//! 45 of them: channel-major, i.e. all red coefficients first), `opacity`,
//! `scale_0..2`, `rot_0..3` (w first). Any other vertex property (normals,
//! extras) is skipped; scalar types of any width are accepted.

use crate::cloud::{sh_coeffs_for_degree, Gaussians};
use std::path::Path;

/// Most Gaussians a file may declare.
pub const MAX_GAUSSIANS: usize = 16_000_000;

/// Errors reading a `.ply`.
#[derive(Debug, thiserror::Error)]
pub enum PlyError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The header is malformed or unsupported.
    #[error("ply header: {0}")]
    Header(String),
    /// A required property is missing.
    #[error("ply: vertex property `{0}` is missing (not a 3D Gaussian Splatting file?)")]
    MissingProperty(String),
    /// The body is shorter than the header promises.
    #[error("ply: body holds {have} bytes, but {count} vertices of {stride} bytes need {need}")]
    Truncated {
        /// Vertices declared.
        count: usize,
        /// Bytes per vertex.
        stride: usize,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A value is NaN, infinite or otherwise unusable.
    #[error("ply: {0}")]
    Invalid(#[from] crate::CloudError),
}

#[derive(Clone, Copy)]
enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "char" | "int8" => Self::I8,
            "uchar" | "uint8" => Self::U8,
            "short" | "int16" => Self::I16,
            "ushort" | "uint16" => Self::U16,
            "int" | "int32" => Self::I32,
            "uint" | "uint32" => Self::U32,
            "float" | "float32" => Self::F32,
            "double" | "float64" => Self::F64,
            _ => return None,
        })
    }
    fn size(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }
    fn read(self, b: &[u8]) -> f32 {
        match self {
            Self::I8 => b[0] as i8 as f32,
            Self::U8 => b[0] as f32,
            Self::I16 => i16::from_le_bytes([b[0], b[1]]) as f32,
            Self::U16 => u16::from_le_bytes([b[0], b[1]]) as f32,
            Self::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            Self::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            Self::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Self::F64 => {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
        }
    }
}

/// Reads a 3DGS `.ply` file.
pub fn read_file(path: &Path) -> Result<Gaussians, PlyError> {
    let bytes = std::fs::read(path).map_err(|source| PlyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&bytes)
}

/// Parses a 3DGS `.ply` from memory and validates the values.
pub fn parse(bytes: &[u8]) -> Result<Gaussians, PlyError> {
    const END: &[u8] = b"end_header\n";
    let header_len = bytes
        .windows(END.len())
        .take(1 << 16)
        .position(|w| w == END)
        .ok_or_else(|| PlyError::Header("no `end_header` line in the first 64 KiB".into()))?
        + END.len();
    let header = std::str::from_utf8(&bytes[..header_len])
        .map_err(|_| PlyError::Header("not UTF-8 text".into()))?;
    let mut lines = header.lines().map(str::trim);
    if lines.next() != Some("ply") {
        return Err(PlyError::Header("does not start with `ply`".into()));
    }
    let mut count: Option<usize> = None;
    let mut in_vertex = false;
    let mut props: Vec<(String, Scalar, usize)> = Vec::new();
    let mut stride = 0usize;
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["format", "binary_little_endian", _] => {}
            ["format", other, ..] => {
                return Err(PlyError::Header(format!(
                    "format `{other}` unsupported; use binary_little_endian"
                )))
            }
            ["element", name, n] => {
                if count.is_some() {
                    in_vertex = false; // later elements (faces...) are ignored
                    continue;
                }
                if *name != "vertex" {
                    return Err(PlyError::Header(format!(
                        "first element is `{name}`, expected `vertex`"
                    )));
                }
                let n: usize = n
                    .parse()
                    .map_err(|_| PlyError::Header(format!("vertex count `{n}` is not a number")))?;
                if n > MAX_GAUSSIANS {
                    return Err(PlyError::Header(format!(
                        "{n} vertices exceed the limit of {MAX_GAUSSIANS}"
                    )));
                }
                count = Some(n);
                in_vertex = true;
            }
            ["property", "list", ..] if in_vertex => {
                return Err(PlyError::Header(
                    "list properties in `vertex` are unsupported".into(),
                ))
            }
            ["property", ty, name] if in_vertex => {
                let s = Scalar::parse(ty).ok_or_else(|| {
                    PlyError::Header(format!("property `{name}` has unknown type `{ty}`"))
                })?;
                props.push((name.to_string(), s, stride));
                stride += s.size();
            }
            _ => {}
        }
    }
    let count = count.ok_or_else(|| PlyError::Header("no `element vertex` line".into()))?;
    let body = &bytes[header_len..];
    let need = count
        .checked_mul(stride)
        .ok_or_else(|| PlyError::Header("vertex size overflows".into()))?;
    if body.len() < need {
        return Err(PlyError::Truncated {
            count,
            stride,
            need,
            have: body.len(),
        });
    }
    let find = |name: &str| -> Result<(Scalar, usize), PlyError> {
        props
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, o)| (*s, *o))
            .ok_or_else(|| PlyError::MissingProperty(name.to_string()))
    };
    let rest = props
        .iter()
        .filter(|(n, _, _)| n.starts_with("f_rest_"))
        .count();
    let sh_degree = match rest {
        0 => 0,
        9 => 1,
        24 => 2,
        45 => 3,
        r => {
            return Err(PlyError::Header(format!(
                "{r} `f_rest_*` properties; expected 0, 9, 24 or 45"
            )))
        }
    };
    let coeffs = sh_coeffs_for_degree(sh_degree);
    let get = |names: &[String]| -> Result<Vec<(Scalar, usize)>, PlyError> {
        names.iter().map(|n| find(n)).collect()
    };
    let names = |prefix: &str, k: usize| -> Vec<String> {
        (0..k).map(|i| format!("{prefix}{i}")).collect()
    };
    let pos = get(&["x".into(), "y".into(), "z".into()])?;
    let dc = get(&names("f_dc_", 3))?;
    let fr = get(&names("f_rest_", rest))?;
    let op = find("opacity")?;
    let sc = get(&names("scale_", 3))?;
    let rot = get(&names("rot_", 4))?;

    let mut g = Gaussians {
        sh_degree,
        positions: Vec::with_capacity(count),
        rotations: Vec::with_capacity(count),
        log_scales: Vec::with_capacity(count),
        opacity_logits: Vec::with_capacity(count),
        sh: Vec::with_capacity(count * coeffs),
    };
    for v in body[..need].chunks_exact(stride.max(1)).take(count) {
        let r = |(s, o): (Scalar, usize)| s.read(&v[o..]);
        g.positions.push([r(pos[0]), r(pos[1]), r(pos[2])]);
        g.rotations
            .push([r(rot[0]), r(rot[1]), r(rot[2]), r(rot[3])]);
        g.log_scales.push([r(sc[0]), r(sc[1]), r(sc[2])]);
        g.opacity_logits.push(r(op));
        g.sh.push([r(dc[0]), r(dc[1]), r(dc[2])]);
        for k in 1..coeffs {
            let at = |c: usize| r(fr[c * (coeffs - 1) + k - 1]);
            g.sh.push([at(0), at(1), at(2)]);
        }
    }
    g.validate()?;
    Ok(g)
}

/// Writes a cloud in the INRIA layout (float32, zero normals).
pub fn write(g: &Gaussians) -> Vec<u8> {
    let coeffs = g.sh_coeffs();
    let mut header = String::from("ply\nformat binary_little_endian 1.0\n");
    header += &format!("element vertex {}\n", g.len());
    let mut names: Vec<String> = [
        "x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2",
    ]
    .map(String::from)
    .to_vec();
    names.extend((0..3 * (coeffs - 1)).map(|i| format!("f_rest_{i}")));
    names.push("opacity".into());
    names.extend((0..3).map(|i| format!("scale_{i}")));
    names.extend((0..4).map(|i| format!("rot_{i}")));
    for n in &names {
        header += &format!("property float {n}\n");
    }
    header += "end_header\n";
    let mut out = header.into_bytes();
    out.reserve(g.len() * names.len() * 4);
    for i in 0..g.len() {
        let mut row: Vec<f32> = Vec::with_capacity(names.len());
        row.extend(g.positions[i]);
        row.extend([0.0; 3]);
        row.extend(g.sh[i * coeffs]);
        for c in 0..3 {
            row.extend((1..coeffs).map(|k| g.sh[i * coeffs + k][c]));
        }
        row.push(g.opacity_logits[i]);
        row.extend(g.log_scales[i]);
        row.extend(g.rotations[i]);
        for x in row {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}
