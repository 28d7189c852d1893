//! The FFT the log-mel analysis needs: one power-of-two length, complex,
//! forward, in f64, iterative radix-2 (Cooley–Tukey) with precomputed
//! twiddles and bit-reversal. Small on purpose: a general FFT library was a
//! megabyte of the browser's wasm for this one 512-point transform.

/// A forward FFT of one length.
#[derive(Clone, Debug)]
pub(crate) struct Fft {
    /// `exp(-2πik/n)` for `k < n/2`: (cos, sin).
    twiddles: Vec<(f64, f64)>,
    /// Bit-reversed index of each position.
    rev: Vec<usize>,
}

impl Fft {
    /// An FFT of length `n` (a power of two, at least 2).
    pub(crate) fn new(n: usize) -> Self {
        assert!(n.is_power_of_two() && n >= 2, "FFT length {n}");
        let bits = n.trailing_zeros();
        let twiddles = (0..n / 2)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                (a.cos(), a.sin())
            })
            .collect();
        let rev = (0..n)
            .map(|i| i.reverse_bits() >> (usize::BITS - bits))
            .collect();
        Self { twiddles, rev }
    }

    /// Transforms `(re, im)` in place (both of the FFT's length).
    pub(crate) fn forward(&self, re: &mut [f64], im: &mut [f64]) {
        let n = self.rev.len();
        debug_assert!(re.len() == n && im.len() == n);
        for (i, &j) in self.rev.iter().enumerate() {
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut size = 2;
        while size <= n {
            let half = size / 2;
            let step = n / size;
            for start in (0..n).step_by(size) {
                for k in 0..half {
                    let (c, s) = self.twiddles[k * step];
                    let (a, b) = (start + k, start + k + half);
                    let tr = re[b] * c - im[b] * s;
                    let ti = re[b] * s + im[b] * c;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            size *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_dft() {
        for n in [2usize, 8, 512] {
            let x: Vec<f64> = (0..n)
                .map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0)
                .collect();
            let (mut re, mut im) = (x.clone(), vec![0.0; n]);
            Fft::new(n).forward(&mut re, &mut im);
            for k in 0..n {
                let (mut dr, mut di) = (0.0, 0.0);
                for (t, v) in x.iter().enumerate() {
                    let a = -2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                    dr += v * a.cos();
                    di += v * a.sin();
                }
                assert!(
                    (re[k] - dr).abs() < 1e-9 && (im[k] - di).abs() < 1e-9,
                    "n {n} bin {k}"
                );
            }
        }
    }
}
