//! tract reproduces the toolchain's Face-Sync and Expression Generator
//! outputs (models/networks/, written by the toolchain at export) to
//! 1e-4, from ONNX and from their NNEF conversion (what the browser loads),
//! and refuses bad input.

use synctalk_nets::{onnx_to_nnef, FaceSync, NetError, WindowNet, BLENDSHAPES, CONTEXT, N_MELS};
use synctalk_testdata::read_npy;

fn onnx() -> Vec<u8> {
    std::fs::read(synctalk_testdata::networks().join("face_sync.onnx")).expect("face_sync.onnx")
}

fn net() -> FaceSync {
    FaceSync::from_onnx(&onnx()).expect("loads")
}

#[test]
fn matches_the_toolchain_from_onnx_and_nnef() {
    let (ishape, inputs) = read_npy(&synctalk_testdata::networks().join("face_sync_inputs.npy"));
    let (oshape, outputs) = read_npy(&synctalk_testdata::networks().join("face_sync_outputs.npy"));
    assert_eq!(&ishape[1..], &[CONTEXT, N_MELS]);
    assert_eq!(oshape, vec![ishape[0], BLENDSHAPES]);
    assert!(ishape[0] >= 8);
    let onnx = onnx();
    let nnef = onnx_to_nnef(&onnx).expect("converts");
    assert_eq!(
        nnef,
        onnx_to_nnef(&onnx).expect("converts"),
        "deterministic"
    );
    let t = std::time::Instant::now();
    let mut a = FaceSync::from_onnx(&onnx).expect("onnx");
    let onnx_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = std::time::Instant::now();
    let mut b = FaceSync::from_nnef(&nnef).expect("nnef");
    let nnef_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut c = FaceSync::from_bytes(&nnef).expect("sniffed");
    eprintln!(
        "load: ONNX {} B in {onnx_ms:.1} ms, NNEF {} B in {nnef_ms:.1} ms",
        onnx.len(),
        nnef.len()
    );
    let mut worst = [0f32; 2];
    for (w, want) in inputs
        .chunks(CONTEXT * N_MELS)
        .zip(outputs.chunks(BLENDSHAPES))
    {
        let (x, y) = (a.run(w).expect("runs"), b.run(w).expect("runs"));
        assert_eq!(y, c.run(w).expect("runs"));
        for ((g, h), e) in x.iter().zip(&y).zip(want) {
            worst[0] = worst[0].max((g - e).abs());
            worst[1] = worst[1].max((h - e).abs());
        }
    }
    eprintln!(
        "tract vs the toolchain: max abs diff {:e} (ONNX), {:e} (NNEF)",
        worst[0], worst[1]
    );
    assert!(
        worst[0] <= 1e-4 && worst[1] <= 1e-4,
        "max abs diff {worst:?}"
    );
}

#[test]
fn the_expression_generator_matches_the_toolchain() {
    let (_, inputs) = read_npy(&synctalk_testdata::networks().join("face_sync_inputs.npy"));
    let (oshape, outputs) = read_npy(&synctalk_testdata::networks().join("expression_outputs.npy"));
    assert_eq!(oshape[1], BLENDSHAPES);
    let onnx = std::fs::read(synctalk_testdata::networks().join("expression.onnx"))
        .expect("expression.onnx");
    let nnef = onnx_to_nnef(&onnx).expect("converts");
    let mut a = WindowNet::load_onnx("expression", &onnx).expect("onnx");
    let mut b = WindowNet::load("expression", &nnef).expect("nnef");
    assert_eq!(b.name(), "expression");
    let mut worst = 0f32;
    let mut moved = 0;
    for (w, want) in inputs
        .chunks(CONTEXT * N_MELS)
        .zip(outputs.chunks(BLENDSHAPES))
    {
        let (x, y) = (a.run(w).expect("runs"), b.run(w).expect("runs"));
        for ((g, h), e) in x.iter().zip(&y).zip(want) {
            worst = worst.max((g - e).abs()).max((h - e).abs());
        }
        moved += usize::from(want.iter().any(|v| v.abs() > 0.01));
    }
    eprintln!("expression: tract vs the toolchain, max abs diff {worst:e}");
    assert!(worst <= 1e-4, "max abs diff {worst}");
    assert!(moved >= 4, "only {moved} windows move the face");
    let e = WindowNet::load("expression", b"junk").expect_err("junk");
    assert!(e.to_string().contains("expression"), "{e}");
}

#[test]
fn head_sync_matches_the_toolchain() {
    let (_, inputs) = read_npy(&synctalk_testdata::networks().join("face_sync_inputs.npy"));
    let (oshape, outputs) = read_npy(&synctalk_testdata::networks().join("head_sync_outputs.npy"));
    assert_eq!(oshape[1], 4);
    let onnx = std::fs::read(synctalk_testdata::networks().join("head_sync.onnx"))
        .expect("head_sync.onnx");
    let nnef = onnx_to_nnef(&onnx).expect("converts");
    let mut a = WindowNet::load_onnx("head_sync", &onnx).expect("onnx");
    let mut b = WindowNet::load("head_sync", &nnef).expect("nnef");
    assert_eq!((a.width(), b.width()), (4, 4));
    let mut worst = 0f32;
    let (mut turned, mut active) = (0, 0);
    for (w, want) in inputs.chunks(CONTEXT * N_MELS).zip(outputs.chunks(4)) {
        let (x, y) = (a.run(w).expect("runs"), b.run(w).expect("runs"));
        for ((g, h), e) in x.iter().zip(&y).zip(want) {
            worst = worst.max((g - e).abs()).max((h - e).abs());
        }
        // Only the first `width` values are the network's.
        assert!(x[4..].iter().chain(&y[4..]).all(|&v| v == 0.0));
        turned += usize::from(want[..3].iter().any(|v| v.abs() > 0.005));
        active += usize::from(want[3] > 0.5);
    }
    eprintln!("head_sync: tract vs the toolchain, max abs diff {worst:e}");
    assert!(worst <= 1e-4, "max abs diff {worst}");
    assert!(
        turned >= 4 && active >= 4,
        "turned {turned}, active {active}"
    );
}

#[test]
fn refuses_bad_input_and_models() {
    let mut net = net();
    assert!(matches!(net.run(&[0.0; 10]), Err(NetError::Input { .. })));
    let mut w = vec![-5.0; CONTEXT * N_MELS];
    w[77] = f32::NAN;
    let e = net.run(&w).expect_err("NaN");
    assert!(e.to_string().contains("77"), "{e}");
    let e = FaceSync::from_onnx(b"not a model").expect_err("garbage");
    assert!(e.to_string().contains("face_sync"), "{e}");
    // A tar that is not an NNEF model, and a truncated NNEF model.
    let mut tar = vec![0u8; 1024];
    tar[257..262].copy_from_slice(b"ustar");
    assert!(FaceSync::from_bytes(&tar).is_err());
    let nnef = onnx_to_nnef(&onnx()).expect("converts");
    let e = FaceSync::from_nnef(&nnef[..nnef.len() / 2]).expect_err("truncated");
    assert!(e.to_string().contains("face_sync"), "{e}");
}
