//! A `synctalk-prepare` dataset loaded as torch_trainer.py's `load_dataset` loads it.
//!
//! The folder holds `dataset.json` (format `synctalk-dataset` v1: frame
//! count, fps, train/val split), `transforms.json` (pinhole intrinsics in
//! pixels, each frame's head-to-camera pose in cm), `frames/NNNNNN.jpg`,
//! `parsing/NNNNNN.png` (8-bit labels, [`masks::labels`]),
//! `torso/NNNNNN.png` (RGBA), `background.png`, `landmarks.npy` [T, 478, 3]
//! (pixels), `blendshapes.npy` [T, 52] with `blendshapes.json` (their
//! names) and `canonical_face.npy` [478, 3] (head space, cm).
//!
//! [`Dataset::open`] decodes every frame up front, on as many threads as
//! the machine has (up to 8), and keeps per frame the packed target
//! (frame RGB and mask bits), the layer under the head (extended torso over
//! the plate) and the extended torso itself: 12 bytes a pixel, 3 MiB per
//! 512 × 512 frame (a 5-minute clip at 25 fps: 22 GB; subsample frames for
//! longer clips).
//!
//! What differs from torch_trainer.py: JPEG frames are decoded by `zune-jpeg`, not
//! libjpeg-turbo (the tests measure the agreement); polygons reaching out
//! of the image are clipped per pixel ([`masks::fill_poly`]); and the
//! loader checks more than torch_trainer.py does (array shapes, frame counts,
//! finite values), naming the file at fault.

#![warn(missing_docs)]

pub mod holdout;
pub mod init;
pub mod masks;
pub mod npy;
pub mod torso;

use std::path::{Path, PathBuf};

pub use holdout::{Holdout, FARTHEST_FRACTION};
pub use init::initial_points;

mod load;

/// Where a dataset's files come from: a folder ([`Dataset::open`]), or
/// bytes already in memory ([`InMemory`]: a web page that fetched them or
/// took them from the user).
pub trait DatasetFiles: Sync {
    /// The bytes of `name`, a `/`-separated path below the dataset's root
    /// (`dataset.json`, `frames/000000.jpg`, …). A missing file is an
    /// [`std::io::ErrorKind::NotFound`] error.
    fn read(&self, name: &str) -> std::io::Result<Vec<u8>>;
}

/// A dataset folder on disk.
struct Folder<'a>(&'a Path);

impl DatasetFiles for Folder<'_> {
    fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.0.join(name))
    }
}

/// A dataset's files held in memory, by name.
#[derive(Clone, Debug, Default)]
pub struct InMemory(pub std::collections::HashMap<String, Vec<u8>>);

impl DatasetFiles for InMemory {
    fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        self.0.get(name).cloned().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{name} was not given"),
            )
        })
    }
}

/// Why a dataset cannot be loaded; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The folder has no `dataset.json`: not a finished `synctalk-prepare`
    /// output.
    #[error("{}: no dataset.json (not a finished `synctalk-prepare` output)", root.display())]
    NotADataset {
        /// The dataset folder.
        root: PathBuf,
    },
    /// A file is missing or cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file does not parse or lacks a field.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A file's content is not what a `synctalk-dataset` v1 holds: a wrong
    /// format or version, or counts and sizes that disagree.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An image does not decode, or is not of the dataset's size or kind.
    #[error("{}: {reason}", path.display())]
    Image {
        /// The image.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `.npy` file is malformed, or of the wrong dtype or shape.
    #[error("{}: {reason}", path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl DatasetError {
    /// The file (or, for [`DatasetError::NotADataset`], the folder) the
    /// error is about.
    pub fn path(&self) -> &Path {
        match self {
            DatasetError::NotADataset { root } => root,
            DatasetError::Io { path, .. }
            | DatasetError::Json { path, .. }
            | DatasetError::Format { path, .. }
            | DatasetError::Image { path, .. }
            | DatasetError::Npy { path, .. } => path,
        }
    }
}

/// One decoded frame, row-major, `width × height` pixels each.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The frame and its loss masks as the loss kernels read them
    /// ([`crate::gpu::pack_target`]): `r | g << 8 | b << 16 | bits << 24`
    /// with the mask bits [`masks::HEAD`], [`masks::HEAD_INTERIOR`],
    /// [`masks::FAR_OUTSIDE`] and [`masks::MOUTH`].
    pub target: Vec<u32>,
    /// The layer the head is composited on, torch_trainer.py's `under`: the
    /// extended torso over the background plate,
    /// `round(torso · a + plate · (1 − a))`, packed `r | g << 8 | b << 16 |
    /// 255 << 24`.
    pub under: Vec<u32>,
    /// The extended torso layer ([`torso::extend_torso`]): RGBA, straight
    /// alpha (0 or 255 in a `synctalk-prepare` dataset), for the portrait's
    /// per-frame torso.
    pub torso: Vec<[u8; 4]>,
}

impl Frame {
    /// Pixel `i`'s RGB (from [`Frame::target`]).
    pub fn rgb(&self, i: usize) -> [u8; 3] {
        let [r, g, b, _] = self.target[i].to_le_bytes();
        [r, g, b]
    }

    /// Pixel `i`'s mask bits (from [`Frame::target`]).
    pub fn mask(&self, i: usize) -> u8 {
        self.target[i].to_le_bytes()[3]
    }

    /// Pixel `i` of [`Frame::under`] as RGB.
    pub fn under_rgb(&self, i: usize) -> [u8; 3] {
        let [r, g, b, _] = self.under[i].to_le_bytes();
        [r, g, b]
    }
}

/// A loaded dataset: metadata, per-frame arrays and every frame decoded.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The dataset folder.
    pub root: PathBuf,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// Focal length along x, pixels (`fl_x`).
    pub fx: f64,
    /// Focal length along y, pixels (`fl_y`; `synctalk-prepare` writes
    /// `fl_x` for both, and torch_trainer.py uses `fl_x` for both in `initial_points`).
    pub fy: f64,
    /// Principal point x, pixels.
    pub cx: f64,
    /// Principal point y, pixels.
    pub cy: f64,
    /// Per frame, the head-to-camera transform (head space in cm, camera
    /// looking down +z, y down), row-major as in `transforms.json`.
    pub head_to_camera: Vec<[[f64; 4]; 4]>,
    /// Blendshape weights, `frame_count × blendshape_names.len()`, row-major
    /// ([`Dataset::blendshapes_of`]).
    pub blendshapes: Vec<f32>,
    /// The blendshapes' names (`blendshapes.json`), MediaPipe's order.
    pub blendshape_names: Vec<String>,
    /// The training frames, ascending (`dataset.json`'s split, or
    /// [`Dataset::hold_out`]'s).
    pub train: Vec<usize>,
    /// The held-out frames, ascending.
    pub val: Vec<usize>,
    /// The source video, as `dataset.json` names it.
    pub source: String,
    /// The identity of the video and toolchain that made it, if recorded.
    pub fingerprint: Option<String>,
    /// The background plate, RGB, row-major.
    pub background: Vec<[u8; 3]>,
    /// Per frame, the landmarks' bounding box `[x0, y0, x1, y1]` (floor of
    /// the minimum, ceil of the maximum, clipped to the frame), as
    /// `metrics.face_box`.
    pub face_boxes: Vec<[u32; 4]>,
    /// Landmarks per frame (`landmarks_per_frame` each, pixels and depth),
    /// row-major ([`Dataset::landmarks_of`]).
    pub landmarks: Vec<[f32; 3]>,
    /// How many landmarks a frame has (478 for MediaPipe's mesh with irises).
    pub landmarks_per_frame: usize,
    /// The stabilizer's canonical face (head space, cm).
    pub canonical_face: Vec<[f32; 3]>,
    /// The decoded frames.
    pub frames: Vec<Frame>,
}

impl Dataset {
    /// Loads the dataset in `root`, decoding every frame. Errors name the
    /// file at fault: a missing or unreadable file, a wrong format or
    /// version, an image that does not decode or is not `width × height`,
    /// an array of the wrong dtype or shape.
    pub fn open(root: &Path) -> Result<Dataset, DatasetError> {
        load::open(load::Src {
            root,
            files: &Folder(root),
        })
    }

    /// Loads a dataset from `files` (as [`Dataset::open`] does from a
    /// folder); errors name the files below `name`.
    pub fn from_files(name: &Path, files: &dyn DatasetFiles) -> Result<Dataset, DatasetError> {
        load::open(load::Src { root: name, files })
    }

    /// The number of frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Pixels per frame.
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Frame `t`'s blendshape weights.
    pub fn blendshapes_of(&self, t: usize) -> &[f32] {
        let k = self.blendshape_names.len();
        &self.blendshapes[t * k..(t + 1) * k]
    }

    /// Frame `t`'s landmarks.
    pub fn landmarks_of(&self, t: usize) -> &[[f32; 3]] {
        let n = self.landmarks_per_frame;
        &self.landmarks[t * n..(t + 1) * n]
    }

    /// The intrinsic matrix `[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`.
    pub fn intrinsics(&self) -> [[f64; 3]; 3] {
        [
            [self.fx, 0.0, self.cx],
            [0.0, self.fy, self.cy],
            [0.0, 0.0, 1.0],
        ]
    }
}

/// `metrics.face_box`: the bounding box of `landmarks` (x, y in pixels),
/// floor of the minimum and ceil of the maximum, clipped to `[0, width]` ×
/// `[0, height]`.
pub fn face_box(landmarks: &[[f32; 3]], width: u32, height: u32) -> [u32; 4] {
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in landmarks {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let clip = |v: f32, max: u32| v.clamp(0.0, max as f32) as u32;
    [
        clip(lo[0].floor(), width),
        clip(lo[1].floor(), height),
        clip(hi[0].ceil(), width),
        clip(hi[1].ceil(), height),
    ]
}
