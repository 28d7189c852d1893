//! Timing the audio side of each displayed frame (`synctalk bench-audio`,
//! the browser's `benchAudio`).

use crate::{Engine, EngineError, Frame, SpeechStream};

/// What [`bench_audio`] measured: milliseconds per displayed frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AudioBench {
    /// Frames timed.
    pub frames: usize,
    /// Mean time per frame.
    pub mean_ms: f64,
    /// Median.
    pub median_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Slowest frame.
    pub max_ms: f64,
}

/// Times the audio side of each displayed frame as a live input drives it:
/// `pcm` (mono, `rate` Hz) pushed in `chunk`-sample pieces as a microphone
/// delivers them by each frame of a `fps` display, then the frame (log-mel,
/// the networks, the controller). `now_ms` is the caller's clock in
/// milliseconds. Replaces the engine's speech with a live stream.
pub fn bench_audio(
    engine: &mut Engine,
    pcm: &[f32],
    rate: u32,
    fps: f64,
    chunk: usize,
    mut now_ms: impl FnMut() -> f64,
) -> Result<AudioBench, EngineError> {
    if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) || chunk == 0 || pcm.is_empty() {
        return Err(EngineError::Argument(
            "bench_audio needs fps in (0, 1000], a positive chunk and some samples".into(),
        ));
    }
    engine.set_stream(Some(SpeechStream::live(rate)?));
    let mut f = Frame::default();
    let mut times = Vec::new();
    let (mut pushed, mut frame) = (0usize, 0u64);
    loop {
        let t = frame as f64 / fps;
        // What the microphone delivered by the time this frame is drawn.
        let due = (((t + SpeechStream::WINDOW_AHEAD) * f64::from(rate)) as usize).min(pcm.len());
        let t0 = now_ms();
        while pushed < due {
            let end = (pushed + chunk).min(due);
            if let Some(s) = engine.stream_mut() {
                s.push(&pcm[pushed..end])?;
            }
            pushed = end;
        }
        engine.frame_into(t, Some(t), &mut f)?;
        times.push(now_ms() - t0);
        if pushed >= pcm.len() {
            break;
        }
        frame += 1;
    }
    times.sort_by(f64::total_cmp);
    let n = times.len();
    Ok(AudioBench {
        frames: n,
        mean_ms: times.iter().sum::<f64>() / n as f64,
        median_ms: times[n / 2],
        p95_ms: times[(n * 95 / 100).min(n - 1)],
        max_ms: times[n - 1],
    })
}
