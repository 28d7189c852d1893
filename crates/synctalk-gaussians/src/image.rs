//! A minimal RGBA8 image used for layers and render output.

/// An 8-bit RGBA image with straight (non-premultiplied) alpha, rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub data: Vec<u8>,
}

impl Image {
    /// An image filled with one colour.
    pub fn solid(width: u32, height: u32, rgba: [u8; 4]) -> Self {
        Self {
            width,
            height,
            data: rgba.repeat((width * height) as usize),
        }
    }

    /// The pixel at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ]
    }

    /// This image resampled to `width` × `height` with a triangle filter
    /// widened by the scale when shrinking (so a downscale averages instead of
    /// aliasing), per channel, separably. Sizes of 0 give an empty image.
    pub fn resized(&self, width: u32, height: u32) -> Image {
        if (width, height) == (self.width, self.height) {
            return self.clone();
        }
        if width == 0 || height == 0 || self.width == 0 || self.height == 0 {
            return Image {
                width,
                height,
                data: vec![0; (width * height * 4) as usize],
            };
        }
        let (sw, sh) = (self.width as usize, self.height as usize);
        let (dw, dh) = (width as usize, height as usize);
        // Horizontal pass into f32 rows, then vertical.
        let wx = weights(sw, dw);
        let wy = weights(sh, dh);
        let mut tmp = vec![0f32; dw * sh * 4];
        for y in 0..sh {
            for (x, (first, w)) in wx.iter().enumerate() {
                for c in 0..4 {
                    tmp[(y * dw + x) * 4 + c] = w
                        .iter()
                        .enumerate()
                        .map(|(k, w)| w * f32::from(self.data[(y * sw + first + k) * 4 + c]))
                        .sum();
                }
            }
        }
        let mut data = vec![0u8; dw * dh * 4];
        for (y, (first, w)) in wy.iter().enumerate() {
            for x in 0..dw {
                for c in 0..4 {
                    let v: f32 = w
                        .iter()
                        .enumerate()
                        .map(|(k, w)| w * tmp[((first + k) * dw + x) * 4 + c])
                        .sum();
                    data[(y * dw + x) * 4 + c] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        Image {
            width,
            height,
            data,
        }
    }

    /// Peak signal-to-noise ratio of the RGB channels against `other`, in dB
    /// (infinite for identical images). Panics if sizes differ.
    pub fn psnr(&self, other: &Image) -> f64 {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "PSNR of images of different sizes"
        );
        let mut se = 0f64;
        let mut n = 0usize;
        let (ours, theirs) = (self.data.as_chunks::<4>().0, other.data.as_chunks::<4>().0);
        for (a, b) in ours.iter().zip(theirs) {
            for c in 0..3 {
                let d = f64::from(a[c]) - f64::from(b[c]);
                se += d * d;
                n += 1;
            }
        }
        let mse = se / n.max(1) as f64;
        if mse == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (255.0f64 * 255.0 / mse).log10()
        }
    }
}

/// For each of `dst` output samples: the first source sample and the
/// normalised triangle-filter weights over `src` samples (pixel centres
/// aligned: output `i` sits at source `(i + 0.5) src / dst - 0.5`).
fn weights(src: usize, dst: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = src as f64 / dst as f64;
    let support = scale.max(1.0); // the filter's half-width in source pixels
    (0..dst)
        .map(|i| {
            let centre = (i as f64 + 0.5) * scale - 0.5;
            let lo = ((centre - support).floor() as i64 + 1).max(0) as usize;
            let hi = ((centre + support).ceil() as i64 - 1)
                .min(src as i64 - 1)
                .max(lo as i64) as usize;
            let mut w: Vec<f32> = (lo..=hi)
                .map(|j| (1.0 - ((j as f64 - centre) / support).abs()).max(0.0) as f32)
                .collect();
            let sum: f32 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            } else {
                // Only possible at the very edge: take the nearest pixel.
                w.iter_mut().for_each(|v| *v = 0.0);
                w[0] = 1.0;
            }
            (lo, w)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_keeps_flat_images_and_averages_when_shrinking() {
        let flat = Image::solid(37, 20, [10, 200, 30, 255]);
        for (w, h) in [(74, 40), (13, 7), (37, 20), (1, 1)] {
            let r = flat.resized(w, h);
            assert_eq!(
                (r.width, r.height, r.data.len()),
                (w, h, (w * h * 4) as usize)
            );
            assert!(r.data.chunks(4).all(|p| p == [10, 200, 30, 255]), "{w}x{h}");
        }
        // A one-pixel checkerboard halves to its mean.
        let mut c = Image::solid(64, 64, [0, 0, 0, 255]);
        for y in 0..64 {
            for x in 0..64 {
                if (x + y) % 2 == 0 {
                    let i = ((y * 64 + x) * 4) as usize;
                    c.data[i..i + 3].copy_from_slice(&[255, 255, 255]);
                }
            }
        }
        let r = c.resized(32, 32);
        let inner: Vec<u8> = (4..28)
            .flat_map(|y| (4..28).map(move |x| (x, y)))
            .map(|(x, y)| r.pixel(x, y)[0])
            .collect();
        assert!(inner.iter().all(|&v| (120..=135).contains(&v)), "{inner:?}");
        // A smooth gradient survives a round trip.
        let mut g = Image::solid(64, 48, [0, 0, 0, 255]);
        for y in 0..48 {
            for x in 0..64 {
                let i = ((y * 64 + x) * 4) as usize;
                g.data[i] = (x * 4) as u8;
                g.data[i + 1] = (y * 5) as u8;
            }
        }
        let back = g.resized(128, 96).resized(64, 48);
        assert!(back.psnr(&g) > 40.0, "{}", back.psnr(&g));
    }
}
