//! Byte layout of the file header and of each chunk's payload.

use crate::stream::{tag_str, Chunk};
use crate::*;
use synctalk_gaussians::{
    sh_coeffs_for_degree, Camera, Deformation, Gaussians, Image, DEFORM_CHANNELS,
};

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

fn precision(chunk: &'static str, v: u8) -> Result<Precision, PortraitError> {
    match v {
        0 => Ok(Precision::F32),
        1 => Ok(Precision::F16),
        _ => Err(PortraitError::field(
            chunk,
            "precision",
            format!("unknown code {v} (0 = f32, 1 = f16)"),
        )),
    }
}

fn triples<const K: usize>(v: Vec<f32>) -> Vec<[f32; K]> {
    v.chunks_exact(K)
        .map(|c| std::array::from_fn(|i| c[i]))
        .collect()
}

pub(crate) fn decode_chunk(
    tag: [u8; 4],
    flags: u32,
    b: &[u8],
    gaussians: Option<usize>,
) -> Result<Chunk, PortraitError> {
    Ok(match &tag {
        b"META" => Chunk::Meta(decode_meta(b)?),
        b"CAMR" => Chunk::Camera(decode_camera(b)?),
        b"GAUS" => {
            let (g, p) = decode_gaussians(b)?;
            Chunk::Gaussians(g, p)
        }
        b"DEFM" => {
            let n =
                gaussians.ok_or_else(|| PortraitError::Order("DEFM comes before GAUS".into()))?;
            Chunk::Deformation(decode_deformation(b, n)?)
        }
        b"POSE" => Chunk::Pose(decode_pose(b)?),
        b"IMAG" => Chunk::Layer(decode_layer_chunk(b)?),
        b"NETW" => Chunk::Network(decode_network(b)?),
        b"END " => {
            if !b.is_empty() {
                return Err(PortraitError::field("END", "length", "must be 0"));
            }
            Chunk::End
        }
        _ if flags & FLAG_CRITICAL != 0 => {
            return Err(PortraitError::UnknownCritical(tag_str(&tag)))
        }
        _ => Chunk::Unknown,
    })
}

fn decode_meta(b: &[u8]) -> Result<Metadata, PortraitError> {
    if b.len() > limits::MAX_META_BYTES {
        return Err(PortraitError::limit(
            "META",
            "length",
            b.len() as u64,
            limits::MAX_META_BYTES as u64,
        ));
    }
    let m: Metadata = serde_json::from_slice(b)
        .map_err(|e| PortraitError::field("META", "json", e.to_string()))?;
    if m.name.trim().is_empty() {
        return Err(PortraitError::field("META", "name", "must not be empty"));
    }
    if m.licence.trim().is_empty() {
        return Err(PortraitError::field("META", "licence", "must not be empty"));
    }
    Ok(m)
}

fn decode_camera(b: &[u8]) -> Result<Camera, PortraitError> {
    let mut c = Cur::new("CAMR", b);
    let width = c.u32("width")?;
    let height = c.u32("height")?;
    let v = [
        c.f32s(1, "fx")?[0],
        c.f32s(1, "fy")?[0],
        c.f32s(1, "cx")?[0],
        c.f32s(1, "cy")?[0],
        c.f32s(1, "near")?[0],
    ];
    let r = c.f32s(9, "rotation")?;
    let t = c.f32s(3, "translation")?;
    c.end()?;
    let cam = Camera {
        width,
        height,
        fx: v[0],
        fy: v[1],
        cx: v[2],
        cy: v[3],
        near: v[4],
        rotation: [[r[0], r[1], r[2]], [r[3], r[4], r[5]], [r[6], r[7], r[8]]],
        translation: [t[0], t[1], t[2]],
    };
    cam.validate()
        .map_err(|e| PortraitError::field("CAMR", "camera", e.to_string()))?;
    Ok(cam)
}

fn decode_gaussians(b: &[u8]) -> Result<(Gaussians, Precision), PortraitError> {
    let mut c = Cur::new("GAUS", b);
    let count = c.u32("count")?;
    let sh_degree = u32::from(c.u8("sh_degree")?);
    let prec = precision("GAUS", c.u8("precision")?)?;
    let _reserved = c.u16("reserved")?;
    if u64::from(count) > limits::MAX_GAUSSIANS {
        return Err(PortraitError::limit(
            "GAUS",
            "count",
            count.into(),
            limits::MAX_GAUSSIANS,
        ));
    }
    if sh_degree > 3 {
        return Err(PortraitError::field(
            "GAUS",
            "sh_degree",
            format!("{sh_degree} is not in 0..=3"),
        ));
    }
    let n = count as usize;
    let coeffs = sh_coeffs_for_degree(sh_degree);
    let size = if prec == Precision::F32 { 4 } else { 2 };
    let expected = 8 + n * 12 + n * (4 + 3 + 1 + coeffs * 3) * size;
    if b.len() != expected {
        return Err(PortraitError::field(
            "GAUS",
            "length",
            format!(
                "{} bytes, but {n} Gaussians of degree {sh_degree} need {expected}",
                b.len()
            ),
        ));
    }
    let g = Gaussians {
        sh_degree,
        positions: triples(c.f32s(n * 3, "positions")?),
        rotations: triples(c.floats(n * 4, prec, "rotations")?),
        log_scales: triples(c.floats(n * 3, prec, "log_scales")?),
        opacity_logits: c.floats(n, prec, "opacity_logits")?,
        sh: triples(c.floats(n * coeffs * 3, prec, "sh")?),
    };
    c.end()?;
    g.validate()
        .map_err(|e| PortraitError::field("GAUS", "values", e.to_string()))?;
    Ok((g, prec))
}

fn activation(code: u8) -> Result<Activation, PortraitError> {
    Ok(match code {
        0 => Activation::Linear,
        1 => Activation::Relu,
        2 => Activation::Tanh,
        3 => Activation::Sigmoid,
        _ => {
            return Err(PortraitError::field(
                "DEFM",
                "activation",
                format!("unknown code {code}"),
            ))
        }
    })
}

fn activation_code(a: Activation) -> u8 {
    match a {
        Activation::Linear => 0,
        Activation::Relu => 1,
        Activation::Tanh => 2,
        Activation::Sigmoid => 3,
    }
}

fn decode_deformation(b: &[u8], gaussians: usize) -> Result<LearnedDeformation, PortraitError> {
    let mut c = Cur::new("DEFM", b);
    let k = c.u32("num_bases")?;
    let count = c.u32("count")?;
    let prec = precision("DEFM", c.u8("precision")?)?;
    c.take(3, "reserved")?;
    if k > limits::MAX_BASES {
        return Err(PortraitError::limit(
            "DEFM",
            "num_bases",
            k.into(),
            limits::MAX_BASES.into(),
        ));
    }
    if count as usize != gaussians {
        return Err(PortraitError::field(
            "DEFM",
            "count",
            format!("{count} differs from the {gaussians} Gaussians of GAUS"),
        ));
    }
    let bases = c.floats(k as usize * DEFORM_CHANNELS * gaussians, prec, "bases")?;
    let input_dim = c.u32("input_dim")?;
    let num_layers = c.u32("num_layers")?;
    if num_layers > limits::MAX_CONTROLLER_LAYERS {
        return Err(PortraitError::limit(
            "DEFM",
            "num_layers",
            num_layers.into(),
            limits::MAX_CONTROLLER_LAYERS.into(),
        ));
    }
    if input_dim > limits::MAX_CONTROLLER_WIDTH {
        return Err(PortraitError::limit(
            "DEFM",
            "input_dim",
            input_dim.into(),
            limits::MAX_CONTROLLER_WIDTH.into(),
        ));
    }
    let mut layers = Vec::new();
    let mut width = input_dim;
    for _ in 0..num_layers {
        let inputs = c.u32("layer.inputs")?;
        let outputs = c.u32("layer.outputs")?;
        let act = activation(c.u8("layer.activation")?)?;
        c.take(3, "layer.reserved")?;
        if inputs != width {
            return Err(PortraitError::field(
                "DEFM",
                "layer.inputs",
                format!("{inputs} does not match the previous width {width}"),
            ));
        }
        if outputs == 0 || outputs > limits::MAX_CONTROLLER_WIDTH {
            return Err(PortraitError::limit(
                "DEFM",
                "layer.outputs",
                outputs.into(),
                limits::MAX_CONTROLLER_WIDTH.into(),
            ));
        }
        let weights = c.f32s(inputs as usize * outputs as usize, "layer.weights")?;
        let bias = c.f32s(outputs as usize, "layer.bias")?;
        layers.push(Dense {
            inputs: inputs as usize,
            outputs: outputs as usize,
            activation: act,
            weights,
            bias,
        });
        width = outputs;
    }
    if width != k {
        return Err(PortraitError::field(
            "DEFM",
            "controller",
            format!("outputs {width} values, but there are {k} bases"),
        ));
    }
    c.end()?;
    Ok(LearnedDeformation {
        basis: Deformation {
            num_bases: k as usize,
            bases,
        },
        controller: Controller {
            input_dim: input_dim as usize,
            layers,
        },
    })
}

fn decode_pose(b: &[u8]) -> Result<PoseTrack, PortraitError> {
    let mut c = Cur::new("POSE", b);
    let frames = c.u32("frames")?;
    let fps = c.f32s(1, "fps")?[0];
    if frames > limits::MAX_POSE_FRAMES {
        return Err(PortraitError::limit(
            "POSE",
            "frames",
            frames.into(),
            limits::MAX_POSE_FRAMES.into(),
        ));
    }
    if !(fps > 0.0 && fps <= 1000.0) {
        return Err(PortraitError::field(
            "POSE",
            "fps",
            format!("{fps} is not in (0, 1000]"),
        ));
    }
    if b.len() != 8 + frames as usize * 28 {
        return Err(PortraitError::field(
            "POSE",
            "length",
            format!("{} bytes for {frames} frames of 28 bytes", b.len()),
        ));
    }
    let v = c.f32s(frames as usize * 7, "poses")?;
    c.end()?;
    let frames = v
        .chunks_exact(7)
        .enumerate()
        .map(|(i, p)| {
            let q = [p[0], p[1], p[2], p[3]];
            let len = q.iter().map(|x| x * x).sum::<f32>().sqrt();
            if (len - 1.0).abs() > 1e-3 {
                return Err(PortraitError::field(
                    "POSE",
                    "rotation",
                    format!("frame {i}: quaternion length {len}, must be 1"),
                ));
            }
            Ok(HeadPose {
                rotation: q,
                translation: [p[4], p[5], p[6]],
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PoseTrack { fps, frames })
}

fn decode_layer_chunk(b: &[u8]) -> Result<Layer, PortraitError> {
    let mut c = Cur::new("IMAG", b);
    let role = match c.u8("role")? {
        0 => LayerRole::Background,
        1 => LayerRole::Torso,
        r => LayerRole::Other(r),
    };
    let encoding = match c.u8("encoding")? {
        0 => LayerEncoding::Raw,
        1 => LayerEncoding::Png,
        e => {
            return Err(PortraitError::field(
                "IMAG",
                "encoding",
                format!("unknown code {e} (0 = raw, 1 = PNG)"),
            ))
        }
    };
    c.u16("reserved")?;
    let index = c.u32("index")?;
    let width = c.u32("width")?;
    let height = c.u32("height")?;
    for (field, v) in [("width", width), ("height", height)] {
        if v == 0 || v > limits::MAX_IMAGE_SIDE {
            return Err(PortraitError::limit(
                "IMAG",
                field,
                v.into(),
                limits::MAX_IMAGE_SIDE.into(),
            ));
        }
    }
    let data = c.take(b.len() - 16, "data")?.to_vec();
    let layer = Layer {
        role,
        index,
        width,
        height,
        encoding,
        data,
    };
    decode_layer(&layer)?; // validates the pixels
    Ok(layer)
}

pub(crate) fn decode_layer(l: &Layer) -> Result<Image, PortraitError> {
    let px = (l.width as usize) * (l.height as usize) * 4;
    match l.encoding {
        LayerEncoding::Raw => {
            if l.data.len() != px {
                return Err(PortraitError::field(
                    "IMAG",
                    "data",
                    format!("{} bytes of raw RGBA, {px} expected", l.data.len()),
                ));
            }
            Ok(Image {
                width: l.width,
                height: l.height,
                data: l.data.clone(),
            })
        }
        LayerEncoding::Png => {
            let bad = |why: String| PortraitError::field("IMAG", "data", why);
            let mut dec = png::Decoder::new_with_limits(
                std::io::Cursor::new(&l.data),
                png::Limits {
                    bytes: px + (1 << 16),
                },
            );
            dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
            let mut reader = dec.read_info().map_err(|e| bad(format!("PNG: {e}")))?;
            let info = reader.info();
            if (info.width, info.height) != (l.width, l.height) {
                return Err(bad(format!(
                    "PNG is {}x{}, the chunk says {}x{}",
                    info.width, info.height, l.width, l.height
                )));
            }
            let mut buf = vec![0u8; reader.output_buffer_size()];
            let frame = reader
                .next_frame(&mut buf)
                .map_err(|e| bad(format!("PNG: {e}")))?;
            let src = &buf[..frame.buffer_size()];
            let data: Vec<u8> = match frame.color_type {
                png::ColorType::Rgba => src.to_vec(),
                png::ColorType::Rgb => src
                    .chunks_exact(3)
                    .flat_map(|p| [p[0], p[1], p[2], 255])
                    .collect(),
                png::ColorType::Grayscale => src.iter().flat_map(|&g| [g, g, g, 255]).collect(),
                png::ColorType::GrayscaleAlpha => src
                    .chunks_exact(2)
                    .flat_map(|p| [p[0], p[0], p[0], p[1]])
                    .collect(),
                png::ColorType::Indexed => return Err(bad("indexed PNG not expanded".into())),
            };
            if data.len() != px {
                return Err(bad("PNG pixel data has the wrong size".into()));
            }
            Ok(Image {
                width: l.width,
                height: l.height,
                data,
            })
        }
    }
}

pub(crate) fn encode_png(img: &Image) -> Result<Vec<u8>, PortraitError> {
    let mut out = Vec::new();
    let bad =
        |e: png::EncodingError| PortraitError::field("IMAG", "data", format!("PNG encoding: {e}"));
    {
        let mut enc = png::Encoder::new(&mut out, img.width, img.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(bad)?;
        w.write_image_data(&img.data).map_err(bad)?;
    }
    Ok(out)
}

fn decode_network(b: &[u8]) -> Result<Network, PortraitError> {
    let mut c = Cur::new("NETW", b);
    let format = match c.u8("format")? {
        0 => NetworkFormat::Onnx,
        1 => NetworkFormat::Nnef,
        f => {
            return Err(PortraitError::field(
                "NETW",
                "format",
                format!("unknown code {f} (0 = ONNX, 1 = NNEF)"),
            ))
        }
    };
    c.u8("reserved")?;
    let name_len = c.u16("name_len")? as usize;
    if name_len == 0 {
        return Err(PortraitError::field(
            "NETW",
            "name_len",
            "a network needs a name",
        ));
    }
    if name_len > limits::MAX_NAME {
        return Err(PortraitError::limit(
            "NETW",
            "name_len",
            name_len as u64,
            limits::MAX_NAME as u64,
        ));
    }
    let name = std::str::from_utf8(c.take(name_len, "name")?)
        .map_err(|_| PortraitError::field("NETW", "name", "not UTF-8"))?
        .to_string();
    let bytes = c.take(b.len() - c.pos, "bytes")?.to_vec();
    if bytes.is_empty() {
        return Err(PortraitError::field(
            "NETW",
            "bytes",
            format!("network `{name}` is empty"),
        ));
    }
    Ok(Network {
        name,
        format,
        bytes,
    })
}

// --- writing ------------------------------------------------------------------

fn put_floats(out: &mut Vec<u8>, v: impl IntoIterator<Item = f32>, p: Precision) {
    for x in v {
        match p {
            Precision::F32 => out.extend_from_slice(&x.to_le_bytes()),
            Precision::F16 => out.extend_from_slice(&half::f16::from_f32(x).to_le_bytes()),
        }
    }
}

fn chunk(out: &mut Vec<u8>, tag: &[u8; 4], critical: bool, payload: &[u8]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&u32::from(critical).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + padding(payload.len() as u64), 0);
}

pub(crate) fn write(p: &Portrait) -> Result<Vec<u8>, PortraitError> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION_MAJOR.to_le_bytes());
    out.extend_from_slice(&VERSION_MINOR.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());

    let meta = serde_json::to_vec(&p.meta)
        .map_err(|e| PortraitError::field("META", "json", e.to_string()))?;
    decode_meta(&meta)?;
    chunk(&mut out, b"META", true, &meta);

    let cam = &p.camera;
    cam.validate()
        .map_err(|e| PortraitError::field("CAMR", "camera", e.to_string()))?;
    let mut b = Vec::new();
    b.extend_from_slice(&cam.width.to_le_bytes());
    b.extend_from_slice(&cam.height.to_le_bytes());
    put_floats(
        &mut b,
        [cam.fx, cam.fy, cam.cx, cam.cy, cam.near],
        Precision::F32,
    );
    put_floats(
        &mut b,
        cam.rotation.iter().flatten().copied(),
        Precision::F32,
    );
    put_floats(&mut b, cam.translation, Precision::F32);
    chunk(&mut out, b"CAMR", true, &b);

    let g = &p.gaussians;
    g.validate()
        .map_err(|e| PortraitError::field("GAUS", "values", e.to_string()))?;
    if g.len() as u64 > limits::MAX_GAUSSIANS {
        return Err(PortraitError::limit(
            "GAUS",
            "count",
            g.len() as u64,
            limits::MAX_GAUSSIANS,
        ));
    }
    let pr = p.precision;
    let mut b = Vec::new();
    b.extend_from_slice(&(g.len() as u32).to_le_bytes());
    b.push(g.sh_degree as u8);
    b.push(if pr == Precision::F32 { 0 } else { 1 });
    b.extend_from_slice(&0u16.to_le_bytes());
    put_floats(
        &mut b,
        g.positions.iter().flatten().copied(),
        Precision::F32,
    );
    put_floats(&mut b, g.rotations.iter().flatten().copied(), pr);
    put_floats(&mut b, g.log_scales.iter().flatten().copied(), pr);
    put_floats(&mut b, g.opacity_logits.iter().copied(), pr);
    put_floats(&mut b, g.sh.iter().flatten().copied(), pr);
    // Values that do not fit the precision (f16 overflow) are refused here.
    decode_gaussians(&b)?;
    chunk(&mut out, b"GAUS", true, &b);

    if let Some(d) = &p.deformation {
        let mut b = Vec::new();
        b.extend_from_slice(&(d.basis.num_bases as u32).to_le_bytes());
        b.extend_from_slice(&(g.len() as u32).to_le_bytes());
        b.push(if pr == Precision::F32 { 0 } else { 1 });
        b.extend_from_slice(&[0; 3]);
        put_floats(&mut b, d.basis.bases.iter().copied(), pr);
        b.extend_from_slice(&(d.controller.input_dim as u32).to_le_bytes());
        b.extend_from_slice(&(d.controller.layers.len() as u32).to_le_bytes());
        for l in &d.controller.layers {
            b.extend_from_slice(&(l.inputs as u32).to_le_bytes());
            b.extend_from_slice(&(l.outputs as u32).to_le_bytes());
            b.push(activation_code(l.activation));
            b.extend_from_slice(&[0; 3]);
            put_floats(&mut b, l.weights.iter().copied(), Precision::F32);
            put_floats(&mut b, l.bias.iter().copied(), Precision::F32);
        }
        decode_deformation(&b, g.len())?;
        chunk(&mut out, b"DEFM", true, &b);
    }

    if let Some(t) = &p.pose {
        let mut b = Vec::new();
        b.extend_from_slice(&(t.frames.len() as u32).to_le_bytes());
        put_floats(&mut b, [t.fps], Precision::F32);
        for f in &t.frames {
            put_floats(
                &mut b,
                f.rotation.iter().chain(&f.translation).copied(),
                Precision::F32,
            );
        }
        decode_pose(&b)?;
        chunk(&mut out, b"POSE", false, &b);
    }

    for l in &p.layers {
        let mut b = Vec::with_capacity(16 + l.data.len());
        b.push(match l.role {
            LayerRole::Background => 0,
            LayerRole::Torso => 1,
            LayerRole::Other(r) => r,
        });
        b.push(match l.encoding {
            LayerEncoding::Raw => 0,
            LayerEncoding::Png => 1,
        });
        b.extend_from_slice(&0u16.to_le_bytes());
        for v in [l.index, l.width, l.height] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&l.data);
        decode_layer_chunk(&b)?;
        chunk(&mut out, b"IMAG", false, &b);
    }

    for n in &p.networks {
        let mut b = Vec::with_capacity(4 + n.name.len() + n.bytes.len());
        b.push(match n.format {
            NetworkFormat::Onnx => 0,
            NetworkFormat::Nnef => 1,
        });
        b.push(0);
        b.extend_from_slice(&(n.name.len() as u16).to_le_bytes());
        b.extend_from_slice(n.name.as_bytes());
        b.extend_from_slice(&n.bytes);
        decode_network(&b)?;
        chunk(&mut out, b"NETW", false, &b);
    }
    chunk(&mut out, b"END ", true, &[]);
    Ok(out)
}
