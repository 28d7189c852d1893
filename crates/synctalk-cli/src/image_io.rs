//! PNG reading and writing for the CLI.

use anyhow::{bail, Context, Result};
use std::path::Path;
use synctalk_gaussians::Image;

/// Writes an RGBA8 image as PNG.
pub fn write_png(path: &Path, img: &Image) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), img.width, img.height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc
        .write_header()
        .with_context(|| format!("writing {}", path.display()))?;
    w.write_image_data(&img.data)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Reads a PNG as RGBA8 (through the portrait format's validated decoder).
pub fn read_png(path: &Path) -> Result<Image> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let dec = png::Decoder::new(std::io::Cursor::new(&bytes));
    let info = dec
        .read_info()
        .with_context(|| format!("{}: not a PNG", path.display()))?;
    let (w, h) = (info.info().width, info.info().height);
    let layer = synctalk_portrait::Layer {
        role: synctalk_portrait::LayerRole::Background,
        index: 0,
        width: w,
        height: h,
        encoding: synctalk_portrait::LayerEncoding::Png,
        data: bytes,
    };
    match layer.image() {
        Ok(img) => Ok(img),
        Err(e) => bail!("{}: {e}", path.display()),
    }
}

/// Parses "r,g,b" (0..=255) into an opaque colour.
pub fn parse_rgb(s: &str) -> Result<[u8; 4]> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != 3 {
        bail!("background `{s}` must be r,g,b");
    }
    let mut c = [255u8; 4];
    for (i, p) in parts.iter().enumerate() {
        c[i] = p
            .parse()
            .with_context(|| format!("background component `{p}` is not 0..=255"))?;
    }
    Ok(c)
}
