//! The engine driving the demo portrait (models/demo) with its own Face-Sync
//! network: speech moves the jaw, silence rests, overrides stay inside the
//! trained range, the clocks place frames, bad audio gives errors.

use std::path::PathBuf;
use synctalk_engine::{blendshapes, Engine, Speech, SpeechStream, BLENDSHAPES, TURN};
use synctalk_portrait::Portrait;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo() -> Portrait {
    Portrait::read_file(&repo().join("models/demo/portrait.stk")).expect("demo portrait")
}

/// The bundled sample speech (16 kHz mono 16-bit WAV).
fn jfk() -> Vec<f32> {
    synctalk_testdata::read_wav_i16(&repo().join("www/assets/speech/jfk.wav"))
}

fn std_dev(v: &[f32]) -> f32 {
    let m = v.iter().sum::<f32>() / v.len() as f32;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32).sqrt()
}

#[test]
fn speech_moves_the_jaw_and_silence_rests() {
    let p = demo();
    let mut e = Engine::new(&p).expect("engine");
    assert!(e.load_networks(&p).expect("networks"), "demo has face_sync");
    e.blinks.amplitude = 0.0;
    let x = jfk();
    e.set_speech(Some(Speech::new(&x, 16_000).expect("speech")));
    let jaw: Vec<f32> = (0..250)
        .map(|t| {
            let time = t as f64 / 25.0;
            let f = e.frame(time, Some(time)).expect("frame");
            assert!(f.speaking && e.speaking_at(Some(time)));
            assert_eq!(f.coefficients.len(), 10);
            f.blendshapes[blendshapes::JAW_OPEN]
        })
        .collect();
    // Outside the clip and without a time: silence, said the same way
    // without computing a frame.
    for t in [
        None,
        Some(-0.1),
        Some(x.len() as f64 / 16_000.0 + 0.01),
        Some(f64::NAN),
    ] {
        assert!(
            !e.frame(1.0, t).expect("frame").speaking && !e.speaking_at(t),
            "{t:?}"
        );
    }
    e.set_speech(None);
    assert!(!e.speaking_at(Some(1.0)));
    let rest: Vec<f32> = (0..50)
        .map(|t| {
            e.frame(t as f64 / 25.0, Some(t as f64 / 25.0))
                .expect("frame")
                .blendshapes[blendshapes::JAW_OPEN]
        })
        .collect();
    assert!(std_dev(&jaw) > 0.02, "jaw std {}", std_dev(&jaw));
    assert!(
        rest.iter().all(|&j| j < 0.1 && j == rest[0]),
        "rest {rest:?}"
    );
    assert!(std_dev(&jaw) > 10.0 * std_dev(&rest));
}

/// The demo's Expression Generator moves the brows with the speech's
/// stress (louder words raise them) and leaves them at rest in silence;
/// without it the upper face stays at rest while speaking.
#[test]
fn speech_moves_the_brows_and_silence_rests_them() {
    let p = demo();
    let brow = blendshapes::index("browInnerUp").expect("browInnerUp");
    let track = |with_expression: bool, strength: f32| {
        let mut q = p.clone();
        if !with_expression {
            q.networks.retain(|n| n.name != "expression");
        }
        let mut e = Engine::new(&q).expect("engine");
        e.load_networks(&q).expect("networks");
        assert_eq!(e.has_expression(), with_expression);
        e.set_expression_strength(strength).expect("strength");
        e.blinks.amplitude = 0.0;
        e.set_speech(Some(Speech::new(&jfk(), 16_000).expect("speech")));
        let speech: Vec<f32> = (0..250)
            .map(|t| {
                e.frame(t as f64 / 25.0, Some(t as f64 / 25.0))
                    .expect("frame")
                    .blendshapes[brow]
            })
            .collect();
        e.set_speech(None);
        let quiet = e.frame(1.0, Some(1.0)).expect("frame").blendshapes[brow];
        (speech, quiet)
    };
    let (with, quiet_with) = track(true, 1.0);
    let (without, quiet_without) = track(false, 1.0);
    // Strength 0 is no expression; 2 moves the brows further.
    let (off, _) = track(true, 0.0);
    assert_eq!(off, without, "expression strength 0");
    let (double, _) = track(true, 2.0);
    let reach = |v: &[f32]| v.iter().map(|b| (b - quiet_with).abs()).sum::<f32>();
    assert!(reach(&double) > 1.5 * reach(&with), "strength 2");
    let mut e = Engine::new(&p).expect("engine");
    for bad in [-0.5, 4.5, f32::NAN] {
        let err = e.set_expression_strength(bad).expect_err("refused");
        assert!(err.to_string().contains("expression strength"), "{err}");
    }
    assert_eq!(quiet_with, quiet_without, "silence rests the brows");
    assert!(
        without.iter().all(|&b| (b - quiet_without).abs() < 1e-4),
        "no expression network: brows at rest"
    );
    let sd = std_dev(&with);
    let peak = with.iter().map(|b| b - quiet_with).fold(f32::MIN, f32::max);
    eprintln!("browInnerUp while speaking: std {sd:.3}, highest {peak:+.3} from rest");
    assert!(sd > 0.01 && peak > 0.03, "std {sd}, peak {peak}");
}

/// Head-Sync turns the head with the speech (bounded, smooth at 60 fps),
/// plays the pose track slower in silence and settles the turn back to 0
/// there; without it (or at strength 0) the head is not turned.
#[test]
fn head_sync_turns_the_head_with_speech_and_settles_in_silence() {
    let p = demo();
    let fps = 60.0;
    let speech = Speech::new(&jfk(), 16_000).expect("speech");
    let spoken = speech.seconds();
    let run = |q: &Portrait, strength: f32| {
        let mut e = Engine::new(q).expect("engine");
        e.load_networks(q).expect("networks");
        e.set_head_motion(strength).expect("strength");
        e.set_speech(Some(Speech::new(&jfk(), 16_000).expect("speech")));
        (0..((spoken + 10.0) * fps) as usize)
            .map(|k| {
                let t = k as f64 / fps;
                let f = e.frame(t, Some(t)).expect("frame");
                (t, f.head_rotation, f.pose_position)
            })
            .collect::<Vec<_>>()
    };
    let with = run(&p, 1.0);
    let angle = |r: &[f32; 3]| r.iter().map(|v| v * v).sum::<f32>().sqrt().to_degrees();
    let talking: Vec<f32> = with
        .iter()
        .filter(|f| f.0 < spoken)
        .map(|f| angle(&f.1))
        .collect();
    let mean = talking.iter().sum::<f32>() / talking.len() as f32;
    let most = talking.iter().fold(0f32, |m, &a| m.max(a));
    let step = with
        .windows(2)
        .map(|w| angle(&[0, 1, 2].map(|i| w[1].1[i] - w[0].1[i])))
        .fold(0f32, f32::max);
    let settled = with
        .iter()
        .filter(|f| f.0 > spoken + 2.0)
        .map(|f| angle(&f.1))
        .fold(0f32, f32::max);
    eprintln!("head turn while speaking: mean {mean:.2}°, most {most:.2}°, largest step {step:.3}° at 60 fps; 2 s into silence {settled:.4}°");
    assert!(
        mean > 0.2 && most <= synctalk_engine::head::MAX_TURN.to_degrees() + 1e-3,
        "mean {mean}, most {most}"
    );
    assert!(step < 0.5, "a step of {step}° between frames");
    assert!(settled < 0.01, "{settled}° after 2 s of silence");
    // The track's pace: distance along it per second, speaking and silent.
    let pace = |from: f64, to: f64| {
        let v: Vec<_> = with.iter().filter(|f| (from..to).contains(&f.0)).collect();
        v.windows(2).map(|w| (w[1].2 - w[0].2).abs()).sum::<f64>() / (to - from)
    };
    let (loud, quiet) = (pace(1.0, spoken - 0.5), pace(spoken + 3.0, spoken + 10.0));
    eprintln!("pose track pace: {loud:.1} frames/s speaking, {quiet:.1} in silence");
    assert!(quiet < 0.6 * loud, "speaking {loud}, silent {quiet}");
    // Strength 0, and no network: the head is never turned.
    assert!(run(&p, 0.0).iter().all(|f| f.1 == [0.0; 3]));
    let mut q = p.clone();
    q.networks.retain(|n| n.name != "head_sync");
    assert!(run(&q, 1.0).iter().all(|f| f.1 == [0.0; 3]));
    let mut e = Engine::new(&p).expect("engine");
    for bad in [-0.1, 4.5, f32::NAN] {
        let err = e.set_head_motion(bad).expect_err("refused");
        assert!(err.to_string().contains("head motion"), "{err}");
    }
    for bad in [0.0, 1.5, f32::INFINITY] {
        let err = e.set_idle_pace(bad).expect_err("refused");
        assert!(err.to_string().contains("idle pace"), "{err}");
    }
    // A Face-Sync network is not a Head-Sync network.
    let fs = &p
        .networks
        .iter()
        .find(|n| n.name == "face_sync")
        .expect("face_sync")
        .bytes;
    let err = e.set_network("head_sync", fs).expect_err("wrong width");
    assert!(err.to_string().contains("52 values"), "{err}");
}

#[test]
fn overrides_blend_and_stay_in_the_trained_range() {
    let p = demo();
    let mut e = Engine::new(&p).expect("engine");
    let hi = p.meta.extra["condition_range"]["max"][blendshapes::JAW_OPEN]
        .as_f64()
        .expect("range") as f32;
    assert!(hi > 0.2 && hi < 1.0);
    e.set_blendshape("jawOpen", 1.0, 1.0).expect("override");
    let f = e.frame(0.0, None).expect("frame");
    assert_eq!(f.blendshapes[blendshapes::JAW_OPEN], hi);
    e.set_blendshape("jawOpen", 0.2, 0.5).expect("override");
    let f = e.frame(0.0, None).expect("frame");
    assert!((f.blendshapes[blendshapes::JAW_OPEN] - 0.1).abs() < 1e-6);
    for (name, v, w) in [
        ("jawOpenn", 0.5, 1.0),
        ("jawOpen", f32::NAN, 1.0),
        ("jawOpen", 0.5, 2.0),
    ] {
        let err = e
            .set_blendshape(name, v, w)
            .expect_err("refused")
            .to_string();
        assert!(err.contains(name), "{err}");
    }
    e.clear_blendshapes();
    assert!(e.frame(0.0, None).expect("frame").blendshapes[blendshapes::JAW_OPEN] < 0.1);
}

#[test]
fn the_clock_chooses_the_pose_and_blinks() {
    let p = demo();
    let mut e = Engine::new(&p).expect("engine");
    let n = p.pose.as_ref().expect("pose").frames.len();
    // The head plays the frames the portrait was trained on: the demo held
    // out the clip's last 20 for its evaluation.
    assert_eq!((n, e.pose_span()), (200, (0, 180)));
    let n = 180;
    // The session starts at rest, half a turn into the track.
    let start = e.frame(0.0, None).expect("frame");
    assert_eq!(start.pose_position, TURN / 2.0);
    assert_eq!(start.pose_frame, 6);
    // Mid-track, the clock's frame, fractional between the track's frames.
    let f = e.frame(40.5 / 25.0, None).expect("frame");
    assert_eq!((f.pose_position, f.pose_frame), (40.5, 41));
    // Past the end, backwards.
    let t = (n as f64 + 28.0) / 25.0;
    assert_eq!(e.frame(t, None).expect("frame").pose_frame, n - 30);
    // A long session never shows a held-out frame.
    let mut e2 = Engine::new(&p).expect("engine");
    let latest = (0..2000)
        .map(|k| e2.frame(k as f64 * 0.05, None).expect("frame").pose_frame)
        .max();
    assert_eq!(latest, Some(n - 1 - (TURN / 2.0) as usize));
    // Another split plays its own longest trained run; a malformed list is
    // refused by name.
    let mut q = p.clone();
    let set = |q: &mut synctalk_portrait::Portrait, v: serde_json::Value| {
        q.meta.extra.insert(
            "evaluation".into(),
            serde_json::json!({ "held_out_frames": v }),
        );
    };
    set(&mut q, serde_json::json!([10, 150]));
    assert_eq!(Engine::new(&q).expect("engine").pose_span(), (11, 139));
    set(&mut q, serde_json::json!([10, "x"]));
    let err = Engine::new(&q).expect_err("bad list").to_string();
    assert!(err.contains("held_out_frames"), "{err}");
    // A blink closes the lids some time in the first 8 s, as far as trained.
    let blink_max = (0..800)
        .map(|k| {
            e.frame(k as f64 / 100.0, None).expect("frame").blendshapes[blendshapes::EYE_BLINK_LEFT]
        })
        .fold(0f32, f32::max);
    assert!(blink_max > 0.4, "no blink ({blink_max})");
}

#[test]
fn bad_audio_gives_errors() {
    for (samples, rate, want) in [
        (vec![], 16_000, "no samples"),
        (vec![0.0, f32::NAN, 0.0], 16_000, "not finite"),
        (vec![0.0; 1000], 1, "sample rate"),
        (vec![f32::INFINITY; 100], 48_000, "not finite"),
    ] {
        let err = Speech::new(&samples, rate)
            .expect_err("refused")
            .to_string();
        assert!(err.contains(want), "{err}");
    }
    // Clipped, exotic rates work.
    let loud: Vec<f32> = (0..22_050)
        .map(|i| if i % 40 < 20 { 1.0 } else { -1.0 })
        .collect();
    assert!((Speech::new(&loud, 22_050).expect("clipped").seconds() - 1.0).abs() < 0.01);
    assert!(Speech::new(&vec![0.0; 8_000 * 2], 8_000).is_ok());
}

/// Live speech pushed in chunks (as a microphone's AudioWorklet or a TTS
/// stream delivers it) gives the same frames as the whole clip, read a
/// look-ahead behind the input; time the stream has not reached is silence;
/// memory does not grow with the length of the stream.
#[test]
fn streamed_speech_matches_the_clip() {
    let p = demo();
    let x = jfk();
    for rate in [16_000, 22_050] {
        let mut clip = Engine::new(&p).expect("engine");
        clip.load_networks(&p).expect("networks");
        clip.set_speech(Some(Speech::new(&x, rate).expect("speech")));
        let mut live = Engine::new(&p).expect("engine");
        live.load_networks(&p).expect("networks");
        live.set_stream(Some(SpeechStream::new(rate).expect("stream")));
        let lookahead = 0.1;
        let mut at = 0;
        let mut frames = 0;
        for size in [128usize, 441, 2048, 7].iter().cycle() {
            if at >= x.len() {
                break;
            }
            let end = (at + size).min(x.len());
            let s = live.stream_mut().expect("stream");
            let heard = s.push(&x[at..end]).expect("push");
            at = end;
            let t = heard - lookahead;
            if t > 0.0 {
                let a = live.frame(t, Some(t)).expect("live frame");
                let b = clip.frame(t, Some(t)).expect("clip frame");
                assert!(a.speaking && live.speaking_at(Some(t)));
                assert_eq!(a.blendshapes, b.blendshapes, "{rate} Hz at {t} s");
                frames += 1;
            }
            // Past what was received: silence, the face at rest.
            let ahead = live.frame(heard + 1.0, Some(heard + 1.0)).expect("ahead");
            assert!(!ahead.speaking && !live.speaking_at(Some(heard + 1.0)));
        }
        assert!(frames > 100, "{frames} frames compared");
        let s = live.stream_mut().expect("stream");
        s.end();
        assert!(s.ended());
        assert!(s.push(&[0.0]).is_err(), "push after the end");
    }
    // An hour-long stream read as it comes keeps one window and a handful
    // of frames.
    let mut s = synctalk_audio::MelStream::new();
    let chunk = vec![0.01f32; 1600];
    let mut w = [[0f32; 80]; synctalk_audio::CONTEXT];
    for _ in 0..10 * 60 * 10 {
        s.push(&chunk).expect("push");
        s.window_at(s.seconds() - 0.1, &mut w);
        assert!(
            s.frames_held() < synctalk_audio::CONTEXT + 40,
            "{} frames held",
            s.frames_held()
        );
    }
    // A NaN is refused by index.
    let mut st = SpeechStream::new(48_000).expect("stream");
    let e = st.push(&[0.0, f32::INFINITY]).expect_err("inf");
    assert!(e.to_string().contains("sample 1"), "{e}");
    assert!(SpeechStream::new(1).is_err());
}

/// Ten minutes of speech stay in sync: the sample speech, trimmed to a whole
/// number of video frames, repeated past 600 s. Frames of the last
/// repetition equal those of the second (the first one's windows reach back
/// into the silence before the start), bit for bit, through the whole clip
/// and through the stream (pushed in chunks, at 22.05 kHz: the resampler
/// included), so no error accumulates in the clocks, the resampler or the
/// mel-frame indexing.
///
/// The two rates are independent runs of a single-threaded engine: each
/// runs on a thread of its own, so that both cores work (about 70 s on one
/// core of the test machine, half of that on two); the checks are those of
/// one rate after the other.
#[test]
fn ten_minutes_stay_in_sync() {
    let p = demo();
    let x = jfk();
    std::thread::scope(|s| {
        let runs = [16_000u32, 22_050].map(|rate| {
            let (p, x) = (&p, &x);
            s.spawn(move || ten_minutes_at(p, x, rate))
        });
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// [`ten_minutes_stay_in_sync`] at one input rate.
fn ten_minutes_at(p: &Portrait, x: &[f32], rate: u32) {
    // A period that maps to a whole number of 16 kHz video frames
    // (640 samples at 25 fps).
    let unit = if rate == 16_000 { 640 } else { 882 };
    let period = x.len() / unit * unit;
    let seconds = (period as f64 / unit as f64) * 0.04;
    let reps = (600.0 / seconds).ceil() as usize + 1;
    let long: Vec<f32> = (0..reps)
        .flat_map(|_| x[..period].iter().copied())
        .collect();
    let last = (reps - 1) as f64 * seconds;
    let frames = period / unit;
    let inner = |j: usize| (5..frames - 5).contains(&j);

    let mut clip = Engine::new(p).expect("engine");
    clip.load_networks(p).expect("networks");
    clip.blinks.amplitude = 0.0;
    clip.set_speech(Some(Speech::new(&long, rate).expect("speech")));
    let mut second = Vec::new();
    for j in (0..frames).filter(|&j| inner(j)) {
        let t = j as f64 / 25.0;
        let a = clip.frame(t, Some(seconds + t)).expect("frame").blendshapes;
        let b = clip.frame(t, Some(last + t)).expect("frame").blendshapes;
        assert_eq!(a, b, "{rate} Hz: frame {j} differs after {last} s");
        second.push(a);
    }

    let mut live = Engine::new(p).expect("engine");
    live.load_networks(p).expect("networks");
    live.blinks.amplitude = 0.0;
    live.set_stream(Some(SpeechStream::new(rate).expect("stream")));
    let (mut at, mut k, mut got) = (0, 0usize, Vec::new());
    let (mut head_second, mut head_last) = (Vec::new(), Vec::new());
    let total = reps * frames;
    while k < total {
        let t = k as f64 / 25.0;
        let s = live.stream_mut().expect("stream");
        while s.seconds() < t + SpeechStream::WINDOW_AHEAD && at < long.len() {
            let end = (at + 4096).min(long.len());
            s.push(&long[at..end]).expect("push");
            at = end;
        }
        if at == long.len() && !s.ended() {
            s.end();
        }
        let f = live.frame(t, Some(t)).expect("frame");
        let j = k % frames;
        if k >= (reps - 1) * frames && inner(j) {
            got.push(f.blendshapes);
            head_last.push(f.head_rotation);
        }
        if (frames..2 * frames).contains(&k) && inner(j) {
            head_second.push(f.head_rotation);
        }
        k += 1;
    }
    assert_eq!(got.len(), second.len());
    assert!(
        got == second,
        "{rate} Hz: the streamed last minutes differ from the start"
    );
    // Head-Sync's turns repeat with the speech: no drift in 10 minutes.
    let drift = head_second
        .iter()
        .zip(&head_last)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0f32, f32::max);
    let reach = head_last.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        drift < 1e-4 && reach > 0.005,
        "{rate} Hz: drift {drift}, reach {reach}"
    );
    assert!(last > 590.0, "{last} s");
}

/// The portrait's own articulation strength (META `articulation`) amplifies
/// the mouth's departure from rest: the face at rest is unchanged, a mouth
/// shape twice as far from it (inside the trained range); a bad value is an
/// error naming the field.
#[test]
fn the_portraits_articulation_scales_the_mouth_around_rest() {
    let mut p = demo();
    p.meta.extra.remove("articulation");
    let x = jfk();
    let run = |p: &Portrait| {
        let mut e = Engine::new(p).expect("engine");
        e.load_networks(p).expect("networks");
        e.blinks.amplitude = 0.0;
        let rest = e.frame(0.0, None).expect("rest").blendshapes;
        e.set_speech(Some(Speech::new(&x, 16_000).expect("speech")));
        let t = 2.0;
        (
            e.articulation(),
            rest,
            e.frame(t, Some(t)).expect("frame").blendshapes,
        )
    };
    let (a1, rest1, f1) = run(&p);
    p.meta
        .extra
        .insert("articulation".into(), serde_json::json!(2.0));
    let (a2, rest2, f2) = run(&p);
    assert_eq!((a1, a2), (1.0, 2.0));
    assert_eq!(rest1, rest2, "the face at rest does not move");
    let jaw = blendshapes::JAW_OPEN;
    let (d1, d2) = (f1[jaw] - rest1[jaw], f2[jaw] - rest2[jaw]);
    assert!(d1 > 0.02, "the jaw opens on speech: {d1}");
    assert!((d2 - 2.0 * d1).abs() < 1e-5, "{d1} then {d2}");
    assert_eq!(
        f1[blendshapes::EYE_BLINK_LEFT],
        f2[blendshapes::EYE_BLINK_LEFT]
    );
    p.meta
        .extra
        .insert("articulation".into(), serde_json::json!("loud"));
    let Err(e) = Engine::new(&p) else {
        panic!("a bad articulation was accepted")
    };
    assert!(e.to_string().contains("extra.articulation"), "{e}");
}

/// An articulation with a centre (`{"strength", "centre"}`, as
/// `synctalk-eval calibrate` writes it) amplifies the mouth's departure from
/// that centre while speech is heard; the face at rest, with no speech, is
/// the network's answer to silence whatever the centre; a centre of the
/// wrong length or out of [0, 1] is an error naming the field.
#[test]
fn an_articulation_centre_turns_the_amplification_around_it() {
    let mut p = demo();
    let run = |p: &Portrait| {
        let mut e = Engine::new(p).expect("engine");
        e.load_networks(p).expect("networks");
        e.blinks.amplitude = 0.0;
        let rest = e.frame(0.0, None).expect("rest").blendshapes;
        e.set_speech(Some(Speech::new(&jfk(), 16_000).expect("speech")));
        (rest, e.frame(2.0, Some(2.0)).expect("frame").blendshapes)
    };
    p.meta
        .extra
        .insert("articulation".into(), serde_json::json!(1.0));
    let (rest1, plain) = run(&p);
    let jaw = blendshapes::JAW_OPEN;
    let mut centre = vec![0.0f32; BLENDSHAPES];
    centre[jaw] = plain[jaw] + 0.01;
    p.meta.extra.insert(
        "articulation".into(),
        serde_json::json!({"strength": 2.0, "centre": centre}),
    );
    let (rest2, amplified) = run(&p);
    assert_eq!(rest1, rest2, "the face at rest does not move");
    // Just below the centre, the jaw goes twice as far below it.
    let want = centre[jaw] - 2.0 * 0.01;
    assert!(
        (amplified[jaw] - want).abs() < 1e-5,
        "{} vs {want}",
        amplified[jaw]
    );
    for bad in [
        serde_json::json!({"strength": 2.0, "centre": [0.5, 0.5]}),
        serde_json::json!({"strength": 2.0, "centre": vec![1.5; BLENDSHAPES]}),
        serde_json::json!({"centre": centre}),
    ] {
        p.meta.extra.insert("articulation".into(), bad.clone());
        let Err(e) = Engine::new(&p) else {
            panic!("a bad articulation was accepted: {bad}")
        };
        assert!(e.to_string().contains("extra.articulation"), "{e}");
    }
}

/// A still head (reduced motion): the pose stays where it was and Head-Sync
/// turns nothing while the lips go on following the speech; released, the
/// head moves again.
#[test]
fn a_still_head_keeps_its_pose_while_the_lips_move() {
    let p = demo();
    let mut e = Engine::new(&p).expect("engine");
    e.load_networks(&p).expect("networks");
    assert!(e.has_head_sync(), "the demo carries Head-Sync");
    let x = jfk();
    e.set_speech(Some(Speech::new(&x, 16_000).expect("speech")));
    let moving = e.frame(3.0, Some(3.0)).expect("frame").pose_position;
    e.set_head_still(true);
    assert!(e.head_still());
    let mut jaw = Vec::new();
    for k in 0..150 {
        let t = 3.0 + k as f64 / 25.0;
        let f = e.frame(t, Some(t)).expect("frame");
        assert_eq!(f.pose_position, moving, "at {t} s");
        assert_eq!(f.head_rotation, [0.0; 3]);
        assert!(f.speaking);
        jaw.push(f.blendshapes[blendshapes::JAW_OPEN]);
    }
    assert!(
        std_dev(&jaw) > 0.02,
        "the lips stopped: jaw std {}",
        std_dev(&jaw)
    );
    e.set_head_still(false);
    let later: Vec<f64> = (0..50)
        .map(|k| {
            let t = 10.0 + k as f64 / 25.0;
            e.frame(t, Some(t)).expect("frame").pose_position
        })
        .collect();
    assert!(
        later.windows(2).any(|w| w[0] != w[1]),
        "still after release"
    );
    // Still from the start: the session's rest position.
    let mut s = Engine::new(&p).expect("engine");
    s.set_head_still(true);
    for t in [0.0, 5.0, 60.0] {
        assert_eq!(s.frame(t, None).expect("frame").pose_position, TURN / 2.0);
    }
}
