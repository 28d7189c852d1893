//! Writing a [`Portrait`] as a `.stk` file: the file header, then one chunk
//! per part, each checked before it is written (most by reading the payload
//! back with its decoder, so the writer emits nothing the reader refuses).

use super::decode::{
    decode_deformation, decode_gaussians, decode_layer_chunk, decode_meta, decode_network,
    decode_pose,
};
use super::{limits, padding, MAGIC, VERSION_MAJOR, VERSION_MINOR};
use crate::*;

fn activation_code(a: Activation) -> u8 {
    match a {
        Activation::Linear => 0,
        Activation::Relu => 1,
        Activation::Tanh => 2,
        Activation::Sigmoid => 3,
    }
}

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
