//! `synctalk render`: a portrait speaking an audio file, offline and
//! deterministic: the audio clock places every frame (frame t shows time
//! t / fps), Face-Sync turns each frame's log-mel window into blendshapes,
//! the controller into deformation coefficients; the head pose and torso come
//! from the portrait's pose track, played forwards and backwards.

use crate::commands::renderer;
use crate::image_io::write_png;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use synctalk_audio::{frame_window, to_16k, LogMel, CONTEXT, N_MELS, SAMPLE_RATE};
use synctalk_gaussians::Image;
use synctalk_nets::FaceSync;
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

/// MediaPipe blendshape indices of the jaw and mouth (23..=49) and cheekPuff (6).
fn is_mouth(i: usize) -> bool {
    i == 6 || (23..=49).contains(&i)
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

/// Pose-track index for frame `t`: forwards, then backwards, and again.
fn ping_pong(t: usize, len: usize) -> usize {
    if len <= 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let k = t % period;
    if k < len {
        k
    } else {
        period - k
    }
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
    let bytes = match &a.face_sync {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => match p.networks.iter().find(|n| n.name == "face_sync") {
            Some(n) => n.bytes.clone(),
            None => bail!(
                "{} has no face_sync network: pass --face-sync",
                a.portrait.display()
            ),
        },
    };
    let net = FaceSync::from_onnx(&bytes)?;
    let track = p
        .pose
        .as_ref()
        .filter(|t| !t.frames.is_empty())
        .with_context(|| format!("{} has no head-pose track", a.portrait.display()))?;
    let (samples, rate) = read_wav(&a.audio)?;
    let x = to_16k(&samples, rate).with_context(|| format!("{}", a.audio.display()))?;
    if x.is_empty() {
        bail!("{}: no samples", a.audio.display());
    }
    let mut front = LogMel::new();
    let mut mel = Vec::new();
    front
        .frames(&x, &mut mel)
        .with_context(|| format!("{}", a.audio.display()))?;
    let seconds = x.len() as f64 / f64::from(SAMPLE_RATE);
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
    std::fs::create_dir_all(&a.frames)
        .with_context(|| format!("cannot create {}", a.frames.display()))?;

    let bar = indicatif::ProgressBar::new(n as u64);
    let mut window = [[0f32; N_MELS]; CONTEXT];
    let mut timing = Vec::with_capacity(n);
    for t in 0..n {
        frame_window(&mel, t, a.fps, &mut window)?;
        let mut bs = net.run(window.as_flattened())?;
        for (i, v) in bs.iter_mut().enumerate() {
            if is_mouth(i) {
                *v = (*v * a.articulation).clamp(0.0, 1.0);
            }
        }
        let coeffs = p.coefficients(&bs)?;
        let k = ping_pong(t, track.frames.len());
        let cam = p.frame_camera(k).context("pose-track frame")?;
        let torso = match p.torso(k) {
            Some(l) => Some(l.image()?),
            None => None,
        };
        view.set_layers(&r, &bg, torso.as_ref())?;
        view.render(&r, &cam, &coeffs)?;
        let img = view.read_image(&r)?;
        write_png(&a.frames.join(format!("frame_{t:06}.png")), &img)?;
        timing.push(serde_json::json!({
            "frame": t, "time_s": t as f64 / a.fps, "pose_frame": k, "blendshapes": bs.to_vec(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn ping_pong_plays_forwards_then_backwards() {
        let v: Vec<usize> = (0..10).map(|t| super::ping_pong(t, 4)).collect();
        assert_eq!(v, [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]);
        assert_eq!(super::ping_pong(5, 1), 0);
    }
}
