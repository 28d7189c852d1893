//! The log-mel front end shared with the portrait toolchain: 16 kHz mono
//! samples to 80 log-mel bands every 10 ms, and the 16-frame windows the
//! networks read per video frame. The specification is
//! `docs/audio-features.md`; the tests reproduce the toolchain's test vectors
//! (`tests/vectors/audio/`) to 1e-4.
//!
//! [`LogMel`] owns its FFT plan and scratch buffers: computing frames
//! allocates nothing after construction.

mod resample;

pub use resample::{to_16k, MAX_RATE, MIN_RATE};
use rustfft::num_complex::Complex64;
use std::sync::Arc;

/// Sample rate the features are defined on.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples between mel frames (10 ms).
pub const HOP: usize = 160;
/// Samples per analysis window (25 ms).
pub const WINDOW: usize = 400;
/// FFT length.
pub const N_FFT: usize = 512;
/// Mel bands.
pub const N_MELS: usize = 80;
/// Mel frames per video-frame window.
pub const CONTEXT: usize = 16;
/// Added before the logarithm; `ln(LOG_FLOOR)` stands for silence.
pub const LOG_FLOOR: f64 = 1e-6;
const F_MIN: f64 = 20.0;
const F_MAX: f64 = 7600.0;

/// Errors of the front end.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AudioError {
    /// A NaN or infinite sample.
    #[error("audio sample {0} is not finite (NaN or infinity)")]
    NotFinite(usize),
    /// A frame rate that cannot place windows.
    #[error("video frame rate {0} must be a positive number")]
    FrameRate(f64),
    /// An input sample rate outside what the resampler takes.
    #[error("sample rate {0} Hz is not supported (4000 to 384000 Hz)")]
    SampleRate(u32),
}

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// One triangular filter: its first FFT bin and weights.
struct Filter {
    start: usize,
    weights: Vec<f64>,
}

/// The log-mel analyser: filterbank, window, FFT plan and scratch space.
pub struct LogMel {
    filters: Vec<Filter>,
    window: [f64; WINDOW],
    fft: Arc<dyn rustfft::Fft<f64>>,
    buf: Vec<Complex64>,
    scratch: Vec<Complex64>,
    power: Vec<f64>,
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

impl LogMel {
    /// Builds the filterbank and the FFT plan.
    pub fn new() -> Self {
        let (lo, hi) = (hz_to_mel(F_MIN), hz_to_mel(F_MAX));
        let edges: Vec<f64> = (0..N_MELS + 2)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64))
            .collect();
        let bin_hz = |b: usize| b as f64 * f64::from(SAMPLE_RATE) / N_FFT as f64;
        let filters = (0..N_MELS)
            .map(|m| {
                let (a, mid, c) = (edges[m], edges[m + 1], edges[m + 2]);
                let w: Vec<f64> = (0..=N_FFT / 2)
                    .map(|b| {
                        let f = bin_hz(b);
                        ((f - a) / (mid - a)).min((c - f) / (c - mid)).max(0.0)
                    })
                    .collect();
                let start = w.iter().position(|&v| v > 0.0).unwrap_or(0);
                let end = w.iter().rposition(|&v| v > 0.0).map_or(start, |e| e + 1);
                Filter {
                    start,
                    weights: w[start..end].to_vec(),
                }
            })
            .collect();
        let window = std::array::from_fn(|n| {
            0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / WINDOW as f64).cos()
        });
        let fft = rustfft::FftPlanner::new().plan_fft_forward(N_FFT);
        let scratch = vec![Complex64::default(); fft.get_inplace_scratch_len()];
        Self {
            filters,
            window,
            fft,
            buf: vec![Complex64::default(); N_FFT],
            scratch,
            power: vec![0.0; N_FFT / 2 + 1],
        }
    }

    /// Number of mel frames of a signal of `samples` samples.
    pub fn num_frames(samples: usize) -> usize {
        samples / HOP + 1
    }

    /// Mel frame `k` of `samples` (centred on sample `160 k`, zeros outside).
    pub fn frame(&mut self, samples: &[f32], k: usize, out: &mut [f32; N_MELS]) {
        let start = (k * HOP) as isize - (WINDOW / 2) as isize;
        for (n, c) in self.buf.iter_mut().enumerate() {
            let s = start + n as isize;
            let x = if n < WINDOW && s >= 0 && (s as usize) < samples.len() {
                f64::from(samples[s as usize]) * self.window[n]
            } else {
                0.0
            };
            *c = Complex64::new(x, 0.0);
        }
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        for (p, c) in self.power.iter_mut().zip(&self.buf) {
            *p = c.norm_sqr();
        }
        for (o, f) in out.iter_mut().zip(&self.filters) {
            let e: f64 = f
                .weights
                .iter()
                .zip(&self.power[f.start..])
                .map(|(w, p)| w * p)
                .sum();
            *o = (e + LOG_FLOOR).ln() as f32;
        }
    }

    /// All mel frames of a signal, appended to `out` (cleared first).
    pub fn frames(
        &mut self,
        samples: &[f32],
        out: &mut Vec<[f32; N_MELS]>,
    ) -> Result<(), AudioError> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(AudioError::NotFinite(i));
        }
        out.clear();
        let mut f = [0f32; N_MELS];
        for k in 0..Self::num_frames(samples.len()) {
            self.frame(samples, k, &mut f);
            out.push(f);
        }
        Ok(())
    }
}

/// The mel-frame window (16 frames) for video frame `t` at `fps`: frames
/// `c - 8 .. c + 8` with `c = floor(100 t / fps + 0.5)`, silence outside.
pub fn frame_window(
    mel: &[[f32; N_MELS]],
    t: usize,
    fps: f64,
    out: &mut [[f32; N_MELS]; CONTEXT],
) -> Result<(), AudioError> {
    if !(fps.is_finite() && fps > 0.0) {
        return Err(AudioError::FrameRate(fps));
    }
    fill_window(mel, (100.0 * t as f64 / fps + 0.5).floor() as i64, out);
    Ok(())
}

/// Mel frames `c - 8 .. c + 8` into `out`, silence outside the signal.
fn fill_window(mel: &[[f32; N_MELS]], c: i64, out: &mut [[f32; N_MELS]; CONTEXT]) {
    let floor = LOG_FLOOR.ln() as f32;
    for (j, row) in out.iter_mut().enumerate() {
        let k = c - (CONTEXT / 2) as i64 + j as i64;
        *row = if k >= 0 && (k as usize) < mel.len() {
            mel[k as usize]
        } else {
            [floor; N_MELS]
        };
    }
}

/// The mel-frame window centred on time `seconds` of the signal (the same
/// rule as [`frame_window`]: `c = floor(100 seconds + 0.5)`), silence
/// outside the signal. For a clock that is not a whole frame count.
pub fn window_at(mel: &[[f32; N_MELS]], seconds: f64, out: &mut [[f32; N_MELS]; CONTEXT]) {
    let c = if seconds.is_finite() {
        (100.0 * seconds + 0.5).floor().clamp(-1e12, 1e12) as i64
    } else {
        i64::MIN / 2
    };
    fill_window(mel, c, out);
}
