//! `synctalk`: the command-line face of SyncTalk Web.

mod bench;
mod bench_audio;
mod bench_portrait;
mod commands;
mod decode;
mod face_motion;
mod image_io;
mod output;
mod talk;
mod train;
mod train_plot;
mod train_report;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// tract's per-run tensors come from a frame arena (see `synctalk-arena`):
/// no heap allocation per frame.
#[global_allocator]
static ALLOC: synctalk_arena::FrameArena<std::alloc::System> =
    synctalk_arena::FrameArena::new(std::alloc::System, synctalk_engine::ARENA_BYTES);

/// SyncTalk Web command-line tool.
#[derive(Parser)]
#[command(name = "synctalk", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a standard 3D Gaussian Splatting .ply from a camera of a cameras.json.
    RenderPly {
        /// The scene (INRIA 3DGS property layout).
        scene: PathBuf,
        /// cameras.json in the INRIA trainer's format.
        #[arg(long)]
        cameras: PathBuf,
        /// Index of the camera in cameras.json.
        #[arg(long, default_value_t = 0)]
        camera: usize,
        /// Output PNG.
        #[arg(long)]
        out: PathBuf,
        /// Background colour as r,g,b in 0..=255.
        #[arg(long, default_value = "0,0,0")]
        background: String,
    },
    /// Convert a 3DGS .ply into a portrait file (.stk).
    Convert {
        /// The scene (.ply).
        scene: PathBuf,
        /// Output portrait file.
        #[arg(short, long)]
        output: PathBuf,
        /// cameras.json holding the portrait camera.
        #[arg(long)]
        cameras: PathBuf,
        /// Index of the portrait camera.
        #[arg(long, default_value_t = 0)]
        camera: usize,
        /// Storage precision: f16 (default) or f32.
        #[arg(long, default_value = "f16")]
        precision: String,
        /// Portrait name (defaults to the file stem).
        #[arg(long)]
        name: Option<String>,
        /// Licence of the portrait.
        #[arg(long, default_value = "unspecified")]
        licence: String,
        /// Attribution text.
        #[arg(long, default_value = "")]
        attribution: String,
        /// Background plate (PNG of the camera's size).
        #[arg(long)]
        background: Option<PathBuf>,
    },
    /// Print a JSON summary of a portrait file.
    Inspect {
        /// The portrait file.
        file: PathBuf,
    },
    /// Render one frame of a portrait file: the head (deformed for a condition
    /// vector, posed by a pose-track frame) over its torso and background.
    RenderPortrait {
        /// The portrait file.
        file: PathBuf,
        /// Output PNG.
        #[arg(long)]
        out: PathBuf,
        /// Pose-track frame: its head pose and torso layer (default: the
        /// portrait camera, no torso).
        #[arg(long)]
        frame: Option<usize>,
        /// JSON file with the condition vector (the controller's input, e.g.
        /// 52 blendshapes); default: no deformation.
        #[arg(long)]
        condition: Option<PathBuf>,
        /// Turn the head about the portrait's pivot by this rotation vector
        /// (head space, radians, `X,Y,Z`), as Head-Sync does; needs --frame.
        #[arg(long, value_parser = parse_turn, allow_hyphen_values = true)]
        turn: Option<[f32; 3]>,
        /// Leave the torso layer where it was recorded: no neck warp (the
        /// warp needs the portrait's `jaw_line`).
        #[arg(long)]
        no_neck_warp: bool,
    },
    /// Add a network to a portrait file, replacing one of the same name:
    /// stored as NNEF (ONNX is converted and checked against the original),
    /// loaded by the engine first.
    AddNetwork {
        /// The portrait file.
        file: PathBuf,
        /// Network name (`face_sync`, `expression` or `head_sync`).
        #[arg(long)]
        name: String,
        /// The model: ONNX (converted to NNEF, checked against the
        /// original) or NNEF.
        #[arg(long)]
        onnx: PathBuf,
        /// Output portrait file (default: rewrite FILE).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Set one entry of a portrait's free-form metadata (`META` extra) from a
    /// JSON file, e.g. `condition_range` ({"min": [52 numbers], "max": [...]}).
    SetMeta {
        /// The portrait file.
        file: PathBuf,
        /// The key in the metadata's `extra` object.
        #[arg(long)]
        key: String,
        /// JSON file holding the value.
        #[arg(long)]
        json: PathBuf,
        /// Output portrait file (default: rewrite FILE).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Time each render stage on random Gaussians (SH degree 3).
    Bench(bench::BenchArgs),
    /// Time the audio side per displayed frame: speech pushed in small
    /// chunks, log-mel, Face-Sync, controller (CPU, one thread).
    BenchAudio(bench_audio::BenchAudioArgs),
    /// Render a portrait speaking an audio file, frame by frame (PNGs and timing.json).
    Render(talk::TalkArgs),
    /// Train a portrait from a synctalk-prepare dataset on the GPU (wgpu:
    /// Vulkan, Metal, DX12), with checkpoints, resume and a held-out report.
    Train(train::TrainArgs),
    /// Score a portrait on its dataset's held-out frames as `synctalk train`
    /// does (tracked pose, neck band, head turned), e.g. the demo's.
    Evaluate(train::EvaluateArgs),
    /// How far a portrait's deformation departs from the tracked face's
    /// motion (trust-weighted RMS, mm) at its dataset's training
    /// conditions, recombined and extrapolated ones, and at a speech's
    /// (`--timing`: a `synctalk render --frames` run's timing.json), with
    /// the speech frames that depart most. Prints JSON.
    FaceMotion(face_motion::FaceMotionArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::RenderPly {
            scene,
            cameras,
            camera,
            out,
            background,
        } => commands::render_ply(&scene, &cameras, camera, &out, &background),
        Command::Convert {
            scene,
            output,
            cameras,
            camera,
            precision,
            name,
            licence,
            attribution,
            background,
        } => commands::convert(commands::ConvertArgs {
            scene: &scene,
            output: &output,
            cameras: &cameras,
            camera,
            precision: &precision,
            name,
            licence,
            attribution,
            background: background.as_deref(),
        }),
        Command::Inspect { file } => commands::inspect(&file),
        Command::RenderPortrait {
            file,
            out,
            frame,
            condition,
            turn,
            no_neck_warp,
        } => commands::render_portrait(
            &file,
            &out,
            &commands::PortraitFrame {
                frame,
                condition: condition.as_deref(),
                turn,
                no_neck_warp,
            },
        ),
        Command::AddNetwork {
            file,
            name,
            onnx,
            output,
        } => commands::add_network(&file, &name, &onnx, output.as_deref().unwrap_or(&file)),
        Command::SetMeta {
            file,
            key,
            json,
            output,
        } => commands::set_meta(&file, &key, &json, output.as_deref().unwrap_or(&file)),
        Command::Bench(args) => bench::run(&args),
        Command::BenchAudio(args) => bench_audio::run(&args),
        Command::Render(args) => talk::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Evaluate(args) => train::evaluate(&args),
        Command::FaceMotion(args) => face_motion::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of the results went away (`| head`): nothing to say to
        // it; the shell's code for a process ended by SIGPIPE.
        Err(e) if output::is_broken_pipe(&e) => ExitCode::from(141),
        Err(e) => {
            // Library errors often repeat their source in their message: print
            // each cause once.
            let mut line = String::new();
            for cause in e.chain().map(|c| c.to_string()) {
                if !line.contains(&cause) {
                    line = if line.is_empty() {
                        cause
                    } else {
                        format!("{line}: {cause}")
                    };
                }
            }
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}

/// `X,Y,Z`: three finite numbers (a rotation vector, radians).
fn parse_turn(s: &str) -> Result<[f32; 3], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|x| x.trim().parse::<f32>().map_err(|e| format!("`{x}`: {e}")))
        .collect::<Result<_, _>>()?;
    match v[..] {
        [x, y, z] if v.iter().all(|a| a.is_finite() && a.abs() <= 1.0) => Ok([x, y, z]),
        _ => Err(format!("`{s}` is not three numbers within ±1 rad, X,Y,Z")),
    }
}
