//! What `synctalk train` reports: the held-out evaluation, rendered by the
//! shipped renderer from the written portrait (what a viewer sees).
//!
//! The held-out frames are rendered with the dataset's tracked pose and
//! the frame's own blendshapes (through the portrait's controller, clamped
//! to its `condition_range`, as the runtime does) over the frame's torso
//! layer, and scored against the real frame: PSNR and SSIM (torch_trainer.py's
//! SSIM: 11×11 Gaussian window, σ 1.5, valid positions), full frame, face
//! box and neck band ([`synctalk_train::eval::neck`]); the neck band also
//! with the head turned as far as the runtime turns it, where a seam
//! between head and torso layer shows. The frames go to
//! `WORK/heldout/frame_NNNNNN.png` (and `turned/`), so that `synctalk-eval
//! heldout --rendered WORK/heldout --dataset DS` adds LPIPS.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use synctalk_gaussians::neck::NeckWarp;
use synctalk_gaussians::{Camera, Image};
use synctalk_portrait::{LayerRole, Portrait};
use synctalk_render::{GpuScene, View};
use synctalk_train::dataset::Dataset;
use synctalk_train::eval::{self, neck, Plane};
use synctalk_train::train::{TrainData, Trainer};

use crate::image_io::write_png;

/// Training frames scored for the report (evenly spaced).
const TRAIN_SAMPLES: usize = 20;

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// The camera of a refined head-to-camera `v` (the portrait camera is the
/// identity, so the head pose is the camera).
fn camera_of(v: &synctalk_reference::View) -> Camera {
    let r = v.rotation;
    let f = |x: f64| x as f32;
    Camera {
        width: v.width,
        height: v.height,
        fx: f(v.fx),
        fy: f(v.fy),
        cx: f(v.cx),
        cy: f(v.cy),
        rotation: [0, 1, 2].map(|i| [f(r.x_axis[i]), f(r.y_axis[i]), f(r.z_axis[i])]),
        translation: [f(v.translation.x), f(v.translation.y), f(v.translation.z)],
        near: f(v.near),
    }
}

/// Renders frame `t` of `p` (its pose-track frame, or the camera of
/// `posed` with its neck warp; its torso layer and the dataset's
/// blendshapes of that frame).
fn render_frame(
    r: &synctalk_render::Renderer,
    view: &mut View,
    p: &Portrait,
    ds: &Dataset,
    background: &Image,
    t: usize,
    posed: Option<(Camera, Option<&NeckWarp>)>,
) -> Result<Image> {
    let (camera, neck) = posed.map_or((None, None), |(c, n)| (Some(c), n));
    let cam = match camera {
        Some(c) => c,
        None => p
            .frame_camera(t)
            .with_context(|| format!("the portrait has no pose-track frame {t}"))?,
    };
    let torso = p.torso(t).map(|l| l.image()).transpose()?;
    let coeffs = p.coefficients(ds.blendshapes_of(t))?;
    view.set_layers(r, background, torso.as_ref())?;
    view.set_neck(r, neck);
    view.render(r, &cam, &coeffs)?;
    Ok(view.read_image(r)?)
}

/// The head turns of the seam check: the runtime's largest Head-Sync turn
/// ([`synctalk_engine::head::MAX_TURN`]) about the head's x axis (a nod,
/// chin up and down) and y axis (a shake), about the portrait's pivot.
fn turns() -> [[f32; 3]; 4] {
    let m = synctalk_engine::head::MAX_TURN;
    [[m, 0.0, 0.0], [-m, 0.0, 0.0], [0.0, m, 0.0], [0.0, -m, 0.0]]
}

/// `p` (head space) projected by `cam` (continuous pixel coordinates).
pub(crate) fn project(cam: &Camera, p: [f64; 3]) -> [f64; 2] {
    let c: [f64; 3] = std::array::from_fn(|i| {
        (0..3)
            .map(|j| f64::from(cam.rotation[i][j]) * p[j])
            .sum::<f64>()
            + f64::from(cam.translation[i])
    });
    [
        f64::from(cam.fx) * c[0] / c[2] + f64::from(cam.cx),
        f64::from(cam.fy) * c[1] / c[2] + f64::from(cam.cy),
    ]
}

/// The tracked `jaw` (pixels) as seen by `to` instead of `from`: each
/// point moved as the canonical face's jaw point moves between the two
/// cameras' projections (a turned head's jaw, from the tracked one).
fn moved_jaw(
    jaw: &[[f64; 2]],
    canonical: &[[f32; 3]],
    from: &Camera,
    to: &Camera,
) -> Vec<[f64; 2]> {
    jaw.iter()
        .zip(canonical)
        .map(|(q, &c)| {
            let c = c.map(f64::from);
            let (a, b) = (project(from, c), project(to, c));
            [q[0] + b[0] - a[0], q[1] + b[1] - a[1]]
        })
        .collect()
}

/// Pixel `i` (row-major) of `img`, RGB.
fn rgb_of(img: &Image) -> impl Fn(usize) -> [u8; 3] + '_ {
    move |i| [img.data[4 * i], img.data[4 * i + 1], img.data[4 * i + 2]]
}

/// Scores of one render against the real frame: PSNR and SSIM of the full
/// frame, the face box and the neck band.
#[derive(Clone, Copy, Default)]
struct Scores([f64; 6]);

impl Scores {
    fn of(img: &Image, real: &[[u8; 3]], face: [u32; 4], neck: (&Plane, &Plane)) -> Scores {
        let w = img.width as usize;
        let crop = |b: [u32; 4]| {
            (
                Plane::crop(rgb_of(img), w, b),
                Plane::crop(|i| real[i], w, b),
            )
        };
        let (fa, fb) = crop([0, 0, img.width, img.height]);
        let (ca, cb) = crop(face);
        Scores([
            eval::psnr(&fa, &fb),
            eval::ssim(&fa, &fb),
            eval::psnr(&ca, &cb),
            eval::ssim(&ca, &cb),
            eval::psnr(neck.0, neck.1),
            eval::ssim(neck.0, neck.1),
        ])
    }

    /// The mean of `rows` as the report's JSON.
    fn mean(rows: &[Scores]) -> Value {
        let m = |j: usize| {
            let v: Vec<f64> = rows
                .iter()
                .map(|r| r.0[j])
                .filter(|v| v.is_finite())
                .collect();
            round4(v.iter().sum::<f64>() / v.len().max(1) as f64)
        };
        json!({
            "full": {"psnr": m(0), "ssim": m(1)},
            "face": {"psnr": m(2), "ssim": m(3)},
            "neck": {"psnr": m(4), "ssim": m(5)},
        })
    }
}

/// Scores the held-out frames (and a sample of training frames) of `ds`
/// rendered from `p`; writes them to `work/heldout/` and a contact sheet
/// (real above rendered, and with the pose fitted on the frame when
/// `fit_steps` > 0) to `work/heldout.png`. Each held-out frame is also
/// rendered with the head turned by the runtime's largest Head-Sync turn
/// (4 ways, [`turns`]), and its neck band scored against the real frame's
/// (the band under the turned jaw against the band under the real one:
/// [`synctalk_train::eval::neck`]); those renders go to
/// `work/heldout/turned/` with their jaw lines (`jaw.json`), for
/// `synctalk-eval heldout`'s LPIPS.
pub fn evaluate(
    p: &Portrait,
    ds: &Dataset,
    work: &Path,
    fit: Option<(&Trainer, u32)>,
    holdout: &str,
) -> Result<Value> {
    let r = crate::commands::renderer()?;
    let basis = p.deformation.as_ref().map(|d| &d.basis);
    let scene = GpuScene::new(&r.context().device, &p.gaussians, basis)?;
    let (w, h) = (ds.width, ds.height);
    let mut view = View::new(&r, &scene, w, h)?;
    let background = match p.layer(LayerRole::Background) {
        Some(l) => l.image()?,
        None => Image::solid(w, h, [0, 0, 0, 255]),
    };
    let pivot = p.head_pivot()?;
    let dir = work.join("heldout");
    let turned_dir = dir.join("turned");
    std::fs::create_dir_all(&turned_dir)
        .with_context(|| format!("cannot create {}", turned_dir.display()))?;
    let (wu, hu) = (w as usize, h as usize);
    let canonical_jaw: Vec<[f32; 3]> = neck::JAW
        .iter()
        .filter_map(|&j| ds.canonical_face.get(j).copied())
        .collect();
    let mut rows = Vec::new();
    let mut fitted_rows = Vec::new();
    let mut turned_rows = Vec::new();
    let mut unwarped_rows = Vec::new();
    let jaw_line = p.jaw_line()?;
    let mut turned_jaws = serde_json::Map::new();
    let mut sheet: Vec<SheetColumn> = Vec::new();
    let val = &ds.val;
    for (k, &t) in val.iter().enumerate() {
        let real: Vec<[u8; 3]> = (0..wu * hu).map(|i| ds.frames[t].rgb(i)).collect();
        let face = ds.face_boxes[t];
        let jaw = neck::jaw_of(ds.landmarks_of(t));
        let size = neck::band_size(&jaw, face);
        let real_band = neck::neck_strip(|i| real[i], wu, hu, &jaw, size);
        let band = |img: &Image, jaw: &[[f64; 2]]| neck::neck_strip(rgb_of(img), wu, hu, jaw, size);
        let img = render_frame(&r, &mut view, p, ds, &background, t, None)?;
        write_png(&dir.join(format!("frame_{t:06}.png")), &img)?;
        rows.push(Scores::of(
            &img,
            &real,
            face,
            (&band(&img, &jaw), &real_band),
        ));
        let tracked = p
            .frame_camera(t)
            .with_context(|| format!("the portrait has no pose-track frame {t}"))?;
        // Frame t seen by a camera (with a neck warp), and a render's
        // scores with the jaw where that camera sees it.
        let posed = |view: &mut View, cam: Camera, warp: Option<&NeckWarp>| {
            render_frame(&r, view, p, ds, &background, t, Some((cam, warp)))
        };
        let score = |img: &Image, moved: &[[f64; 2]]| {
            Scores::of(img, &real, face, (&band(img, moved), &real_band))
        };
        for (n, rv) in turns().into_iter().enumerate() {
            let cam = p
                .head_camera(t as f64, rv, pivot)
                .with_context(|| format!("the portrait has no pose-track frame {t}"))?;
            let moved = moved_jaw(&jaw, &canonical_jaw, &tracked, &cam);
            // As the runtime shows it: with the neck warp where the
            // portrait has a jaw line; the same render without it scored
            // too, to show what the warp does.
            let warp = jaw_line.as_deref().and_then(|j| p.neck_warp(j, t, &cam));
            if warp.is_some() {
                let plain = posed(&mut view, cam.clone(), None)?;
                unwarped_rows.push(score(&plain, &moved));
            }
            let img = posed(&mut view, cam, warp.as_ref())?;
            let name = format!("frame_{t:06}_{n}.png");
            write_png(&turned_dir.join(&name), &img)?;
            turned_jaws.insert(name, json!({"frame": t, "turn": rv, "jaw": moved}));
            turned_rows.push(score(&img, &moved));
        }
        let fitted = if let Some((trainer, fit_steps)) = fit.filter(|f| f.1 > 0) {
            let d = pollster::block_on(trainer.fit_pose(ds, t, fit_steps))?;
            let refined = synctalk_train::cpu::posed_view(&ds.view(t), &d);
            let cam = camera_of(&refined);
            let img = posed(&mut view, cam.clone(), None)?;
            let moved = moved_jaw(&jaw, &canonical_jaw, &tracked, &cam);
            fitted_rows.push(score(&img, &moved));
            Some(img)
        } else {
            None
        };
        if sheet.len() < 4 && k % (val.len() / 4).max(1) == 0 {
            sheet.push((real, img, fitted));
        }
    }
    let jaw_path = turned_dir.join("jaw.json");
    std::fs::write(&jaw_path, serde_json::to_string(&turned_jaws)?)
        .with_context(|| format!("cannot write {}", jaw_path.display()))?;
    let step = (ds.train.len() / TRAIN_SAMPLES).max(1);
    let mut train_psnr = Vec::new();
    for &t in ds.train.iter().step_by(step) {
        let img = render_frame(&r, &mut view, p, ds, &background, t, None)?;
        let real = Plane::crop(|i| ds.frames[t].rgb(i), wu, [0, 0, w, h]);
        let rendered = Plane::crop(rgb_of(&img), wu, [0, 0, w, h]);
        train_psnr.push(eval::psnr(&rendered, &real));
    }
    if !sheet.is_empty() {
        write_png(&work.join("heldout.png"), &contact_sheet(&sheet, w, h))?;
    }
    let mut out = json!({
        "tracked_pose": Scores::mean(&rows),
        "turned_head": {
            "neck": Scores::mean(&turned_rows)["neck"],
            "turn_rad": synctalk_engine::head::MAX_TURN,
            "turns": "about the head's x and y axes, both ways",
            "neck_warp": !unwarped_rows.is_empty(),
        },
        "train_full_psnr": round4(train_psnr.iter().sum::<f64>() / train_psnr.len().max(1) as f64),
        "holdout": holdout,
        "held_out_frames": ds.val,
        "rendered": "heldout/frame_NNNNNN.png, heldout/turned/ (LPIPS: synctalk-eval heldout --rendered WORK/heldout --dataset DATASET)",
    });
    if !unwarped_rows.is_empty() {
        out["turned_head"]["neck_unwarped"] = Scores::mean(&unwarped_rows)["neck"].clone();
    }
    if !fitted_rows.is_empty() {
        let mut m = Scores::mean(&fitted_rows);
        m["fit_steps"] = json!(fit.map_or(0, |f| f.1));
        out["refined_pose"] = m;
    }
    Ok(out)
}

/// One column of the contact sheet: the real frame, the render, and the
/// render with the fitted pose.
type SheetColumn = (Vec<[u8; 3]>, Image, Option<Image>);

/// Columns of the real frame above the rendered one (and the one with the
/// fitted pose below, when there is one).
fn contact_sheet(cols: &[SheetColumn], w: u32, h: u32) -> Image {
    let (w, h) = (w as usize, h as usize);
    let rows = if cols.iter().any(|c| c.2.is_some()) {
        3
    } else {
        2
    };
    let width = w * cols.len();
    let mut data = vec![0u8; 4 * width * rows * h];
    for (c, (real, img, fitted)) in cols.iter().enumerate() {
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let at = |row: usize| 4 * ((y + row * h) * width + c * w + x);
                data[at(0)..at(0) + 4].copy_from_slice(&[real[i][0], real[i][1], real[i][2], 255]);
                data[at(1)..at(1) + 4].copy_from_slice(&img.data[4 * i..4 * i + 4]);
                if let Some(f) = fitted {
                    data[at(2)..at(2) + 4].copy_from_slice(&f.data[4 * i..4 * i + 4]);
                }
            }
        }
    }
    Image {
        width: width as u32,
        height: (rows * h) as u32,
        data,
    }
}
