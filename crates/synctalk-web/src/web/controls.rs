//! What the face follows, set from JavaScript: the speech (a clip, a
//! stream, a synthesiser's phones), blendshape overrides, and the engine's
//! settings (expression, head motion, reduced motion); and the face's
//! blendshapes read back without drawing.

use super::{js_error, WasmAvatar};
use std::collections::HashMap;
use synctalk_engine::{blendshapes, Speech, SpeechStream};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl WasmAvatar {
    /// Speech to follow: mono samples at `rate` Hz. Returns its length in
    /// seconds.
    #[wasm_bindgen(js_name = setSpeech)]
    pub fn set_speech(&mut self, samples: &[f32], rate: u32) -> Result<f64, JsValue> {
        let s = Speech::new(samples, rate).map_err(|e| js_error("BAD_AUDIO", e))?;
        let seconds = s.seconds();
        self.engine.set_speech(Some(s));
        Ok(seconds)
    }

    /// The phones of the speech just set, as a synthesiser gives them
    /// (eSpeak NG mnemonics, with their start and end in seconds): the mouth
    /// follows them instead of the sound until the speech changes. Returns
    /// whether they are used (not when the portrait's Face-Sync holds no
    /// per-phone shapes: the mouth then follows the sound).
    #[wasm_bindgen(js_name = setSpeechPhones)]
    pub fn set_speech_phones(
        &mut self,
        names: Vec<String>,
        starts: &[f64],
        ends: &[f64],
    ) -> Result<bool, JsValue> {
        if names.len() != starts.len() || names.len() != ends.len() {
            return Err(js_error(
                "BAD_ARGUMENT",
                "setSpeechPhones takes as many starts and ends as names",
            ));
        }
        let phones = names
            .iter()
            .zip(starts.iter().zip(ends))
            .map(|(n, (s, e))| (n.as_str(), *s, *e));
        self.engine
            .set_speech_phones(phones)
            .map_err(|e| js_error("BAD_ARGUMENT", e))
    }

    /// Starts following streamed speech: mono chunks at `rate` Hz pushed
    /// with `pushStream`. `live` (a microphone): only the last seconds are
    /// kept; otherwise (a TTS engine) the stream may run ahead of playback.
    /// Replaces any speech.
    #[wasm_bindgen(js_name = startStream)]
    pub fn start_stream(&mut self, rate: u32, live: bool) -> Result<(), JsValue> {
        let s = if live {
            SpeechStream::live(rate)
        } else {
            SpeechStream::new(rate)
        }
        .map_err(|e| js_error("BAD_AUDIO", e))?;
        self.engine.set_stream(Some(s));
        Ok(())
    }

    /// Adds a chunk to the live speech; returns the seconds received so far.
    #[wasm_bindgen(js_name = pushStream)]
    pub fn push_stream(&mut self, samples: &[f32]) -> Result<f64, JsValue> {
        let s = self
            .engine
            .stream_mut()
            .ok_or_else(|| js_error("BAD_ARGUMENT", "no live speech was started"))?;
        s.push(samples).map_err(|e| js_error("BAD_AUDIO", e))
    }

    /// The live speech has ended (its last samples are used).
    #[wasm_bindgen(js_name = endStream)]
    pub fn end_stream(&mut self) {
        if let Some(s) = self.engine.stream_mut() {
            s.end();
        }
    }

    /// Back to silence.
    #[wasm_bindgen(js_name = clearSpeech)]
    pub fn clear_speech(&mut self) {
        self.engine.set_speech(None);
    }

    /// Overrides blendshapes by name (`{jawOpen: 1}`), blended with `weight`
    /// (1: the given values alone).
    #[wasm_bindgen(js_name = setBlendshapes)]
    pub fn set_blendshapes(&mut self, values: JsValue, weight: f32) -> Result<(), JsValue> {
        let map: HashMap<String, f32> = serde_wasm_bindgen::from_value(values).map_err(|e| {
            js_error(
                "BAD_ARGUMENT",
                format!("setBlendshapes takes an object of names to numbers: {e}"),
            )
        })?;
        self.engine
            .set_blendshapes(map.iter().map(|(k, v)| (k.as_str(), *v)), weight)
            .map_err(|e| js_error("BAD_ARGUMENT", e))
    }

    /// Removes every blendshape override.
    #[wasm_bindgen(js_name = clearBlendshapes)]
    pub fn clear_blendshapes(&mut self) {
        self.engine.clear_blendshapes();
    }

    /// The 52 blendshape names, in condition-vector order.
    #[wasm_bindgen(js_name = blendshapeNames)]
    pub fn blendshape_names() -> Vec<String> {
        blendshapes::NAMES.iter().map(|s| s.to_string()).collect()
    }

    /// The 52 blendshapes (in `blendshapeNames` order) of the frame for
    /// these times, without drawing it.
    #[wasm_bindgen(js_name = blendshapesAt)]
    pub fn blendshapes_at(
        &mut self,
        clock: f64,
        speech_time: Option<f64>,
    ) -> Result<Vec<f32>, JsValue> {
        let f = self
            .engine
            .frame(clock, speech_time)
            .map_err(|e| js_error("BAD_AUDIO", e))?;
        Ok(f.blendshapes.to_vec())
    }

    /// Copies the last drawn frame's 52 blendshapes (in `blendshapeNames`
    /// order) into `out` (at most its length), without allocating: for a
    /// per-frame event. Returns whether that frame followed speech.
    #[wasm_bindgen(js_name = copyFrameBlendshapes)]
    pub fn copy_frame_blendshapes(&self, out: &mut [f32]) -> bool {
        for (o, v) in out.iter_mut().zip(self.frame.blendshapes.iter()) {
            *o = *v;
        }
        self.frame.speaking
    }

    /// Whether a frame for speech time `speech_time` follows speech (the
    /// portrait's Face-Sync hears it), without drawing or computing it.
    #[wasm_bindgen(js_name = speakingAt)]
    pub fn speaking_at(&self, speech_time: Option<f64>) -> bool {
        self.engine.speaking_at(speech_time)
    }

    /// Scales the Expression Generator's movements of the brows and eyes
    /// (0: off, 1: as fitted, at most 4).
    #[wasm_bindgen(js_name = setExpressionStrength)]
    pub fn set_expression_strength(&mut self, strength: f32) -> Result<(), JsValue> {
        self.engine
            .set_expression_strength(strength)
            .map_err(|e| js_error("BAD_ARGUMENT", e))
    }

    /// Scales Head-Sync's turns of the head, its nods with the speech's
    /// stress (0: off, 1: as fitted, at most 4).
    #[wasm_bindgen(js_name = setHeadMotion)]
    pub fn set_head_motion(&mut self, strength: f32) -> Result<(), JsValue> {
        self.engine
            .set_head_motion(strength)
            .map_err(|e| js_error("BAD_ARGUMENT", e))
    }

    /// How fast the head moves along the pose track after seconds of
    /// silence, against 1 while speech is heard (Head-Sync): 0.05 to 1.
    #[wasm_bindgen(js_name = setIdlePace)]
    pub fn set_idle_pace(&mut self, pace: f32) -> Result<(), JsValue> {
        self.engine
            .set_idle_pace(pace)
            .map_err(|e| js_error("BAD_ARGUMENT", e))
    }

    /// Holds the head still (reduced motion): the pose track and
    /// Head-Sync's nods stop; the lips, brows and blinks still move.
    #[wasm_bindgen(js_name = setHeadStill)]
    pub fn set_head_still(&mut self, still: bool) {
        self.engine.set_head_still(still);
    }
}
