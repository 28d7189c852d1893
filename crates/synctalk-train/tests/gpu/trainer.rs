//! The training loop ([`synctalk_train::train::Trainer`]) on a small
//! synthetic dataset: frames the f64 oracle renders of one scene under
//! three tracked poses (with conditions of their own). Training from a
//! perturbed start lowers the loss and raises the PSNR; a checkpoint
//! written and read back is the same state, and a run resumed from it
//! continues.

use synctalk_reference::{Layers, View};
use synctalk_train::cpu::{forward, posed_view, Frame};
use synctalk_train::gpu::{pack_target, under_layer, GpuParams};
use synctalk_train::train::agreement::face_agreement;
use synctalk_train::train::{
    initial_theta, Checkpoint, RebuildCause, Settings, TrainData, Trainer,
};

use crate::oracle3d::{options, Trainer as Gpu};
use crate::scene3d::Scene3;
use crate::step::perturbed;

#[derive(Clone)]
struct Synthetic {
    size: (u32, u32),
    views: Vec<View>,
    conds: Vec<Vec<f32>>,
    targets: Vec<Vec<u32>>,
    unders: Vec<Vec<u32>>,
    /// Tracked landmarks in head space per frame (the mesh prior's), if any.
    landmarks: Option<Vec<Vec<[f64; 3]>>>,
}

impl TrainData for Synthetic {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn frames(&self) -> usize {
        self.views.len()
    }
    fn train_frames(&self) -> Vec<usize> {
        (0..self.views.len()).collect()
    }
    fn view(&self, t: usize) -> View {
        self.views[t]
    }
    fn condition(&self, t: usize) -> &[f32] {
        &self.conds[t]
    }
    fn target(&self, t: usize) -> &[u32] {
        &self.targets[t]
    }
    fn under(&self, t: usize) -> &[u32] {
        &self.unders[t]
    }
    fn head_space_landmarks(&self, t: usize) -> Option<Vec<[f64; 3]>> {
        self.landmarks.as_ref().map(|l| l[t].clone())
    }
}

/// Three frames of `truth` under three pose corrections (the tracked
/// view of each is the corrected one), each with a condition of its own.
fn synthetic(truth: &Scene3) -> Synthetic {
    let (head, _) = truth.views();
    let q = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let layers = Layers {
        background: &truth.background,
        torso: None,
    };
    let under: Vec<u32> = under_layer(layers)
        .iter()
        .map(|u| u32::from_le_bytes([q(u[0].into()), q(u[1].into()), q(u[2].into()), 255]))
        .collect();
    let mut data = Synthetic {
        size: (truth.camera.width, truth.camera.height),
        views: Vec::new(),
        conds: Vec::new(),
        targets: Vec::new(),
        unders: Vec::new(),
        landmarks: None,
    };
    for f in 0..3 {
        let pose = [0.0, 2.0 * (f as f64 - 1.0), 0.0, 0.5 * f as f64, 0.0, 0.0];
        let frame = Frame {
            camera: &truth.camera,
            pose,
            coeffs: &truth.coeffs,
            layers,
        };
        let fwd = forward(&truth.params, &frame).expect("oracle");
        data.targets.push(
            fwd.image
                .iter()
                .zip(&fwd.head)
                .map(|(p, h)| {
                    let mask = if h[3] > 0.5 { 3 } else { 4 };
                    pack_target([q(p[0]), q(p[1]), q(p[2])], mask)
                })
                .collect(),
        );
        data.unders.push(under.clone());
        data.views.push(posed_view(&head, &pose));
        data.conds.push(
            (0..52)
                .map(|i| ((i + 7 * f) as f32 * 0.37).sin().abs())
                .collect(),
        );
    }
    data
}

fn settings() -> Settings {
    Settings {
        iters: 200,
        bases: 2,
        hidden: 16,
        pose_start: 40,
        ..Settings::default()
    }
}

#[test]
fn training_lowers_the_loss_and_a_checkpoint_resumes_it() {
    let gpu = Gpu::new();
    let truth = Scene3::random(21, options(48, 48, 80, 2));
    let data = synthetic(&truth);
    let start = perturbed(truth);
    let start_means = start.params.means.clone();
    let mut params = GpuParams::from_cpu(&start.params);
    params.bases.fill(0.0);
    let s = settings();
    let theta = initial_theta(52, s.hidden, s.bases, 1);
    let mut trainer =
        Trainer::new(&gpu.device, &gpu.queue, &data, s, params, theta).expect("trainer");
    let mut rows = Vec::new();
    for _ in 0..101 {
        if let Some(row) = pollster::block_on(trainer.step(&data)).expect("step") {
            rows.push(row);
        }
    }
    eprintln!("trainer log: {rows:?}");
    let (first, last) = (rows[0], rows[rows.len() - 1]);
    assert_eq!(rows.len(), 3, "a row every 50 steps");
    assert!(
        last.loss < 0.7 * first.loss,
        "loss {} → {}",
        first.loss,
        last.loss
    );
    assert!(
        last.psnr > first.psnr + 2.0,
        "PSNR {} → {}",
        first.psnr,
        last.psnr
    );

    // Test-time fitting: frame 2 seen from a view shifted sideways and
    // down; the fitted correction moves back (translation only, so that no
    // rotation can explain the same shift).
    let truth_pose = [0.0, 0.0, 0.0, 3.0, -3.0, 0.0];
    let mut moved = data.clone();
    moved.views[2] = posed_view(&moved.views[2], &truth_pose.map(|v: f64| -v));
    let d = pollster::block_on(trainer.fit_pose(&moved, 2, 120)).expect("fit pose");
    eprintln!("fitted pose {d:?} (the frame's own: {truth_pose:?})");
    // What matters is the image: the Gaussians' centres as the fitted view
    // projects them against the frame's own view (a rotation and a shift
    // can explain the same motion).
    let px = |v: &View, p: &[f64; 3]| {
        let c = v.rotation * glam::DVec3::from_array(*p) + v.translation;
        [v.fx * c.x / c.z + v.cx, v.fy * c.y / c.z + v.cy]
    };
    let off = |v: &View| -> f64 {
        let means = &start_means;
        means
            .iter()
            .map(|p| {
                let (a, b) = (px(v, p), px(&data.views[2], p));
                ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
            })
            .sum::<f64>()
            / means.len() as f64
    };
    let (before, after) = (off(&moved.views[2]), off(&posed_view(&moved.views[2], &d)));
    eprintln!("mean centre offset: {before:.3} px unfitted, {after:.3} px fitted");
    // The model has trained 100 steps from a perturbed start: the fit also
    // turns the head a little to explain its own error, so only part of the
    // offset goes; the translation comes back.
    assert!(after < 0.85 * before, "fitted {d:?}: {before} → {after} px");
    assert!(d[3] > 1.0 && d[4] < -1.0, "fitted {d:?}");

    // The poses of the refined frames moved (refinement from step 40).
    let ckpt =
        pollster::block_on(trainer.checkpoint(Some("synthetic".into()))).expect("checkpoint");
    assert!(ckpt
        .controller
        .poses
        .iter()
        .any(|p| p.iter().any(|&v| v != 0.0)));
    let dir = std::env::temp_dir().join(format!("synctalk-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("checkpoint.bin");
    ckpt.write(&path).expect("write");
    let back = Checkpoint::read(&path).expect("read");
    assert_eq!(back, ckpt);
    let mut resumed =
        Trainer::from_checkpoint(&gpu.device, &gpu.queue, &data, back).expect("resume");
    assert_eq!(resumed.iteration(), 101);
    for _ in 0..50 {
        pollster::block_on(resumed.step(&data)).expect("resumed step");
    }
    let tail = resumed.log().last().copied().expect("log");
    assert_eq!(tail.step, 150);
    assert!(tail.loss < first.loss, "resumed loss {}", tail.loss);

    // A damaged checkpoint is refused with the file's name.
    let bytes = std::fs::read(&path).expect("read bytes");
    std::fs::write(&path, &bytes[..bytes.len() - 5]).expect("truncate");
    let err = Checkpoint::read(&path).expect_err("truncated").to_string();
    assert!(err.contains("checkpoint.bin"), "{err}");
    std::fs::write(&path, b"not a checkpoint at all").expect("garbage");
    let err = Checkpoint::read(&path).expect_err("garbage").to_string();
    assert!(err.contains("not a synctalk training checkpoint"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A trainer on `data` from `start` (its bases zeroed) after `steps`
/// steps, its step re-created from read-back state before step `at` with
/// intersection capacity `cap` when one is given.
fn run_rebuilt(
    gpu: &Gpu,
    data: &Synthetic,
    start: &Scene3,
    steps: u32,
    at: u32,
    cap: Option<u32>,
) -> Trainer {
    let s = settings();
    let theta = initial_theta(52, s.hidden, s.bases, 1);
    let mut params = GpuParams::from_cpu(&start.params);
    params.bases.fill(0.0);
    let mut tr = Trainer::new(&gpu.device, &gpu.queue, data, s, params, theta).expect("trainer");
    for i in 0..steps {
        if i == at {
            if let Some(cap) = cap {
                let (state, _) = pollster::block_on(tr.state()).expect("state");
                pollster::block_on(tr.rebuild(&state, cap)).expect("rebuild");
            }
        }
        pollster::block_on(tr.step(data)).expect("step");
    }
    tr
}

/// A step re-created mid-run (intersection growth, densification) goes on
/// as the original would: the same loss at the next log, for capacities
/// that take each of the tile sort's block sizes.
#[test]
fn a_rebuilt_step_continues_the_run() {
    let gpu = Gpu::new();
    let truth = Scene3::random(22, options(48, 48, 60, 2));
    let data = synthetic(&truth);
    let start = perturbed(truth);
    let last = |cap| {
        let tr = run_rebuilt(&gpu, &data, &start, 51, 20, cap);
        tr.log().last().copied().expect("log")
    };
    let plain = last(None);
    for cap in [100_000, 400_000, 1_000_000] {
        let rebuilt = last(Some(cap));
        eprintln!("capacity {cap}: {rebuilt:?} vs {plain:?}");
        assert_eq!(rebuilt.loss, plain.loss, "capacity {cap}");
    }
}

/// As `a_rebuilt_step_continues_the_run`, at the sizes of the H200 run's
/// binning: more than 256 tiles (two tile-sort passes), more than 4095
/// Gaussians (the three-dispatch scan), capacities of 4- and 8-round blocks.
#[test]
fn a_rebuilt_step_continues_a_larger_run() {
    let gpu = Gpu::new();
    let truth = Scene3::random(23, options(288, 288, 5000, 2));
    let data = synthetic(&truth);
    let start = perturbed(truth);
    let state = |cap| {
        let tr = run_rebuilt(&gpu, &data, &start, 4, 2, cap);
        let (state, c) = pollster::block_on(tr.state()).expect("state");
        (state.params.gauss, c.theta)
    };
    let plain = state(None);
    for cap in [600_000, 900_000] {
        let rebuilt = state(Some(cap));
        let same = rebuilt.0 == plain.0 && rebuilt.1 == plain.1;
        eprintln!("capacity {cap}: same {same}");
        assert!(same, "capacity {cap}");
    }
}

/// A run whose values stop being numbers stops at the next log row with
/// the step and what went bad, instead of training on: here θ is NaN from
/// the start, so w is, every Gaussian is culled (the culling tests fail for
/// NaN) and the loss stays finite, but dL/dθ (its L2 term) is not.
#[test]
fn a_run_that_goes_non_finite_stops_naming_the_step() {
    let gpu = Gpu::new();
    let truth = Scene3::random(21, options(48, 48, 80, 2));
    let data = synthetic(&truth);
    let params = GpuParams::from_cpu(&perturbed(truth).params);
    let s = settings();
    let theta = vec![f32::NAN; initial_theta(52, s.hidden, s.bases, 1).len()];
    let mut trainer =
        Trainer::new(&gpu.device, &gpu.queue, &data, s, params, theta).expect("trainer");
    let err = pollster::block_on(trainer.step(&data))
        .expect_err("a NaN θ is found")
        .to_string();
    assert!(
        err.contains("diverged at step 0") && err.contains("controller's gradient"),
        "{err}"
    );
}

/// The mean distance of each Gaussian's basis values from its neighbours'
/// mean (what `--basis-smooth` lowers).
fn roughness(ckpt: &Checkpoint) -> f64 {
    let p = &ckpt.step.params;
    let n = p.len();
    let pos: Vec<[f32; 3]> = (0..n)
        .map(|i| [p.gauss[3 * i][0], p.gauss[3 * i][1], p.gauss[3 * i][2]])
        .collect();
    let near =
        synctalk_train::train::smooth::nearest(&pos, synctalk_train::train::smooth::NEIGHBOURS);
    let rows = p.bases.len() / n;
    let mut sum = 0f64;
    for row in 0..rows {
        let b = &p.bases[row * n..(row + 1) * n];
        for (i, nb) in near.iter().enumerate() {
            let mean = nb.iter().map(|&j| b[j as usize]).sum::<f32>() / nb.len().max(1) as f32;
            sum += f64::from((b[i] - mean).abs());
        }
    }
    sum / p.bases.len() as f64
}

/// `--basis-smooth`: every 100 steps (outside the MCMC window, on its own)
/// the bases are smoothed over neighbours, a rebuild of the step recorded
/// at the step after; the step that smooths lowers the bases' roughness by
/// about its strength, where a step without it hardly changes it.
#[test]
fn basis_smoothing_smooths_every_hundred_steps() {
    let gpu = Gpu::new();
    let truth = Scene3::random(23, options(48, 48, 80, 2));
    let data = synthetic(&truth);
    let mut params = GpuParams::from_cpu(&perturbed(truth).params);
    params.bases.fill(0.0);
    let s = Settings {
        basis_smooth: 0.5,
        ..settings()
    };
    let theta = initial_theta(52, s.hidden, s.bases, 1);
    let mut trainer =
        Trainer::new(&gpu.device, &gpu.queue, &data, s, params, theta).expect("trainer");
    let mut rough = Vec::new();
    for _ in 0..101 {
        pollster::block_on(trainer.step(&data)).expect("step");
        if trainer.iteration() >= 99 {
            let ckpt = pollster::block_on(trainer.checkpoint(None)).expect("checkpoint");
            rough.push(roughness(&ckpt));
        }
    }
    // rough[0]: after step 98, [1]: after step 99, [2]: after step 100
    // and its smoothing.
    eprintln!("basis roughness after steps 98, 99, 100 (smoothed): {rough:?}");
    let smoothing: Vec<u32> = trainer
        .rebuilds()
        .iter()
        .filter(|r| r.cause == RebuildCause::Smoothing)
        .map(|r| r.step)
        .collect();
    assert_eq!(smoothing, vec![101]);
    assert!(
        rough[1] > 0.0 && (rough[1] - rough[0]).abs() < 0.1 * rough[1],
        "{rough:?}"
    );
    assert!(rough[2] < 0.75 * rough[1], "{rough:?}");
    let last = trainer.log().last().copied().expect("log");
    assert!(last.loss.is_finite());
}

/// The mesh prior's loss (weight 1) of a checkpoint over the data's
/// frames: each frame's controller output against the face fitted on the
/// data's landmarks, as the trainer fits it.
fn mesh_residual(ckpt: &Checkpoint, data: &Synthetic, s: &Settings) -> f64 {
    use synctalk_train::cpu::{Controller, Normalizer};
    use synctalk_train::train::mesh_prior::{loss_and_gradient, FaceMotion, RIDGE_PER_FRAME};
    let frames = data.train_frames();
    let conds: Vec<Vec<f64>> = frames
        .iter()
        .map(|&t| data.condition(t).iter().map(|&v| f64::from(v)).collect())
        .collect();
    let norm = Normalizer::fit(&conds).expect("normaliser");
    let z: Vec<Vec<f64>> = conds.iter().map(|c| norm.apply(c)).collect();
    let lms: Vec<Vec<[f64; 3]>> = frames
        .iter()
        .map(|&t| data.head_space_landmarks(t).expect("landmarks"))
        .collect();
    let motion =
        FaceMotion::fit(&lms, &z, RIDGE_PER_FRAME * frames.len() as f64).expect("face fit");
    let p = &ckpt.step.params;
    let pos: Vec<[f32; 3]> = p
        .gauss
        .chunks(3)
        .map(|g| [g[0][0], g[0][1], g[0][2]])
        .collect();
    let (m, trust) = motion.per_gaussian(&pos, s.mesh_reach);
    let controller = Controller {
        input: 52,
        hidden: s.hidden,
        bases: s.bases,
        theta: ckpt
            .controller
            .theta
            .iter()
            .map(|&v| f64::from(v))
            .collect(),
    };
    z.iter()
        .map(|zf| {
            let w: Vec<f32> = controller
                .forward(zf)
                .expect("controller")
                .w
                .iter()
                .map(|&v| v as f32)
                .collect();
            let zf: Vec<f32> = zf.iter().map(|&v| v as f32).collect();
            loss_and_gradient(1.0, &p.bases, &w, &zf, &m, &trust).0
        })
        .sum::<f64>()
        / z.len() as f64
}

/// `--mesh-prior`: landmarks placed on some of the scene's Gaussians and
/// moved by the conditions (a known linear face); 100 steps with the prior
/// leave the deformation far closer to the face's motion than 100 steps
/// without it; data without landmarks is refused by name.
#[test]
fn the_mesh_prior_pulls_the_deformation_toward_the_tracked_face() {
    let gpu = Gpu::new();
    let truth = Scene3::random(25, options(48, 48, 80, 2));
    let mut data = synthetic(&truth);
    let start = perturbed(truth);
    let rest: Vec<[f64; 3]> = start
        .params
        .means
        .iter()
        .step_by(4)
        .map(|p| p.map(f64::from))
        .collect();
    data.landmarks = Some(
        data.conds
            .iter()
            .map(|c| {
                rest.iter()
                    .enumerate()
                    .map(|(l, r)| {
                        std::array::from_fn(|a| {
                            let k = (l * 3 + a) % c.len();
                            r[a] + 0.5 * f64::from(c[k]) * if a == 1 { -1.0 } else { 1.0 }
                        })
                    })
                    .collect()
            })
            .collect(),
    );
    let run = |lambda: f64| {
        let mut params = GpuParams::from_cpu(&start.params);
        params.bases.fill(0.0);
        let s = Settings {
            mesh_prior: lambda,
            ..settings()
        };
        let theta = initial_theta(52, s.hidden, s.bases, 1);
        let mut trainer = Trainer::new(&gpu.device, &gpu.queue, &data, s.clone(), params, theta)
            .expect("trainer");
        for _ in 0..100 {
            pollster::block_on(trainer.step(&data)).expect("step");
        }
        let ckpt = pollster::block_on(trainer.checkpoint(None)).expect("checkpoint");
        assert!(trainer.log().last().is_some_and(|r| r.loss.is_finite()));
        let residual = mesh_residual(&ckpt, &data, &s);
        // The report's measure of the same thing (`train::agreement`),
        // computed its own way: its trained figure is this residual as a
        // trust-weighted RMS in mm.
        let agreement = face_agreement(
            &data,
            trainer.normalizer(),
            &ckpt.step,
            &ckpt.controller,
            &s,
        )
        .expect("agreement");
        let want = 10.0 * (residual / agreement.mean_trust).sqrt();
        assert!(
            (agreement.trained_mm - want).abs() <= 1e-6 * want,
            "agreement {} mm, the residual says {want} mm",
            agreement.trained_mm
        );
        (residual, agreement)
    };
    let ((without, a0), (with, a1)) = (run(0.0), run(200.0));
    eprintln!(
        "the mesh prior's residual after 100 steps: {without:.3e} without it, {with:.3e} with it"
    );
    eprintln!("off the face's motion without the prior: {a0:?}; with it: {a1:?}");
    assert!(with < 0.3 * without, "with {with:e}, without {without:e}");
    assert!(a1.recombined_mm < a0.recombined_mm, "{a0:?} {a1:?}");

    let mut bare = data.clone();
    bare.landmarks = None;
    let s = Settings {
        mesh_prior: 1.0,
        ..settings()
    };
    let theta = initial_theta(52, s.hidden, s.bases, 1);
    let params = GpuParams::from_cpu(&start.params);
    let err = Trainer::new(&gpu.device, &gpu.queue, &bare, s, params, theta)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("--mesh-prior needs the dataset's tracked landmarks"),
        "{err}"
    );
}
