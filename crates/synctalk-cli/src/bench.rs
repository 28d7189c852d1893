//! `synctalk bench`: per-stage GPU times on random scenes.

use crate::output::outln;
use anyhow::{Context, Result};
use std::path::PathBuf;
use synctalk_gaussians::synthetic::{orbit_camera, RandomCloud};
use synctalk_render::{GpuContext, GpuScene, RasterMode, Renderer, View, STAGES};

/// Arguments of `synctalk bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Gaussian counts.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10000,100000,300000,1000000"
    )]
    counts: Vec<usize>,
    /// Square image sizes.
    #[arg(long, value_delimiter = ',', default_value = "512,1024")]
    sizes: Vec<u32>,
    /// Timed frames per case.
    #[arg(long, default_value_t = 50)]
    frames: usize,
    /// Seconds of untimed rendering before each case, so that the GPU
    /// reaches its working clocks.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Rasterizers to time: tiles (compute, the default renderer), quads
    /// (instanced quads through the blend unit), or both.
    #[arg(long, value_delimiter = ',', default_value = "tiles")]
    raster: Vec<String>,
    /// Write each random scene as a .ply (plus cameras.json) into this folder,
    /// so other renderers can be timed on the very same Gaussians.
    #[arg(long)]
    export: Option<PathBuf>,
    /// Time this portrait's frame instead of random scenes: the browser's
    /// path (engine, torso layer, head, composite) at the portrait's size.
    #[arg(long)]
    portrait: Option<PathBuf>,
    /// With `--portrait`: speech for the engine to say while timed (looped);
    /// without it the portrait idles.
    #[arg(long, requires = "portrait")]
    audio: Option<PathBuf>,
}

/// The benchmark scene: Gaussians uniform in a cube of side 3 in front of a
/// camera at distance 4 (focal length = image width, about 53 degrees),
/// scales 0.002..0.02, opacity logits uniform in -4..4, SH degree 3.
pub fn scene(count: usize) -> synctalk_gaussians::Gaussians {
    RandomCloud {
        count,
        sh_degree: 3,
        half_extent: 1.5,
        center: [0.0; 3],
        log_scale: (0.002f32.ln(), 0.02f32.ln()),
    }
    .generate(42)
}

/// Per stage name, the median of its times (`stage_ms[i]` for `STAGES[i]`).
pub(crate) fn stage_medians(
    stage_ms: &mut [Vec<f64>],
) -> serde_json::Map<String, serde_json::Value> {
    STAGES
        .iter()
        .zip(stage_ms.iter_mut())
        .map(|(n, v)| (n.to_string(), serde_json::json!(median(v))))
        .collect()
}

/// The median of `v` (NaN when empty).
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Warms up, then times `a.frames` frames of one case.
#[allow(clippy::too_many_arguments)]
fn time_case(
    a: &BenchArgs,
    r: &Renderer,
    view: &mut View,
    cam: &synctalk_gaussians::Camera,
    count: usize,
    size: u32,
    mode: RasterMode,
    scene_bytes: u64,
) -> Result<serde_json::Value> {
    let mut stage_ms: Vec<Vec<f64>> = vec![Vec::new(); STAGES.len()];
    let mut gpu_total = Vec::new();
    let mut wall = Vec::new();
    let mut last = None;
    let warm = std::time::Instant::now();
    while warm.elapsed().as_secs_f64() < a.warmup {
        view.render(r, cam, &[])?;
    }
    for _ in 0..a.frames {
        let t0 = std::time::Instant::now();
        let s = view.render(r, cam, &[])?;
        wall.push(t0.elapsed().as_secs_f64() * 1e3);
        if let Some(t) = &s.times {
            for (i, v) in t.ms.iter().enumerate() {
                stage_ms[i].push(*v);
            }
            gpu_total.push(t.total());
        }
        last = Some(s);
    }
    let s = last.unwrap_or_default();
    Ok(serde_json::json!({
        "gaussians": count,
        "size": size,
        "raster": format!("{mode:?}").to_lowercase(),
        "visible": s.visible,
        "intersections": s.intersections,
        "stages_ms": stage_medians(&mut stage_ms),
        "gpu_total_ms": median(&mut gpu_total),
        "wall_ms": median(&mut wall),
        "gpu_memory_mib": (scene_bytes + view.gpu_bytes()) as f64 / 1048576.0,
    }))
}

pub fn run(a: &BenchArgs) -> Result<()> {
    let modes = a
        .raster
        .iter()
        .map(|m| match m.as_str() {
            "tiles" => Ok(RasterMode::Tiles),
            "quads" => Ok(RasterMode::Quads),
            other => Err(anyhow::anyhow!(
                "--raster `{other}`: expected tiles or quads"
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    let ctx = GpuContext::headless(true).context("cannot open a GPU")?;
    eprintln!(
        "adapter: {}; GPU timestamps: {}",
        ctx.adapter,
        if ctx.timestamps {
            "yes"
        } else {
            "no (wall-clock only)"
        }
    );
    let adapter = ctx.adapter.clone();
    let r = Renderer::new(ctx);
    if let Some(portrait) = &a.portrait {
        let row = crate::bench_portrait::run(&r, portrait, a.audio.as_deref(), a.frames, a.warmup)?;
        let json = results(a, &adapter, vec![row.clone()])?;
        outln!("adapter: {adapter}")?;
        let mut line = String::new();
        for s in STAGES {
            line += &format!(
                "{s} {:.3}  ",
                row["stages_ms"][s].as_f64().unwrap_or(f64::NAN)
            );
        }
        outln!(
            "{} ({} Gaussians, {} visible, {} intersections): {line}GPU {:.3} ms, wall {:.3} ms, engine CPU {:.3} ms, torso layer {:.3} ms a frame, {:.1} MiB",
            row["portrait"].as_str().unwrap_or("?"),
            row["gaussians"],
            row["visible"],
            row["intersections"],
            row["gpu_total_ms"].as_f64().unwrap_or(f64::NAN),
            row["wall_ms"].as_f64().unwrap_or(f64::NAN),
            row["engine_cpu_ms"].as_f64().unwrap_or(f64::NAN),
            row["torso_cpu_ms_mean"].as_f64().unwrap_or(f64::NAN),
            row["gpu_memory_mib"].as_f64().unwrap_or(f64::NAN),
        )?;
        return outln!("{json}").map_err(Into::into);
    }
    let total = a.counts.len() * a.sizes.len() * modes.len();
    let bar = indicatif::ProgressBar::new(total as u64);
    let mut rows = Vec::new();
    for &count in &a.counts {
        let g = scene(count);
        let gscene = GpuScene::new(&r.context().device, &g, None)?;
        for &size in &a.sizes {
            bar.set_message(format!("{count} Gaussians at {size}x{size}"));
            let cam = orbit_camera(size, size, size as f32, 4.0, 0.0, 0.0);
            if let Some(dir) = &a.export {
                std::fs::create_dir_all(dir)?;
                std::fs::write(
                    dir.join(format!("bench_{count}.ply")),
                    synctalk_gaussians::ply::write(&g),
                )?;
                let cams = vec![synctalk_gaussians::InriaCamera::from_camera(
                    0, "bench", &cam,
                )];
                std::fs::write(
                    dir.join(format!("cameras_{size}.json")),
                    serde_json::to_string(&cams)?,
                )?;
            }
            let mut view = View::new(&r, &gscene, size, size)?;
            for &mode in &modes {
                view.set_raster_mode(mode);
                rows.push(time_case(
                    a,
                    &r,
                    &mut view,
                    &cam,
                    count,
                    size,
                    mode,
                    gscene.gpu_bytes(),
                )?);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    let json = results(a, &adapter, rows.clone())?;
    outln!("adapter: {adapter}")?;
    let mut header = format!(
        "{:>9} {:>5} {:>6} {:>9} {:>10}",
        "gaussians", "size", "raster", "visible", "isects"
    );
    for s in STAGES {
        header += &format!(" {:>10}", s);
    }
    header += &format!(" {:>9} {:>9} {:>8}", "gpu ms", "wall ms", "MiB");
    outln!("{header}")?;
    for row in &rows {
        let mut line = format!(
            "{:>9} {:>5} {:>6} {:>9} {:>10}",
            row["gaussians"],
            row["size"],
            row["raster"].as_str().unwrap_or("?"),
            row["visible"],
            row["intersections"]
        );
        for s in STAGES {
            line += &format!(
                " {:>10.3}",
                row["stages_ms"][s].as_f64().unwrap_or(f64::NAN)
            );
        }
        line += &format!(
            " {:>9.3} {:>9.3} {:>8.1}",
            row["gpu_total_ms"].as_f64().unwrap_or(f64::NAN),
            row["wall_ms"].as_f64().unwrap_or(f64::NAN),
            row["gpu_memory_mib"].as_f64().unwrap_or(f64::NAN)
        );
        outln!("{line}")?;
    }
    outln!("{json}").map_err(Into::into)
}

/// The results as one JSON line, written to `--json` first: a reader of
/// the printed table that stops early (`| head`) does not cost the file.
fn results(a: &BenchArgs, adapter: &str, rows: Vec<serde_json::Value>) -> Result<String> {
    let json = serde_json::json!({ "adapter": adapter, "frames": a.frames, "results": rows });
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(serde_json::to_string(&json)?)
}
