//! Test support shared by the workspace's tests: the repository's test-vector
//! folder, a reader for the float32 `.npy` files the Python toolchain writes
//! there and one for 16-bit PCM WAV samples. Panics on malformed files: it is
//! for tests only.

use std::path::{Path, PathBuf};

/// `tests/vectors/<name>` at the top of the repository.
pub fn vectors(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors")
        .join(name)
}

/// `models/networks`: the shipped speaker-independent networks (Face-Sync,
/// the Expression Generator, Head-Sync) with their reference outputs.
pub fn networks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/networks")
}

/// `crates/synctalk-testdata/data/<name>`: fixtures kept with this crate
/// (`dataset-mini`: a 6-frame `synctalk-prepare` dataset, see its README).
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// The 6-frame `synctalk-prepare` dataset of an HDTF clip (CC BY 4.0) with
/// what torch_trainer.py's `load_dataset` makes of it (`expected/`).
pub fn dataset_mini() -> PathBuf {
    data("dataset-mini")
}

/// Reads a little-endian float32, C-order `.npy` file: its shape and values.
pub fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..6], b"\x93NUMPY", "{} is not .npy", path.display());
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).expect("header");
    assert!(
        header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"),
        "{}: {header}",
        path.display()
    );
    let shape: Vec<usize> = header
        .split("'shape': (")
        .nth(1)
        .expect("shape")
        .split(')')
        .next()
        .expect("shape")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data: Vec<f32> = b[start + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "{}",
        path.display()
    );
    (shape, data)
}

/// The samples of a 16-bit PCM mono WAV file (as the repository's speech
/// files are), scaled to [-1, 1): the bytes after its `data` chunk header.
pub fn read_wav_i16(path: &Path) -> Vec<f32> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let data = b
        .windows(4)
        .position(|w| w == b"data")
        .unwrap_or_else(|| panic!("{}: no data chunk", path.display()))
        + 8;
    b[data..]
        .chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
        .collect()
}

/// A folder of its own under the system's temporary folder, removed with
/// everything in it when dropped, so that test runs leave nothing behind.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `synctalk-<label>-<pid>-<n>`, unique within the process.
    pub fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("synctalk-{label}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
