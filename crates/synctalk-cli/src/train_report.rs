//! What `synctalk train` reports: the held-out evaluation, rendered by the
//! shipped renderer from the written portrait (what a viewer sees), and
//! the loss/PSNR plot.
//!
//! The held-out frames are rendered with the dataset's tracked pose and
//! the frame's own blendshapes (through the portrait's controller, clamped
//! to its `condition_range`, as the runtime does) over the frame's torso
//! layer, and scored against the real frame: PSNR and SSIM (train.py's
//! SSIM: 11×11 Gaussian window, σ 1.5, valid positions), full frame and
//! face box. The frames go to `WORK/heldout/frame_NNNNNN.png`, so that
//! `synctalk-eval heldout --rendered WORK/heldout --dataset DS` adds LPIPS.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use synctalk_gaussians::{Camera, Image};
use synctalk_portrait::{LayerRole, Portrait};
use synctalk_render::{GpuScene, View};
use synctalk_train::dataset::Dataset;
use synctalk_train::train::{LogRow, TrainData, Trainer};

use crate::image_io::write_png;

/// Training frames scored for the report (evenly spaced).
const TRAIN_SAMPLES: usize = 20;

/// PSNR (dB) of `a` against RGB `b` over `box_` `[x0, y0, x1, y1)`.
fn psnr(a: &Image, b: &[[u8; 3]], w: usize, box_: [u32; 4]) -> f64 {
    let mut se = 0f64;
    let mut count = 0usize;
    for y in box_[1] as usize..box_[3] as usize {
        for x in box_[0] as usize..box_[2] as usize {
            let i = y * w + x;
            for (&p, &q) in a.data[4 * i..4 * i + 3].iter().zip(&b[i]) {
                let d = f64::from(p) - f64::from(q);
                se += d * d;
            }
            count += 3;
        }
    }
    10.0 * (255.0f64.powi(2) / (se / count.max(1) as f64).max(1e-12)).log10()
}

/// The 11-tap Gaussian (σ 1.5).
fn window() -> [f64; 11] {
    let mut g = [0f64; 11];
    for (k, v) in g.iter_mut().enumerate() {
        let d = k as f64 - 5.0;
        *v = (-d * d / (2.0 * 1.5 * 1.5)).exp();
    }
    let s: f64 = g.iter().sum();
    g.map(|v| v / s)
}

/// Mean SSIM over channels and valid positions of the crop `box_`.
fn ssim(a: &Image, b: &[[u8; 3]], w: usize, box_: [u32; 4]) -> f64 {
    let (x0, y0) = (box_[0] as usize, box_[1] as usize);
    let (cw, ch) = ((box_[2] - box_[0]) as usize, (box_[3] - box_[1]) as usize);
    if cw < 11 || ch < 11 {
        return f64::NAN;
    }
    let g = window();
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let (vw, vh) = (cw - 10, ch - 10);
    let mut total = 0f64;
    #[allow(clippy::needless_range_loop)] // c picks the channel in two images
    for c in 0..3 {
        // Five maps (x, y, xx, yy, xy), blurred along rows then columns.
        let px = |i: usize| f64::from(a.data[4 * i + c]) / 255.0;
        let py = |i: usize| f64::from(b[i][c]) / 255.0;
        let mut rows = vec![[0f64; 5]; vw * ch];
        for y in 0..ch {
            for x in 0..vw {
                let mut s = [0f64; 5];
                for (k, gk) in g.iter().enumerate() {
                    let i = (y0 + y) * w + x0 + x + k;
                    let (u, v) = (px(i), py(i));
                    for (acc, val) in s.iter_mut().zip([u, v, u * u, v * v, u * v]) {
                        *acc += gk * val;
                    }
                }
                rows[y * vw + x] = s;
            }
        }
        for y in 0..vh {
            for x in 0..vw {
                let mut m = [0f64; 5];
                for (k, gk) in g.iter().enumerate() {
                    for (acc, val) in m.iter_mut().zip(rows[(y + k) * vw + x]) {
                        *acc += gk * val;
                    }
                }
                let [mx, my, xx, yy, xy] = m;
                let (sxx, syy, sxy) = (xx - mx * mx, yy - my * my, xy - mx * my);
                total += ((2.0 * mx * my + c1) * (2.0 * sxy + c2))
                    / ((mx * mx + my * my + c1) * (sxx + syy + c2));
            }
        }
    }
    total / (3 * vw * vh) as f64
}

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

/// Renders frame `t` of `p` (its pose-track frame, or `camera`; its torso
/// layer and the dataset's blendshapes of that frame).
fn render_frame(
    r: &synctalk_render::Renderer,
    view: &mut View,
    p: &Portrait,
    ds: &Dataset,
    background: &Image,
    t: usize,
    camera: Option<Camera>,
) -> Result<Image> {
    let cam = match camera {
        Some(c) => c,
        None => p
            .frame_camera(t)
            .with_context(|| format!("the portrait has no pose-track frame {t}"))?,
    };
    let torso = p.torso(t).map(|l| l.image()).transpose()?;
    let coeffs = p.coefficients(ds.blendshapes_of(t))?;
    view.set_layers(r, background, torso.as_ref())?;
    view.render(r, &cam, &coeffs)?;
    Ok(view.read_image(r)?)
}

/// Scores the held-out frames (and a sample of training frames) of `ds`
/// rendered from `p`; writes them to `work/heldout/` and a contact sheet
/// (real above rendered, and with the pose fitted on the frame when
/// `fit_steps` > 0) to `work/heldout.png`.
pub fn evaluate(
    p: &Portrait,
    ds: &Dataset,
    work: &Path,
    trainer: &Trainer,
    fit_steps: u32,
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
    let dir = work.join("heldout");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let full = [0, 0, w, h];
    let mut rows = Vec::new();
    let mut fitted_rows = Vec::new();
    let mut sheet: Vec<SheetColumn> = Vec::new();
    let val: Vec<usize> = ds.val.clone().collect();
    let scores = |img: &Image, real: &[[u8; 3]], face: [u32; 4]| {
        [
            psnr(img, real, w as usize, full),
            ssim(img, real, w as usize, full),
            psnr(img, real, w as usize, face),
            ssim(img, real, w as usize, face),
        ]
    };
    for (k, &t) in val.iter().enumerate() {
        let img = render_frame(&r, &mut view, p, ds, &background, t, None)?;
        write_png(&dir.join(format!("frame_{t:06}.png")), &img)?;
        let real: Vec<[u8; 3]> = (0..w as usize * h as usize)
            .map(|i| ds.frames[t].rgb(i))
            .collect();
        let face = ds.face_boxes[t];
        rows.push(scores(&img, &real, face));
        let fitted = if fit_steps > 0 {
            let d = pollster::block_on(trainer.fit_pose(ds, t, fit_steps))?;
            let refined = synctalk_train::cpu::posed_view(&ds.view(t), &d);
            let img = render_frame(
                &r,
                &mut view,
                p,
                ds,
                &background,
                t,
                Some(camera_of(&refined)),
            )?;
            fitted_rows.push(scores(&img, &real, face));
            Some(img)
        } else {
            None
        };
        if sheet.len() < 4 && k % (val.len() / 4).max(1) == 0 {
            sheet.push((real, img, fitted));
        }
    }
    let mean_of = |rows: &[[f64; 4]], j: usize| {
        round4(rows.iter().map(|r| r[j]).sum::<f64>() / rows.len().max(1) as f64)
    };
    let mean = |j: usize| mean_of(&rows, j);
    let step = (ds.train.len() / TRAIN_SAMPLES).max(1);
    let mut train_psnr = Vec::new();
    for t in ds.train.clone().step_by(step) {
        let img = render_frame(&r, &mut view, p, ds, &background, t, None)?;
        let real: Vec<[u8; 3]> = (0..w as usize * h as usize)
            .map(|i| ds.frames[t].rgb(i))
            .collect();
        train_psnr.push(psnr(&img, &real, w as usize, full));
    }
    if !sheet.is_empty() {
        write_png(&work.join("heldout.png"), &contact_sheet(&sheet, w, h))?;
    }
    let mut out = json!({
        "tracked_pose": {
            "full": {"psnr": mean(0), "ssim": mean(1)},
            "face": {"psnr": mean(2), "ssim": mean(3)},
        },
        "train_full_psnr": round4(train_psnr.iter().sum::<f64>() / train_psnr.len().max(1) as f64),
        "held_out_frames": [ds.val.start, ds.val.end],
        "rendered": "heldout/frame_NNNNNN.png (LPIPS: synctalk-eval heldout --rendered WORK/heldout --dataset DATASET)",
    });
    if !fitted_rows.is_empty() {
        let m = |j: usize| mean_of(&fitted_rows, j);
        out["refined_pose"] = json!({
            "full": {"psnr": m(0), "ssim": m(1)},
            "face": {"psnr": m(2), "ssim": m(3)},
            "fit_steps": fit_steps,
        });
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

/// Loss and PSNR over the steps as an SVG (no plotting library needed).
pub fn loss_plot(log: &[LogRow], path: &Path) -> Result<()> {
    let (w, h, m) = (700.0, 300.0, 40.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    if log.len() >= 2 {
        let first = f64::from(log[0].step);
        let last = f64::from(log[log.len() - 1].step).max(first + 1.0);
        type Series = (&'static str, &'static str, fn(&LogRow) -> f32);
        let series: [Series; 2] = [
            ("loss", "#c83c00", |r| r.loss),
            ("PSNR dB", "#008c00", |r| r.psnr),
        ];
        for (row, (label, colour, get)) in series.iter().enumerate() {
            let v: Vec<f64> = log.iter().map(|r| f64::from(get(r))).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let lo = sorted[sorted.len() / 100];
            let hi = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
            let points: Vec<String> = log
                .iter()
                .zip(&v)
                .map(|(r, &y)| {
                    let x = m + (f64::from(r.step) - first) / (last - first) * (w - 2.0 * m);
                    let y = h - m - (y.clamp(lo, hi) - lo) / (hi - lo).max(1e-9) * (h - 2.0 * m);
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            svg += &format!(
                "<polyline fill=\"none\" stroke=\"{colour}\" points=\"{}\"/>\n\
                 <text x=\"{}\" y=\"{}\" fill=\"{colour}\">{label}: {:.4} ({lo:.4}..{hi:.4})</text>\n",
                points.join(" "),
                m + 5.0,
                20.0 + 16.0 * row as f64,
                v[v.len() - 1]
            );
        }
        let tail = log[log.len() - 1];
        svg += &format!(
            "<text x=\"{}\" y=\"{}\">step {}, {} Gaussians</text>\n",
            w - 220.0,
            h - 8.0,
            tail.step,
            tail.gaussians
        );
    }
    svg += "</svg>\n";
    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
}
