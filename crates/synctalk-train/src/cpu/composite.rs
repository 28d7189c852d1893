//! The premultiplied head layer over the torso layer over the background, as
//! composite.wgsl does it, in f64 and without the final clamp and
//! quantisation (the training image), and its backward.
//!
//! `o = h + (1 − h.a) · under` (all premultiplied, alpha included), output
//! straight `(o.rgb / o.a, o.a)`, or 0 where `o.a = 0`.

use synctalk_gaussians::Image;
use synctalk_reference::{under, Layers};

use super::CpuError;

/// Checks that both layers have the camera's size.
pub fn check_layers(layers: Layers<'_>, width: u32, height: u32) -> Result<(), CpuError> {
    let mut all = vec![("background", layers.background)];
    all.extend(layers.torso.map(|t| ("torso", t)));
    for (what, img) in all {
        if (img.width, img.height) != (width, height)
            || img.data.len() != (width * height * 4) as usize
        {
            return Err(CpuError::LayerSize {
                what,
                width: img.width,
                height: img.height,
                expected_width: width,
                expected_height: height,
            });
        }
    }
    Ok(())
}

fn over(h: &[f64; 4], u: &[f64; 4]) -> [f64; 4] {
    std::array::from_fn(|k| h[k] + (1.0 - h[3]) * u[k])
}

/// Straight-alpha RGBA per pixel of `head` (premultiplied, row-major, the
/// layers' size) over the layers, unclamped.
pub fn composite(head: &[[f64; 4]], layers: Layers<'_>) -> Vec<[f64; 4]> {
    let width = layers.background.width;
    head.iter()
        .enumerate()
        .map(|(i, h)| {
            let u = under(layers, i as u32 % width, i as u32 / width);
            let o = over(h, &u);
            if o[3] > 0.0 {
                [o[0] / o[3], o[1] / o[3], o[2] / o[3], o[3]]
            } else {
                [0.0; 4]
            }
        })
        .collect()
}

/// `dL/d` the premultiplied head layer from `dL/d` the straight composite.
pub fn backward(head: &[[f64; 4]], layers: Layers<'_>, grad_image: &[[f64; 4]]) -> Vec<[f64; 4]> {
    let width = layers.background.width;
    head.iter()
        .zip(grad_image)
        .enumerate()
        .map(|(i, (h, g))| {
            let u = under(layers, i as u32 % width, i as u32 / width);
            let o = over(h, &u);
            if o[3] <= 0.0 {
                return [0.0; 4];
            }
            // s = o.rgb / o.a, s.a = o.a.
            let mut d_o = [g[0] / o[3], g[1] / o[3], g[2] / o[3], g[3]];
            d_o[3] -= (0..3).map(|k| g[k] * o[k]).sum::<f64>() / (o[3] * o[3]);
            // o_k = h_k + (1 - h.a) u_k.
            let mut d_h = d_o;
            d_h[3] -= (0..4).map(|k| d_o[k] * u[k]).sum::<f64>();
            d_h
        })
        .collect()
}

/// Whether each pixel's composite alpha is positive (the branch of the
/// straight-alpha division).
pub fn branches(head: &[[f64; 4]], layers: Layers<'_>, out: &mut Vec<i64>) {
    let width = layers.background.width;
    for (i, h) in head.iter().enumerate() {
        let u = under(layers, i as u32 % width, i as u32 / width);
        out.push(i64::from(over(h, &u)[3] > 0.0));
    }
}

/// The image the renderer shows: clamped to [0, 1] and rounded to RGBA8.
pub fn quantize(image: &[[f64; 4]], width: u32, height: u32) -> Image {
    let q = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    Image {
        width,
        height,
        data: image.iter().flat_map(|p| p.map(q)).collect(),
    }
}
