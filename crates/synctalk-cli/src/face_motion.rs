//! `synctalk face-motion`: how far a portrait's deformation departs from
//! the tracked face's motion (`synctalk_train::train::agreement`), at its
//! dataset's training conditions, recombined and extrapolated ones, and
//! at the conditions a speech asked for (a `synctalk render --frames`
//! run's timing.json): per speech frame the trust-weighted RMS and the
//! Gaussian that departs most, with where the camera sees it. For choosing
//! among trained candidates (issue 20's streak by the mouth in wide
//! smiles) without a real frame to compare with.

use crate::output::outln;
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use synctalk_portrait::Portrait;
use synctalk_train::cpu::Normalizer;
use synctalk_train::dataset::{Dataset, Holdout};
use synctalk_train::train::agreement::{condition_sets, Departure};
use synctalk_train::train::mesh_prior::fit_face;
use synctalk_train::train::{condition_normalizer, TrainData};

/// `synctalk face-motion`'s arguments.
#[derive(clap::Args, Debug)]
pub struct FaceMotionArgs {
    /// The portrait file.
    pub portrait: PathBuf,
    /// The synctalk-prepare dataset it was trained from (its tracked
    /// landmarks and training frames).
    #[arg(long)]
    pub dataset: PathBuf,
    /// A `synctalk render --frames` run's timing.json: its frames'
    /// conditions, pose frames and turns.
    #[arg(long)]
    pub timing: Option<PathBuf>,
    /// Which frames the portrait's training held out (its split).
    #[arg(long, default_value = "dataset", value_parser = crate::train::parse_holdout)]
    pub holdout: Holdout,
    /// The prior's reach, cm (as `synctalk train --mesh-reach`).
    #[arg(long, default_value_t = 1.5)]
    pub reach: f64,
    /// How many of the speech's worst frames to list.
    #[arg(long, default_value_t = 8)]
    pub worst: usize,
}

/// One speech frame's departure.
struct SpeechFrame {
    frame: u64,
    pose_frame: u64,
    rms_mm: f64,
    worst_mm: f64,
    at: Option<[f64; 2]>,
}

fn speech_frames(
    p: &Portrait,
    timing: &Path,
    norm: &Normalizer,
    d: &Departure,
) -> Result<Vec<SpeechFrame>> {
    let text = std::fs::read_to_string(timing)
        .with_context(|| format!("cannot read {}", timing.display()))?;
    let t: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", timing.display()))?;
    let frames = t["frames"]
        .as_array()
        .with_context(|| format!("{}: no `frames` list", timing.display()))?;
    let pivot = p.head_pivot()?;
    let mut out = Vec::with_capacity(frames.len());
    for (k, f) in frames.iter().enumerate() {
        let bad = |what: &str| anyhow::anyhow!("{}: frame {k}: {what}", timing.display());
        let cond: Vec<f32> = f["blendshapes"]
            .as_array()
            .ok_or_else(|| bad("no `blendshapes`"))?
            .iter()
            .map(|v| v.as_f64().map(|x| x as f32))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("`blendshapes` not numbers"))?;
        let pose_frame = f["pose_frame"]
            .as_u64()
            .ok_or_else(|| bad("no `pose_frame`"))?;
        let turn: Vec<f32> = f["head_rotation"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_f64().map(|x| x as f32))
                    .collect()
            })
            .unwrap_or_default();
        let wf = p.coefficients(&cond)?;
        let w: Vec<f64> = wf.iter().map(|&v| f64::from(v)).collect();
        let z = norm.apply(&cond.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
        let dep = d.at(&w, &z);
        // Where the camera of the frame sees the Gaussian that departs most.
        let turn3 = [0, 1, 2].map(|i| turn.get(i).copied().unwrap_or(0.0));
        let at = p.head_camera(pose_frame as f64, turn3, pivot).map(|cam| {
            let g = p.gaussians.positions[dep.worst];
            let basis = p.deformation.as_ref().map(|l| &l.basis);
            let q: [f64; 3] = std::array::from_fn(|a| {
                f64::from(g[a])
                    + basis.map_or(0.0, |b| b.offset(p.gaussians.len(), dep.worst, a, &wf))
            });
            // Continuous coordinates to the pixel's index.
            crate::train_report::project(&cam, q).map(|v| v - 0.5)
        });
        out.push(SpeechFrame {
            frame: f["frame"].as_u64().unwrap_or(k as u64),
            pose_frame,
            rms_mm: dep.rms_mm,
            worst_mm: dep.worst_mm,
            at,
        });
    }
    Ok(out)
}

/// Runs `synctalk face-motion`: prints the figures as JSON.
pub fn run(a: &FaceMotionArgs) -> Result<()> {
    if !(a.reach.is_finite() && a.reach > 0.0 && a.reach <= 50.0) {
        bail!("--reach must be a number of cm above 0, at most 50");
    }
    let p = Portrait::read_file(&a.portrait)
        .with_context(|| format!("{} is not a valid portrait", a.portrait.display()))?;
    let Some(deformation) = p.deformation.as_ref() else {
        bail!(
            "{} has no deformation: nothing moves with the condition",
            a.portrait.display()
        );
    };
    let mut ds = Dataset::open(&a.dataset)?;
    ds.hold_out(a.holdout);
    let frames = ds.train_frames();
    let norm = condition_normalizer(&ds, &frames)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.dataset.display()))?;
    let (motion, z) = fit_face(&ds, &frames, &norm)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.dataset.display()))?;
    let basis = &deformation.basis;
    let dep = Departure::new(
        &motion,
        &p.gaussians.positions,
        &basis.bases,
        basis.num_bases,
        a.reach,
    )
    .context("no Gaussian lies near the tracked face")?;
    // The portrait's controller takes the raw condition (its normaliser is
    // folded in): z back to blendshapes.
    let raw = |zc: &[f64]| -> Vec<f32> { norm.unapply(zc).iter().map(|&v| v as f32).collect() };
    let with_w = |set: &[Vec<f64>]| -> Result<Vec<(Vec<f64>, Vec<f64>)>> {
        set.iter()
            .map(|zc| {
                Ok((
                    p.coefficients(&raw(zc))?
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect(),
                    zc.clone(),
                ))
            })
            .collect()
    };
    let [recombined, extrapolated] = condition_sets(&z);
    let mut out = json!({
        "portrait": a.portrait.file_name().map(|s| s.to_string_lossy().into_owned()),
        "gaussians": p.gaussians.len(),
        "mean_trust": dep.mean_trust(),
        "trained_mm": dep.rms_over(&with_w(&z)?),
        "recombined_mm": dep.rms_over(&with_w(&recombined)?),
        "extrapolated_mm": dep.rms_over(&with_w(&extrapolated)?),
    });
    if let Some(timing) = &a.timing {
        let mut speech = speech_frames(&p, timing, &norm, &dep)?;
        let rms = (speech.iter().map(|f| f.rms_mm.powi(2)).sum::<f64>()
            / speech.len().max(1) as f64)
            .sqrt();
        let count = speech.len();
        speech.sort_by(|x, y| y.rms_mm.total_cmp(&x.rms_mm));
        out["speech"] = json!({
            "timing": timing.file_name().map(|s| s.to_string_lossy().into_owned()),
            "frames": count,
            "rms_mm": rms,
            "worst_frames": speech.iter().take(a.worst).map(|f| json!({
                "frame": f.frame, "pose_frame": f.pose_frame, "rms_mm": f.rms_mm,
                "worst_gaussian_mm": f.worst_mm, "worst_gaussian_at": f.at,
            })).collect::<Vec<_>>(),
        });
    }
    outln!("{}", serde_json::to_string_pretty(&out)?)?;
    Ok(())
}
