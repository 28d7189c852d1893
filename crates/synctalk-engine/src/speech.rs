//! The speech the lips follow: a whole clip analysed up front ([`Speech`])
//! or live speech analysed as it arrives ([`SpeechStream`]).

use crate::EngineError;
use synctalk_audio::{
    to_16k, window_at, LogMel, MelStream, Resampler, CONTEXT, N_MELS, SAMPLE_RATE,
};

/// A speech clip, ready to be followed: its log-mel frames at 100 per second.
pub struct Speech {
    mel: Vec<[f32; N_MELS]>,
    seconds: f64,
}

impl Speech {
    /// The longest clip (one hour: 115 MB of mel frames).
    pub const MAX_SECONDS: f64 = 3600.0;

    /// Prepares mono `samples` at `rate` Hz (resampled to 16 kHz).
    pub fn new(samples: &[f32], rate: u32) -> Result<Self, EngineError> {
        if samples.is_empty() {
            return Err(EngineError::Empty);
        }
        let seconds = samples.len() as f64 / f64::from(rate.max(1));
        if seconds > Self::MAX_SECONDS {
            return Err(EngineError::TooLong {
                seconds,
                max: Self::MAX_SECONDS,
            });
        }
        let x = to_16k(samples, rate)?;
        if x.is_empty() {
            return Err(EngineError::Empty);
        }
        let mut mel = Vec::new();
        LogMel::new().frames(&x, &mut mel)?;
        Ok(Self {
            mel,
            seconds: x.len() as f64 / f64::from(SAMPLE_RATE),
        })
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.seconds
    }
}

impl std::fmt::Debug for Speech {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speech")
            .field("seconds", &self.seconds)
            .finish_non_exhaustive()
    }
}

/// Live speech (a microphone, a TTS engine's PCM chunks): samples at any
/// rate arrive in chunks of any size and are followed as they come. Its
/// time runs from its first sample; a frame at a time the stream has not
/// reached yet shows silence, so a reader follows `seconds() − look-ahead`
/// (a window reaches 82.5 ms past its centre). Memory stays bounded: what
/// was read is forgotten.
pub struct SpeechStream {
    resampler: Resampler,
    mel: MelStream,
    scratch: Vec<f32>,
    live: bool,
}

impl std::fmt::Debug for SpeechStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeechStream")
            .field("rate", &self.resampler.rate())
            .field("seconds", &self.mel.seconds())
            .field("ended", &self.mel.ended())
            .finish_non_exhaustive()
    }
}

impl SpeechStream {
    /// Audio (after resampling) a window reaches past its centre: 7 mel
    /// frames and half an analysis window.
    pub const WINDOW_AHEAD: f64 = 0.0825;

    /// How much of the past a live stream keeps for a late reader.
    pub const LIVE_KEEP: f64 = 2.0;

    /// A stream of mono samples at `rate` Hz that may run ahead of its
    /// reader (a TTS engine faster than playback), up to
    /// [`MelStream::MAX_AHEAD`](synctalk_audio::MelStream::MAX_AHEAD).
    pub fn new(rate: u32) -> Result<Self, EngineError> {
        Ok(Self {
            resampler: Resampler::new(rate)?,
            mel: MelStream::new(),
            scratch: Vec::new(),
            live: false,
        })
    }

    /// A live stream (a microphone): only the last
    /// [`LIVE_KEEP`](Self::LIVE_KEEP) seconds are kept, whether or not
    /// frames were drawn meanwhile.
    pub fn live(rate: u32) -> Result<Self, EngineError> {
        Ok(Self {
            live: true,
            ..Self::new(rate)?
        })
    }

    /// Adds mono samples; returns the seconds of speech received so far.
    /// A chunk with a NaN or infinite sample is refused whole.
    pub fn push(&mut self, samples: &[f32]) -> Result<f64, EngineError> {
        self.scratch.clear();
        self.resampler.push(samples, &mut self.scratch)?;
        self.mel.push(&self.scratch)?;
        if self.live {
            self.mel.forget_before(self.mel.seconds() - Self::LIVE_KEEP);
        }
        Ok(self.mel.seconds())
    }

    /// The input has ended (its last samples become frames).
    pub fn end(&mut self) {
        self.scratch.clear();
        self.resampler.finish(&mut self.scratch);
        // The resampler's tail is finite by construction and follows the
        // last push, so this cannot fail.
        let _ = self.mel.push(&self.scratch);
        self.mel.end();
    }

    /// Seconds of speech received.
    pub fn seconds(&self) -> f64 {
        self.mel.seconds()
    }

    /// Whether [`SpeechStream::end`] was called.
    pub fn ended(&self) -> bool {
        self.mel.ended()
    }
}

/// What the lips follow.
#[derive(Debug)]
pub(crate) enum Source {
    Clip(Speech),
    Stream(Box<SpeechStream>),
}

impl Source {
    /// Seconds of speech heard so far (a clip's whole length).
    pub(crate) fn seconds(&self) -> f64 {
        match self {
            Source::Clip(s) => s.seconds,
            Source::Stream(s) => s.seconds(),
        }
    }

    /// The log-mel window centred on `t` seconds into `out`.
    pub(crate) fn window_at(&mut self, t: f64, out: &mut [[f32; N_MELS]; CONTEXT]) {
        match self {
            Source::Clip(s) => window_at(&s.mel, t, out),
            Source::Stream(s) => s.mel.window_at(t, out),
        }
    }
}
