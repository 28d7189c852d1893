//! tract reproduces PyTorch's Face-Sync outputs (tests/vectors/networks/,
//! written by the toolchain at export) to 1e-4, and refuses bad input.

use synctalk_nets::{FaceSync, NetError, BLENDSHAPES, CONTEXT, N_MELS};
use synctalk_testdata::{read_npy, vectors};

fn net() -> FaceSync {
    let bytes = std::fs::read(vectors("networks").join("face_sync.onnx")).expect("face_sync.onnx");
    FaceSync::from_onnx(&bytes).expect("loads")
}

#[test]
fn matches_pytorch() {
    let (ishape, inputs) = read_npy(&vectors("networks").join("face_sync_inputs.npy"));
    let (oshape, outputs) = read_npy(&vectors("networks").join("face_sync_outputs.npy"));
    assert_eq!(&ishape[1..], &[CONTEXT, N_MELS]);
    assert_eq!(oshape, vec![ishape[0], BLENDSHAPES]);
    assert!(ishape[0] >= 8);
    let mut net = net();
    let mut worst = 0f32;
    for (w, want) in inputs
        .chunks(CONTEXT * N_MELS)
        .zip(outputs.chunks(BLENDSHAPES))
    {
        let got = net.run(w).expect("runs");
        for (g, e) in got.iter().zip(want) {
            worst = worst.max((g - e).abs());
        }
    }
    eprintln!("tract vs PyTorch: max abs diff {worst:e}");
    assert!(worst <= 1e-4, "max abs diff {worst}");
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
}
