//! The mouth from phone timings: when the speech comes from a synthesiser
//! that says which phone is where (eSpeak NG in `say()`), the mouth follows
//! those phones instead of what Face-Sync hears. Measured on eSpeak speech,
//! this articulates better (`tools/tts_articulation.py`, `synctalk render
//! --phones` on an H100: the project's sync score 1.36 against 0.95 from
//! the sound, mean of four passages, the demo portrait; better on three of
//! the four), and its lips lead the sound as real speakers' do.
//!
//! Each phone's articulation class (the toolchain's `synth.CLASSES`) takes
//! the mean of Face-Sync's own per-phone mouth shapes of that class (its
//! constant `table`, one row per phone of its phonetic front end), so a
//! portrait's Face-Sync decides what its visemes look like. The curve is the
//! toolchain's `synth.target_curve`: classes sampled at 25 frames a second,
//! `LEAD_FRAMES` ahead of the sound, smoothed with a Gaussian of one frame;
//! between frames it is interpolated. `tests/vectors/visemes/` holds the
//! toolchain's curve for a passage of eSpeak NG speech.

use crate::EngineError;
use synctalk_nets::{WindowNet, BLENDSHAPES};

/// The articulation classes (the toolchain's `synth.CLASSES`), silence first.
pub const CLASSES: [&str; 15] = [
    "sil",
    "bilabial",
    "labiodental",
    "dental",
    "alveolar",
    "postalveolar",
    "velar",
    "r",
    "w",
    "j",
    "h",
    "open",
    "mid",
    "front",
    "round",
];

/// Frames per second of the curve (the toolchain's).
pub const FPS: f64 = 25.0;
/// How many frames the lips lead the sound.
pub const LEAD_FRAMES: i64 = 2;
/// The smoothing's standard deviation, in frames.
const SIGMA_FRAMES: f64 = 1.0;
/// The smoothing's half width: ceil(3 σ).
const RADIUS: i64 = 3;

/// The phones of Face-Sync's phonetic front end, in the order of its
/// `table`'s rows (pocketsphinx's US English set).
pub const FRONT_END_PHONES: [&str; 42] = [
    "+NSN+", "+SPN+", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY",
    "F", "G", "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH",
    "SIL", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
];

fn class(name: &str) -> usize {
    CLASSES.iter().position(|c| *c == name).unwrap_or(0)
}

/// The articulation class of an ARPAbet phone (silence for unknown ones).
pub fn arpabet_class(phone: &str) -> usize {
    let p = phone.trim_end_matches(['0', '1', '2']).to_ascii_uppercase();
    class(match p.as_str() {
        "P" | "B" | "M" => "bilabial",
        "F" | "V" => "labiodental",
        "TH" | "DH" => "dental",
        "T" | "D" | "N" | "S" | "Z" | "L" => "alveolar",
        "SH" | "ZH" | "CH" | "JH" => "postalveolar",
        "K" | "G" | "NG" => "velar",
        "R" | "ER" | "AXR" => "r",
        "W" => "w",
        "Y" => "j",
        "HH" => "h",
        "AA" | "AE" | "AH" | "AO" | "AW" | "AY" => "open",
        "EH" | "EY" | "AX" | "IX" => "mid",
        "IH" | "IY" => "front",
        "OW" | "OY" | "UH" | "UW" => "round",
        _ => "sil",
    })
}

/// The class of an IPA symbol beyond the ASCII letters (which mean the same
/// in eSpeak's mnemonics and in IPA), as the toolchain's `synth._IPA`.
fn ipa_class(c: char) -> Option<&'static str> {
    Some(match c {
        'ɸ' | 'β' | 'ʙ' => "bilabial",
        'ɱ' | 'ʋ' => "labiodental",
        'θ' | 'ð' => "dental",
        'ɾ' | 'ɬ' | 'ɮ' | 'ɫ' | 'ɺ' | 'ʦ' | 'ʣ' | 'ɳ' | 'ɖ' | 'ʈ' | 'ɭ' => "alveolar",
        'ʃ' | 'ʒ' | 'ʧ' | 'ʤ' | 'ɕ' | 'ʑ' | 'ʂ' | 'ʐ' | 'ç' => "postalveolar",
        'ɟ' | 'ʝ' | 'ʎ' | 'ɲ' => "j",
        'ŋ' | 'ɡ' | 'ɣ' | 'χ' | 'ɢ' | 'ɰ' => "velar",
        'ɹ' | 'ɻ' | 'ʀ' | 'ʁ' | 'ɚ' | 'ɝ' | 'ɜ' => "r",
        'ʍ' | 'ɥ' => "w",
        'ɦ' | 'ʔ' | 'ħ' | 'ʕ' => "h",
        'ɑ' | 'ɒ' | 'æ' | 'ʌ' | 'ɐ' | 'ɶ' => "open",
        'ɔ' | 'ʊ' | 'ʏ' | 'ø' | 'œ' | 'ɵ' => "round",
        'ɛ' | 'ə' | 'ɘ' | 'ɤ' | 'ɯ' | 'ɞ' => "mid",
        'ɪ' | 'ɨ' => "front",
        _ => return None,
    })
}

/// The articulation class of an eSpeak NG phoneme, as its mnemonic or in
/// IPA (the browser build's events), in any language (the toolchain's
/// `synth.espeak_class`).
pub fn espeak_class(phoneme: &str) -> usize {
    // Stress, length and pause marks go; so do variant digits after a
    // phoneme ("@2"), but not the phonemes that are digits ("3": ɜ, "0": ɒ).
    let p = phoneme.trim_matches(|c: char| "'\",%=:;!_-ˈˌːˑ\u{0306}\u{203f}\u{0361}".contains(c));
    let p = match p.trim_end_matches(|c: char| c.is_ascii_digit()) {
        "" => p.get(..1).unwrap_or(""),
        q => q,
    };
    let Some(c) = p.chars().next() else {
        return 0;
    };
    if let Some(k) = ipa_class(c) {
        return class(k);
    }
    let two: String = p.chars().take(2).collect();
    class(match two.as_str() {
        "tS" | "dZ" | "tʃ" | "dʒ" => "postalveolar",
        "aI" | "aU" | "a#" | "A@" | "A:" => "open",
        "oU" | "OI" | "u:" | "o:" | "O:" | "U@" | "y:" => "round",
        "i:" | "I@" | "iE" => "front",
        _ => match c {
            'p' | 'b' | 'm' => "bilabial",
            'f' | 'v' => "labiodental",
            'T' | 'D' => "dental",
            't' | 'd' | 'n' | 's' | 'z' | 'l' | 'L' => "alveolar",
            'S' | 'Z' | 'C' => "postalveolar",
            'J' | 'j' => "j",
            'k' | 'g' | 'N' | 'x' | 'q' => "velar",
            'r' | 'R' | '3' => "r",
            'w' => "w",
            'h' | 'Q' | '?' => "h",
            'a' | 'A' | 'V' | '&' | '0' => "open",
            'O' | 'o' | 'u' | 'U' | 'y' | 'Y' | 'W' => "round",
            'e' | 'E' | '@' => "mid",
            'i' | 'I' => "front",
            _ => "sil",
        },
    })
}

/// One mouth shape (52 blendshapes) per articulation class.
#[derive(Debug, Clone)]
pub struct Visemes {
    table: [[f32; BLENDSHAPES]; CLASSES.len()],
}

impl Visemes {
    /// The visemes of a Face-Sync network that holds its per-phone `table`
    /// ([42, 52]); `None` for one that does not. Silence (and a class with
    /// no phone of the front end) is `rest`, the network's answer to
    /// silence (the toolchain's Face-Sync answers its constant `rest`).
    pub fn from_face_sync(net: &WindowNet, rest: &[f32; BLENDSHAPES]) -> Option<Self> {
        let table = net.constant("table")?;
        if table.shape != [FRONT_END_PHONES.len(), BLENDSHAPES] {
            return None;
        }
        let mut sums = [[0f64; BLENDSHAPES]; CLASSES.len()];
        let mut counts = [0usize; CLASSES.len()];
        for (phone, row) in FRONT_END_PHONES
            .iter()
            .zip(table.values.chunks_exact(BLENDSHAPES))
        {
            let c = arpabet_class(phone);
            counts[c] += 1;
            for (s, v) in sums[c].iter_mut().zip(row) {
                *s += f64::from(*v);
            }
        }
        let mut out = [[0f32; BLENDSHAPES]; CLASSES.len()];
        for (c, row) in out.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = if c == 0 || counts[c] == 0 {
                    rest[j]
                } else {
                    (sums[c][j] / counts[c] as f64) as f32
                };
            }
        }
        Some(Self { table: out })
    }

    /// The mouth shape of class `c`.
    pub fn class_shape(&self, c: usize) -> &[f32; BLENDSHAPES] {
        &self.table[c.min(CLASSES.len() - 1)]
    }
}

/// A clip's phones: (class, start, end) in seconds, sorted by start.
#[derive(Debug, Clone, Default)]
pub struct Phones {
    segments: Vec<(usize, f64, f64)>,
    /// Frames of the clip at [`FPS`] (floor of its length).
    frames: i64,
}

impl Phones {
    /// The phones of a clip of `seconds`, as eSpeak NG mnemonics with their
    /// start and end times; pauses may be left out or given as `_`.
    pub fn from_espeak<'a>(
        segments: impl IntoIterator<Item = (&'a str, f64, f64)>,
        seconds: f64,
    ) -> Result<Self, EngineError> {
        let mut out = Vec::new();
        for (k, (name, start, end)) in segments.into_iter().enumerate() {
            if !(start.is_finite() && end.is_finite() && start >= 0.0 && end >= start) {
                return Err(EngineError::Phones(format!(
                    "phone {k} ('{name}') runs from {start} to {end} s"
                )));
            }
            out.push((espeak_class(name), start, end));
        }
        if out.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(EngineError::Phones(
                "the phones are not in order of their start".into(),
            ));
        }
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(EngineError::Phones(format!("a clip of {seconds} s")));
        }
        Ok(Self {
            segments: out,
            frames: (seconds * FPS).floor() as i64,
        })
    }

    /// The class under time `t` (the last phone that covers it), else silence.
    fn class_at(&self, t: f64) -> usize {
        let after = self.segments.partition_point(|s| s.1 <= t);
        self.segments[..after]
            .iter()
            .rev()
            .find(|s| t < s.2)
            .map_or(0, |s| s.0)
    }

    /// The curve at frame `f` (the toolchain's `target_curve` row `f`).
    fn frame(&self, visemes: &Visemes, f: i64, out: &mut [f32; BLENDSHAPES]) {
        let last = (self.frames - 1).max(0);
        let mut total = 0.0;
        let mut acc = [0f64; BLENDSHAPES];
        for k in -RADIUS..=RADIUS {
            let w = (-0.5 * (k as f64 / SIGMA_FRAMES).powi(2)).exp();
            total += w;
            let g = (f + k).clamp(0, last) + LEAD_FRAMES;
            let shape = visemes.class_shape(self.class_at(g as f64 / FPS));
            for (a, v) in acc.iter_mut().zip(shape) {
                *a += w * f64::from(*v);
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = (a / total) as f32;
        }
    }

    /// The mouth at `t` seconds into the clip: the curve's frames either
    /// side, interpolated.
    pub fn at(&self, visemes: &Visemes, t: f64) -> [f32; BLENDSHAPES] {
        let x = (t * FPS).clamp(0.0, (self.frames - 1).max(0) as f64);
        let f = x.floor() as i64;
        let a = (x - f as f64) as f32;
        let mut lo = [0f32; BLENDSHAPES];
        self.frame(visemes, f, &mut lo);
        if a > 0.0 {
            let mut hi = [0f32; BLENDSHAPES];
            self.frame(visemes, f + 1, &mut hi);
            for (l, h) in lo.iter_mut().zip(hi) {
                *l += (h - *l) * a;
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_common_phones() {
        assert_eq!(CLASSES[espeak_class("m")], "bilabial");
        assert_eq!(CLASSES[espeak_class("'a#")], "open");
        assert_eq!(CLASSES[espeak_class("tS")], "postalveolar");
        assert_eq!(CLASSES[espeak_class("_")], "sil");
        assert_eq!(CLASSES[espeak_class("u:")], "round");
        assert_eq!(CLASSES[espeak_class("3")], "r");
        assert_eq!(CLASSES[espeak_class("0")], "open");
        assert_eq!(CLASSES[espeak_class("@2")], "mid");
        assert_eq!(CLASSES[espeak_class("1")], "sil");
        assert_eq!(CLASSES[arpabet_class("AA1")], "open");
        // IPA, as the browser's eSpeak NG gives it.
        for (ipa, want) in [
            ("ˈoʊ", "round"),
            ("ə", "mid"),
            ("ˈɜː", "r"),
            ("ð", "dental"),
            ("tʃ", "postalveolar"),
            ("ŋ", "velar"),
            ("ɡ", "velar"),
            ("ˈaɪ", "open"),
            ("ˌʌ", "open"),
            ("iː", "front"),
            ("", "sil"),
        ] {
            assert_eq!(CLASSES[espeak_class(ipa)], want, "{ipa}");
        }
        assert_eq!(CLASSES[arpabet_class("+NSN+")], "sil");
    }

    #[test]
    fn bad_phones_are_refused() {
        assert!(Phones::from_espeak([("m", 0.2, 0.1)], 1.0).is_err());
        assert!(Phones::from_espeak([("m", f64::NAN, 0.1)], 1.0).is_err());
        assert!(Phones::from_espeak([("m", 0.5, 0.6), ("a", 0.1, 0.2)], 1.0).is_err());
        assert!(Phones::from_espeak([("m", 0.0, 0.1)], 0.0).is_err());
        assert!(Phones::from_espeak([("m", 0.0, 0.1)], 1.0).is_ok());
    }
}
