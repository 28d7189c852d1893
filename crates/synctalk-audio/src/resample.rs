//! Sample-rate conversion to the front end's 16 kHz: a windowed-sinc
//! (Kaiser, β = 8.6, 32 zero crossings) low-pass at 0.95 × the lower Nyquist
//! frequency, evaluated at each output instant. Exact for 16 kHz input (a
//! copy), better than 80 dB stop-band otherwise.

use crate::{AudioError, SAMPLE_RATE};

/// Half-width of the kernel in zero crossings of the lower rate.
const ZEROS: f64 = 32.0;
const BETA: f64 = 8.6;

/// Highest input rate accepted (the kernel grows with the ratio).
pub const MAX_RATE: u32 = 384_000;
/// Lowest input rate accepted.
pub const MIN_RATE: u32 = 4_000;

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-12 * sum {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

/// `samples` at `rate` Hz, resampled to 16 kHz
/// (`round(len × 16000 / rate)` samples; zeros are assumed past the end).
pub fn to_16k(samples: &[f32], rate: u32) -> Result<Vec<f32>, AudioError> {
    let mut r = Resampler::new(rate)?;
    let n_out = (samples.len() as f64 * f64::from(SAMPLE_RATE) / f64::from(rate)).round();
    let mut out = Vec::with_capacity(n_out as usize);
    r.push(samples, &mut out)?;
    r.finish(&mut out);
    Ok(out)
}

/// Kernel tables above this many coefficients are not built (a rate sharing
/// no large factor with 16 kHz, e.g. 44 101 Hz): the kernel is then
/// evaluated per tap, slower but the same numbers.
const MAX_TABLE: usize = 1 << 19;

/// A streaming resampler to 16 kHz: push chunks of any size, get every
/// output sample whose kernel the input received so far covers; `finish`
/// flushes the rest as if zeros followed. The same numbers as [`to_16k`]
/// on the whole signal, whatever the chunking. After the first chunks, it
/// allocates nothing as long as chunks are no larger than before.
#[derive(Clone, Debug)]
pub struct Resampler {
    rate: u32,
    /// Output `j` sits at input position `j × m / l` (`l / m` = 16000 / rate, reduced).
    l: u64,
    m: u64,
    cutoff: f64,
    /// Kernel half-width in input samples.
    half: i64,
    /// `table[phase × 2 half + k]`: weight of tap `centre − half + 1 + k`.
    table: Option<Vec<f64>>,
    /// Buffered input; `input[0]` is input sample `base`.
    input: Vec<f32>,
    base: u64,
    received: u64,
    next: u64,
    finished: bool,
}

impl Resampler {
    /// A resampler from `rate` Hz ([`MIN_RATE`] to [`MAX_RATE`]).
    pub fn new(rate: u32) -> Result<Self, AudioError> {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(AudioError::SampleRate(rate));
        }
        let g = gcd(u64::from(SAMPLE_RATE), u64::from(rate));
        let (l, m) = (u64::from(SAMPLE_RATE) / g, u64::from(rate) / g);
        let ratio = f64::from(SAMPLE_RATE) / f64::from(rate);
        // Cut-off relative to the input rate, below the lower Nyquist frequency.
        let cutoff = 0.95 * ratio.min(1.0) * 0.5;
        let half = (ZEROS / (2.0 * cutoff)).ceil() as i64;
        let mut r = Self {
            rate,
            l,
            m,
            cutoff,
            half,
            table: None,
            input: Vec::new(),
            base: 0,
            received: 0,
            next: 0,
            finished: false,
        };
        let taps = 2 * half as usize;
        if rate != SAMPLE_RATE && (l as usize).saturating_mul(taps) <= MAX_TABLE {
            let mut t = Vec::with_capacity(l as usize * taps);
            for phase in 0..l {
                let frac = phase as f64 / l as f64;
                for k in 0..taps as i64 {
                    // x = t − i with i = centre − half + 1 + k.
                    t.push(r.weight(frac + (half - 1 - k) as f64));
                }
            }
            r.table = Some(t);
        }
        Ok(r)
    }

    /// The input rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Input samples pushed so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Kaiser-windowed sinc at distance `x` input samples.
    fn weight(&self, x: f64) -> f64 {
        let r = x / self.half as f64;
        if r.abs() >= 1.0 {
            return 0.0;
        }
        let w = bessel_i0(BETA * (1.0 - r * r).sqrt()) / bessel_i0(BETA);
        let arg = 2.0 * self.cutoff * x;
        let sinc = if arg.abs() < 1e-12 {
            1.0
        } else {
            (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
        };
        2.0 * self.cutoff * sinc * w
    }

    /// Appends `samples` and writes the outputs they complete to `out`.
    /// A NaN or infinite sample refuses the whole chunk (its index counts
    /// from the start of the stream).
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(AudioError::NotFinite(self.received as usize + i));
        }
        if self.finished {
            return Err(AudioError::Finished);
        }
        if self.rate == SAMPLE_RATE {
            out.extend_from_slice(samples);
            self.received += samples.len() as u64;
            self.next = self.received;
            return Ok(());
        }
        self.input.extend_from_slice(samples);
        self.received += samples.len() as u64;
        self.produce(out, false);
        Ok(())
    }

    /// Writes the remaining outputs, as if zeros followed the input, up to
    /// `round(received × 16000 / rate)` samples in all. Pushing after this
    /// is an error.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if !self.finished && self.rate != SAMPLE_RATE {
            self.produce(out, true);
        }
        self.finished = true;
    }

    fn produce(&mut self, out: &mut Vec<f32>, flush: bool) {
        let total = if flush {
            (self.received as f64 * self.l as f64 / self.m as f64).round() as u64
        } else {
            u64::MAX
        };
        let taps = 2 * self.half;
        while self.next < total {
            let pos = self.next * self.m;
            let centre = (pos / self.l) as i64;
            let phase = pos % self.l;
            let last = centre + self.half; // the last tap
            if !flush && last >= self.received as i64 {
                break;
            }
            let first = centre - self.half + 1;
            let mut acc = 0.0;
            for k in 0..taps {
                let i = first + k;
                if i < 0 || i >= self.received as i64 {
                    continue;
                }
                let x = f64::from(self.input[(i - self.base as i64) as usize]);
                let w = match &self.table {
                    Some(t) => t[(phase * taps as u64) as usize + k as usize],
                    None => self.weight(phase as f64 / self.l as f64 + (centre - i) as f64),
                };
                acc += x * w;
            }
            out.push(acc as f32);
            self.next += 1;
        }
        // Drop the input no later output needs.
        let keep_from = ((self.next * self.m / self.l) as i64 - self.half + 1).max(0) as u64;
        if keep_from > self.base {
            let n = ((keep_from - self.base) as usize).min(self.input.len());
            self.input.drain(..n);
            self.base += n as u64;
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f64, secs: f64) -> Vec<f32> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|n| {
                (2.0 * std::f64::consts::PI * hz * n as f64 / f64::from(rate)).sin() as f32 * 0.5
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn keeps_the_band_and_removes_what_cannot_be_represented() {
        for rate in [8_000, 22_050, 44_100, 48_000, 96_000] {
            // A 1 kHz tone keeps its level and frequency.
            let y = to_16k(&tone(rate, 1000.0, 1.0), rate).expect("resample");
            assert!(
                (y.len() as i64 - 16_000).abs() <= 1,
                "{rate}: {} samples",
                y.len()
            );
            let inner = &y[2000..14000];
            assert!(
                (rms(inner) - 0.5 / 2f64.sqrt()).abs() < 0.005,
                "{rate}: rms {}",
                rms(inner)
            );
            let want = tone(16_000, 1000.0, 1.0);
            let err: f64 = inner
                .iter()
                .zip(&want[2000..14000])
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum::<f64>();
            assert!((err / 12000.0).sqrt() < 1e-3, "{rate}: waveform error");
            // A 10 kHz tone (above 8 kHz) disappears.
            if rate > 20_000 {
                let z = to_16k(&tone(rate, 10_000.0, 1.0), rate).expect("resample");
                assert!(
                    rms(&z[2000..14000]) < 1e-3,
                    "{rate}: alias {}",
                    rms(&z[2000..14000])
                );
            }
        }
    }

    #[test]
    fn chunks_of_any_size_give_the_same_samples() {
        for rate in [8_000, 22_050, 44_100, 44_101, 48_000, 16_000] {
            let x: Vec<f32> = tone(rate, 440.0, 0.3)
                .iter()
                .enumerate()
                .map(|(n, v)| v + 0.3 * ((n * 7919 % 1000) as f32 / 1000.0 - 0.5))
                .collect();
            let whole = to_16k(&x, rate).expect("whole");
            let mut r = Resampler::new(rate).expect("rate");
            let mut parts = Vec::new();
            let mut at = 0;
            for size in [1, 127, 128, 2000, 3, 4096].iter().cycle() {
                if at >= x.len() {
                    break;
                }
                let end = (at + size).min(x.len());
                r.push(&x[at..end], &mut parts).expect("push");
                at = end;
            }
            r.finish(&mut parts);
            assert_eq!(parts.len(), whole.len(), "{rate}");
            let err = parts
                .iter()
                .zip(&whole)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-6, "{rate}: {err}");
            assert_eq!(r.push(&[0.0], &mut parts), Err(AudioError::Finished));
        }
    }

    #[test]
    fn refuses_bad_rates_and_samples() {
        assert_eq!(to_16k(&[0.0; 10], 0), Err(AudioError::SampleRate(0)));
        assert_eq!(
            to_16k(&[0.0; 10], 10_000_000),
            Err(AudioError::SampleRate(10_000_000))
        );
        assert_eq!(
            to_16k(&[0.0, f32::NAN], 44_100),
            Err(AudioError::NotFinite(1))
        );
        assert_eq!(to_16k(&[0.25; 4], 16_000), Ok(vec![0.25; 4]));
        assert!(to_16k(&[], 44_100).expect("empty").is_empty());
    }
}
