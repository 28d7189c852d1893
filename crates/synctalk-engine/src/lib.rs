//! The per-frame engine of a talking portrait, shared by the `synctalk` CLI
//! and the browser bindings: speech (any sample rate) becomes log-mel
//! windows, Face-Sync turns the window at the audio clock's time into 52
//! blendshapes, blinks and caller overrides are mixed in, the portrait's
//! controller turns them into deformation coefficients, and the head pose
//! comes from the portrait's pose track, played forwards and backwards with
//! eased turns at a fractional position (smooth on a display faster than
//! the track) — with Head-Sync, faster while speech is active than in
//! silence and turned by its nods (see [`head`]).
//!
//! Frames are chosen by clocks, never by counting calls: [`Engine::frame`]
//! takes the session time (blinks, head motion) and the speech time (the
//! position in the audio being heard).

mod bench;
pub mod blendshapes;
mod blinks;
mod calibration;
pub mod head;
mod networks;
mod speech;
mod track;
pub mod visemes;

pub use bench::{bench_audio, AudioBench};
pub use blinks::Blinks;
pub use speech::{Speech, SpeechStream};
pub use track::{track_position, trained_span, TURN};

use calibration::{articulation, condition_range, held_out_frames, valid_articulation};
use speech::Source;

use synctalk_audio::{AudioError, CONTEXT, N_MELS};
use synctalk_nets::{FaceSync, NetError, WindowNet};
use synctalk_portrait::{Controller, Portrait};

// The front end cuts the windows the networks read.
const _: () = assert!(CONTEXT == synctalk_nets::CONTEXT && N_MELS == synctalk_nets::N_MELS);

/// Number of blendshapes in a condition vector.
pub const BLENDSHAPES: usize = 52;

/// Why the engine cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The audio cannot be used.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The audio holds no samples.
    #[error("audio: no samples")]
    Empty,
    /// The audio is longer than one clip may be.
    #[error("audio: {seconds:.0} s is longer than the {max:.0} s one clip may last")]
    TooLong {
        /// Length of the clip.
        seconds: f64,
        /// The limit.
        max: f64,
    },
    /// A network failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// An unknown blendshape name or a bad value.
    #[error("blendshape `{name}`: {why}")]
    Blendshape {
        /// The name given.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The portrait cannot be driven.
    #[error("portrait: {0}")]
    Portrait(String),
    /// An articulation strength outside 0 to 10 (or not a number).
    /// Phone timings that cannot be followed.
    #[error("phones: {0}")]
    Phones(String),
    #[error("articulation {0} must be in [0, 10]")]
    Articulation(f32),
    /// A call's argument out of its range.
    #[error("{0}")]
    Argument(String),
}

/// What one frame shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// The 52 blendshapes (MediaPipe order), each in [0, 1].
    pub blendshapes: [f32; BLENDSHAPES],
    /// The deformation coefficients for them (empty without a deformation).
    pub coefficients: Vec<f32>,
    /// The pose-track frame nearest [`Frame::pose_position`] (its torso
    /// layer is shown).
    pub pose_frame: usize,
    /// Where on the pose track the head is, in frames (fractional: see
    /// `Portrait::track_camera`).
    pub pose_position: f64,
    /// Whether Face-Sync followed speech in this frame.
    pub speaking: bool,
    /// Head-Sync's turn of the head about the portrait's pivot (a rotation
    /// vector in head space, radians; 0 without Head-Sync): see
    /// `Portrait::head_camera`.
    pub head_rotation: [f32; 3],
}

impl Default for Frame {
    fn default() -> Self {
        Self {
            blendshapes: [0.0; BLENDSHAPES],
            coefficients: Vec::new(),
            pose_frame: 0,
            pose_position: 0.0,
            speaking: false,
            head_rotation: [0.0; 3],
        }
    }
}

/// `v` if it is a number in `[lo, hi]`, else an [`EngineError::Argument`]
/// naming the setting.
fn setting(what: &str, v: f32, lo: f32, hi: f32) -> Result<f32, EngineError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(EngineError::Argument(format!(
            "{what} {v} must be in [{lo}, {hi}]"
        )))
    }
}

/// The frame arena (`synctalk-arena`) that programs running the engine
/// install as their global allocator (the CLI and the browser build do): 4
/// slabs of 3 MiB. The tensors tract allocates in one network run (at most
/// 1.9 MiB at once for the demo's Face-Sync) fit a slab, so the steady
/// state makes no heap allocation (`tests/alloc.rs`); a larger network's
/// runs would overflow to the heap, still correct.
pub const ARENA_BYTES: usize = 12 << 20;

/// The networks a portrait may carry (NETW names) that the engine runs:
/// Face-Sync (the frame's blendshapes), the Expression Generator (offsets
/// of the upper face from rest, added while speech is heard) and Head-Sync
/// (the head's motion: [`head`]).
pub const NETWORKS: [&str; 3] = ["face_sync", "expression", "head_sync"];

/// Values Head-Sync gives: a rotation vector (3) and the speech's activity.
pub const HEAD_SYNC_OUTPUTS: usize = 4;

/// The engine: networks, the current speech, overrides and clocks' rules.
pub struct Engine {
    face_sync: Option<FaceSync>,
    expression: Option<WindowNet>,
    /// What the Expression Generator's offsets are multiplied by.
    expression_strength: f32,
    head_sync: Option<WindowNet>,
    /// What Head-Sync's rotation is multiplied by.
    head_strength: f32,
    /// How fast the pose track plays in silence (Head-Sync).
    idle_pace: f64,
    head: head::HeadMotion,
    /// A still head (reduced motion): the pose-track position it holds,
    /// once a frame has been made while still.
    still: Option<Option<f64>>,
    /// The pose-track position (in frames of clock time) of the last frame.
    last_steps: f64,
    controller: Option<Controller>,
    range: [(f32, f32); BLENDSHAPES],
    /// The part of the pose track played: (first frame, frames), see
    /// [`trained_span`].
    pose_span: (usize, usize),
    pose_fps: f64,
    rest: [f32; BLENDSHAPES],
    source: Option<Source>,
    /// Face-Sync's mouth shape per articulation class, when it holds them.
    visemes: Option<visemes::Visemes>,
    /// The phones of the speech being followed, when they are known.
    phones: Option<visemes::Phones>,
    window: [[f32; N_MELS]; CONTEXT],
    value: [f32; BLENDSHAPES],
    weight: [f32; BLENDSHAPES],
    articulation: f32,
    /// The shape the mouth's amplification turns around (`None`: the rest).
    centre: Option<[f32; BLENDSHAPES]>,
    scratch: Vec<f32>,
    /// Blink settings.
    pub blinks: Blinks,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("face_sync", &self.face_sync.is_some())
            .field("expression", &self.expression.is_some())
            .field("head_sync", &self.head_sync.is_some())
            .field("pose_span", &self.pose_span)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine for `portrait`, without networks yet (see
    /// [`Engine::set_face_sync`]): until then the face rests.
    pub fn new(portrait: &Portrait) -> Result<Self, EngineError> {
        if let Some(d) = &portrait.deformation {
            if d.controller.input_dim != BLENDSHAPES {
                return Err(EngineError::Portrait(format!(
                    "the controller takes {} values, the engine drives {BLENDSHAPES} blendshapes",
                    d.controller.input_dim
                )));
            }
        }
        let (pose_frames, pose_fps) = match &portrait.pose {
            Some(t) if !t.frames.is_empty() => (
                t.frames.len(),
                if t.fps.is_finite() && t.fps > 0.0 {
                    f64::from(t.fps)
                } else {
                    25.0
                },
            ),
            _ => (0, 25.0),
        };
        let (articulation, centre) = articulation(portrait)?;
        let pose_span = trained_span(pose_frames, &held_out_frames(portrait)?);
        Ok(Self {
            face_sync: None,
            expression: None,
            expression_strength: 1.0,
            head_sync: None,
            head_strength: 1.0,
            idle_pace: head::IDLE_SPEED,
            head: head::HeadMotion::default(),
            still: None,
            last_steps: 0.0,
            controller: portrait.deformation.as_ref().map(|d| d.controller.clone()),
            range: condition_range(portrait)?,
            pose_span,
            pose_fps,
            rest: [0.0; BLENDSHAPES],
            source: None,
            visemes: None,
            phones: None,
            window: [[0.0; N_MELS]; CONTEXT],
            value: [0.0; BLENDSHAPES],
            weight: [0.0; BLENDSHAPES],
            articulation,
            centre,
            scratch: Vec::new(),
            blinks: Blinks::default(),
        })
    }

    /// Scales the Expression Generator's offsets (brows, eyes): 0 turns them
    /// off, 1 (the default) is as fitted, up to 4.
    pub fn set_expression_strength(&mut self, s: f32) -> Result<(), EngineError> {
        self.expression_strength = setting("expression strength", s, 0.0, 4.0)?;
        Ok(())
    }

    /// The expression strength in use.
    pub fn expression_strength(&self) -> f32 {
        self.expression_strength
    }

    /// Scales Head-Sync's turns of the head (its nods): 0 turns them off
    /// (the track's pace still follows the speech), 1 (the default) is as
    /// fitted, up to 4.
    pub fn set_head_motion(&mut self, s: f32) -> Result<(), EngineError> {
        self.head_strength = setting("head motion", s, 0.0, 4.0)?;
        Ok(())
    }

    /// How fast the head moves along the pose track in silence, against 1
    /// while speech is active (with Head-Sync; default
    /// [`head::IDLE_SPEED`]): from 0.05 to 1 (the same pace throughout).
    pub fn set_idle_pace(&mut self, pace: f32) -> Result<(), EngineError> {
        self.idle_pace = f64::from(setting("idle pace", pace, 0.05, 1.0)?);
        Ok(())
    }

    /// Holds the head still (for viewers who ask for reduced motion): the
    /// pose track stops where it is and Head-Sync's nods stop; the lips,
    /// brows and blinks still move. Released, the head follows the track at
    /// the clock's time again (it may jump there once).
    pub fn set_head_still(&mut self, still: bool) {
        self.still = still.then_some(self.still.flatten());
    }

    /// Whether the head is held still.
    pub fn head_still(&self) -> bool {
        self.still.is_some()
    }

    /// The head motion strength in use.
    pub fn head_motion(&self) -> f32 {
        self.head_strength
    }

    /// The part of the pose track the head plays (first frame, frames):
    /// the longest run of the frames the portrait was trained on
    /// ([`trained_span`]), the whole track for a portrait that held none out.
    pub fn pose_span(&self) -> (usize, usize) {
        self.pose_span
    }

    /// Whether Head-Sync is loaded.
    pub fn has_head_sync(&self) -> bool {
        self.head_sync.is_some()
    }

    /// Whether the Expression Generator is loaded.
    pub fn has_expression(&self) -> bool {
        self.expression.is_some()
    }

    /// Whether Face-Sync is loaded.
    pub fn has_face_sync(&self) -> bool {
        self.face_sync.is_some()
    }

    /// The speech clip to follow (`None`: silence). Replaces a stream.
    pub fn set_speech(&mut self, speech: Option<Speech>) {
        self.source = speech.map(Source::Clip);
        self.phones = None;
    }

    /// The phones of the speech being followed, as eSpeak NG mnemonics with
    /// their start and end in seconds (what the synthesiser that spoke it
    /// says): the mouth follows them instead of what Face-Sync hears (see
    /// [`visemes`]) until the speech is replaced. Returns whether they are
    /// used: not without speech, nor when Face-Sync holds no per-phone
    /// shapes (the mouth then follows the audio).
    pub fn set_speech_phones<'a>(
        &mut self,
        phones: impl IntoIterator<Item = (&'a str, f64, f64)>,
    ) -> Result<bool, EngineError> {
        let phones: Vec<_> = phones.into_iter().collect();
        let seconds = match &self.source {
            Some(Source::Clip(s)) => s.seconds(),
            Some(Source::Stream(_)) => phones.last().map_or(0.0, |p| p.2),
            None => return Ok(false),
        };
        let parsed = visemes::Phones::from_espeak(phones, seconds)?;
        self.phones = self.visemes.as_ref().map(|_| parsed);
        Ok(self.phones.is_some())
    }

    /// The speech clip being followed.
    pub fn speech(&self) -> Option<&Speech> {
        match &self.source {
            Some(Source::Clip(s)) => Some(s),
            _ => None,
        }
    }

    /// Live speech to follow from now on (`None`: silence). Replaces a clip.
    pub fn set_stream(&mut self, stream: Option<SpeechStream>) {
        self.source = stream.map(|s| Source::Stream(Box::new(s)));
        self.phones = None;
    }

    /// The live speech being followed, to push samples into.
    pub fn stream_mut(&mut self) -> Option<&mut SpeechStream> {
        match &mut self.source {
            Some(Source::Stream(s)) => Some(s),
            _ => None,
        }
    }

    /// Amplifies the jaw and mouth blendshapes' departure from the
    /// portrait's articulation centre, or from the face at rest where it has
    /// none, while speech is heard (then clamps to the trained range); 1
    /// leaves the network's output as is. Starts at the portrait's own value
    /// ([`Engine::articulation`]).
    pub fn set_articulation(&mut self, a: f32) -> Result<(), EngineError> {
        if !valid_articulation(a) {
            return Err(EngineError::Articulation(a));
        }
        self.articulation = a;
        Ok(())
    }

    /// The articulation strength in use.
    pub fn articulation(&self) -> f32 {
        self.articulation
    }

    /// Overrides blendshape `name` with `value`, blended by `weight` (0: the
    /// engine's own value, 1: `value` alone). Both in [0, 1].
    pub fn set_blendshape(
        &mut self,
        name: &str,
        value: f32,
        weight: f32,
    ) -> Result<(), EngineError> {
        self.set_blendshapes([(name, value)], weight)
    }

    /// Overrides several blendshapes with one `weight`, all or none: every
    /// name and value is checked before any is set.
    pub fn set_blendshapes<'a>(
        &mut self,
        values: impl IntoIterator<Item = (&'a str, f32)>,
        weight: f32,
    ) -> Result<(), EngineError> {
        let mut set = Vec::new();
        for (name, value) in values {
            let bad = |why: &str| EngineError::Blendshape {
                name: name.into(),
                why: why.into(),
            };
            let i = blendshapes::index(name)
                .ok_or_else(|| bad("not one of the 52 ARKit/MediaPipe names"))?;
            if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
                return Err(bad(&format!("value {value} is not in [0, 1]")));
            }
            if !(weight.is_finite() && (0.0..=1.0).contains(&weight)) {
                return Err(bad(&format!("weight {weight} is not in [0, 1]")));
            }
            set.push((i, value));
        }
        for (i, value) in set {
            self.value[i] = value;
            self.weight[i] = weight;
        }
        Ok(())
    }

    /// Removes every override.
    pub fn clear_blendshapes(&mut self) {
        self.weight = [0.0; BLENDSHAPES];
    }

    /// The frame at session time `clock` (seconds since the avatar started:
    /// blinks and head motion) while the speech is at `speech_time` (seconds
    /// into the clip being heard; `None` or outside the clip: silence).
    pub fn frame(&mut self, clock: f64, speech_time: Option<f64>) -> Result<Frame, EngineError> {
        let mut f = Frame::default();
        self.frame_into(clock, speech_time, &mut f)?;
        Ok(f)
    }

    /// Whether a frame at `speech_time` follows speech ([`Frame::speaking`])
    /// without computing it: Face-Sync is loaded and the time lies inside
    /// the clip, or inside what a stream has delivered so far.
    pub fn speaking_at(&self, speech_time: Option<f64>) -> bool {
        self.face_sync.is_some() && self.hears(speech_time)
    }

    /// Whether `speech_time` lies inside the speech heard so far.
    fn hears(&self, speech_time: Option<f64>) -> bool {
        match (&self.source, speech_time) {
            (Some(s), Some(t)) => t.is_finite() && (0.0..s.seconds()).contains(&t),
            _ => false,
        }
    }

    /// [`Engine::frame`] into `out`, reusing its buffers: a render loop that
    /// keeps one `Frame` allocates nothing here per frame (see
    /// `tests/alloc.rs` for what the network runtime does).
    pub fn frame_into(
        &mut self,
        clock: f64,
        speech_time: Option<f64>,
        out: &mut Frame,
    ) -> Result<(), EngineError> {
        let mut bs = self.rest;
        let mut speaking = false;
        let listening = self.face_sync.is_some() || self.head_sync.is_some();
        let heard = listening && self.hears(speech_time);
        if let (Some(s), Some(t), true) = (&mut self.source, speech_time, heard) {
            s.window_at(t, &mut self.window);
        }
        if let (Some(net), true) = (&mut self.face_sync, heard) {
            bs = net.run(self.window.as_flattened())?;
            speaking = true;
            if let (Some(p), Some(v), Some(t)) = (&self.phones, &self.visemes, speech_time) {
                let mouth = p.at(v, t);
                for (i, (b, m)) in bs.iter_mut().zip(mouth).enumerate() {
                    if blendshapes::is_mouth(i) {
                        *b = m;
                    }
                }
            }
        }
        if speaking {
            let centre = self.centre.as_ref().unwrap_or(&self.rest);
            for (i, (v, c)) in bs.iter_mut().zip(centre).enumerate() {
                if blendshapes::is_mouth(i) {
                    *v = c + (*v - c) * self.articulation;
                }
            }
            if let Some(ex) = &mut self.expression {
                let offsets = ex.run(self.window.as_flattened())?;
                for (i, (v, o)) in bs.iter_mut().zip(offsets).enumerate() {
                    if !blendshapes::is_mouth(i) {
                        *v += o * self.expression_strength;
                    }
                }
            }
        }
        let blink = self.blinks.at(clock);
        for i in [blendshapes::EYE_BLINK_LEFT, blendshapes::EYE_BLINK_RIGHT] {
            bs[i] = bs[i].max(blink);
        }
        for (((v, o), w), (lo, hi)) in bs
            .iter_mut()
            .zip(&self.value)
            .zip(&self.weight)
            .zip(&self.range)
        {
            *v = (*v * (1.0 - w) + o * w).clamp(*lo, *hi);
        }
        match &self.controller {
            Some(c) => c.evaluate_into(&bs, &mut self.scratch, &mut out.coefficients),
            None => out.coefficients.clear(),
        }
        let steps = if let Some(held) = &mut self.still {
            out.head_rotation = [0.0; 3];
            *held.get_or_insert(self.last_steps)
        } else if let Some(net) = &mut self.head_sync {
            let (mut rotation, mut activity) = ([0.0; 3], 0.0);
            if heard {
                let o = net.run(self.window.as_flattened())?;
                rotation = [o[0], o[1], o[2]].map(|v| v * self.head_strength);
                activity = o[3];
            }
            self.head
                .advance(clock, self.pose_fps, self.idle_pace, rotation, activity);
            out.head_rotation = self.head.rotation;
            self.head.steps
        } else {
            out.head_rotation = [0.0; 3];
            if clock.is_finite() && clock > 0.0 {
                clock * self.pose_fps
            } else {
                0.0
            }
        };
        self.last_steps = steps;
        let position = self.pose_span.0 as f64 + track_position(steps, self.pose_span.1);
        out.blendshapes = bs;
        out.pose_position = position;
        // track_position stays within [0, len - 1], the span within the track.
        out.pose_frame = position.round() as usize;
        out.speaking = speaking;
        Ok(())
    }
}
