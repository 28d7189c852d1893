//! The pixels of an `IMAG` layer: raw RGBA or PNG, decoded to an [`Image`]
//! and encoded from one.

use crate::*;
use synctalk_gaussians::Image;

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
