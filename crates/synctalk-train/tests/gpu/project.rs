//! The projection kernels against the f64 oracle (`synctalk_train::cpu`):
//! the forward's splats, the backward given the oracle's own per-splat
//! gradients, and the whole GPU chain (projection forward, raster forward
//! and backward, projection backward) against `cpu::backward` for a random
//! `dL/d` head layer; input validation; the sources shared with the
//! renderer.

use synctalk_train::gpu::{
    project_backward, project_forward, FrameParams, ProjectInputs, RasterGrad,
};

use crate::scene3d::Scene3;

use crate::oracle3d::{
    cases, check_splats, compare, coverage, gpu_chain, options, print_report, Coverage, Inputs,
    Oracle, Trainer,
};

/// The projection backward alone, fed the oracle's per-splat gradients.
#[test]
fn projection_backward_matches_the_oracle() {
    let t = Trainer::new();
    let mut cov = Coverage::default();
    for (name, seed, o) in cases() {
        let scene = Scene3::random(seed, o);
        let inputs = Inputs::new(&scene);
        let oracle = Oracle::new(&scene, seed + 100);
        let fwd = project_forward(&t.device, &t.queue, &t.project, &inputs.project()).expect("fwd");
        check_splats(name, &oracle, &fwd);
        let n = scene.params.len();
        // Splat i is Gaussian i: the oracle's gradients by Gaussian serve.
        let grads = project_backward(
            &t.device,
            &t.queue,
            &t.project,
            &inputs.project(),
            &fwd.splat_of,
            &oracle.raster_by_gaussian(n),
        )
        .expect("backward");
        let report = compare(name, &scene, &oracle, &grads);
        let visible = fwd.splat_of.iter().filter(|&&s| s != 0).count();
        print_report(name, n, visible, oracle.excluded, &report);
        coverage(&scene, &oracle, &fwd, &mut cov);
    }
    eprintln!("{cov:?}");
    assert!(
        cov.fov_clamped >= 5 && cov.sh_clamped >= 5 && cov.behind >= 5 && cov.faint >= 5,
        "{cov:?}"
    );
}

/// The whole GPU chain against `cpu::backward`.
#[test]
fn whole_chain_matches_the_oracle() {
    let t = Trainer::new();
    for (name, seed, o) in cases() {
        let scene = Scene3::random(seed, o);
        let inputs = Inputs::new(&scene);
        let oracle = Oracle::new(&scene, seed + 200);
        let (fwd, raster, grads) = gpu_chain(&t, &inputs, &oracle.grad_head);
        check_splats(name, &oracle, &fwd);
        // The head layer, where the gradient is not zeroed.
        let mut worst_image = 0.0f64;
        for (p, (ours, theirs)) in raster.image.iter().zip(&oracle.fwd.head).enumerate() {
            if oracle.grad_head[p] == [0.0; 4] {
                continue;
            }
            for c in 0..4 {
                let e = (f64::from(ours[c]) - theirs[c]).abs();
                assert!(e <= 1e-4, "{name}: pixel {p}: {ours:?} vs {theirs:?}");
                worst_image = worst_image.max(e);
            }
        }
        let report = compare(name, &scene, &oracle, &grads);
        let visible = fwd.splat_of.iter().filter(|&&s| s != 0).count();
        print_report(name, scene.params.len(), visible, oracle.excluded, &report);
        eprintln!("{name}: worst head-layer error {worst_image:.1e}");
    }
}

/// Bad inputs are errors, not panics or GPU faults.
#[test]
fn inputs_are_validated() {
    let t = Trainer::new();
    let scene = Scene3::random(71, options(32, 32, 10, 2));
    let inputs = Inputs::new(&scene);
    let mut short = inputs.params.clone();
    short.sh.pop();
    let bad = ProjectInputs {
        params: &short,
        ..inputs.project()
    };
    assert!(project_forward(&t.device, &t.queue, &t.project, &bad).is_err());
    let mut frame = inputs.frame;
    frame.num_bases = 1;
    let bad = ProjectInputs {
        frame,
        ..inputs.project()
    };
    assert!(project_forward(&t.device, &t.queue, &t.project, &bad).is_err());
    let n = inputs.params.len();
    let splat_of = vec![n as u32 + 1; n];
    let grads = vec![RasterGrad::default(); n];
    assert!(project_backward(
        &t.device,
        &t.queue,
        &t.project,
        &inputs.project(),
        &splat_of,
        &grads
    )
    .is_err());
    let view = scene.views().1;
    assert!(FrameParams::new(&view, 4, 2, &[]).is_err());
    assert!(FrameParams::new(&view, 4, 1, &[0.0; 33]).is_err());
}

/// The trainer's forward projection is the renderer's preprocess.wgsl
/// (deformation, culling, EWA, tile rectangle), and its frame uniform the
/// renderer's `Frame`.
#[test]
fn projection_source_matches_the_renderer() {
    let render = |f: &str| {
        std::fs::read_to_string(format!(
            "{}/../synctalk-render/src/shaders/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("renderer shader")
    };
    let preprocess = render("preprocess.wgsl");
    let common = render("common.wgsl");
    let ours_fwd = include_str!("../../src/gpu/project_fwd.wgsl");
    let ours_gaussian = include_str!("../../src/gpu/gaussian.wgsl");
    let ours_frame = include_str!("../../src/gpu/frame.wgsl");
    fn block(src: &str, from: &str, to: &str) -> Vec<String> {
        let lines: Vec<String> = src
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect();
        let a = lines.iter().position(|l| l.starts_with(from)).expect(from);
        let b = a + lines[a..].iter().position(|l| l.starts_with(to)).expect(to);
        lines[a..=b].to_vec()
    }
    assert_eq!(
        block(ours_fwd, "let pv = ", "if (hi.x <= lo.x"),
        block(&preprocess, "let pv = ", "if (hi.x <= lo.x")
    );
    assert_eq!(
        block(ours_gaussian, "let g0 = ", "op_logit += "),
        block(&preprocess, "let g0 = ", "op_logit += ")
    );
    assert_eq!(
        block(ours_frame, "struct Frame {", "}"),
        block(&common, "struct Frame {", "}")
    );
    assert_eq!(std::mem::size_of::<FrameParams>(), 288);
}
