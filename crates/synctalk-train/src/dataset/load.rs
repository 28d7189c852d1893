//! [`super::Dataset::open`] and [`super::Dataset::from_files`]: reading and
//! checking the files, decoding the frames on worker threads (where the
//! platform has threads).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Deserialize;

use super::{face_box, masks, npy, torso, Dataset, DatasetError, DatasetFiles, Frame};
use crate::gpu::pack_target;

/// The largest frame side accepted (guards allocations against a corrupt
/// `transforms.json`).
const MAX_SIDE: u32 = 16384;
/// At most this many decoding threads.
const MAX_WORKERS: usize = 8;

#[derive(Deserialize)]
struct Meta {
    frames: usize,
    fps: f64,
    split: Split,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct Split {
    train: [usize; 2],
    val: [usize; 2],
}

#[derive(Deserialize)]
struct Transforms {
    fl_x: f64,
    fl_y: f64,
    cx: f64,
    cy: f64,
    w: u32,
    h: u32,
    frames: Vec<PoseFrame>,
}

#[derive(Deserialize)]
struct PoseFrame {
    head_to_camera: [[f64; 4]; 4],
}

fn format_error(path: &Path, reason: impl Into<String>) -> DatasetError {
    DatasetError::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A dataset's files as read: where they come from, and the root their
/// names are joined to in errors.
#[derive(Clone, Copy)]
pub(super) struct Src<'a> {
    pub(super) root: &'a Path,
    pub(super) files: &'a dyn DatasetFiles,
}

impl Src<'_> {
    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, DatasetError> {
        self.files.read(name).map_err(|source| DatasetError::Io {
            path: self.path(name),
            source,
        })
    }
}

fn read_json<T: serde::de::DeserializeOwned>(src: Src, name: &str) -> Result<T, DatasetError> {
    serde_json::from_slice(&src.bytes(name)?).map_err(|source| DatasetError::Json {
        path: src.path(name),
        source,
    })
}

/// Reads a `.npy` array and checks its shape: `None` entries match any
/// extent. Returns the values.
fn read_array(
    src: Src,
    name: &str,
    shape: &[Option<usize>],
) -> Result<npy::NpyArray, DatasetError> {
    let path = src.path(name);
    let a = npy::parse(&src.bytes(name)?).map_err(|reason| DatasetError::Npy {
        path: path.clone(),
        reason,
    })?;
    let fits = a.shape.len() == shape.len()
        && a.shape
            .iter()
            .zip(shape)
            .all(|(&d, s)| s.is_none_or(|s| s == d));
    if !fits {
        let want: Vec<String> = shape
            .iter()
            .map(|s| s.map_or("_".to_string(), |s| s.to_string()))
            .collect();
        return Err(DatasetError::Npy {
            path,
            reason: format!("shape {:?}, expected [{}]", a.shape, want.join(", ")),
        });
    }
    if let Some(i) = a.values.iter().position(|v| !v.is_finite()) {
        return Err(DatasetError::Npy {
            path,
            reason: format!("value {i} is not finite"),
        });
    }
    Ok(a)
}

pub(super) fn open(src: Src) -> Result<Dataset, DatasetError> {
    let root = src.root;
    let meta_path = src.path("dataset.json");
    let meta_bytes = match src.files.read("dataset.json") {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DatasetError::NotADataset {
                root: root.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(DatasetError::Io {
                path: meta_path,
                source,
            })
        }
    };
    let raw: serde_json::Value =
        serde_json::from_slice(&meta_bytes).map_err(|source| DatasetError::Json {
            path: meta_path.clone(),
            source,
        })?;
    let version_one = raw.get("version").and_then(serde_json::Value::as_f64) == Some(1.0);
    if raw.get("format").and_then(serde_json::Value::as_str) != Some("synctalk-dataset")
        || !version_one
    {
        return Err(format_error(&meta_path, "not a synctalk-dataset v1"));
    }
    let meta: Meta = serde_json::from_value(raw).map_err(|source| DatasetError::Json {
        path: meta_path.clone(),
        source,
    })?;
    let t_count = meta.frames;
    if t_count == 0 {
        return Err(format_error(&meta_path, "no frames"));
    }
    if !(meta.fps.is_finite() && meta.fps > 0.0) {
        return Err(format_error(
            &meta_path,
            format!("fps {} is not positive", meta.fps),
        ));
    }
    let range = |name: &str, r: [usize; 2]| {
        if r[0] <= r[1] && r[1] <= t_count {
            Ok((r[0]..r[1]).collect::<Vec<usize>>())
        } else {
            Err(format_error(
                &meta_path,
                format!("split {name} {r:?} is not within the {t_count} frames"),
            ))
        }
    };
    let (train, val) = (
        range("train", meta.split.train)?,
        range("val", meta.split.val)?,
    );

    let tr_path = src.path("transforms.json");
    let tr: Transforms = read_json(src, "transforms.json")?;
    let (w, h) = (tr.w, tr.h);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(format_error(
            &tr_path,
            format!("frame size {w}x{h} out of range"),
        ));
    }
    if tr.frames.len() != t_count {
        return Err(format_error(
            &tr_path,
            format!("{} frames, dataset.json says {t_count}", tr.frames.len()),
        ));
    }
    let intrinsics = [tr.fl_x, tr.fl_y, tr.cx, tr.cy];
    if !intrinsics.iter().all(|v| v.is_finite()) || tr.fl_x <= 0.0 || tr.fl_y <= 0.0 {
        return Err(format_error(
            &tr_path,
            format!("bad intrinsics {intrinsics:?}"),
        ));
    }
    let head_to_camera: Vec<[[f64; 4]; 4]> = tr.frames.iter().map(|f| f.head_to_camera).collect();
    if let Some(t) = head_to_camera
        .iter()
        .position(|m| !m.iter().flatten().all(|v| v.is_finite()))
    {
        return Err(format_error(
            &tr_path,
            format!("frame {t}'s pose is not finite"),
        ));
    }

    let lm_path = src.path("landmarks.npy");
    let lm = read_array(src, "landmarks.npy", &[Some(t_count), None, None])?;
    let (n_lm, dims) = (lm.shape[1], lm.shape[2]);
    if n_lm <= masks::OUTER_LIPS.iter().copied().max().unwrap_or(0) || !(2..=3).contains(&dims) {
        return Err(DatasetError::Npy {
            path: lm_path,
            reason: format!("shape {:?}, expected [{t_count}, 478, 3]", lm.shape),
        });
    }
    let landmarks: Vec<[f32; 3]> = lm
        .values
        .chunks_exact(dims)
        .map(|p| {
            [
                p[0] as f32,
                p[1] as f32,
                p.get(2).map_or(0.0, |&z| z as f32),
            ]
        })
        .collect();

    let background = read_png(src, "background.png", w, h, Channels::Rgb)?
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect::<Vec<[u8; 3]>>();

    let bs = read_array(src, "blendshapes.npy", &[Some(t_count), None])?;
    let names_path = src.path("blendshapes.json");
    let blendshape_names: Vec<String> = read_json(src, "blendshapes.json")?;
    if blendshape_names.len() != bs.shape[1] {
        return Err(format_error(
            &names_path,
            format!(
                "{} names for the {} blendshapes of blendshapes.npy",
                blendshape_names.len(),
                bs.shape[1]
            ),
        ));
    }
    let canon = read_array(src, "canonical_face.npy", &[None, Some(3)])?;
    let canonical_face: Vec<[f32; 3]> = canon
        .values
        .chunks_exact(3)
        .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
        .collect();

    let face_boxes = landmarks
        .chunks_exact(n_lm)
        .map(|l| face_box(l, w, h))
        .collect();
    let frames = decode_frames(
        src,
        t_count,
        w as usize,
        h as usize,
        &landmarks,
        n_lm,
        &background,
    )?;
    Ok(Dataset {
        root: root.to_path_buf(),
        width: w,
        height: h,
        fps: meta.fps,
        fx: tr.fl_x,
        fy: tr.fl_y,
        cx: tr.cx,
        cy: tr.cy,
        head_to_camera,
        blendshapes: bs.values.iter().map(|&v| v as f32).collect(),
        blendshape_names,
        train,
        val,
        source: meta.source.unwrap_or_default(),
        fingerprint: meta.fingerprint,
        background,
        face_boxes,
        landmarks,
        landmarks_per_frame: n_lm,
        canonical_face,
        frames,
    })
}

/// Decodes every frame on worker threads; the first error by frame order
/// wins, so that the error does not depend on the scheduling.
fn decode_frames(
    src: Src,
    count: usize,
    w: usize,
    h: usize,
    landmarks: &[[f32; 3]],
    n_lm: usize,
    background: &[[u8; 3]],
) -> Result<Vec<Frame>, DatasetError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS)
        .min(count);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Frame, DatasetError>>>> =
        Mutex::new((0..count).map(|_| None).collect());
    let work = || loop {
        let t = next.fetch_add(1, Ordering::Relaxed);
        if t >= count {
            break;
        }
        let lm = &landmarks[t * n_lm..(t + 1) * n_lm];
        let r = load_frame(src, t, w, h, lm, background);
        if let Ok(mut all) = results.lock() {
            all[t] = Some(r);
        }
    };
    if workers > 1 {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(work);
            }
        });
    } else {
        work();
    }
    let all = results.into_inner().unwrap_or_else(|e| e.into_inner());
    all.into_iter()
        .enumerate()
        .map(|(t, r)| {
            r.unwrap_or_else(|| {
                Err(format_error(
                    &src.path(&frame_name("frames", t, "jpg")),
                    "not decoded (a decoding thread failed)",
                ))
            })
        })
        .collect()
}

fn frame_name(dir: &str, t: usize, ext: &str) -> String {
    format!("{dir}/{t:06}.{ext}")
}

/// One frame: decoded, masked, its torso extended and composited.
fn load_frame(
    src: Src,
    t: usize,
    w: usize,
    h: usize,
    landmarks: &[[f32; 3]],
    background: &[[u8; 3]],
) -> Result<Frame, DatasetError> {
    let rgb = read_jpeg(src, &frame_name("frames", t, "jpg"), w, h)?;
    let labels = read_png(
        src,
        &frame_name("parsing", t, "png"),
        w as u32,
        h as u32,
        Channels::Grey,
    )?;
    let torso_raw: Vec<[u8; 4]> = read_png(
        src,
        &frame_name("torso", t, "png"),
        w as u32,
        h as u32,
        Channels::Rgba,
    )?
    .chunks_exact(4)
    .map(|c| [c[0], c[1], c[2], c[3]])
    .collect();
    let (bits, head) = masks::frame_masks(&labels, w, h, landmarks);
    let torso = torso::extend_torso(&torso_raw, &head, w, h);
    let target = (0..w * h)
        .map(|i| pack_target([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]], bits[i]))
        .collect();
    let under = torso
        .iter()
        .zip(background)
        .map(|(t, b)| {
            // numpy's float32 arithmetic, rounded half to even.
            let a = f32::from(t[3]) / 255.0;
            let c = |k: usize| {
                (f32::from(t[k]) * a + f32::from(b[k]) * (1.0 - a))
                    .round_ties_even()
                    .clamp(0.0, 255.0) as u8
            };
            u32::from_le_bytes([c(0), c(1), c(2), 255])
        })
        .collect();
    Ok(Frame {
        target,
        under,
        torso,
    })
}

/// Decodes a JPEG to RGB, checking its size; truncated or corrupt data is an
/// error (zune-jpeg's strict mode), not grey fill.
fn read_jpeg(src: Src, name: &str, w: usize, h: usize) -> Result<Vec<u8>, DatasetError> {
    use zune_jpeg::zune_core::{
        bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions,
    };
    let bytes = src.bytes(name)?;
    let bad = |reason: String| DatasetError::Image {
        path: src.path(name),
        reason,
    };
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(&bytes), options);
    dec.decode_headers()
        .map_err(|e| bad(format!("not a readable JPEG: {e:?}")))?;
    let info = dec.info().ok_or_else(|| bad("no JPEG header".into()))?;
    let (iw, ih) = (usize::from(info.width), usize::from(info.height));
    if (iw, ih) != (w, h) {
        return Err(bad(format!("{iw}x{ih}, expected {w}x{h}")));
    }
    let mut out = vec![0u8; w * h * 3];
    dec.decode_into(&mut out)
        .map_err(|e| bad(format!("cannot decode the JPEG: {e:?}")))?;
    Ok(out)
}

/// What a PNG is read as.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Channels {
    /// 8-bit labels (`cv2.IMREAD_UNCHANGED` of a grey image): grey only.
    Grey,
    /// RGBA, 8 bits (the torso layers): RGBA only.
    Rgba,
    /// Any 8- or 16-bit image to RGB, as `cv2.imread`'s colour mode: grey
    /// repeated, alpha dropped, 16 bits to their high byte.
    Rgb,
}

/// Decodes a PNG of `w` × `h` into `channels`' layout, row-major.
fn read_png(
    src: Src,
    name: &str,
    w: u32,
    h: u32,
    channels: Channels,
) -> Result<Vec<u8>, DatasetError> {
    let bytes = src.bytes(name)?;
    let bad = |reason: String| DatasetError::Image {
        path: src.path(name),
        reason,
    };
    let mut dec = png::Decoder::new(std::io::Cursor::new(&bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec
        .read_info()
        .map_err(|e| bad(format!("not a readable PNG: {e}")))?;
    let (iw, ih) = (reader.info().width, reader.info().height);
    if (iw, ih) != (w, h) {
        return Err(bad(format!("{iw}x{ih}, expected {w}x{h}")));
    }
    let source_depth = reader.info().bit_depth;
    let (color, _) = reader.output_color_type();
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(format!("cannot decode the PNG: {e}")))?;
    buf.truncate(frame.buffer_size());
    use png::ColorType as C;
    let want = match channels {
        Channels::Grey => "8-bit grey labels",
        Channels::Rgba => "8-bit RGBA",
        Channels::Rgb => "",
    };
    let wrong = || bad(format!("{color:?} {source_depth:?}-bit, expected {want}"));
    match channels {
        Channels::Grey if color == C::Grayscale && source_depth == png::BitDepth::Eight => Ok(buf),
        Channels::Rgba if color == C::Rgba && source_depth == png::BitDepth::Eight => Ok(buf),
        Channels::Grey | Channels::Rgba => Err(wrong()),
        Channels::Rgb => Ok(match color {
            C::Rgb => buf,
            C::Rgba => buf
                .chunks_exact(4)
                .flat_map(|c| [c[0], c[1], c[2]])
                .collect(),
            C::Grayscale => buf.iter().flat_map(|&v| [v, v, v]).collect(),
            C::GrayscaleAlpha => buf
                .chunks_exact(2)
                .flat_map(|c| [c[0], c[0], c[0]])
                .collect(),
            C::Indexed => return Err(bad("palette not expanded".into())),
        }),
    }
}
