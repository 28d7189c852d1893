//! `synctalk render`: a portrait speaking an audio file, offline and
//! deterministic: the audio clock places every frame (frame t shows time
//! t / fps), Face-Sync turns each frame's log-mel window into blendshapes,
//! the controller into deformation coefficients; the head pose and torso come
//! from the portrait's pose track, played forwards and backwards (all in
//! `synctalk-engine`).

use crate::commands::renderer;
use crate::image_io::write_png;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use synctalk_engine::{Engine, Speech};
use synctalk_gaussians::Image;
use synctalk_portrait::{LayerRole, Portrait};
use synctalk_render::{GpuScene, View};

/// Arguments of `synctalk render`.
#[derive(clap::Args, Debug)]
pub struct TalkArgs {
    /// The portrait file.
    #[arg(long)]
    pub portrait: PathBuf,
    /// Speech to say (WAV: any sample rate, mono or multi-channel, int or float).
    #[arg(long)]
    pub audio: PathBuf,
    /// Folder for the frames (frame_000000.png…) and timing.json.
    #[arg(long)]
    pub frames: PathBuf,
    /// Face-Sync network (ONNX) to use instead of the portrait's own.
    #[arg(long)]
    pub face_sync: Option<PathBuf>,
    /// Frames per second.
    #[arg(long, default_value_t = 25.0)]
    pub fps: f64,
    /// Articulation strength: the jaw and mouth blendshapes are multiplied by
    /// this (then clamped to [0, 1]); 1 leaves the network's output as is.
    #[arg(long, default_value_t = 1.0)]
    pub articulation: f32,
}

/// Mono samples and their rate from a WAV file.
pub fn read_wav(path: &Path) -> Result<(Vec<f32>, u32)> {
    let mut r = hound::WavReader::open(path)
        .with_context(|| format!("{} is not a readable WAV file", path.display()))?;
    let spec = r.spec();
    if spec.channels == 0 {
        bail!("{}: no audio channels", path.display());
    }
    let ch = usize::from(spec.channels);
    let raw: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
        }
    }
    .with_context(|| format!("{}: truncated or corrupt samples", path.display()))?;
    let mono = raw
        .chunks_exact(ch)
        .map(|c| c.iter().sum::<f32>() / ch as f32)
        .collect();
    Ok((mono, spec.sample_rate))
}

/// Runs `synctalk render`.
pub fn run(a: &TalkArgs) -> Result<()> {
    if !(a.fps.is_finite() && a.fps > 0.0 && a.fps <= 240.0) {
        bail!("--fps {} must be in (0, 240]", a.fps);
    }
    if !(a.articulation.is_finite() && (0.0..=10.0).contains(&a.articulation)) {
        bail!("--articulation {} must be in [0, 10]", a.articulation);
    }
    let p = Portrait::read_file(&a.portrait)
        .with_context(|| format!("{} is not a valid portrait", a.portrait.display()))?;
    let mut engine = Engine::new(&p)?;
    engine.set_articulation(a.articulation)?;
    match &a.face_sync {
        Some(path) => engine.set_face_sync(
            &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )?,
        None => {
            if !engine.load_networks(&p)? {
                bail!(
                    "{} has no face_sync network: pass --face-sync",
                    a.portrait.display()
                );
            }
        }
    }
    if p.pose.as_ref().is_none_or(|t| t.frames.is_empty()) {
        bail!("{} has no head-pose track", a.portrait.display());
    }
    let (samples, rate) = read_wav(&a.audio)?;
    let speech = Speech::new(&samples, rate).with_context(|| format!("{}", a.audio.display()))?;
    let seconds = speech.seconds();
    engine.set_speech(Some(speech));
    let n = (seconds * a.fps).floor().max(1.0) as usize;

    let cam0 = &p.camera;
    let bg = match p.layer(LayerRole::Background) {
        Some(l) => l.image()?,
        None => Image::solid(cam0.width, cam0.height, [0, 0, 0, 255]),
    };
    let r = renderer()?;
    let scene = GpuScene::new(
        &r.context().device,
        &p.gaussians,
        p.deformation.as_ref().map(|d| &d.basis),
    )?;
    let mut view = View::new(&r, &scene, cam0.width, cam0.height)?;
    view.set_layers(&r, &bg, None)?;
    std::fs::create_dir_all(&a.frames)
        .with_context(|| format!("cannot create {}", a.frames.display()))?;

    let bar = indicatif::ProgressBar::new(n as u64);
    let mut timing = Vec::with_capacity(n);
    let mut torso_frame = None;
    for t in 0..n {
        // The audio clock places the frame: frame t shows time t / fps.
        let time = t as f64 / a.fps;
        let f = engine.frame(time, Some(time))?;
        let k = f.pose_frame;
        let cam = p.frame_camera(k).context("pose-track frame")?;
        if torso_frame != Some(k) {
            let torso = match p.torso(k) {
                Some(l) => Some(l.image()?),
                None => None,
            };
            view.set_torso(&r, torso.as_ref())?;
            torso_frame = Some(k);
        }
        view.render(&r, &cam, &f.coefficients)?;
        let img = view.read_image(&r)?;
        write_png(&a.frames.join(format!("frame_{t:06}.png")), &img)?;
        timing.push(serde_json::json!({
            "frame": t, "time_s": time, "pose_frame": k, "blendshapes": f.blendshapes.to_vec(),
        }));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let doc = serde_json::json!({
        "portrait": a.portrait.display().to_string(), "audio": a.audio.display().to_string(),
        "audio_rate": rate, "audio_seconds": seconds, "fps": a.fps, "frames": timing,
    });
    std::fs::write(a.frames.join("timing.json"), serde_json::to_string(&doc)?)?;
    eprintln!(
        "rendered {n} frames ({seconds:.2} s of audio) to {}",
        a.frames.display()
    );
    Ok(())
}
