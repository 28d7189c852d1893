//! Audio files for `synctalk render`: WAV (PCM and float, any bit depth and
//! channel layout), FLAC, MP3 and Ogg Vorbis through Symphonia, read chunk
//! by chunk and mixed to mono, so a file of any length is followed in
//! bounded memory.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// An audio file being decoded.
pub struct AudioReader {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track: u32,
    rate: u32,
    frames: Option<u64>,
    buf: Option<SampleBuffer<f32>>,
    /// Packets that could not be decoded and were skipped.
    pub skipped: usize,
}

impl AudioReader {
    /// Opens `path` and finds its first audio track.
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display();
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                mss,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
            .map_err(|e| {
                anyhow::anyhow!(
                    "{name} is not a readable audio file (WAV, FLAC, MP3, Ogg Vorbis): {e}"
                )
            })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .with_context(|| format!("{name} has no audio track"))?;
        let params = track.codec_params.clone();
        let track = track.id;
        let rate = match params.sample_rate {
            Some(r) if r > 0 => r,
            _ => bail!("{name}: no sample rate"),
        };
        if params.channels.is_some_and(|c| c.count() == 0) {
            bail!("{name}: no audio channels");
        }
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| anyhow::anyhow!("{name}: cannot decode its audio: {e}"))?;
        Ok(Self {
            path: path.to_owned(),
            format,
            decoder,
            track,
            rate,
            frames: params.n_frames,
            buf: None,
            skipped: 0,
        })
    }

    /// Sample rate in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Length in seconds, when the file says.
    pub fn seconds(&self) -> Option<f64> {
        self.frames.map(|n| n as f64 / f64::from(self.rate))
    }

    /// Appends the next packet's samples, mixed to mono, to `out`. Returns
    /// false at the end of the file (a file cut short ends where it stops).
    pub fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                Err(Error::ResetRequired) => return Ok(false),
                Err(e) => bail!("{}: {e}", self.path.display()),
            };
            if packet.track_id() != self.track {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(Error::DecodeError(_)) => {
                    self.skipped += 1;
                    continue;
                }
                Err(e) => bail!("{}: {e}", self.path.display()),
            };
            let spec = *decoded.spec();
            let channels = spec.channels.count();
            if channels == 0 {
                bail!("{}: a packet without channels", self.path.display());
            }
            if spec.rate != self.rate {
                bail!(
                    "{}: the sample rate changes from {} to {} Hz",
                    self.path.display(),
                    self.rate,
                    spec.rate
                );
            }
            let need = decoded.capacity() as u64;
            let buf = match &mut self.buf {
                Some(b) if b.capacity() as u64 >= need * channels as u64 => b,
                slot => slot.insert(SampleBuffer::new(need, spec)),
            };
            buf.copy_interleaved_ref(decoded);
            let k = 1.0 / channels as f32;
            out.extend(
                buf.samples()
                    .chunks_exact(channels)
                    .map(|c| c.iter().sum::<f32>() * k),
            );
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formats() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/audio/formats")
    }

    /// The whole file, mono, resampled to 16 kHz.
    fn decode(name: &str) -> (Vec<f32>, AudioReader) {
        let mut r = AudioReader::open(&formats().join(name)).expect(name);
        let mut x = Vec::new();
        while r.next_chunk(&mut x).expect(name) {}
        let y = synctalk_audio::to_16k(&x, r.rate()).expect("resample");
        (y, r)
    }

    /// The reference: 16-bit mono 16 kHz WAV.
    fn reference() -> Vec<f32> {
        synctalk_testdata::read_wav_i16(&formats().join("../jfk_44k1_stereo.wav"))
    }

    /// Best normalised correlation of `x` with the reference over lags of
    /// up to 0.15 s (lossy codecs add a decoder delay), on 1 s of signal.
    fn similarity(x: &[f32], want: &[f32]) -> f64 {
        let n = 16_000.min(want.len()).min(x.len().saturating_sub(2400));
        let dot =
            |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| f64::from(a * b)).sum::<f64>();
        let w = &want[..n];
        (0..2400)
            .map(|lag| {
                let v = &x[lag..lag + n];
                dot(v, w) / (dot(v, v) * dot(w, w)).sqrt().max(1e-12)
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn every_format_decodes_to_the_same_speech() {
        let want = reference();
        for (name, rate, min) in [
            ("jfk.flac", 16_000, 0.9999),
            ("jfk_22k_f32.wav", 22_050, 0.9999),
            ("jfk_8k_u8.wav", 8_000, 0.99),
            ("jfk_5.1_22k.wav", 22_050, 0.9999),
            ("jfk.ogg", 16_000, 0.98),
            ("jfk.mp3", 16_000, 0.99),
        ] {
            let (x, r) = decode(name);
            assert_eq!(r.rate(), rate, "{name}");
            let sim = similarity(&x, &want);
            eprintln!("{name}: {} samples at 16 kHz, similarity {sim:.4}", x.len());
            assert!(sim > min, "{name}: similarity {sim}");
            assert!(x.len() >= 18_000, "{name}: {} samples", x.len());
            assert_eq!(r.skipped, 0, "{name}");
        }
    }

    #[test]
    fn files_cut_short_decode_what_they_hold() {
        // 6000 of 13005 bytes of MP3 at 64 kb/s: about 0.7 s.
        let (x, _) = decode("jfk_cut.mp3");
        let s = x.len() as f64 / 16_000.0;
        assert!((0.5..0.9).contains(&s), "cut mp3: {s} s");
        // A WAV header promising 1.5 s over 0.74 s of 8 kHz bytes.
        let (x, r) = decode("jfk_cut.wav");
        let s = x.len() as f64 / 16_000.0;
        assert!((0.7..0.76).contains(&s), "cut wav: {s} s");
        assert!(r.seconds().is_some_and(|t| t > 1.4), "the header's length");
    }

    #[test]
    fn garbage_and_missing_files_name_the_file() {
        let tmp = synctalk_testdata::TempDir::new("decode-test");
        let dir = tmp.path();
        let junk = dir.join("junk.mp3");
        std::fs::write(&junk, vec![0x5a; 4096]).expect("write");
        for path in [junk, dir.join("missing.wav")] {
            let e = AudioReader::open(&path).err().expect("an error");
            let msg = format!("{e:#}");
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
    }
}
