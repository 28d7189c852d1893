//! `synctalk render`: the demo portrait speaking real speech (44.1 kHz
//! stereo JFK, resampled) and silence, through the Face-Sync test network.
//! Frames are placed by the audio clock; speech moves the jaw, silence does
//! not; bad input gives one clear line and a failure exit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("synctalk-talk-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tmp dir");
    d.join(name)
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
                .join("tests/vectors/networks/face_sync.onnx")
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
    let src = root().join("tests/vectors/audio/jfk_44k1_stereo.wav");
    let (speech, quiet) = (tmp("speech.wav"), tmp("quiet.wav"));
    cut(&src, 1.2, &speech, false);
    cut(&src, 1.2, &quiet, true);
    let (fs, fq) = (tmp("speech"), tmp("quiet"));
    for (a, f) in [(&speech, &fs), (&quiet, &fq)] {
        let o = render(a, f, &[]);
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
}

#[test]
fn bad_input_is_one_clear_line() {
    let garbage = tmp("garbage.wav");
    std::fs::write(&garbage, b"RIFF....WAVEjunk").expect("write");
    let o = render(&garbage, &tmp("g"), &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("garbage.wav") && err.lines().count() == 1,
        "{err}"
    );
    let src = root().join("tests/vectors/audio/jfk_44k1_stereo.wav");
    let o = render(&src, &tmp("h"), &["--fps", "0"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fps"));
}
