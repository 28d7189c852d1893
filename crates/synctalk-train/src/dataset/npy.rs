//! A small reader of the `.npy` files `synctalk-prepare` writes (landmarks,
//! blendshapes, the canonical face): NumPy format versions 1 to 3,
//! little-endian (or one-byte) floats and integers in C order.
//!
//! Hand-written rather than a crate: the dataset needs only these few dtypes
//! and shapes, every value is widened to `f64`, and a malformed file must
//! give a [`DatasetError`] naming it, never a panic. About 100 lines.

use std::path::Path;

use super::DatasetError;

/// An array read from a `.npy` file: its shape and its values in C order,
/// widened to `f64` (exact for every dtype read except 64-bit integers
/// beyond 2⁵³).
#[derive(Debug, Clone)]
pub struct NpyArray {
    /// The shape, outermost first.
    pub shape: Vec<usize>,
    /// The values, C order.
    pub values: Vec<f64>,
}

/// Reads `path`. Errors name the file: missing, truncated, not `.npy`,
/// Fortran order, a big-endian or unsupported dtype, or a size that does not
/// match the shape.
pub fn read(path: &Path) -> Result<NpyArray, DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes).map_err(|reason| DatasetError::Npy {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses the bytes of a `.npy` file.
pub fn parse(b: &[u8]) -> Result<NpyArray, String> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let (hlen, start) = match b[6] {
        1 => (usize::from(u16::from_le_bytes([b[8], b[9]])), 10usize),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let header = b
        .get(start..start.saturating_add(hlen))
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = field(header, "descr")
        .and_then(|v| v.strip_prefix('\'').and_then(|v| v.split('\'').next()))
        .ok_or_else(|| format!("no dtype in the header {header:?}"))?;
    let fortran = field(header, "fortran_order").ok_or("no fortran_order in the header")?;
    if fortran.starts_with("True") {
        return Err("Fortran-order arrays are not supported (save it in C order)".into());
    }
    let shape_text = field(header, "shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split(')').next())
        .ok_or("no shape in the header")?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape ({shape_text})"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or("shape overflows")?;
    let (size, convert): (usize, fn(&[u8]) -> f64) = match descr {
        "<f4" => (4, |c| {
            f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        }),
        "<f8" => (8, |c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
        "|u1" | "<u1" => (1, |c| f64::from(c[0])),
        "|i1" | "<i1" => (1, |c| f64::from(c[0] as i8)),
        "<u2" => (2, |c| f64::from(u16::from_le_bytes([c[0], c[1]]))),
        "<i2" => (2, |c| f64::from(i16::from_le_bytes([c[0], c[1]]))),
        "<u4" => (4, |c| {
            f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        }),
        "<i4" => (4, |c| {
            f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        }),
        "<u8" => (8, |c| {
            u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64
        }),
        "<i8" => (8, |c| {
            i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64
        }),
        other => {
            return Err(format!(
                "unsupported dtype {other:?} (little-endian floats and integers only)"
            ))
        }
    };
    let data = &b[start + hlen..];
    let want = count.checked_mul(size).ok_or("shape overflows")?;
    if data.len() != want {
        return Err(format!(
            "{} bytes of data for shape {shape:?} of {descr}, expected {want}{}",
            data.len(),
            if data.len() < want {
                " (truncated)"
            } else {
                ""
            }
        ));
    }
    Ok(NpyArray {
        shape,
        values: data.chunks_exact(size).map(convert).collect(),
    })
}

/// The text after `'key':` in a header dict, leading spaces trimmed.
fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}':"))?;
    Some(header[at + key.len() + 3..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        npy_order(descr, "False", shape, data)
    }

    fn npy_order(descr: &str, fortran: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn reads_floats_and_ints() {
        let f: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = parse(&npy("<f4", "(2,)", &f)).unwrap();
        assert_eq!((a.shape, a.values), (vec![2], vec![1.5, -2.0]));
        let i: Vec<u8> = [7i64, -3, 0, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = parse(&npy("<i8", "(2, 2)", &i)).unwrap();
        assert_eq!((a.shape, a.values), (vec![2, 2], vec![7.0, -3.0, 0.0, 1.0]));
        let a = parse(&npy("|u1", "()", &[9])).unwrap();
        assert_eq!((a.shape, a.values), (vec![], vec![9.0]));
    }

    #[test]
    fn rejects_bad_files() {
        let f = [0u8; 8];
        assert!(parse(&npy(">f4", "(2,)", &f))
            .unwrap_err()
            .contains("dtype"));
        assert!(parse(&npy("<c8", "(1,)", &f))
            .unwrap_err()
            .contains("dtype"));
        assert!(parse(&npy("<f4", "(3,)", &f))
            .unwrap_err()
            .contains("truncated"));
        assert!(parse(b"PK\x03\x04").unwrap_err().contains("magic"));
        let mut b = npy("<f4", "(2,)", &f);
        b.truncate(20);
        assert!(parse(&b).unwrap_err().contains("header"));
        let fortran = npy_order("<f4", "True", "(2,)", &f);
        assert!(parse(&fortran).unwrap_err().contains("Fortran"));
    }
}
