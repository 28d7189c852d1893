//! `synctalk train DATASET -o PORTRAIT`: the native wgpu trainer
//! (`synctalk-train`) on a `synctalk-prepare` dataset, on the first GPU
//! adapter found (or the one `--adapter` names), with a progress bar,
//! checkpoints and resume, a loss/PSNR plot, the held-out report and a
//! complete portrait (networks aside: `synctalk add-network`, or
//! `synctalk-create`).

use crate::output::outln;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map};
use synctalk_portrait::Portrait;
use synctalk_train::dataset::{Dataset, Holdout};
use synctalk_train::train::export::{portrait, Credits};
use synctalk_train::train::{start, Checkpoint, LogRow, RebuildCause, Settings, Trainer};

use crate::{train_plot, train_report};

/// `synctalk train`'s arguments (torch_trainer.py's names and defaults).
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// A dataset written by synctalk-prepare.
    pub dataset: PathBuf,
    /// Portrait file to write (.stk).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Checkpoints, loss plot, report, held-out frames (default: OUTPUT.work).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Training steps.
    #[arg(long, default_value_t = 12000)]
    pub iters: u32,
    /// Stop after this many seconds (then export); 0: no limit.
    #[arg(long, default_value_t = 0.0)]
    pub max_seconds: f64,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 2000)]
    pub checkpoint_every: u32,
    /// Use the GPU adapter whose name contains this (see the list printed
    /// when none matches).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Ignore an existing checkpoint (by default training resumes from
    /// WORK/checkpoint.bin, with the same settings; only --iters may grow).
    #[arg(long)]
    pub restart: bool,
    /// Deformation bases K (1..=32).
    #[arg(long, default_value_t = 10)]
    pub bases: usize,
    /// Controller width (at most 64).
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Highest SH degree (0 or 1).
    #[arg(long, default_value_t = 1)]
    pub sh_degree: u32,
    /// Gaussians placed at the start.
    #[arg(long, default_value_t = 20000)]
    pub init_points: usize,
    /// The Gaussian budget of densification.
    #[arg(long, default_value_t = 40000)]
    pub max_gaussians: usize,
    /// Weight of the alpha loss: the head's opacity pushed to 1 inside the
    /// head's interior and to 0 far outside it (the parsing masks).
    #[arg(long, default_value_t = 0.05)]
    pub alpha_weight: f64,
    /// Weight of the regulariser on the deformation bases (their mean
    /// absolute value) and the controller's weights (their mean square,
    /// times 1e-2): larger keeps the deformation smaller and simpler.
    #[arg(long, default_value_t = 1e-3)]
    pub reg_weight: f64,
    /// Standard deviation of the Gaussian noise added to each training
    /// frame's condition (the 52 blendshapes) at every step, so that the
    /// deformation also learns conditions near the recorded ones.
    #[arg(long, default_value_t = 0.01)]
    pub cond_noise: f64,
    /// Smoothing of the deformation bases, 0 to 1: every 100 steps from
    /// step 100 to the end, each Gaussian's deformation moves this fraction
    /// of the way to the mean of its 8 nearest Gaussians', so that
    /// neighbours deform alike (against holes that expressions no training
    /// frame had can open in a surface; 0: none).
    #[arg(long, default_value_t = 0.0)]
    pub basis_smooth: f64,
    /// Weight of the mesh prior, 0 to 10000: each Gaussian near the face
    /// is pulled to move, for each frame's condition, as the tracked face
    /// moves there (MediaPipe's landmarks in head space, fitted as a linear
    /// function of the blendshapes), so that expressions no training frame
    /// had move the face as a face moves (0: none).
    #[arg(long, default_value_t = 0.0)]
    pub mesh_prior: f64,
    /// How far from the tracked face the mesh prior reaches, in cm (up to
    /// 50): a Gaussian d cm from the nearest landmark is held by
    /// exp(-(d / reach)^2).
    #[arg(long, default_value_t = 1.5)]
    pub mesh_reach: f64,
    /// Per-frame pose refinement rate (0: off).
    #[arg(long, default_value_t = 0.02)]
    pub pose_lr: f64,
    /// Refine poses from this step.
    #[arg(long, default_value_t = 3000)]
    pub pose_start: u32,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print a log row (loss, PSNR, Gaussians) every this many steps when
    /// there is no progress bar.
    #[arg(long, default_value_t = 1000)]
    pub log_every: u32,
    /// At every log row (every 50 steps), read the whole training state
    /// back and stop at the first value that is not finite, naming its
    /// group (a diagnostic; slows training).
    #[arg(long)]
    pub check_finite: bool,
    /// Held-out frames: `dataset` (dataset.json's split) or `poses` (the
    /// pose-extrapolation split: the 10 % of frames farthest from the mean
    /// pose, all others trained on).
    #[arg(long, default_value = "dataset", value_parser = parse_holdout)]
    pub holdout: Holdout,
    /// Steps of test-time pose fitting per held-out frame for the report's
    /// `refined_pose` row (torch_trainer.py's 100; 0: none).
    #[arg(long, default_value_t = 100)]
    pub fit_pose_steps: u32,
    /// Portrait name (default: the dataset folder's name).
    #[arg(long, default_value = "")]
    pub name: String,
    /// Licence of the portrait.
    #[arg(long, default_value = "unspecified")]
    pub licence: String,
    /// Attribution text.
    #[arg(long, default_value = "")]
    pub attribution: String,
}

impl TrainArgs {
    fn settings(&self) -> Result<Settings> {
        if !(1..=32).contains(&self.bases) {
            bail!("--bases must be 1..=32");
        }
        if !(1..=synctalk_train::gpu::MAX_HIDDEN).contains(&self.hidden) {
            bail!("--hidden must be 1..={}", synctalk_train::gpu::MAX_HIDDEN);
        }
        if self.sh_degree > 1 {
            bail!("--sh-degree must be 0 or 1");
        }
        if self.iters == 0 || self.init_points == 0 || self.max_gaussians == 0 {
            bail!("--iters, --init-points and --max-gaussians must be positive");
        }
        if !(self.alpha_weight.is_finite() && self.alpha_weight >= 0.0) {
            bail!("--alpha-weight must be a number >= 0");
        }
        if !(self.reg_weight.is_finite() && self.reg_weight >= 0.0) {
            bail!("--reg-weight must be a number >= 0");
        }
        if !(self.basis_smooth.is_finite() && (0.0..=1.0).contains(&self.basis_smooth)) {
            bail!("--basis-smooth must be a number from 0 to 1");
        }
        if !(self.cond_noise.is_finite() && (0.0..=1.0).contains(&self.cond_noise)) {
            bail!("--cond-noise must be a number from 0 to 1");
        }
        if !(self.mesh_prior.is_finite() && (0.0..=1e4).contains(&self.mesh_prior)) {
            bail!("--mesh-prior must be a number from 0 to 10000");
        }
        if !(self.mesh_reach.is_finite() && self.mesh_reach > 0.0 && self.mesh_reach <= 50.0) {
            bail!("--mesh-reach must be a number of cm above 0, at most 50");
        }
        Ok(Settings {
            iters: self.iters,
            bases: self.bases,
            hidden: self.hidden,
            sh_degree: self.sh_degree,
            init_points: self.init_points,
            max_gaussians: self.max_gaussians,
            alpha_weight: self.alpha_weight,
            reg_weight: self.reg_weight,
            cond_noise: self.cond_noise,
            basis_smooth: self.basis_smooth,
            mesh_prior: self.mesh_prior,
            mesh_reach: self.mesh_reach,
            pose_lr: self.pose_lr,
            pose_start: self.pose_start,
            seed: self.seed,
            holdout: self.holdout,
            ..Settings::default()
        })
    }
}

/// `--holdout`'s value.
pub(crate) fn parse_holdout(s: &str) -> Result<Holdout, String> {
    match s {
        "dataset" => Ok(Holdout::Dataset),
        "poses" => Ok(Holdout::FarthestPoses),
        _ => Err(format!("`{s}`: expected `dataset` or `poses`")),
    }
}

/// Opens the adapter `--adapter` names, else the first GPU found (a
/// discrete one before an integrated one, a CPU adapter last).
fn open_device(want: Option<&str>) -> Result<(wgpu::Device, wgpu::Queue, String)> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    // The sort's indirect arguments come from its own clamped counts (see
    // synctalk-render's GpuContext::headless).
    desc.flags
        .remove(wgpu::InstanceFlags::VALIDATION_INDIRECT_CALL);
    let instance = wgpu::Instance::new(desc);
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let rank = |t: wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let describe = |a: &wgpu::Adapter| {
        let i = a.get_info();
        format!("{} ({:?}, {:?})", i.name, i.device_type, i.backend)
    };
    let mut found: Vec<&wgpu::Adapter> = adapters
        .iter()
        .filter(|a| {
            want.is_none_or(|w| a.get_info().name.to_lowercase().contains(&w.to_lowercase()))
        })
        .collect();
    found.sort_by_key(|a| rank(a.get_info().device_type));
    let Some(adapter) = found.first() else {
        if adapters.is_empty() {
            bail!(
                "no GPU adapter found (Vulkan, Metal or DX12). Without a GPU, install a CPU \
                 fallback: Mesa's lavapipe (Debian/Ubuntu: apt install mesa-vulkan-drivers), \
                 then run again; it trains, slowly"
            );
        }
        let names: Vec<String> = adapters.iter().map(describe).collect();
        bail!(
            "no adapter matches --adapter `{}`; found: {}",
            want.unwrap_or_default(),
            names.join("; ")
        );
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("synctalk train"),
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .with_context(|| format!("cannot open {}", describe(adapter)))?;
    Ok((device, queue, describe(adapter)))
}

/// The trainer from `work`'s checkpoint (unless `restart`), else fresh.
fn trainer(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    ds: &Dataset,
    settings: Settings,
    ckpt: &Path,
    restart: bool,
) -> Result<Trainer> {
    if ckpt.is_file() && !restart {
        let mut c = Checkpoint::read(ckpt)?;
        // --iters may grow: a finished or stopped run trains on (the means'
        // rate then decays over the new count).
        let same = Settings {
            iters: settings.iters,
            ..c.header.settings.clone()
        };
        if same != settings || settings.iters < c.header.step {
            bail!(
                "{} was made with other settings ({:?}); use the same ones, or --restart",
                ckpt.display(),
                c.header.settings
            );
        }
        if c.header.fingerprint != ds.fingerprint {
            bail!(
                "{} was made from another dataset (fingerprint {:?}, this one {:?}); use --restart",
                ckpt.display(),
                c.header.fingerprint,
                ds.fingerprint
            );
        }
        c.header.settings.iters = settings.iters;
        eprintln!(
            "[train] resuming at step {} from {}",
            c.header.step,
            ckpt.display()
        );
        return Ok(Trainer::from_checkpoint(device, queue, ds, c)?);
    }
    let (params, theta) = start(ds, &settings);
    Ok(Trainer::new(device, queue, ds, settings, params, theta)?)
}

fn progress(total: u32, done: u32) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(u64::from(total)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "train {bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}] {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(u64::from(done));
    bar
}

fn log_line(row: &LogRow, seconds: f64) -> String {
    format!(
        "step {}: loss {:.4}, PSNR {:.2} dB, {} Gaussians, {:.0} s",
        row.step, row.loss, row.psnr, row.gaussians, seconds
    )
}

/// Runs `synctalk train`.
pub fn run(a: &TrainArgs) -> Result<()> {
    let settings = a.settings()?;
    let t0 = Instant::now();
    let mut ds = Dataset::open(&a.dataset)?;
    ds.hold_out(settings.holdout);
    eprintln!(
        "[train] {}: {} frames {}x{}, {} train / {} held out ({:.1} s to load)",
        a.dataset.display(),
        ds.frame_count(),
        ds.width,
        ds.height,
        ds.train.len(),
        ds.val.len(),
        t0.elapsed().as_secs_f64()
    );
    let (device, queue, adapter) = open_device(a.adapter.as_deref())?;
    eprintln!("[train] adapter: {adapter}");
    let work = a.work.clone().unwrap_or_else(|| {
        let mut w = a.output.clone().into_os_string();
        w.push(".work");
        PathBuf::from(w)
    });
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let ckpt = work.join("checkpoint.bin");
    let mut tr = trainer(&device, &queue, &ds, settings.clone(), &ckpt, a.restart)?;
    let start_step = tr.iteration();
    let bar = progress(settings.iters, start_step);
    let t_train = Instant::now();
    let mut stopped = false;
    let mut memory = MemoryPeak::default();
    memory.sample(&device);
    while tr.iteration() < settings.iters {
        if a.max_seconds > 0.0 && t_train.elapsed().as_secs_f64() > a.max_seconds {
            bar.suspend(|| {
                eprintln!(
                    "[train] stopping at step {}: --max-seconds {} reached",
                    tr.iteration(),
                    a.max_seconds
                )
            });
            stopped = true;
            break;
        }
        let rebuilt = tr.rebuilds().len();
        let row = pollster::block_on(tr.step(&ds))?;
        // Growth is rare and decides the sort's block size: say it.
        for r in tr.rebuilds()[rebuilt..]
            .iter()
            .filter(|r| r.cause == RebuildCause::Growth)
        {
            bar.suspend(|| {
                eprintln!(
                    "[train] step {}: intersection buffers grown (pairs used/needed {:?}): {} Gaussians, capacity {} pairs",
                    r.step, r.pairs, r.gaussians, r.capacity
                )
            });
        }
        if row.is_some() || tr.rebuilds().len() != rebuilt {
            memory.sample(&device);
        }
        if let Some(row) = row {
            bar.set_message(format!(
                "loss {:.4} PSNR {:.2} n {}",
                row.loss, row.psnr, row.gaussians
            ));
            if row.step % a.log_every.max(1) == 0 && bar.is_hidden() {
                eprintln!(
                    "[train] {}",
                    log_line(&row, t_train.elapsed().as_secs_f64())
                );
            }
            if !row.loss.is_finite() {
                bail!(
                    "training diverged at step {}: the loss is {} (the last checkpoint is in {}; \
                     --check-finite names the first parameter group to go bad)",
                    row.step,
                    row.loss,
                    work.display()
                );
            }
            if a.check_finite {
                if let Some((group, count)) = pollster::block_on(tr.non_finite())? {
                    bail!(
                        "training diverged at step {}: {count} values of the {group} are not finite (loss {})",
                        row.step,
                        row.loss
                    );
                }
            }
        }
        bar.set_position(u64::from(tr.iteration()));
        if tr.iteration() % a.checkpoint_every.max(1) == 0 || tr.iteration() == settings.iters {
            pollster::block_on(tr.checkpoint(ds.fingerprint.clone()))?.write(&ckpt)?;
        }
    }
    bar.finish_and_clear();
    let seconds = t_train.elapsed().as_secs_f64();
    let steps = tr.iteration() - start_step;
    if stopped {
        pollster::block_on(tr.checkpoint(ds.fingerprint.clone()))?.write(&ckpt)?;
    }
    memory.sample(&device);
    eprintln!(
        "[train] {} steps in {:.1} s ({:.2} ms a step) on {adapter}; {}",
        steps,
        seconds,
        1e3 * seconds / f64::from(steps.max(1)),
        memory.describe()
    );
    let (state, controller) = pollster::block_on(tr.state())?;
    let mut extra = Map::new();
    extra.insert("iterations".into(), json!(tr.iteration()));
    extra.insert(
        "training_seconds".into(),
        json!((seconds * 10.0).round() / 10.0),
    );
    extra.insert("device".into(), json!(adapter));
    let credits = Credits {
        name: a.name.clone(),
        licence: a.licence.clone(),
        attribution: a.attribution.clone(),
        created_by: format!("synctalk train {}", env!("CARGO_PKG_VERSION")),
    };
    let mut p = portrait(
        &ds,
        &settings,
        &state,
        &controller,
        tr.normalizer(),
        &credits,
        extra,
    )?;
    let evaluation = train_report::evaluate(
        &p,
        &ds,
        &work,
        Some((&tr, a.fit_pose_steps)),
        tr.settings().holdout.name(),
    )?;
    memory.sample(&device);
    // How far the deformation departs from the tracked face's motion, at
    // trained, recombined and extrapolated conditions (none without
    // tracked landmarks).
    let face_motion = synctalk_train::train::agreement::face_agreement(
        &ds,
        tr.normalizer(),
        &state,
        &controller,
        tr.settings(),
    );
    let mut evaluation = evaluation;
    if let (Some(f), Some(e)) = (face_motion, evaluation.as_object_mut()) {
        e.insert("face_motion".into(), json!(f));
    }
    p.meta.extra.insert("evaluation".into(), evaluation.clone());
    let tmp = a.output.with_extension("stk.tmp");
    p.write_file(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &a.output)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    train_plot::loss_plot(tr.log(), &work.join("loss.svg"))?;
    let report = json!({
        "portrait": a.output.file_name().map(|s| s.to_string_lossy().into_owned()),
        "bytes": std::fs::metadata(&a.output).map(|m| m.len()).unwrap_or(0),
        "gaussians": p.gaussians.len(),
        "iterations": tr.iteration(),
        "steps_this_run": steps,
        "training_seconds": (seconds * 10.0).round() / 10.0,
        "ms_per_step": 1e3 * seconds / f64::from(steps.max(1)),
        "device": adapter,
        "evaluation": evaluation,
        "rebuilds": tr.rebuilds(),
        "gpu_memory": memory.report(),
    });
    let text = serde_json::to_string_pretty(&report)?;
    std::fs::write(work.join("report.json"), format!("{text}\n"))
        .with_context(|| format!("cannot write {}", work.join("report.json").display()))?;
    outln!("{text}")?;
    Ok(())
}

/// The largest GPU memory the run's device held, by wgpu's allocator
/// report (Vulkan, DX12, Metal: the buffers and textures this process
/// allocated, and the driver memory blocks reserved for them; not the
/// driver's own context). Sampled at the start, at each logged step, after
/// each rebuild of the buffers, after training and after the evaluation.
#[derive(Default)]
struct MemoryPeak {
    allocated: u64,
    reserved: u64,
    known: bool,
}

impl MemoryPeak {
    fn sample(&mut self, device: &wgpu::Device) {
        if let Some(r) = device.generate_allocator_report() {
            self.known = true;
            self.allocated = self.allocated.max(r.total_allocated_bytes);
            self.reserved = self.reserved.max(r.total_reserved_bytes);
        }
    }

    fn describe(&self) -> String {
        if self.known {
            format!(
                "GPU memory at the peak {:.0} MiB allocated, {:.0} MiB reserved",
                self.allocated as f64 / 1048576.0,
                self.reserved as f64 / 1048576.0
            )
        } else {
            "GPU memory not reported by this backend".into()
        }
    }

    fn report(&self) -> serde_json::Value {
        if self.known {
            json!({"peak_allocated_bytes": self.allocated, "peak_reserved_bytes": self.reserved})
        } else {
            serde_json::Value::Null
        }
    }
}

/// `synctalk evaluate`'s arguments.
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// The portrait file.
    pub portrait: PathBuf,
    /// The synctalk-prepare dataset it was trained from.
    pub dataset: PathBuf,
    /// Folder for the report (`report.json`) and the held-out renders.
    #[arg(long)]
    pub work: PathBuf,
    /// The held-out frames the portrait's training left out: `dataset`
    /// (dataset.json's split) or `poses` (the pose-extrapolation split).
    #[arg(long, default_value = "dataset", value_parser = parse_holdout)]
    pub holdout: Holdout,
}

/// `synctalk evaluate`: the held-out report of `synctalk train` (tracked
/// pose, neck band, head turned; no pose refinement) for a portrait that
/// exists, e.g. the demo's, into `WORK/report.json`.
pub fn evaluate(a: &EvaluateArgs) -> Result<()> {
    let p = Portrait::read_file(&a.portrait)
        .with_context(|| format!("{} is not a valid portrait", a.portrait.display()))?;
    let mut ds = Dataset::open(&a.dataset)?;
    ds.hold_out(a.holdout);
    std::fs::create_dir_all(&a.work)
        .with_context(|| format!("cannot create {}", a.work.display()))?;
    let report = train_report::evaluate(&p, &ds, &a.work, None, a.holdout.name())?;
    let path = a.work.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    outln!("{}", serde_json::to_string_pretty(&report)?)?;
    Ok(())
}
