//! Decoding and checking of each chunk type's payload (`META`, `CAMR`,
//! `GAUS`, `DEFM`, `POSE`, `IMAG`, `NETW`, `END `).

use super::image::decode_layer;
use super::{limits, Cur, FLAG_CRITICAL};
use crate::stream::{tag_str, Chunk};
use crate::*;
use synctalk_gaussians::{sh_coeffs_for_degree, Camera, Deformation, Gaussians, DEFORM_CHANNELS};

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

pub(super) fn decode_meta(b: &[u8]) -> Result<Metadata, PortraitError> {
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

pub(super) fn decode_gaussians(b: &[u8]) -> Result<(Gaussians, Precision), PortraitError> {
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

pub(super) fn decode_deformation(
    b: &[u8],
    gaussians: usize,
) -> Result<LearnedDeformation, PortraitError> {
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

pub(super) fn decode_pose(b: &[u8]) -> Result<PoseTrack, PortraitError> {
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

pub(super) fn decode_layer_chunk(b: &[u8]) -> Result<Layer, PortraitError> {
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

pub(super) fn decode_network(b: &[u8]) -> Result<Network, PortraitError> {
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
