//! The mouth from phone timings (`synctalk_engine::visemes`) against the
//! toolchain's (tests/vectors/visemes/, written by
//! `tools/tts_articulation.py vectors`): the classes of eSpeak NG's phones,
//! the class table read from Face-Sync's constants (ONNX and NNEF), the
//! curve at every frame; and the engine following a clip's phones.

use std::path::PathBuf;
use synctalk_audio::{window_at, CONTEXT, N_MELS};
use synctalk_engine::visemes::{Phones, Visemes, CLASSES};
use synctalk_engine::{blendshapes, Engine, Speech, BLENDSHAPES};
use synctalk_nets::{onnx_to_nnef, WindowNet};
use synctalk_portrait::Portrait;
use synctalk_testdata::{read_npy, vectors};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Vectors {
    phones: Vec<(String, f64, f64)>,
    phones_ipa: Vec<(String, f64, f64)>,
    classes: Vec<usize>,
    seconds: f64,
    table: Vec<f32>,
    curve: Vec<f32>,
}

fn read() -> Vectors {
    let dir = vectors("visemes");
    let text = std::fs::read_to_string(dir.join("phones.json")).expect("phones.json");
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    let names: Vec<&str> = j["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .map(|v| v.as_str().expect("name"))
        .collect();
    assert_eq!(names, CLASSES, "the toolchain's classes");
    assert_eq!(j["lead_frames"], 2);
    let phones_of = |key: &str| -> Vec<(String, f64, f64)> {
        j[key]
            .as_array()
            .expect("phones")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("phoneme").to_string(),
                    p[1].as_f64().expect("start"),
                    p[2].as_f64().expect("end"),
                )
            })
            .collect()
    };
    let phones = phones_of("phones");
    let phones_ipa = phones_of("phones_ipa");
    let classes = j["phone_classes"]
        .as_array()
        .expect("phone_classes")
        .iter()
        .map(|v| v.as_u64().expect("class") as usize)
        .collect();
    let (tshape, table) = read_npy(&dir.join("class_table.npy"));
    assert_eq!(tshape, [CLASSES.len(), BLENDSHAPES]);
    let (cshape, curve) = read_npy(&dir.join("curve.npy"));
    assert_eq!(cshape[1], BLENDSHAPES);
    let seconds = j["seconds"].as_f64().expect("seconds");
    assert_eq!(cshape[0], (seconds * 25.0).floor() as usize);
    Vectors {
        phones,
        phones_ipa,
        classes,
        seconds,
        table,
        curve,
    }
}

fn face_sync_onnx() -> Vec<u8> {
    std::fs::read(synctalk_testdata::networks().join("face_sync.onnx")).expect("face_sync.onnx")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_curve_is_the_toolchains() {
    let v = read();
    for ((name, ..), want) in v.phones.iter().zip(&v.classes) {
        assert_eq!(
            synctalk_engine::visemes::espeak_class(name),
            *want,
            "class of '{name}'"
        );
    }
    let onnx = face_sync_onnx();
    let visemes = |bytes: &[u8]| {
        let mut net = WindowNet::load("face_sync", bytes).expect("loads");
        // The engine's rest: Face-Sync's answer to silence.
        let mut silent = [[0f32; N_MELS]; CONTEXT];
        window_at(&[], 0.0, &mut silent);
        let rest = net.run(silent.as_flattened()).expect("runs");
        Visemes::from_face_sync(&net, &rest)
    };
    let from_onnx = visemes(&onnx).expect("the toolchain's Face-Sync holds its table");
    let from_nnef =
        visemes(&onnx_to_nnef(&onnx).expect("nnef")).expect("the NNEF conversion keeps the table");
    for (c, (name, want)) in CLASSES
        .iter()
        .zip(v.table.chunks_exact(BLENDSHAPES))
        .enumerate()
    {
        let d = max_diff(from_onnx.class_shape(c), want);
        assert!(d < 1e-6, "class {name}: {d}");
        let d = max_diff(from_onnx.class_shape(c), from_nnef.class_shape(c));
        assert!(d < 1e-6, "class {name}: ONNX and NNEF differ by {d}");
    }
    let phones = Phones::from_espeak(
        v.phones.iter().map(|(n, s, e)| (n.as_str(), *s, *e)),
        v.seconds,
    )
    .expect("phones");
    let frames = v.curve.len() / BLENDSHAPES;
    let mut worst = 0f32;
    for f in 0..frames {
        let got = phones.at(&from_onnx, f as f64 / 25.0);
        worst = worst.max(max_diff(
            &got,
            &v.curve[f * BLENDSHAPES..(f + 1) * BLENDSHAPES],
        ));
    }
    eprintln!("{frames} frames: the curve differs from the toolchain's by at most {worst:e}");
    assert!(worst < 1e-5, "curve differs by {worst}");
    // The same speech's phones in IPA (the browser's eSpeak NG) give the
    // same curve.
    let ipa = Phones::from_espeak(
        v.phones_ipa.iter().map(|(n, s, e)| (n.as_str(), *s, *e)),
        v.seconds,
    )
    .expect("IPA phones");
    for f in 0..frames {
        let t = f as f64 / 25.0;
        let d = max_diff(&ipa.at(&from_onnx, t), &phones.at(&from_onnx, t));
        assert!(d < 1e-6, "frame {f}: IPA and mnemonics differ by {d}");
    }
    // Between frames: interpolated.
    for f in [10, 60, 120] {
        let a = phones.at(&from_onnx, f as f64 / 25.0);
        let b = phones.at(&from_onnx, (f + 1) as f64 / 25.0);
        let mid = phones.at(&from_onnx, (f as f64 + 0.25) / 25.0);
        for j in 0..BLENDSHAPES {
            assert!((mid[j] - (0.75 * a[j] + 0.25 * b[j])).abs() < 1e-6);
        }
    }
    // The curve moves: bilabials close the jaw, open vowels open it.
    let jaw: Vec<f32> = (0..frames)
        .map(|f| v.curve[f * BLENDSHAPES + blendshapes::JAW_OPEN])
        .collect();
    let (lo, hi) = jaw
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), x| (l.min(*x), h.max(*x)));
    assert!(hi - lo > 0.05, "jawOpen from {lo} to {hi}");
}

#[test]
fn the_engine_follows_a_clips_phones_until_the_speech_changes() {
    let v = read();
    let p = Portrait::read_file(&repo().join("models/demo/portrait.stk")).expect("demo");
    let mut e = Engine::new(&p).expect("engine");
    assert!(e.load_networks(&p).expect("networks"));
    e.blinks.amplitude = 0.0;
    // Any sound of the passage's length: the mouth follows the phones, not it.
    let n = (v.seconds * 16_000.0) as usize;
    let noise: Vec<f32> = (0..n)
        .map(|i| 0.1 * ((i as f32 * 0.37).sin() * (i as f32 * 0.011).cos()))
        .collect();
    let phones = || v.phones.iter().map(|(n, s, e)| (n.as_str(), *s, *e));
    assert!(!e.set_speech_phones(phones()).expect("no speech yet"));
    e.set_speech(Some(Speech::new(&noise, 16_000).expect("speech")));
    let heard: Vec<f32> = jaw_track(&mut e, &v);
    assert!(
        e.set_speech_phones(phones()).expect("phones"),
        "the demo's Face-Sync has its table"
    );
    let said = jaw_track(&mut e, &v);
    let want: Vec<f32> = (0..said.len())
        .map(|f| v.curve[f * BLENDSHAPES + blendshapes::JAW_OPEN])
        .collect();
    // The portrait's articulation scales the curve about a centre (an
    // affine map, then the trained range): the jaw follows it closely.
    let r = correlation(&said, &want);
    let r_heard = correlation(&heard, &want);
    eprintln!("jawOpen against the phones' curve: r = {r:.4} from the phones, {r_heard:.4} from the sound");
    assert!(r > 0.98, "jaw against the phones' curve: r = {r}");
    assert!(
        correlation(&heard, &want) < 0.9,
        "the noise alone already gave the curve"
    );
    // A new clip forgets the phones.
    e.set_speech(Some(Speech::new(&noise, 16_000).expect("speech")));
    assert_eq!(jaw_track(&mut e, &v), heard);
    // Bad phones are refused and change nothing.
    assert!(e.set_speech_phones([("m", 0.5, 0.1)]).is_err());
    assert_eq!(jaw_track(&mut e, &v), heard);
}

fn jaw_track(e: &mut Engine, v: &Vectors) -> Vec<f32> {
    (0..(v.seconds * 25.0) as usize)
        .map(|f| {
            let t = f as f64 / 25.0;
            let fr = e.frame(t, Some(t)).expect("frame");
            assert!(fr.speaking);
            fr.blendshapes[blendshapes::JAW_OPEN]
        })
        .collect()
}

fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}
