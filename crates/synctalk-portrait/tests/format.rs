//! Portrait format: exact round trips, streaming, and refusal of truncated,
//! corrupt and hostile files with errors that name the chunk and field.

use rand::{Rng, SeedableRng};
use synctalk_gaussians::synthetic::{orbit_camera, random_deformation, RandomCloud};
use synctalk_gaussians::Image;
use synctalk_portrait::*;

fn f16_round(v: f32) -> f32 {
    half::f16::from_f32(v).to_f32()
}

/// A portrait with every chunk kind; values already f16-representable where
/// the file stores f16, so the decoded portrait equals this one exactly.
fn sample(precision: Precision) -> Portrait {
    let mut g = RandomCloud {
        count: 300,
        sh_degree: 3,
        half_extent: 1.0,
        center: [0.0; 3],
        log_scale: (-4.0, -2.0),
    }
    .generate(3);
    let mut basis = random_deformation(4, g.len(), 3, 0.05);
    if precision == Precision::F16 {
        g.rotations
            .iter_mut()
            .flatten()
            .for_each(|v| *v = f16_round(*v));
        g.log_scales
            .iter_mut()
            .flatten()
            .for_each(|v| *v = f16_round(*v));
        g.opacity_logits.iter_mut().for_each(|v| *v = f16_round(*v));
        g.sh.iter_mut().flatten().for_each(|v| *v = f16_round(*v));
        basis.bases.iter_mut().for_each(|v| *v = f16_round(*v));
    }
    let mut img = Image::solid(24, 16, [10, 20, 30, 255]);
    img.data[5] = 200;
    let controller = Controller {
        input_dim: 4,
        layers: vec![
            Dense {
                inputs: 4,
                outputs: 5,
                activation: Activation::Relu,
                weights: (0..20).map(|i| i as f32 * 0.1 - 1.0).collect(),
                bias: vec![0.1; 5],
            },
            Dense {
                inputs: 5,
                outputs: 3,
                activation: Activation::Tanh,
                weights: (0..15).map(|i| 0.3 - i as f32 * 0.05).collect(),
                bias: vec![0.0, 0.5, -0.5],
            },
        ],
    };
    Portrait {
        meta: Metadata {
            name: "test".into(),
            licence: "CC0".into(),
            attribution: "synthetic".into(),
            created_by: "tests".into(),
            extra: serde_json::json!({"psnr": 31.5})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        },
        camera: orbit_camera(24, 16, 30.0, 3.0, 0.1, 0.0),
        gaussians: g,
        precision,
        deformation: Some(LearnedDeformation { basis, controller }),
        pose: Some(PoseTrack {
            fps: 25.0,
            frames: vec![
                HeadPose {
                    rotation: [1.0, 0.0, 0.0, 0.0],
                    translation: [0.0, 0.1, 0.2]
                };
                7
            ],
        }),
        layers: vec![
            Layer::from_image(LayerRole::Background, 0, &img).expect("png"),
            Layer {
                role: LayerRole::Torso,
                index: 3,
                width: 24,
                height: 16,
                encoding: LayerEncoding::Raw,
                data: img.data.clone(),
            },
        ],
        networks: vec![Network {
            name: "face_sync".into(),
            format: NetworkFormat::Onnx,
            bytes: vec![8, 1, 18, 4],
        }],
    }
}

/// (tag, start of chunk header, end of padded chunk) for every chunk.
fn chunk_spans(b: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 16;
    while at < b.len() {
        let len = u64::from_le_bytes(b[at + 8..at + 16].try_into().expect("8 bytes")) as usize;
        let end = at + 24 + len + (8 - len % 8) % 8;
        out.push((
            String::from_utf8_lossy(&b[at..at + 4])
                .trim_end()
                .to_string(),
            at,
            end,
        ));
        at = end;
    }
    out
}

/// Rewrites a chunk's payload (fixing its length and CRC) — a hostile but
/// well-formed file.
fn replace_payload(b: &[u8], tag: &str, payload: &[u8]) -> Vec<u8> {
    let (_, start, end) = chunk_spans(b)
        .into_iter()
        .find(|c| c.0 == tag)
        .expect("chunk present");
    let mut out = b[..start].to_vec();
    out.extend_from_slice(&b[start..start + 8]);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(payload);
    out.resize(out.len() + (8 - payload.len() % 8) % 8, 0);
    out.extend_from_slice(&b[end..]);
    out
}

fn payload<'a>(b: &'a [u8], tag: &str) -> &'a [u8] {
    let (_, start, _) = chunk_spans(b)
        .into_iter()
        .find(|c| c.0 == tag)
        .expect("chunk present");
    let len = u64::from_le_bytes(b[start + 8..start + 16].try_into().expect("8 bytes")) as usize;
    &b[start + 24..start + 24 + len]
}

fn err(b: &[u8]) -> String {
    match Portrait::from_bytes(b) {
        Ok(_) => panic!("file was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn round_trips_exactly() {
    for precision in [Precision::F16, Precision::F32] {
        let p = sample(precision);
        let bytes = p.to_bytes().expect("write");
        let q = Portrait::from_bytes(&bytes).expect("read");
        assert_eq!(p, q, "{precision:?}");
        assert_eq!(q.to_bytes().expect("write again"), bytes);
        assert_eq!(
            q.layer(LayerRole::Background)
                .expect("bg")
                .image()
                .expect("decode")
                .data[5],
            200
        );
        let tags: Vec<String> = chunk_spans(&bytes).into_iter().map(|c| c.0).collect();
        assert_eq!(
            tags,
            ["META", "CAMR", "GAUS", "DEFM", "POSE", "IMAG", "IMAG", "NETW", "END"]
        );
    }
    // f16 halves the Gaussian payload.
    let small = payload(&sample(Precision::F16).to_bytes().expect("w"), "GAUS").len();
    let large = payload(&sample(Precision::F32).to_bytes().expect("w"), "GAUS").len();
    assert!(small * 10 < large * 6, "{small} vs {large}");
}

#[test]
fn streams_in_arbitrary_pieces() {
    let p = sample(Precision::F16);
    let bytes = p.to_bytes().expect("write");
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    for _ in 0..20 {
        let mut parser = StreamParser::new();
        let mut tags = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let n = rng.random_range(1..200).min(bytes.len() - at);
            tags.extend(parser.push(&bytes[at..at + n]).expect("push"));
            at += n;
            if tags.contains(b"GAUS") {
                assert!(
                    parser.received().gaussians.is_some(),
                    "Gaussians usable as soon as their chunk completes"
                );
            }
        }
        assert_eq!(tags.len(), 9);
        assert_eq!(parser.finish().expect("finish"), p);
    }
}

#[test]
fn truncation_anywhere_is_reported_with_its_place() {
    let bytes = sample(Precision::F16).to_bytes().expect("write");
    let spans = chunk_spans(&bytes);
    let mut cuts: Vec<usize> = vec![0, 1, 8, 15, 16, 17];
    for (_, s, e) in &spans {
        cuts.extend([*s, s + 1, s + 23, s + 24, s + 25, (s + e) / 2, e - 1]);
    }
    for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
        let e = err(&bytes[..cut]);
        assert!(e.contains("truncated"), "cut at {cut}: {e}");
        let inside = spans.iter().find(|c| cut > c.1 + 24 && cut < c.2);
        if let Some((tag, ..)) = inside {
            assert!(
                e.contains(tag.as_str()) || e.contains("padding"),
                "cut at {cut} inside {tag}: {e}"
            );
        }
    }
}

#[test]
fn bit_flips_never_change_the_result_silently() {
    let p = sample(Precision::F16);
    let bytes = p.to_bytes().expect("write");
    let mut rng = rand_pcg::Pcg32::seed_from_u64(2);
    let mut refused = 0;
    for _ in 0..3000 {
        let mut b = bytes.clone();
        let i = rng.random_range(0..b.len());
        b[i] ^= 1 << rng.random_range(0..8);
        match Portrait::from_bytes(&b) {
            Err(_) => refused += 1,
            // Only the "critical" flag of a known chunk may flip harmlessly.
            Ok(q) => assert_eq!(q, p, "flip at byte {i} changed the portrait silently"),
        }
    }
    assert!(refused > 2900, "only {refused} of 3000 flips refused");
}

#[test]
fn hostile_counts_and_lengths_are_refused_without_allocating() {
    let bytes = sample(Precision::F16).to_bytes().expect("write");
    let gaus = payload(&bytes, "GAUS").to_vec();

    let mut g = gaus.clone();
    g[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = err(&replace_payload(&bytes, "GAUS", &g));
    assert!(e.contains("GAUS") && e.contains("count"), "{e}");

    let mut g = gaus.clone();
    g[0..4].copy_from_slice(&1000u32.to_le_bytes());
    let e = err(&replace_payload(&bytes, "GAUS", &g));
    assert!(e.contains("GAUS") && e.contains("length"), "{e}");

    let mut g = gaus.clone();
    g[4] = 9;
    let e = err(&replace_payload(&bytes, "GAUS", &g));
    assert!(e.contains("sh_degree"), "{e}");

    let mut d = payload(&bytes, "DEFM").to_vec();
    d[0..4].copy_from_slice(&1_000_000u32.to_le_bytes());
    let e = err(&replace_payload(&bytes, "DEFM", &d));
    assert!(e.contains("DEFM") && e.contains("num_bases"), "{e}");

    let mut pz = payload(&bytes, "POSE").to_vec();
    pz[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = err(&replace_payload(&bytes, "POSE", &pz));
    assert!(e.contains("POSE") && e.contains("frames"), "{e}");

    let mut im = payload(&bytes, "IMAG").to_vec();
    im[8..12].copy_from_slice(&100_000u32.to_le_bytes());
    let e = err(&replace_payload(&bytes, "IMAG", &im));
    assert!(e.contains("IMAG") && e.contains("width"), "{e}");

    // A chunk header claiming an exabyte payload.
    let (_, start, _) = chunk_spans(&bytes)
        .into_iter()
        .find(|c| c.0 == "CAMR")
        .expect("CAMR");
    let mut b = bytes.clone();
    b[start + 8..start + 16].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let e = err(&b);
    assert!(e.contains("CAMR") && e.contains("length"), "{e}");

    // Fewer bases than the payload holds.
    let mut d = payload(&bytes, "DEFM").to_vec();
    d[0..4].copy_from_slice(&2u32.to_le_bytes());
    let e = err(&replace_payload(&bytes, "DEFM", &d));
    assert!(e.contains("DEFM"), "{e}");
}

#[test]
fn non_finite_values_are_refused() {
    let bytes = sample(Precision::F16).to_bytes().expect("write");
    let gaus = payload(&bytes, "GAUS").to_vec();
    let mut g = gaus.clone();
    g[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    let e = err(&replace_payload(&bytes, "GAUS", &g));
    assert!(
        e.contains("GAUS") && e.contains("positions") && e.contains("not finite"),
        "{e}"
    );
    let n = 300;
    let mut g = gaus.clone();
    let sh_at = 8 + n * 12 + n * (4 + 3 + 1) * 2;
    g[sh_at..sh_at + 2].copy_from_slice(&half::f16::INFINITY.to_le_bytes());
    let e = err(&replace_payload(&bytes, "GAUS", &g));
    assert!(e.contains("sh") && e.contains("not finite"), "{e}");
    let mut c = payload(&bytes, "CAMR").to_vec();
    c[8..12].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let e = err(&replace_payload(&bytes, "CAMR", &c));
    assert!(e.contains("CAMR") && e.contains("fx"), "{e}");
    // The writer refuses values f16 cannot hold.
    let mut p = sample(Precision::F16);
    p.gaussians.sh[0][0] = 1e6;
    assert!(p
        .to_bytes()
        .expect_err("overflow")
        .to_string()
        .contains("not finite"));
}

#[test]
fn versions_signatures_order_and_unknown_chunks() {
    let p = sample(Precision::F16);
    let bytes = p.to_bytes().expect("write");
    let mut b = bytes.clone();
    b[8..10].copy_from_slice(&2u16.to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    assert!(err(&b).contains("version 2.0"), "{}", err(&b));
    // A newer minor version reads fine.
    let mut b = bytes.clone();
    b[10..12].copy_from_slice(&7u16.to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(Portrait::from_bytes(&b).expect("minor 7"), p);
    assert!(err(b"GIF89a............").contains("signature"));
    assert!(err(&[]).contains("truncated"));

    let spans = chunk_spans(&bytes);
    let span = |t: &str| {
        spans
            .iter()
            .find(|c| c.0 == t)
            .map(|c| (c.1, c.2))
            .expect("chunk")
    };
    // Unknown chunk after CAMR: skipped if not critical, refused if critical.
    for (critical, ok) in [(0u32, true), (1, false)] {
        let (_, camr_end) = span("CAMR");
        let mut b = bytes[..camr_end].to_vec();
        b.extend_from_slice(b"XTRA");
        b.extend_from_slice(&critical.to_le_bytes());
        b.extend_from_slice(&3u64.to_le_bytes());
        b.extend_from_slice(&crc32fast::hash(b"abc").to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(b"abc\0\0\0\0\0");
        b.extend_from_slice(&bytes[camr_end..]);
        match Portrait::from_bytes(&b) {
            Ok(q) => assert!(ok && q == p),
            Err(e) => assert!(!ok && e.to_string().contains("XTRA"), "{e}"),
        }
    }
    // Duplicate CAMR.
    let (s, e) = span("CAMR");
    let mut b = bytes[..e].to_vec();
    b.extend_from_slice(&bytes[s..e]);
    b.extend_from_slice(&bytes[e..]);
    assert!(err(&b).contains("CAMR appears more than once"));
    // Missing GAUS (and with it DEFM, which needs it).
    let (gs, _) = span("GAUS");
    let (_, de) = span("DEFM");
    let mut b = bytes[..gs].to_vec();
    b.extend_from_slice(&bytes[de..]);
    assert!(err(&b).contains("GAUS is missing"), "{}", err(&b));
    // DEFM before GAUS.
    let (ds, _) = span("DEFM");
    let mut b = bytes[..gs].to_vec();
    b.extend_from_slice(&bytes[ds..de]);
    b.extend_from_slice(&bytes[gs..ds]);
    b.extend_from_slice(&bytes[de..]);
    assert!(err(&b).contains("DEFM comes before GAUS"), "{}", err(&b));
    // META not first.
    let (ms, me) = span("META");
    let (_, ce) = span("CAMR");
    let mut b = bytes[..ms].to_vec();
    b.extend_from_slice(&bytes[me..ce]);
    b.extend_from_slice(&bytes[ms..me]);
    b.extend_from_slice(&bytes[ce..]);
    assert!(err(&b).contains("expected META"), "{}", err(&b));
    // Trailing bytes.
    let mut b = bytes.clone();
    b.push(0);
    assert!(
        err(&b).contains("after") || err(&b).contains("follow"),
        "{}",
        err(&b)
    );
    // Missing licence.
    let mut q = p.clone();
    q.meta.licence.clear();
    assert!(q
        .to_bytes()
        .expect_err("licence")
        .to_string()
        .contains("licence"));
}

#[test]
fn the_track_camera_blends_neighbouring_poses() {
    let mut p = sample(Precision::F32);
    let frames = &mut p.pose.as_mut().expect("pose").frames;
    // Frame 3: a quarter turn about y, stored with the opposite sign (the
    // same rotation): the blend must take the shorter way round.
    let h = std::f32::consts::FRAC_1_SQRT_2;
    frames[3].rotation = [-h, 0.0, -h, 0.0];
    frames[3].translation = [1.0, 0.1, 0.2];
    for k in 0..7 {
        assert_eq!(p.track_camera(k as f64), p.frame_camera(k), "frame {k}");
    }
    // Half way from frame 2 (identity) to 3: an eighth turn, half the shift.
    let c = p.track_camera(2.5).expect("camera");
    let (a, b) = (
        p.frame_camera(2).expect("camera"),
        p.frame_camera(3).expect("camera"),
    );
    let eighth = std::f32::consts::FRAC_PI_8.cos() * std::f32::consts::FRAC_PI_8.cos() * 2.0 - 1.0;
    // The head-to-world rotation about y by 45°: R_head[0][0] = cos 45°.
    let ident = p.camera.rotation;
    let head00: f32 = (0..3).map(|k| ident[k][0] * c.rotation[k][0]).sum();
    assert!((head00 - eighth).abs() < 1e-5, "{head00} vs {eighth}");
    for i in 0..3 {
        let mid = 0.5 * (a.translation[i] + b.translation[i]);
        assert!((c.translation[i] - mid).abs() < 1e-5, "translation {i}");
    }
    // Clamped at the ends; no camera for a non-finite position.
    assert_eq!(p.track_camera(-3.0), p.frame_camera(0));
    assert_eq!(p.track_camera(99.0), p.frame_camera(6));
    assert_eq!(p.track_camera(f64::NAN), None);
    p.pose = None;
    assert_eq!(p.track_camera(1.0), None);
}

/// Head space to camera space through `c`.
fn to_camera(c: &synctalk_gaussians::Camera, x: [f32; 3]) -> [f32; 3] {
    [0, 1, 2].map(|i| (0..3).map(|k| c.rotation[i][k] * x[k]).sum::<f32>() + c.translation[i])
}

#[test]
fn the_head_turns_about_its_pivot() {
    let mut p = sample(Precision::F32);
    let h = std::f32::consts::FRAC_1_SQRT_2;
    p.pose.as_mut().expect("pose").frames[3].rotation = [h, 0.0, h, 0.0];
    assert_eq!(
        p.head_pivot().expect("pivot"),
        [0.0; 3],
        "no META: the origin"
    );
    let pivot = [0.5, 1.5, -2.0];
    p.meta
        .extra
        .insert("head_pivot".into(), serde_json::json!(pivot));
    assert_eq!(p.head_pivot().expect("pivot"), pivot);
    for pos in [0.0, 2.5, 3.0] {
        let track = p.track_camera(pos).expect("camera");
        assert_eq!(p.head_camera(pos, [0.0; 3], pivot), Some(track.clone()));
        // A 0.2 rad nod about head-space x: the pivot stays where it was, a
        // point 1 away from it along y moves by 2 sin(0.1) in camera space.
        let turned = p.head_camera(pos, [0.2, 0.0, 0.0], pivot).expect("camera");
        let (a, b) = (to_camera(&track, pivot), to_camera(&turned, pivot));
        assert!((0..3).all(|i| (a[i] - b[i]).abs() < 1e-5), "{a:?} vs {b:?}");
        let y = [pivot[0], pivot[1] + 1.0, pivot[2]];
        let (a, b) = (to_camera(&track, y), to_camera(&turned, y));
        let moved = (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f32>().sqrt();
        assert!((moved - 2.0 * 0.1f32.sin()).abs() < 1e-5, "moved {moved}");
    }
    for bad in [
        serde_json::json!([1.0, 2.0]),
        serde_json::json!("up"),
        serde_json::json!([1.0, 2.0, 1e9]),
    ] {
        p.meta.extra.insert("head_pivot".into(), bad);
        let e = p.head_pivot().expect_err("bad pivot").to_string();
        assert!(e.contains("head_pivot"), "{e}");
    }
}

#[test]
fn the_jaw_line_is_read_and_checked() {
    let mut p = sample(Precision::F32);
    assert_eq!(p.jaw_line().expect("jaw"), None, "no META: none");
    let jaw = vec![[7.0, 3.7, 7.0], [0.8, 10.1, 2.4], [-6.0, 5.1, 7.1]];
    p.meta
        .extra
        .insert("jaw_line".into(), serde_json::json!(jaw));
    assert_eq!(p.jaw_line().expect("jaw"), Some(jaw));
    for bad in [
        serde_json::json!([[1.0, 2.0, 3.0]]),
        serde_json::json!([[1.0, 2.0], [1.0, 2.0]]),
        serde_json::json!([[1.0, 2.0, 3.0], [1.0, f64::MAX, 0.0]]),
        serde_json::json!("chin"),
    ] {
        p.meta.extra.insert("jaw_line".into(), bad);
        let e = p.jaw_line().expect_err("bad jaw").to_string();
        assert!(e.contains("jaw_line"), "{e}");
    }
}
