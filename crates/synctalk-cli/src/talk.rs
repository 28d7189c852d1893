//! `synctalk render`: a portrait speaking an audio file, offline and
//! deterministic: the audio clock places every frame (frame t shows time
//! t / fps), Face-Sync turns each frame's log-mel window into blendshapes,
//! the controller into deformation coefficients; the head pose and torso come
//! from the portrait's pose track, played forwards and backwards (all in
//! `synctalk-engine`). The frames go to PNG files with a `timing.json`
//! (`--frames`), to an MP4 with the speech muxed in by ffmpeg (`--out`), or
//! both.

use crate::commands::renderer;
use crate::decode::AudioReader;
use crate::image_io::write_png;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use synctalk_engine::{Engine, Frame, SpeechStream};
use synctalk_gaussians::Image;
use synctalk_portrait::{LayerRole, Portrait};
use synctalk_render::{GpuScene, Renderer, View};

/// Arguments of `synctalk render`.
#[derive(clap::Args, Debug)]
pub struct TalkArgs {
    /// The portrait file.
    #[arg(long)]
    pub portrait: PathBuf,
    /// Speech to say: WAV (int or float), FLAC, MP3 or Ogg Vorbis; any
    /// sample rate from 4 to 384 kHz, any number of channels (mixed to mono),
    /// any length.
    #[arg(long)]
    pub audio: PathBuf,
    /// Video file to write (MP4: H.264 and the speech as AAC, through
    /// ffmpeg, which must be on PATH).
    #[arg(long, required_unless_present = "frames")]
    pub out: Option<PathBuf>,
    /// Folder for the frames (frame_000000.png…) and timing.json.
    #[arg(long)]
    pub frames: Option<PathBuf>,
    /// Face-Sync network (ONNX or NNEF) to use instead of the portrait's own
    /// (its other networks stay).
    #[arg(long)]
    pub face_sync: Option<PathBuf>,
    /// Frames per second.
    #[arg(long, default_value_t = 25.0)]
    pub fps: f64,
    /// Output size: `WIDTHxHEIGHT`, or one number for the width (the height
    /// keeps the portrait's aspect). Default: the portrait's own size.
    #[arg(long)]
    pub size: Option<String>,
    /// Articulation strength: while speech is heard, the jaw and mouth
    /// blendshapes' departure from the portrait's articulation centre (else
    /// the face at rest) is multiplied by this (then clamped to the trained
    /// range); 1 leaves the network's output as is. Default: the portrait's
    /// own (META `articulation`, else 1).
    #[arg(long)]
    pub articulation: Option<f32>,
    /// Expression strength: the Expression Generator's movements of the
    /// brows and eyes are multiplied by this (0 turns them off, at most 4).
    #[arg(long, default_value_t = 1.0)]
    pub expression: f32,
    /// Head motion: Head-Sync's turns of the head (nods with the speech's
    /// stress) are multiplied by this (0 turns them off, at most 4).
    #[arg(long, default_value_t = 1.0)]
    pub head_motion: f32,
    /// How fast the head moves along the portrait's recorded motion in
    /// silence, against 1 while speech is heard (with Head-Sync; 0.05 to 1).
    #[arg(long)]
    pub idle_pace: Option<f32>,
    /// Blendshapes to show instead of the engine's, from a track (a TTS
    /// engine's visemes, a face tracker's recording): JSON `{"fps": 25,
    /// "names": ["jawOpen", …], "frames": [[0.1, …], …]}`. At each frame
    /// the named shapes take the track's values at that time (clamped to
    /// the portrait's trained range); the others, and every shape after the
    /// track ends, are the engine's.
    #[arg(long)]
    pub blendshapes: Option<PathBuf>,
    /// The speech's phones, as the synthesiser that spoke it gives them:
    /// JSON `{"segments": [["m", 0.0, 0.072], …]}` (eSpeak NG mnemonics or
    /// IPA, start and end in seconds). The mouth follows them instead of
    /// what Face-Sync hears, as `say()` in the browser does.
    #[arg(long)]
    pub phones: Option<PathBuf>,
}

/// Reads the JSON file `path` (the track's and the phones' files).
fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
}

/// Reads a phones file (see `TalkArgs::phones`).
fn read_phones(path: &Path) -> Result<Vec<(String, f64, f64)>> {
    let v = read_json(path)?;
    let bad = |i: usize| {
        anyhow::anyhow!(
            "{}: segment {i} must be [phoneme, start, end]",
            path.display()
        )
    };
    v["segments"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{}: \"segments\" must be a list", path.display()))?
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let parse = || Some((s[0].as_str()?.to_string(), s[1].as_f64()?, s[2].as_f64()?));
            parse().ok_or_else(|| bad(i))
        })
        .collect()
}

/// A blendshape track (see `TalkArgs::blendshapes`).
struct Track {
    fps: f64,
    names: Vec<String>,
    frames: Vec<Vec<f32>>,
}

impl Track {
    /// Reads and checks `path`.
    fn read(path: &Path) -> Result<Self> {
        let v = read_json(path)?;
        let bad = |what: &str| anyhow::anyhow!("{}: {what}", path.display());
        let fps = v["fps"]
            .as_f64()
            .filter(|f| f.is_finite() && *f > 0.0)
            .ok_or_else(|| bad("\"fps\" must be a positive number"))?;
        let names = v["names"]
            .as_array()
            .and_then(|a| a.iter().map(|n| n.as_str().map(String::from)).collect())
            .ok_or_else(|| bad("\"names\" must be a list of blendshape names"))?;
        let rows = v["frames"]
            .as_array()
            .ok_or_else(|| bad("\"frames\" must be a list of lists of numbers"))?;
        let mut frames = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let row: Option<Vec<f32>> = r
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_f64().map(|x| x as f32)).collect());
            let row = row.ok_or_else(|| bad(&format!("frame {i} is not a list of numbers")))?;
            let names: &Vec<String> = &names;
            if row.len() != names.len() {
                bail!(
                    "{}: frame {i} has {} values for {} names",
                    path.display(),
                    row.len(),
                    names.len()
                );
            }
            frames.push(row);
        }
        Ok(Self { fps, names, frames })
    }

    /// The track's values at `time` (its nearest frame), if it has not ended.
    fn at(&self, time: f64) -> Option<impl Iterator<Item = (&str, f32)>> {
        let k = (time * self.fps).round();
        let row = self.frames.get(k as usize).filter(|_| k >= 0.0)?;
        Some(
            self.names
                .iter()
                .map(String::as_str)
                .zip(row.iter().copied()),
        )
    }
}

/// An MP4 being written by ffmpeg from raw RGBA frames on its stdin.
struct Video {
    child: std::process::Child,
    path: PathBuf,
}

impl Video {
    fn start(path: &Path, audio: &Path, width: u32, height: u32, fps: f64) -> Result<Self> {
        let found = Command::new("ffmpeg")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            bail!(
                "writing {} needs ffmpeg on PATH (Debian: apt install ffmpeg); --frames DIR writes PNGs without it",
                path.display()
            );
        }
        let child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgba"])
            .args(["-s", &format!("{width}x{height}"), "-r", &format!("{fps}")])
            .args(["-i", "-"])
            .arg("-i")
            .arg(audio)
            .args(["-map", "0:v", "-map", "1:a"])
            .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264"])
            .args(["-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p"])
            .args(["-c:a", "aac", "-b:a", "160k", "-shortest"])
            .args([
                "-fflags",
                "+bitexact",
                "-flags:v",
                "+bitexact",
                "-flags:a",
                "+bitexact",
            ])
            .args(["-movflags", "+faststart"])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start ffmpeg")?;
        Ok(Self {
            child,
            path: path.to_owned(),
        })
    }

    /// Sends one frame; false when ffmpeg stopped reading (its message
    /// comes from `finish`).
    fn write(&mut self, img: &Image) -> bool {
        self.child
            .stdin
            .as_mut()
            .is_some_and(|s| s.write_all(&img.data).is_ok())
    }

    fn finish(mut self) -> Result<()> {
        drop(self.child.stdin.take());
        let out = self
            .child
            .wait_with_output()
            .context("waiting for ffmpeg")?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            bail!(
                "ffmpeg could not write {}: {}",
                self.path.display(),
                why.trim().lines().last().unwrap_or("no message")
            );
        }
        Ok(())
    }
}

/// The output size from `--size` (`WxH` or a width), 16 to 4096 pixels a
/// side; the portrait's `width` × `height` without it.
fn output_size(size: Option<&str>, width: u32, height: u32) -> Result<(u32, u32)> {
    let Some(s) = size else {
        return Ok((width, height));
    };
    let num = |v: &str| -> Result<u32> {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (16..=4096).contains(n))
            .with_context(|| format!("--size {s}: `{v}` is not a size from 16 to 4096 pixels"))
    };
    match s.split_once(['x', 'X']) {
        Some((a, b)) => Ok((num(a)?, num(b)?)),
        None => {
            let w = num(s)?;
            let h = (f64::from(w) * f64::from(height) / f64::from(width.max(1))).round() as u32;
            Ok((w, h.clamp(16, 4096)))
        }
    }
}

/// The portrait's background plate at `w` x `h` (opaque black when it has
/// none).
pub(crate) fn background(p: &Portrait, w: u32, h: u32) -> Result<Image> {
    Ok(match p.layer(LayerRole::Background) {
        Some(l) => l.image()?.resized(w, h),
        None => Image::solid(w, h, [0, 0, 0, 255]),
    })
}

/// Puts the torso layer of pose frame `k` (at `w` x `h`) under the head,
/// decoding it only when `k` differs from the frame `shown` last.
pub(crate) fn show_torso(
    view: &mut View,
    r: &Renderer,
    p: &Portrait,
    k: usize,
    (w, h): (u32, u32),
    shown: &mut Option<usize>,
) -> Result<()> {
    if *shown != Some(k) {
        let torso = match p.torso(k) {
            Some(l) => Some(l.image()?.resized(w, h)),
            None => None,
        };
        view.set_torso(r, torso.as_ref())?;
        *shown = Some(k);
    }
    Ok(())
}

/// Runs `synctalk render`.
pub fn run(a: &TalkArgs) -> Result<()> {
    if !(a.fps.is_finite() && a.fps > 0.0 && a.fps <= 240.0) {
        bail!("--fps {} must be in (0, 240]", a.fps);
    }
    let p = Portrait::read_file(&a.portrait)
        .with_context(|| format!("{} is not a valid portrait", a.portrait.display()))?;
    let mut engine = Engine::new(&p)?;
    if let Some(x) = a.articulation {
        engine.set_articulation(x).context("--articulation")?;
    }
    engine
        .set_expression_strength(a.expression)
        .context("--expression")?;
    engine
        .set_head_motion(a.head_motion)
        .context("--head-motion")?;
    if let Some(x) = a.idle_pace {
        engine.set_idle_pace(x).context("--idle-pace")?;
    }
    let track = a.blendshapes.as_deref().map(Track::read).transpose()?;
    let pivot = p.head_pivot()?;
    let jaw = p.jaw_line()?;
    // The portrait's networks (Face-Sync, the Expression Generator,
    // Head-Sync), then
    // the Face-Sync given instead of its own.
    let own_face_sync = engine.load_networks(&p)?;
    match &a.face_sync {
        Some(path) => engine.set_face_sync(
            &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )?,
        None if !own_face_sync => bail!(
            "{} has no face_sync network: pass --face-sync",
            a.portrait.display()
        ),
        None => {}
    }
    if p.pose.as_ref().is_none_or(|t| t.frames.is_empty()) {
        bail!("{} has no head-pose track", a.portrait.display());
    }
    // The audio is decoded and followed as a stream: any length in bounded
    // memory, the same frames as the whole clip at once.
    let mut audio = AudioReader::open(&a.audio)?;
    let rate = audio.rate();
    let stream = SpeechStream::new(rate).with_context(|| format!("{}", a.audio.display()))?;
    engine.set_stream(Some(stream));
    if let Some(path) = &a.phones {
        let phones = read_phones(path)?;
        let used = engine
            .set_speech_phones(phones.iter().map(|(p, s, e)| (p.as_str(), *s, *e)))
            .with_context(|| format!("{}", path.display()))?;
        if !used {
            bail!(
                "--phones: the Face-Sync network holds no per-phone shapes (its `table`), so phones cannot drive the mouth"
            );
        }
    }

    let (w, h) = output_size(a.size.as_deref(), p.camera.width, p.camera.height)?;
    let cam0 = &p.camera.scaled(w, h);
    let bg = background(&p, w, h)?;
    let r = renderer()?;
    let scene = GpuScene::new(
        &r.context().device,
        &p.gaussians,
        p.deformation.as_ref().map(|d| &d.basis),
    )?;
    let mut view = View::new(&r, &scene, cam0.width, cam0.height)?;
    view.set_layers(&r, &bg, None)?;
    if let Some(dir) = &a.frames {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut video = match &a.out {
        Some(path) => Some(Video::start(
            path,
            &a.audio,
            cam0.width,
            cam0.height,
            a.fps,
        )?),
        None => None,
    };

    let estimate = audio.seconds().map_or(0, |s| (s * a.fps) as u64);
    let bar = indicatif::ProgressBar::new(estimate);
    let mut timing = Vec::new();
    let mut torso_frame = None;
    let mut chunk = Vec::new();
    let mut n = None;
    let mut t = 0;
    let mut f = Frame::default();
    loop {
        // The audio clock places the frame: frame t shows time t / fps.
        let time = t as f64 / a.fps;
        // Decode until this frame's window is complete (or the file ends).
        while n.is_none() {
            let s = engine.stream_mut().context("speech stream")?;
            if s.seconds() >= time + SpeechStream::WINDOW_AHEAD {
                break;
            }
            chunk.clear();
            if audio.next_chunk(&mut chunk)? {
                s.push(&chunk)
                    .with_context(|| format!("{}", a.audio.display()))?;
            } else {
                s.end();
                if s.seconds() == 0.0 {
                    bail!("{}: no audio samples", a.audio.display());
                }
                let frames = (s.seconds() * a.fps).floor().max(1.0) as u64;
                bar.set_length(frames);
                n = Some(frames);
            }
        }
        if n.is_some_and(|n| t >= n) {
            break;
        }
        if let Some(track) = &track {
            match track.at(time) {
                Some(values) => engine.set_blendshapes(values, 1.0).with_context(|| {
                    format!(
                        "{}, frame {}",
                        a.blendshapes.as_deref().unwrap_or(Path::new("")).display(),
                        (time * track.fps).round()
                    )
                })?,
                None => engine.clear_blendshapes(),
            }
        }
        engine.frame_into(time, Some(time), &mut f)?;
        let k = f.pose_frame;
        let cam = p
            .head_camera(f.pose_position, f.head_rotation, pivot)
            .context("pose-track frame")?
            .scaled(w, h);
        show_torso(&mut view, &r, &p, k, (w, h), &mut torso_frame)?;
        let warp = jaw.as_deref().and_then(|j| p.neck_warp(j, k, &cam));
        view.set_neck(&r, warp.as_ref());
        view.render(&r, &cam, &f.coefficients)?;
        let img = view.read_image(&r)?;
        if let Some(dir) = &a.frames {
            write_png(&dir.join(format!("frame_{t:06}.png")), &img)?;
        }
        if video.as_mut().is_some_and(|v| !v.write(&img)) {
            if let Some(v) = video.take() {
                v.finish()?;
            }
            bail!("ffmpeg stopped reading frames");
        }
        // Kept only for timing.json (a long MP4 alone must not grow this).
        if a.frames.is_some() {
            timing.push(serde_json::json!({
                "frame": t, "time_s": time, "pose_frame": k, "pose_position": f.pose_position, "head_rotation": f.head_rotation.to_vec(), "blendshapes": f.blendshapes.to_vec(),
            }));
        }
        bar.inc(1);
        t += 1;
    }
    bar.finish_and_clear();
    let n = t;
    let seconds = engine.stream_mut().map_or(0.0, |s| s.seconds());
    if audio.skipped > 0 {
        eprintln!(
            "warning: {}: {} damaged packets skipped",
            a.audio.display(),
            audio.skipped
        );
    }
    if let Some(v) = video {
        v.finish()?;
    }
    let mut to = Vec::new();
    if let Some(dir) = &a.frames {
        let doc = serde_json::json!({
            "portrait": a.portrait.display().to_string(), "audio": a.audio.display().to_string(),
            "audio_rate": rate, "audio_seconds": seconds, "fps": a.fps, "frames": timing,
        });
        std::fs::write(dir.join("timing.json"), serde_json::to_string(&doc)?)?;
        to.push(dir.display().to_string());
    }
    if let Some(path) = &a.out {
        to.push(path.display().to_string());
    }
    eprintln!(
        "rendered {n} frames ({seconds:.2} s of audio) to {}",
        to.join(" and ")
    );
    Ok(())
}
