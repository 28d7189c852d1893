//! `synctalk bench --portrait FILE`: a portrait's frame timed on the path the
//! browser draws it: the engine's frame (controller, pose track, Head-Sync),
//! the torso layer of that pose frame, the head's Gaussians deformed, sorted
//! and rasterized, composited over torso and background. `wall` is the
//! render call alone (encode, submit, wait for the frame's statistics);
//! the engine's CPU time and the torso layer's decode and upload (only when
//! the pose frame changes) are reported apart.

use crate::bench::{median, stage_medians};
use crate::decode::AudioReader;
use crate::talk::{background, show_torso};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Instant;
use synctalk_engine::{Engine, Frame, Speech};
use synctalk_portrait::Portrait;
use synctalk_render::{GpuScene, Renderer, View, STAGES};

/// Frames per second of the engine's clock.
const FPS: f64 = 25.0;

/// What [`run`] measures, as one JSON object (stage medians in ms).
pub fn run(
    r: &Renderer,
    path: &Path,
    audio: Option<&Path>,
    frames: usize,
    warmup: f64,
) -> Result<serde_json::Value> {
    let p = Portrait::read_file(path)
        .with_context(|| format!("{} is not a valid portrait", path.display()))?;
    let mut engine = Engine::new(&p)?;
    engine.load_networks(&p)?;
    if let Some(a) = audio {
        let mut reader = AudioReader::open(a)?;
        let mut samples = Vec::new();
        let mut chunk = Vec::new();
        while reader.next_chunk(&mut chunk)? {
            samples.extend_from_slice(&chunk);
            chunk.clear();
        }
        let speech =
            Speech::new(&samples, reader.rate()).with_context(|| format!("{}", a.display()))?;
        engine.set_speech(Some(speech));
    }
    let seconds = engine.speech().map(Speech::seconds);
    let pivot = p.head_pivot()?;
    let cam0 = &p.camera;
    let (w, h) = (cam0.width, cam0.height);
    let bg = background(&p, w, h)?;
    let scene = GpuScene::new(
        &r.context().device,
        &p.gaussians,
        p.deformation.as_ref().map(|d| &d.basis),
    )?;
    let mut view = View::new(r, &scene, w, h)?;
    view.set_layers(r, &bg, None)?;

    let mut f = Frame::default();
    let mut torso_frame = None;
    let mut t = 0usize;
    // (engine ms, torso decode + upload ms, render wall ms, stats)
    let mut frame =
        |view: &mut View, t: usize| -> Result<(f64, f64, f64, synctalk_render::FrameStats)> {
            let clock = t as f64 / FPS;
            let speech_time = seconds.map(|s| clock % s.max(1.0 / FPS));
            let t0 = Instant::now();
            engine.frame_into(clock, speech_time, &mut f)?;
            let cpu = t0.elapsed().as_secs_f64() * 1e3;
            let k = f.pose_frame;
            let cam = p
                .head_camera(f.pose_position, f.head_rotation, pivot)
                .context("pose-track frame")?
                .scaled(w, h);
            let t1 = Instant::now();
            show_torso(view, r, &p, k, (w, h), &mut torso_frame)?;
            let torso_ms = t1.elapsed().as_secs_f64() * 1e3;
            let t2 = Instant::now();
            let stats = view.render(r, &cam, &f.coefficients)?;
            Ok((cpu, torso_ms, t2.elapsed().as_secs_f64() * 1e3, stats))
        };
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < warmup {
        frame(&mut view, t)?;
        t += 1;
    }
    let mut stage_ms: Vec<Vec<f64>> = vec![Vec::new(); STAGES.len()];
    let (mut gpu, mut wall, mut engine_ms, mut torso_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut visible = Vec::new();
    let mut isects = Vec::new();
    for _ in 0..frames {
        let (cpu, torso, w, s) = frame(&mut view, t)?;
        t += 1;
        engine_ms.push(cpu);
        torso_ms.push(torso);
        wall.push(w);
        visible.push(f64::from(s.visible));
        isects.push(f64::from(s.intersections));
        if let Some(times) = &s.times {
            for (i, v) in times.ms.iter().enumerate() {
                stage_ms[i].push(*v);
            }
            gpu.push(times.total());
        }
    }
    Ok(serde_json::json!({
        "portrait": path.file_name().map(|n| n.to_string_lossy().to_string()),
        "gaussians": p.gaussians.len(),
        "size": [w, h],
        "visible": median(&mut visible),
        "intersections": median(&mut isects),
        "stages_ms": stage_medians(&mut stage_ms),
        "gpu_total_ms": median(&mut gpu),
        "wall_ms": median(&mut wall),
        "engine_cpu_ms": median(&mut engine_ms),
        "torso_cpu_ms_mean": torso_ms.iter().sum::<f64>() / torso_ms.len().max(1) as f64,
        "gpu_memory_mib": (scene.gpu_bytes() + view.gpu_bytes()) as f64 / 1048576.0,
    }))
}
