//! render-ply, convert, inspect, render-portrait.

use crate::image_io::{parse_rgb, read_png, write_png};
use crate::output::outln;
use anyhow::{bail, Context, Result};
use std::path::Path;
use synctalk_gaussians::{ply, Camera, Deformation, Gaussians, Image, InriaCamera};
use synctalk_portrait::{Layer, LayerRole, Metadata, Network, NetworkFormat, Portrait, Precision};
use synctalk_render::{GpuContext, GpuScene, Renderer, View};

fn load_scene(scene: &Path) -> Result<Gaussians> {
    ply::read_file(scene).with_context(|| format!("cannot load {}", scene.display()))
}

fn load_camera(cameras: &Path, index: usize) -> Result<Camera> {
    InriaCamera::load(cameras, index)
        .with_context(|| format!("cannot use camera {index} of {}", cameras.display()))
}

/// The renderer on the default GPU (Mesa's lavapipe where there is none).
pub fn renderer() -> Result<Renderer> {
    let ctx = GpuContext::headless(false)
        .context("cannot open a GPU (install a Vulkan driver, e.g. mesa-vulkan-drivers)")?;
    Ok(Renderer::new(ctx))
}

/// One frame on the default GPU: `g` (deformed by `basis` with `coeffs`) from
/// `cam` over an optional torso layer and `background`.
pub fn render(
    g: &Gaussians,
    basis: Option<&Deformation>,
    cam: &Camera,
    background: &Image,
    torso: Option<&Image>,
    coeffs: &[f32],
) -> Result<Image> {
    render_warped(g, basis, cam, (background, torso), None, coeffs)
}

/// [`render`] with the torso layer moved by a neck warp.
pub fn render_warped(
    g: &Gaussians,
    basis: Option<&Deformation>,
    cam: &Camera,
    (background, torso): (&Image, Option<&Image>),
    neck: Option<&synctalk_gaussians::neck::NeckWarp>,
    coeffs: &[f32],
) -> Result<Image> {
    let r = renderer()?;
    let scene = GpuScene::new(&r.context().device, g, basis)?;
    let mut view = View::new(&r, &scene, cam.width, cam.height)?;
    view.set_layers(&r, background, torso)?;
    view.set_neck(&r, neck);
    view.render(&r, cam, coeffs)?;
    Ok(view.read_image(&r)?)
}

pub fn render_ply(
    scene: &Path,
    cameras: &Path,
    index: usize,
    out: &Path,
    background: &str,
) -> Result<()> {
    let bg = parse_rgb(background)?;
    let g = load_scene(scene)?;
    let cam = load_camera(cameras, index)?;
    let img = render(
        &g,
        None,
        &cam,
        &Image::solid(cam.width, cam.height, bg),
        None,
        &[],
    )?;
    write_png(out, &img)?;
    eprintln!(
        "rendered {} Gaussians at {}x{} to {}",
        g.len(),
        cam.width,
        cam.height,
        out.display()
    );
    Ok(())
}

pub struct ConvertArgs<'a> {
    pub scene: &'a Path,
    pub output: &'a Path,
    pub cameras: &'a Path,
    pub camera: usize,
    pub precision: &'a str,
    pub name: Option<String>,
    pub licence: String,
    pub attribution: String,
    pub background: Option<&'a Path>,
}

pub fn convert(a: ConvertArgs<'_>) -> Result<()> {
    let precision = match a.precision {
        "f16" => Precision::F16,
        "f32" => Precision::F32,
        p => bail!("precision `{p}` must be f16 or f32"),
    };
    let gaussians = load_scene(a.scene)?;
    let camera = load_camera(a.cameras, a.camera)?;
    let mut layers = Vec::new();
    if let Some(bg) = a.background {
        let img = read_png(bg)?;
        if (img.width, img.height) != (camera.width, camera.height) {
            bail!(
                "{} is {}x{}, the camera is {}x{}",
                bg.display(),
                img.width,
                img.height,
                camera.width,
                camera.height
            );
        }
        layers.push(Layer::from_image(LayerRole::Background, 0, &img)?);
    }
    let name = a.name.unwrap_or_else(|| {
        a.scene
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "portrait".into())
    });
    let p = Portrait {
        meta: Metadata {
            name,
            licence: a.licence,
            attribution: a.attribution,
            created_by: format!("synctalk convert {}", env!("CARGO_PKG_VERSION")),
            extra: Default::default(),
        },
        camera,
        gaussians,
        precision,
        deformation: None,
        pose: None,
        layers,
        networks: Vec::new(),
    };
    p.write_file(a.output)?;
    let size = std::fs::metadata(a.output).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "wrote {} ({} Gaussians, {:.2} MiB)",
        a.output.display(),
        p.gaussians.len(),
        size as f64 / 1048576.0
    );
    Ok(())
}

pub fn inspect(file: &Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let p = Portrait::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid portrait", file.display()))?;
    let g = &p.gaussians;
    let summary = serde_json::json!({
        "file": file.display().to_string(),
        "bytes": bytes.len(),
        "format_version": format!("{}.{}", synctalk_portrait::VERSION_MAJOR, synctalk_portrait::VERSION_MINOR),
        "meta": p.meta,
        "camera": {
            "width": p.camera.width, "height": p.camera.height,
            "fx": p.camera.fx, "fy": p.camera.fy, "cx": p.camera.cx, "cy": p.camera.cy,
            "near": p.camera.near, "position": p.camera.position(),
        },
        "gaussians": {
            "count": g.len(),
            "sh_degree": g.sh_degree,
            "precision": format!("{:?}", p.precision).to_lowercase(),
        },
        "deformation": p.deformation.as_ref().map(|d| serde_json::json!({
            "bases": d.basis.num_bases,
            "controller_input": d.controller.input_dim,
            "controller_layers": d.controller.layers.iter().map(|l| format!("{}->{} {:?}", l.inputs, l.outputs, l.activation)).collect::<Vec<_>>(),
        })),
        "pose": p.pose.as_ref().map(|t| serde_json::json!({"frames": t.frames.len(), "fps": t.fps})),
        "layers": p.layers.iter().map(|l| serde_json::json!({
            "role": format!("{:?}", l.role), "index": l.index, "width": l.width, "height": l.height,
            "encoding": format!("{:?}", l.encoding), "bytes": l.data.len(),
        })).collect::<Vec<_>>(),
        "networks": p.networks.iter().map(|n| serde_json::json!({
            "name": n.name, "format": format!("{:?}", n.format), "bytes": n.bytes.len(),
        })).collect::<Vec<_>>(),
    });
    outln!("{}", serde_json::to_string_pretty(&summary)?)?;
    Ok(())
}

/// What `render-portrait` draws: a pose-track frame and a condition vector.
#[derive(Debug, Default)]
pub struct PortraitFrame<'a> {
    /// Pose-track frame (head pose and torso layer); `None`: the portrait camera.
    pub frame: Option<usize>,
    /// JSON file holding the condition vector (an array of numbers).
    pub condition: Option<&'a Path>,
    /// Head-Sync's turn of the head about the pivot (rotation vector, head
    /// space, radians) on top of the pose-track frame.
    pub turn: Option<[f32; 3]>,
    /// Leave the torso layer where it was recorded (no neck warp).
    pub no_neck_warp: bool,
}

/// Renders one frame of a portrait: the head, deformed for the condition
/// vector, placed by the pose track, over the frame's torso and the background.
pub fn render_portrait(file: &Path, out: &Path, what: &PortraitFrame) -> Result<()> {
    let p = Portrait::read_file(file)
        .with_context(|| format!("{} is not a valid portrait", file.display()))?;
    if what.turn.is_some() && what.frame.is_none() {
        bail!("--turn turns the head of a pose-track frame: give --frame too");
    }
    let pivot = p.head_pivot()?;
    let cam = match what.frame {
        Some(f) => p
            .head_camera(f as f64, what.turn.unwrap_or([0.0; 3]), pivot)
            .filter(|_| p.pose.as_ref().is_some_and(|t| f < t.frames.len()))
            .with_context(|| {
                format!(
                    "{} has no pose-track frame {f} ({} frames)",
                    file.display(),
                    p.pose.as_ref().map_or(0, |t| t.frames.len())
                )
            })?,
        None => p.camera.clone(),
    };
    let coeffs = match what.condition {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let v: Vec<f32> = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a JSON array of numbers", path.display()))?;
            p.coefficients(&v)
                .with_context(|| format!("condition from {}", path.display()))?
        }
        None => Vec::new(),
    };
    let bg = match p.layer(LayerRole::Background) {
        Some(l) => l.image()?,
        None => Image::solid(cam.width, cam.height, [0, 0, 0, 255]),
    };
    let torso = match (what.frame, p.torso(what.frame.unwrap_or(0))) {
        (Some(_), Some(l)) => Some(l.image()?),
        _ => None,
    };
    // The renderer checks that the layers match the camera's size.
    let basis = p.deformation.as_ref().map(|d| &d.basis);
    // The torso's neck follows the head (a portrait with a jaw line).
    let neck = match (what.frame, p.jaw_line()?) {
        (Some(f), Some(jaw)) if !what.no_neck_warp => p.neck_warp(&jaw, f, &cam),
        _ => None,
    };
    let img = render_warped(
        &p.gaussians,
        basis,
        &cam,
        (&bg, torso.as_ref()),
        neck.as_ref(),
        &coeffs,
    )?;
    write_png(out, &img)?;
    eprintln!(
        "rendered {} ({} Gaussians, {} coefficients) to {}",
        p.meta.name,
        p.gaussians.len(),
        coeffs.len(),
        out.display()
    );
    Ok(())
}

/// Adds (or replaces) network `name` of a portrait file with an ONNX model,
/// after checking that the engine can run it.
pub fn add_network(file: &Path, name: &str, onnx: &Path, out: &Path) -> Result<()> {
    let mut p = Portrait::read_file(file)
        .with_context(|| format!("{} is not a valid portrait", file.display()))?;
    let bytes = std::fs::read(onnx).with_context(|| format!("cannot read {}", onnx.display()))?;
    if !synctalk_engine::NETWORKS.contains(&name) {
        bail!(
            "unknown network name `{name}` (known: {})",
            synctalk_engine::NETWORKS.join(", ")
        );
    }
    // Stored as NNEF (what the browser build reads), checked against the
    // ONNX original on the test windows of the toolchain's vectors.
    let nnef = if synctalk_nets::is_nnef(&bytes) {
        bytes
    } else {
        let nnef =
            synctalk_nets::onnx_to_nnef(&bytes).with_context(|| format!("{}", onnx.display()))?;
        let mut a = synctalk_nets::WindowNet::load_onnx(name, &bytes)?;
        let mut b = synctalk_nets::WindowNet::load_nnef(name, &nnef)?;
        let mut worst = 0f32;
        for k in 0..16 {
            let w: Vec<f32> = (0..synctalk_nets::CONTEXT * synctalk_nets::N_MELS)
                .map(|i| ((i * 7919 + k * 104_729) % 2000) as f32 / 200.0 - 12.0)
                .collect();
            let (x, y) = (a.run(&w)?, b.run(&w)?);
            worst = x
                .iter()
                .zip(&y)
                .map(|(p, q)| (p - q).abs())
                .fold(worst, f32::max);
        }
        if worst > 1e-5 {
            bail!(
                "{}: the NNEF conversion differs from the ONNX model by {worst}",
                onnx.display()
            );
        }
        eprintln!(
            "converted to NNEF ({} bytes; max difference from ONNX {worst:.1e})",
            nnef.len()
        );
        nnef
    };
    synctalk_engine::Engine::new(&p)?
        .set_network(name, &nnef)
        .with_context(|| format!("{}", onnx.display()))?;
    p.networks.retain(|n| n.name != name);
    p.networks.push(Network {
        name: name.into(),
        format: NetworkFormat::Nnef,
        bytes: nnef,
    });
    p.write_file(out)?;
    eprintln!("wrote {} with network `{name}`", out.display());
    Ok(())
}

/// Sets `meta.extra[key]` of a portrait file to the JSON value in `json`;
/// the engine checks the keys it reads (e.g. `condition_range`) first.
pub fn set_meta(file: &Path, key: &str, json: &Path, out: &Path) -> Result<()> {
    let mut p = Portrait::read_file(file)
        .with_context(|| format!("{} is not a valid portrait", file.display()))?;
    let text =
        std::fs::read_to_string(json).with_context(|| format!("cannot read {}", json.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", json.display()))?;
    p.meta.extra.insert(key.into(), value);
    synctalk_engine::Engine::new(&p).with_context(|| format!("{key} from {}", json.display()))?;
    p.write_file(out)?;
    eprintln!("wrote {} with metadata `{key}`", out.display());
    Ok(())
}
