//! `synctalk render`: the demo portrait speaking real speech (JFK as a
//! 22.05 kHz six-channel WAV: mixed down and resampled) and silence, through
//! the Face-Sync test network, to PNG frames and an MP4.
//! Frames are placed by the audio clock; speech moves the jaw, silence does
//! not; bad input gives one clear line and a failure exit.

use std::path::{Path, PathBuf};
use std::process::Command;

use synctalk_testdata::TempDir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn render(audio: &Path, frames: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synctalk"))
        .arg("render")
        .args([
            "--portrait",
            root()
                .join("models/demo/portrait.stk")
                .to_str()
                .expect("utf8"),
        ])
        .args(["--audio", audio.to_str().expect("utf8")])
        .args(["--frames", frames.to_str().expect("utf8")])
        .args([
            "--face-sync",
            root()
                .join("models/networks/face_sync.onnx")
                .to_str()
                .expect("utf8"),
        ])
        .args(extra)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("run synctalk")
}

/// A WAV file of `seconds` from `src` (any format hound reads), mono/stereo kept.
fn cut(src: &Path, seconds: f64, dst: &Path, silence: bool) {
    let mut r = hound::WavReader::open(src).expect("wav");
    let spec = r.spec();
    let n = (seconds * f64::from(spec.sample_rate)) as usize * usize::from(spec.channels);
    let s: Vec<i32> = r
        .samples::<i32>()
        .take(n)
        .map(|v| v.expect("sample"))
        .collect();
    let mut w = hound::WavWriter::create(dst, spec).expect("create");
    for v in s {
        w.write_sample(if silence { 0 } else { v }).expect("write");
    }
    w.finalize().expect("finalize");
}

fn jaw_track(frames: &Path) -> Vec<f64> {
    let t: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(frames.join("timing.json")).expect("timing.json"),
    )
    .expect("json");
    t["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f["blendshapes"][25].as_f64().expect("jawOpen"))
        .collect()
}

fn std_dev(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

#[test]
fn speech_moves_the_jaw_and_silence_does_not() {
    let t = TempDir::new("talk-test");
    let src = root().join("tests/vectors/audio/formats/jfk_5.1_22k.wav");
    let (speech, quiet) = (t.join("speech.wav"), t.join("quiet.wav"));
    cut(&src, 1.2, &speech, false);
    cut(&src, 1.2, &quiet, true);
    let (fs, fq, fh) = (t.join("speech"), t.join("quiet"), t.join("speech_half"));
    let mp4 = t.join("speech.mp4");
    let mp4_arg = ["--out", mp4.to_str().expect("utf8")];
    // The speech also goes to an MP4 (ffmpeg) in the same run, and is drawn
    // again at half size (--size), from the same views. The silence's jaw
    // is read from its timing.json, so its frames are drawn small.
    for (a, f, extra) in [
        (&speech, &fs, &mp4_arg[..]),
        (&quiet, &fq, &["--size", "64"][..]),
        (&speech, &fh, &["--size", "256"][..]),
    ] {
        let o = render(a, f, extra);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // 1.2 s at 25 fps: 30 frames, each a PNG, placed by the audio clock.
        let pngs = std::fs::read_dir(f).expect("dir").filter(|e| {
            e.as_ref()
                .map(|e| e.path().extension().is_some_and(|x| x == "png"))
                .unwrap_or(false)
        });
        assert_eq!(pngs.count(), 30);
    }
    let (js, jq) = (jaw_track(&fs), jaw_track(&fq));
    eprintln!(
        "jawOpen std: speech {:.4}, silence {:.4}",
        std_dev(&js),
        std_dev(&jq)
    );
    assert!(
        jq.iter().all(|j| *j < 0.1),
        "silence opens the mouth: {jq:?}"
    );
    assert!(std_dev(&js) > 3.0 * std_dev(&jq) + 0.01, "speech {js:?}");
    check_mp4(&mp4, &fs);
    // The half-size frames show the same picture: frame 12 at 256 px
    // against frame 12 at 512 px box-filtered to 256 px.
    let (big, small) = (
        image_rgba(&fs.join("frame_000012.png")),
        image_rgba(&fh.join("frame_000012.png")),
    );
    assert_eq!(
        small.len(),
        256 * 256 * 4,
        "--size 256 gives 256x256 frames"
    );
    let (mut se, mut n) = (0f64, 0usize);
    for y in 0..256 {
        for x in 0..256 {
            for c in 0..3 {
                let mean = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .iter()
                    .map(|(dx, dy)| f64::from(big[((2 * y + dy) * 512 + 2 * x + dx) * 4 + c]))
                    .sum::<f64>()
                    / 4.0;
                se += (mean - f64::from(small[(y * 256 + x) * 4 + c])).powi(2);
                n += 1;
            }
        }
    }
    let psnr = 10.0 * (255.0f64.powi(2) / (se / n as f64)).log10();
    eprintln!("--size 256 vs the 512 render, box-filtered: {psnr:.1} dB");
    assert!(psnr > 30.0, "--size 256 vs the 512 render: {psnr:.1} dB");
}

/// The MP4 holds the 30 frames (H.264) and the speech (AAC, 1.2 s), and
/// its frame 12 is the PNG of frame 12 up to the codec's loss.
fn check_mp4(mp4: &Path, frames: &Path) {
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .args([
            "stream=codec_type,codec_name,nb_read_frames,duration",
            "-of",
            "json",
        ])
        .arg(mp4)
        .output()
        .expect("ffprobe (Debian: apt install ffmpeg; the README's test command installs it)");
    let j: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe json");
    let streams = j["streams"].as_array().expect("streams");
    let find = |kind: &str| {
        streams
            .iter()
            .find(|s| s["codec_type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} stream in {j}"))
    };
    let (v, a) = (find("video"), find("audio"));
    assert_eq!(
        (v["codec_name"].as_str(), a["codec_name"].as_str()),
        (Some("h264"), Some("aac"))
    );
    assert_eq!(v["nb_read_frames"].as_str(), Some("30"), "{v}");
    let secs: f64 = a["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("audio duration");
    assert!((secs - 1.2).abs() < 0.06, "audio lasts {secs} s");
    let raw = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(mp4)
        .args([
            "-vf",
            "select=eq(n\\,12)",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgba",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    let png = image_rgba(&frames.join("frame_000012.png"));
    assert_eq!(
        raw.stdout.len(),
        png.len(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let se: f64 = raw
        .stdout
        .iter()
        .zip(&png)
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
        .sum();
    let psnr = 10.0 * (255.0f64.powi(2) / (se / png.len() as f64)).log10();
    eprintln!("mp4 frame 12 vs PNG: {psnr:.1} dB");
    assert!(psnr > 35.0, "mp4 frame 12 vs PNG: {psnr:.1} dB");
}

fn image_rgba(path: &Path) -> Vec<u8> {
    let d = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("png"),
    ));
    let mut r = d.read_info().expect("png info");
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    buf
}

#[test]
fn bad_input_is_one_clear_line() {
    let t = TempDir::new("talk-test");
    let garbage = t.join("garbage.wav");
    std::fs::write(&garbage, b"RIFF....WAVEjunk").expect("write");
    let o = render(&garbage, &t.join("g"), &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("garbage.wav") && err.lines().count() == 1,
        "{err}"
    );
    let src = root().join("tests/vectors/audio/formats/jfk_5.1_22k.wav");
    let o = render(&src, &t.join("h"), &["--fps", "0"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fps"));
    let o = render(&src, &t.join("h"), &["--expression", "9"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--expression") && err.contains("[0, 4]"),
        "{err}"
    );
    for size in ["5", "64xbig", "100000"] {
        let o = render(&src, &t.join("h"), &["--size", size]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("--size"),
            "{size}: {err}"
        );
    }
    // A NaN sample, no samples, a rate the front end does not take: each is
    // refused with one line that names the file and the cause.
    let wav = |name: &str, rate: u32, samples: &[f32]| {
        let path = t.join(name);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).expect("create");
        for v in samples {
            w.write_sample(*v).expect("write");
        }
        w.finalize().expect("finalize");
        path
    };
    let mut nan = vec![0.1f32; 4000];
    nan[1234] = f32::NAN;
    for (path, cause) in [
        (wav("nan.wav", 16_000, &nan), "sample 1234 is not finite"),
        (wav("empty.wav", 16_000, &[]), "no audio samples"),
        (
            wav("slow.wav", 2_000, &[0.0; 100]),
            "2000 Hz is not supported",
        ),
    ] {
        let o = render(&path, &t.join("bad"), &[]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&*path.to_string_lossy())
                && err.contains(cause)
                && err.lines().count() == 1,
            "{err}"
        );
    }
}

/// `synctalk bench-audio` runs the demo's three networks once per displayed
/// frame with tract's tensors from the frame arena the binary installs: none
/// overflows to the heap.
#[test]
fn bench_audio_runs_the_networks_from_the_frame_arena() {
    let o = Command::new(env!("CARGO_BIN_EXE_synctalk"))
        .args(["bench-audio", "--portrait"])
        .arg(root().join("models/demo/portrait.stk"))
        .arg("--audio")
        .arg(root().join("tests/vectors/audio/formats/jfk_5.1_22k.wav"))
        .output()
        .expect("run synctalk");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("frame arena:"))
        .expect("arena line");
    let number = |before: &str| -> usize {
        let head = line.split(before).next().expect("field");
        head.split_whitespace()
            .last()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    let frames: usize = out
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .expect("frames");
    // Three networks per frame that follows speech (most of this clip).
    assert!(number(" network runs") >= 2 * frames, "{out}");
    assert_eq!(number(" allocations overflowed"), 0, "{out}");
}

/// `--blendshapes`: a track's shapes replace the engine's while it lasts
/// (clamped to the portrait's trained range), the engine's afterwards; a
/// bad track is one clear line naming the file.
#[test]
fn a_blendshape_track_drives_the_face_while_it_lasts() {
    let t = TempDir::new("talk-track");
    let src = root().join("tests/vectors/audio/formats/jfk_5.1_22k.wav");
    let speech = t.join("speech.wav");
    cut(&src, 0.8, &speech, false);
    // 0.4 s at 25 fps: the jaw shut, then wide open (beyond the trained
    // range: clamped), the smile half-way.
    let frames: Vec<Vec<f32>> = (0..10)
        .map(|k| vec![if k < 5 { 0.0 } else { 1.0 }, 0.5])
        .collect();
    let track =
        serde_json::json!({"fps": 25.0, "names": ["jawOpen", "mouthSmileLeft"], "frames": frames});
    let path = t.join("track.json");
    std::fs::write(&path, track.to_string()).expect("write track");
    let out = t.join("frames");
    let o = render(
        &speech,
        &out,
        &[
            "--size",
            "64",
            "--blendshapes",
            path.to_str().expect("utf8"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let timing: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("timing.json")).expect("timing.json"),
    )
    .expect("json");
    let shape = |f: usize, i: usize| {
        timing["frames"][f]["blendshapes"][i]
            .as_f64()
            .expect("value")
    };
    let jaw = jaw_track(&out);
    assert!(jaw.len() >= 19, "{} frames", jaw.len());
    assert!(jaw[..5].iter().all(|&j| j < 0.01), "shut: {:?}", &jaw[..5]);
    let open = jaw[5];
    assert!(
        open > 0.3 && open < 1.0 && jaw[5..10].iter().all(|&j| j == open),
        "open, clamped to the trained range: {:?}",
        &jaw[5..10]
    );
    // mouthSmileLeft is index 44 in the condition vector.
    assert!((0..10).all(|f| (shape(f, 44) - 0.5).abs() < 1e-6));
    // After the track: the engine's own, moving with the speech.
    assert!(
        jaw[10..].iter().any(|&j| (j - open).abs() > 0.01),
        "after the track: {:?}",
        &jaw[10..]
    );
    for (text, want) in [
        ("not json", "not JSON"),
        (
            r#"{"fps": 25, "names": ["jawOpen"], "frames": [[0.1], [0.1, 0.2]]}"#,
            "frame 1 has 2 values for 1 names",
        ),
        (
            r#"{"fps": 0, "names": [], "frames": []}"#,
            "\"fps\" must be a positive number",
        ),
        (
            r#"{"fps": 25, "names": ["jawOpenn"], "frames": [[0.1]]}"#,
            "jawOpenn",
        ),
    ] {
        std::fs::write(&path, text).expect("write");
        let o = render(
            &speech,
            &t.join("bad"),
            &[
                "--size",
                "64",
                "--blendshapes",
                path.to_str().expect("utf8"),
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(want), "{text}: {err}");
        assert!(err.contains("track.json"), "names the file: {err}");
    }
}

#[test]
fn phones_drive_the_mouth_as_say_does() {
    let t = TempDir::new("talk-phones");
    let src = root().join("tests/vectors/audio/formats/jfk_5.1_22k.wav");
    let speech = t.join("speech.wav");
    cut(&src, 0.8, &speech, false);
    // 0.8 s: "m" (lips shut) for 0.4 s, then an open vowel.
    let path = t.join("phones.json");
    let phones = serde_json::json!({"segments": [["m", 0.0, 0.4], ["ˈɑː", 0.4, 0.8]]});
    std::fs::write(&path, phones.to_string()).expect("write phones");
    let out = t.join("frames");
    let args = ["--size", "64", "--phones", path.to_str().expect("utf8")];
    let o = render(&speech, &out, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let jaw = jaw_track(&out);
    assert!(jaw.len() >= 19, "{} frames", jaw.len());
    // The lips lead the sound by two frames: frame 6 shows what is heard at
    // frame 8. Shut for "m", open for the vowel.
    let (shut, open) = (jaw[3], jaw[12]);
    assert!(open > shut + 0.1, "m {shut}, ɑː {open}: {jaw:?}");
    assert!(jaw[..5].iter().all(|&j| (j - shut).abs() < 0.02), "{jaw:?}");
    for (text, want) in [
        ("[]", "\"segments\" must be a list"),
        (
            r#"{"segments": [["m", 0.0]]}"#,
            "segment 0 must be [phoneme, start, end]",
        ),
        (
            r#"{"segments": [["m", 0.5, 0.1]]}"#,
            "runs from 0.5 to 0.1 s",
        ),
    ] {
        std::fs::write(&path, text).expect("write");
        let o = render(&speech, &t.join("bad"), &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(want), "{text}: {err}");
        assert!(err.contains("phones.json"), "names the file: {err}");
    }
}
