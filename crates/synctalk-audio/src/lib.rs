//! The log-mel front end shared with the portrait toolchain: 16 kHz mono
//! samples to 80 log-mel bands every 10 ms, and the 16-frame windows the
//! networks read per video frame. The specification is
//! `docs/audio-features.md`; the tests reproduce the toolchain's test vectors
//! (`tests/vectors/audio/`) to 1e-4.
//!
//! [`LogMel`] owns its FFT plan and scratch buffers: computing frames
//! allocates nothing after construction.

mod fft;
mod resample;

pub use resample::{to_16k, Resampler, MAX_RATE, MIN_RATE};

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
/// Mel frames per video-frame window (spec v2: a second of the past for
/// the networks' running normalisation, and [`AHEAD`] frames of the future).
pub const CONTEXT: usize = 100;
/// Frames of a window after its centre frame.
pub const AHEAD: usize = 7;
/// The window's first frame, counted back from its centre frame.
const BEHIND: i64 = (CONTEXT - 1 - AHEAD) as i64;
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
    /// A stream ran too far ahead of its reader.
    #[error("the audio stream is more than {0:.0} s ahead of playback")]
    TooFarAhead(f64),
    /// Samples pushed after the end of a stream.
    #[error("the audio stream has ended; samples cannot be added")]
    Finished,
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
    fft: fft::Fft,
    re: Vec<f64>,
    im: Vec<f64>,
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

        Self {
            filters,
            window,
            fft: fft::Fft::new(N_FFT),
            re: vec![0.0; N_FFT],
            im: vec![0.0; N_FFT],
            power: vec![0.0; N_FFT / 2 + 1],
        }
    }

    /// Number of mel frames of a signal of `samples` samples.
    pub fn num_frames(samples: usize) -> usize {
        samples / HOP + 1
    }

    /// Mel frame `k` of `samples` (centred on sample `160 k`, zeros outside).
    pub fn frame(&mut self, samples: &[f32], k: usize, out: &mut [f32; N_MELS]) {
        self.frame_in(samples, 0, k as u64, out);
    }

    /// Mel frame `k` of a signal of which `part` holds samples `first..`
    /// (zeros outside it).
    fn frame_in(&mut self, part: &[f32], first: u64, k: u64, out: &mut [f32; N_MELS]) {
        let start = (k * HOP as u64) as i64 - (WINDOW / 2) as i64 - first as i64;
        for (n, (re, im)) in self.re.iter_mut().zip(&mut self.im).enumerate() {
            let s = start + n as i64;
            *re = if n < WINDOW && s >= 0 && (s as usize) < part.len() {
                f64::from(part[s as usize]) * self.window[n]
            } else {
                0.0
            };
            *im = 0.0;
        }
        self.fft.forward(&mut self.re, &mut self.im);
        for ((p, re), im) in self.power.iter_mut().zip(&self.re).zip(&self.im) {
            *p = re * re + im * im;
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

/// The mel-frame window ([`CONTEXT`] frames) for video frame `t` at `fps`:
/// frames `c - 92 ..= c + 7` with `c = floor(100 t / fps + 0.5)`, silence
/// outside the signal.
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

/// Mel frames `c - 92 ..= c + 7` into `out`, silence outside the signal.
fn fill_window(mel: &[[f32; N_MELS]], c: i64, out: &mut [[f32; N_MELS]; CONTEXT]) {
    fill_window_with(c, out, |k| usize::try_from(k).ok().and_then(|k| mel.get(k)));
}

/// Mel frames `c - 92 ..= c + 7` from `get` (`None`: silence) into `out`.
fn fill_window_with<'a>(
    c: i64,
    out: &mut [[f32; N_MELS]; CONTEXT],
    get: impl Fn(i64) -> Option<&'a [f32; N_MELS]>,
) {
    let floor = LOG_FLOOR.ln() as f32;
    for (j, row) in out.iter_mut().enumerate() {
        *row = get(c - BEHIND + j as i64).map_or([floor; N_MELS], |f| *f);
    }
}

/// `c = floor(100 seconds + 0.5)`, the mel frame a window is placed on
/// (far outside any signal when `seconds` is not finite).
fn centre_frame(seconds: f64) -> i64 {
    if seconds.is_finite() {
        (100.0 * seconds + 0.5).floor().clamp(-1e12, 1e12) as i64
    } else {
        i64::MIN / 2
    }
}

/// The mel-frame window for time `seconds` of the signal (the same
/// rule as [`frame_window`]: `c = floor(100 seconds + 0.5)`), silence
/// outside the signal. For a clock that is not a whole frame count.
pub fn window_at(mel: &[[f32; N_MELS]], seconds: f64, out: &mut [[f32; N_MELS]; CONTEXT]) {
    fill_window(mel, centre_frame(seconds), out);
}

/// Live speech: 16 kHz samples arrive in chunks of any size and become
/// mel frames as soon as the analysis window of each is complete (12.5 ms
/// after its centre), the same numbers as
/// [`LogMel::frames`] on the whole signal. Frames older than the last
/// window asked for are forgotten, so memory stays bounded by how far the
/// input runs ahead of the reader (at most [`MelStream::MAX_AHEAD`]
/// frames). After warm-up, nothing is allocated per chunk or per window.
pub struct MelStream {
    logmel: LogMel,
    /// The samples still needed; `pcm[0]` is sample `pcm_first`.
    pcm: Vec<f32>,
    pcm_first: u64,
    received: u64,
    /// Computed frames; `frames[0]` is frame `frame_first`.
    frames: std::collections::VecDeque<[f32; N_MELS]>,
    frame_first: u64,
    /// Frames before this one will not be asked for again.
    read_from: u64,
    ended: bool,
}

impl Default for MelStream {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MelStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelStream")
            .field("received", &self.received)
            .field("frames", &self.frames.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl MelStream {
    /// Most frames kept ahead of the last window read (10 minutes).
    pub const MAX_AHEAD: usize = 60_000;

    /// An empty stream.
    pub fn new() -> Self {
        Self {
            logmel: LogMel::new(),
            pcm: Vec::new(),
            pcm_first: 0,
            received: 0,
            frames: std::collections::VecDeque::new(),
            frame_first: 0,
            read_from: 0,
            ended: false,
        }
    }

    /// Seconds of audio received.
    pub fn seconds(&self) -> f64 {
        self.received as f64 / f64::from(SAMPLE_RATE)
    }

    /// Whether [`MelStream::end`] was called.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Frames computed (in all, since the start).
    pub fn frames_done(&self) -> u64 {
        self.frame_first + self.frames.len() as u64
    }

    /// Frames held in memory now.
    pub fn frames_held(&self) -> usize {
        self.frames.len()
    }

    /// Adds 16 kHz samples and computes the frames they complete.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(AudioError::NotFinite(self.received as usize + i));
        }
        if self.ended {
            return Err(AudioError::Finished);
        }
        let ahead =
            self.frames_done().saturating_sub(self.read_from) as usize + samples.len() / HOP;
        if ahead > Self::MAX_AHEAD {
            return Err(AudioError::TooFarAhead(Self::MAX_AHEAD as f64 / 100.0));
        }
        self.pcm.extend_from_slice(samples);
        self.received += samples.len() as u64;
        // Frame k needs samples up to 160 k + 200.
        while self.frames_done() * HOP as u64 + (WINDOW / 2) as u64 <= self.received {
            self.compute_next();
        }
        self.trim();
        Ok(())
    }

    /// The input has ended: computes the last frames (zeros past the end,
    /// as [`LogMel::frames`] does).
    pub fn end(&mut self) {
        if self.ended {
            return;
        }
        while self.frames_done() < LogMel::num_frames(self.received as usize) as u64 {
            self.compute_next();
        }
        self.ended = true;
        self.trim();
    }

    fn compute_next(&mut self) {
        let k = self.frames_done();
        let mut f = [0f32; N_MELS];
        self.logmel.frame_in(&self.pcm, self.pcm_first, k, &mut f);
        self.frames.push_back(f);
    }

    /// Drops samples no later frame needs and frames no later window reads.
    fn trim(&mut self) {
        let need = (self.frames_done() * HOP as u64).saturating_sub((WINDOW / 2) as u64);
        if need > self.pcm_first {
            let n = ((need - self.pcm_first) as usize).min(self.pcm.len());
            self.pcm.drain(..n);
            self.pcm_first += n as u64;
        }
        while self.frame_first < self.read_from && !self.frames.is_empty() {
            self.frames.pop_front();
            self.frame_first += 1;
        }
    }

    /// Forgets the frames before time `seconds` (live input nobody read in
    /// time: a hidden page's animation loop stops while the microphone runs).
    pub fn forget_before(&mut self, seconds: f64) {
        let c = centre_frame(seconds) - BEHIND;
        if c > self.read_from as i64 {
            self.read_from = c as u64;
            self.trim();
        }
    }

    /// The window for time `seconds` of the stream (as
    /// [`window_at`]); frames not computed yet (the future) or forgotten
    /// are silence. Frames before this window are forgotten: read windows
    /// in time order.
    pub fn window_at(&mut self, seconds: f64, out: &mut [[f32; N_MELS]; CONTEXT]) {
        let c = centre_frame(seconds);
        let (first, frames) = (self.frame_first as i64, &self.frames);
        fill_window_with(c, out, |k| {
            usize::try_from(k - first).ok().and_then(|i| frames.get(i))
        });
        self.forget_before(seconds);
    }
}
