//! The Rust front end reproduces the Python toolchain's test vectors
//! (tests/vectors/audio/, written from real speech) to 1e-4.

use std::path::{Path, PathBuf};
use synctalk_audio::{frame_window, AudioError, LogMel, CONTEXT, N_MELS};
use synctalk_testdata::read_npy;

fn vectors() -> PathBuf {
    synctalk_testdata::vectors("audio")
}

fn read_wav(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path).expect("wav");
    let spec = r.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (16_000, 1, 16)
    );
    r.samples::<i16>()
        .map(|s| f32::from(s.expect("sample")) / 32768.0)
        .collect()
}

#[test]
fn reproduces_the_toolchain_vectors() {
    let mut lm = LogMel::new();
    let mut mel = Vec::new();
    let mut n = 0;
    for entry in std::fs::read_dir(vectors()).expect("vectors dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "wav") {
            let samples = read_wav(&path);
            let (shape, want) = read_npy(&path.with_extension("mel.npy"));
            lm.frames(&samples, &mut mel).expect("frames");
            assert_eq!(shape, vec![mel.len(), N_MELS], "{}", path.display());
            let err = mel
                .iter()
                .flatten()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            eprintln!(
                "{}: {} frames, max abs error {err:.2e}",
                path.display(),
                mel.len()
            );
            assert!(err <= 1e-4, "{}: max error {err}", path.display());
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} vectors found");
}

#[test]
fn windows_and_bad_input() {
    let mel: Vec<[f32; N_MELS]> = (0..130).map(|k| [k as f32; N_MELS]).collect();
    let mut w = [[0f32; N_MELS]; CONTEXT];
    let floor = 1e-6f64.ln() as f32;
    let col = |w: &[[f32; N_MELS]; CONTEXT]| w.iter().map(|r| r[0]).collect::<Vec<_>>();
    // Video frame 25 (1 s) at 25 fps: mel frames 8..=107, row 92 = mel frame 100.
    frame_window(&mel, 25, 25.0, &mut w).expect("window");
    assert_eq!(col(&w), (8..108).map(|k| k as f32).collect::<Vec<_>>());
    // Frame 0: 92 rows of padding, then mel frames 0..=7.
    frame_window(&mel, 0, 25.0, &mut w).expect("window");
    assert!(col(&w)[..92].iter().all(|&v| v == floor));
    assert_eq!(col(&w)[92..], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    // Frame 33 (1.32 s): mel frames 40..=139, of which 130.. are past the end.
    frame_window(&mel, 33, 25.0, &mut w).expect("window");
    assert_eq!((w[0][0], w[89][0], w[90][0]), (40.0, 129.0, floor));
    // 30 fps rounds to the nearest mel frame.
    frame_window(&mel, 1, 30.0, &mut w).expect("window");
    assert_eq!(w[92][0], 3.0);
    assert_eq!(
        frame_window(&mel, 1, 0.0, &mut w),
        Err(AudioError::FrameRate(0.0))
    );
    let mut lm = LogMel::new();
    let mut out = Vec::new();
    assert_eq!(
        lm.frames(&[0.0, f32::NAN], &mut out),
        Err(AudioError::NotFinite(1))
    );
    lm.frames(&[0.0; 800], &mut out).expect("silence");
    assert!(out.iter().flatten().all(|&v| v == floor));
}

/// The live path (chunks of any size through `MelStream`) gives the
/// offline windows on real speech, read as a player would: in time order,
/// a little behind the input.
#[test]
fn streaming_gives_the_offline_windows() {
    use synctalk_audio::{window_at, MelStream};
    let path = std::fs::read_dir(vectors())
        .expect("vectors dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "wav"))
        .expect("a wav vector");
    let x = read_wav(&path);
    let mut mel = Vec::new();
    LogMel::new().frames(&x, &mut mel).expect("frames");
    let mut stream = MelStream::new();
    let (mut a, mut b) = ([[0f32; N_MELS]; CONTEXT], [[0f32; N_MELS]; CONTEXT]);
    let mut at = 0;
    let mut checked = 0;
    for size in [128usize, 441, 3, 1600, 960].iter().cycle() {
        if at >= x.len() {
            break;
        }
        let end = (at + size).min(x.len());
        stream.push(&x[at..end]).expect("push");
        at = end;
        // A reader 0.1 s behind the input sees complete windows.
        let t = stream.seconds() - 0.1;
        if t > 0.0 {
            stream.window_at(t, &mut a);
            window_at(&mel, t, &mut b);
            assert_eq!(a, b, "window at {t} s");
            checked += 1;
        }
    }
    stream.end();
    let t = stream.seconds();
    stream.window_at(t, &mut a);
    window_at(&mel, t, &mut b);
    assert_eq!(a, b, "last window");
    assert!(checked > 20, "{checked} windows checked");
    assert_eq!(stream.frames_done(), mel.len() as u64);
    // Windows behind the reader were forgotten; NaN and pushing after the
    // end are refused.
    assert!(stream.push(&[f32::NAN]).is_err());
    assert_eq!(stream.push(&[0.0]), Err(AudioError::Finished));
}
