//! A plain, slow, f64 implementation of the original 3D Gaussian Splatting
//! forward rasterizer (Kerbl et al. 2023, `diff-gaussian-rasterization`),
//! plus this project's deformation and layer compositing. It exists so that
//! tests can compare the GPU renderer against it; nothing ships it.
//!
//! Conventions reproduced: sigmoid opacity, exp scales, normalised
//! quaternions, SH up to degree 3 with +0.5 and clamping at 0, EWA splatting
//! with the 1.3 x field-of-view clamp and 0.3 px dilation, 3-sigma square
//! radius binned into 16x16 tiles, pixel centres at integer coordinates
//! against means at `f * x / z + c - 0.5`, alpha clamped at 0.99, skipped
//! below 1/255, and a pixel stops at transmittance below 1e-4.

use glam::{DMat3, DVec3};
use synctalk_gaussians::neck::NeckWarp;
use synctalk_gaussians::{Camera, Deformation, Gaussians, Image};

const TILE: i64 = 16;

const SH_C0: f64 = 0.28209479177387814;
const SH_C1: f64 = 0.4886025119029199;
const SH_C2: [f64; 5] = [
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
];
const SH_C3: [f64; 7] = [
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
];

/// Evaluates the colour of SH coefficients `sh` (DC first) seen along unit
/// direction `dir`, with the original's +0.5 offset and clamping at 0.
pub fn eval_sh(degree: u32, sh: &[[f64; 3]], dir: DVec3) -> [f64; 3] {
    let c = |k: usize| DVec3::from(sh[k]);
    let mut r = SH_C0 * c(0);
    if degree > 0 {
        let (x, y, z) = (dir.x, dir.y, dir.z);
        r += -SH_C1 * y * c(1) + SH_C1 * z * c(2) - SH_C1 * x * c(3);
        if degree > 1 {
            let (xx, yy, zz, xy, yz, xz) = (x * x, y * y, z * z, x * y, y * z, x * z);
            r += SH_C2[0] * xy * c(4)
                + SH_C2[1] * yz * c(5)
                + SH_C2[2] * (2.0 * zz - xx - yy) * c(6)
                + SH_C2[3] * xz * c(7)
                + SH_C2[4] * (xx - yy) * c(8);
            if degree > 2 {
                r += SH_C3[0] * y * (3.0 * xx - yy) * c(9)
                    + SH_C3[1] * xy * z * c(10)
                    + SH_C3[2] * y * (4.0 * zz - xx - yy) * c(11)
                    + SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * c(12)
                    + SH_C3[4] * x * (4.0 * zz - xx - yy) * c(13)
                    + SH_C3[5] * z * (xx - yy) * c(14)
                    + SH_C3[6] * x * (xx - 3.0 * yy) * c(15);
            }
        }
    }
    (r + DVec3::splat(0.5)).max(DVec3::ZERO).to_array()
}

/// Rotation matrix of a (normalised) quaternion `(w, x, y, z)`.
pub fn quat_to_mat(q: [f64; 4]) -> DMat3 {
    let len = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let [r, x, y, z] = q.map(|v| v / len);
    DMat3::from_cols(
        DVec3::new(
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y + r * z),
            2.0 * (x * z - r * y),
        ),
        DVec3::new(
            2.0 * (x * y - r * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z + r * x),
        ),
        DVec3::new(
            2.0 * (x * z + r * y),
            2.0 * (y * z - r * x),
            1.0 - 2.0 * (x * x + y * y),
        ),
    )
}

/// One Gaussian after projection.
#[derive(Clone, Copy, Debug)]
pub struct Splat {
    /// Index in the cloud.
    pub index: usize,
    /// View-space depth.
    pub depth: f64,
    /// Mean in pixel coordinates (pixel centres at integers).
    pub mean: [f64; 2],
    /// Inverse 2D covariance `(a, b, c)`.
    pub conic: [f64; 3],
    /// Activated opacity.
    pub opacity: f64,
    /// Colour.
    pub color: [f64; 3],
    /// Tile rectangle `[x0, y0, x1, y1)`.
    pub rect: [i64; 4],
}

/// Per-frame deformation input: the basis and its coefficients.
pub type DeformInput<'a> = Option<(&'a Deformation, &'a [f32])>;

/// A pinhole camera in f64: world-to-camera `x_cam = rotation * x + translation`,
/// intrinsics in pixels, and the near plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// World-to-camera rotation.
    pub rotation: DMat3,
    /// World-to-camera translation.
    pub translation: DVec3,
    /// Focal length in pixels, x.
    pub fx: f64,
    /// Focal length in pixels, y.
    pub fy: f64,
    /// Principal point, x (continuous coordinates: the image spans 0..width).
    pub cx: f64,
    /// Principal point, y.
    pub cy: f64,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Gaussians at or below this view-space depth are culled.
    pub near: f64,
}

impl View {
    /// The f64 view of `cam`.
    pub fn from_camera(cam: &Camera) -> Self {
        Self {
            rotation: DMat3::from_cols_array_2d(&cam.rotation.map(|r| r.map(f64::from)))
                .transpose(),
            translation: DVec3::from(cam.translation.map(f64::from)),
            fx: f64::from(cam.fx),
            fy: f64::from(cam.fy),
            cx: f64::from(cam.cx),
            cy: f64::from(cam.cy),
            width: cam.width,
            height: cam.height,
            near: f64::from(cam.near),
        }
    }

    /// The camera centre in world coordinates (where SH view directions start).
    pub fn position(&self) -> DVec3 {
        -(self.rotation.transpose() * self.translation)
    }

    /// Tangent limits of the EWA clamp, 1.3 x the field of view on each side:
    /// `(x_pos, x_neg, y_pos, y_neg)`; `x / z` is clamped to `[-x_neg, x_pos]`.
    pub fn fov_limits(&self) -> (f64, f64, f64, f64) {
        let (width, height) = (f64::from(self.width), f64::from(self.height));
        (
            1.3 * (width - self.cx) / self.fx,
            1.3 * self.cx / self.fx,
            1.3 * (height - self.cy) / self.fy,
            1.3 * self.cy / self.fy,
        )
    }

    /// Number of 16x16 tiles across and down.
    pub fn tiles(&self) -> (i64, i64) {
        tiles(self.width, self.height)
    }
}

fn tiles(width: u32, height: u32) -> (i64, i64) {
    (
        (i64::from(width) + TILE - 1) / TILE,
        (i64::from(height) + TILE - 1) / TILE,
    )
}

/// One Gaussian's raw parameters after deformation, before activation:
/// the values the renderer's preprocess works from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawGaussian {
    /// Centre.
    pub position: DVec3,
    /// Quaternion `(w, x, y, z)`, not necessarily normalised.
    pub rotation: [f64; 4],
    /// Natural logarithms of the axis scales.
    pub log_scale: [f64; 3],
    /// Opacity logit.
    pub opacity_logit: f64,
}

/// Projects one Gaussian (`index` is recorded in the splat), or `None` when
/// it is culled: behind the near plane, a degenerate covariance, or a tile
/// rectangle of zero area. `sh` holds the coefficients for `sh_degree`, DC
/// first.
pub fn project_gaussian(
    view: &View,
    index: usize,
    raw: &RawGaussian,
    sh_degree: u32,
    sh: &[[f64; 3]],
) -> Option<Splat> {
    let w = view.rotation;
    let t = view.translation;
    let campos = view.position();
    let (fx, fy, cx, cy) = (view.fx, view.fy, view.cx, view.cy);
    let (tiles_x, tiles_y) = view.tiles();
    let p = raw.position;
    let pv = w * p + t;
    if pv.z <= view.near {
        return None;
    }
    let s = DVec3::from_array(raw.log_scale.map(f64::exp));
    let rot = quat_to_mat(raw.rotation);
    let m = rot * DMat3::from_diagonal(s);
    let sigma = m * m.transpose();
    // EWA: Jacobian of the perspective projection at the (clamped) mean.
    let (lim_x_pos, lim_x_neg, lim_y_pos, lim_y_neg) = view.fov_limits();
    let tz = pv.z;
    let tx = (pv.x / tz).clamp(-lim_x_neg, lim_x_pos) * tz;
    let ty = (pv.y / tz).clamp(-lim_y_neg, lim_y_pos) * tz;
    let j = DMat3::from_cols(
        DVec3::new(fx / tz, 0.0, 0.0),
        DVec3::new(0.0, fy / tz, 0.0),
        DVec3::new(-fx * tx / (tz * tz), -fy * ty / (tz * tz), 0.0),
    );
    let tm = j * w;
    let cov = tm * sigma * tm.transpose();
    let (a, b, c) = (cov.x_axis.x + 0.3, cov.y_axis.x, cov.y_axis.y + 0.3);
    let det = a * c - b * b;
    if det == 0.0 {
        return None;
    }
    let conic = [c / det, -b / det, a / det];
    let mean = [fx * pv.x / tz + cx - 0.5, fy * pv.y / tz + cy - 0.5];
    let rect = tile_rect(mean, [a, b, c], tiles_x, tiles_y);
    if (rect[2] - rect[0]) * (rect[3] - rect[1]) == 0 {
        return None;
    }
    let dir = (p - campos).normalize();
    let color = eval_sh(sh_degree, sh, dir);
    let opacity = 1.0 / (1.0 + (-raw.opacity_logit).exp());
    Some(Splat {
        index,
        depth: tz,
        mean,
        conic,
        opacity,
        color,
        rect,
    })
}

/// The tile rectangle `[x0, y0, x1, y1)` of a splat with 2D `mean` and
/// dilated covariance `(a, b, c)`: the 3-sigma square of its larger
/// eigenvalue (at least from a discriminant of 0.1), clamped to the image's
/// `tiles_x` x `tiles_y` tiles.
pub fn tile_rect(mean: [f64; 2], cov: [f64; 3], tiles_x: i64, tiles_y: i64) -> [i64; 4] {
    let [a, b, c] = cov;
    let det = a * c - b * b;
    let mid = 0.5 * (a + c);
    let l1 = mid + (mid * mid - det).max(0.1).sqrt();
    let l2 = mid - (mid * mid - det).max(0.1).sqrt();
    let radius = (3.0 * l1.max(l2).sqrt()).ceil();
    let tile = TILE as f64;
    [
        (((mean[0] - radius) / tile) as i64).clamp(0, tiles_x),
        (((mean[1] - radius) / tile) as i64).clamp(0, tiles_y),
        (((mean[0] + radius + tile - 1.0) / tile) as i64).clamp(0, tiles_x),
        (((mean[1] + radius + tile - 1.0) / tile) as i64).clamp(0, tiles_y),
    ]
}

/// Projects every Gaussian that survives culling, in index order.
pub fn project(g: &Gaussians, deform: DeformInput<'_>, cam: &Camera) -> Vec<Splat> {
    let n = g.len();
    let view = View::from_camera(cam);
    let coeffs = g.sh_coeffs();
    let off = |i: usize, c: usize| deform.map_or(0.0, |(d, wk)| d.offset(n, i, c, wk));
    let mut out = Vec::new();
    for i in 0..n {
        let raw = RawGaussian {
            position: DVec3::from(g.positions[i].map(f64::from))
                + DVec3::new(off(i, 0), off(i, 1), off(i, 2)),
            rotation: std::array::from_fn(|k| f64::from(g.rotations[i][k]) + off(i, 3 + k)),
            log_scale: std::array::from_fn(|k| f64::from(g.log_scales[i][k]) + off(i, 7 + k)),
            opacity_logit: f64::from(g.opacity_logits[i]) + off(i, 10),
        };
        let sh: Vec<[f64; 3]> = g.sh[i * coeffs..(i + 1) * coeffs]
            .iter()
            .map(|v| v.map(f64::from))
            .collect();
        out.extend(project_gaussian(&view, i, &raw, g.sh_degree, &sh));
    }
    out
}

/// Per tile (row-major), the indices into `splats` of those whose rectangle
/// covers it, in blending order: by depth, ties in `splats` order.
pub fn tile_lists(splats: &[Splat], width: u32, height: u32) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..splats.len()).collect();
    order.sort_by(|&a, &b| splats[a].depth.total_cmp(&splats[b].depth)); // stable
    let (tiles_x, tiles_y) = tiles(width, height);
    let mut lists: Vec<Vec<usize>> = vec![Vec::new(); (tiles_x * tiles_y) as usize];
    for &k in &order {
        let s = &splats[k];
        for ty in s.rect[1]..s.rect[3] {
            for tx in s.rect[0]..s.rect[2] {
                lists[(ty * tiles_x + tx) as usize].push(k);
            }
        }
    }
    lists
}

/// Index into [`tile_lists`]' result of the tile holding pixel `(px, py)`.
pub fn tile_of(px: u32, py: u32, width: u32) -> usize {
    let tiles_x = (i64::from(width) + TILE - 1) / TILE;
    (i64::from(py) / TILE * tiles_x + i64::from(px) / TILE) as usize
}

/// What one splat did at one pixel, in blending order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Skipped: the quadratic form was positive (never for a valid conic).
    Outside,
    /// Skipped: alpha below 1/255.
    Faint,
    /// Blended; `clamped` when alpha was clamped at 0.99.
    Blended {
        /// Whether `opacity * exp(power)` exceeded 0.99.
        clamped: bool,
    },
    /// Not blended, and the pixel stopped: transmittance would fall below 1e-4.
    Stop,
}

/// Front-to-back alpha blending of the depth-sorted `list` at pixel
/// `(px, py)`, calling `visit` with each splat and what it did. Returns
/// premultiplied `(r, g, b, alpha)`.
pub fn blend_pixel<'a>(
    list: impl IntoIterator<Item = &'a Splat>,
    px: u32,
    py: u32,
    mut visit: impl FnMut(&'a Splat, Step),
) -> [f64; 4] {
    let mut t = 1.0f64;
    let mut col = [0.0f64; 3];
    for s in list {
        let dx = s.mean[0] - f64::from(px);
        let dy = s.mean[1] - f64::from(py);
        let power = -0.5 * (s.conic[0] * dx * dx + s.conic[2] * dy * dy) - s.conic[1] * dx * dy;
        if power > 0.0 {
            visit(s, Step::Outside);
            continue;
        }
        let g = s.opacity * power.exp();
        let alpha = g.min(0.99);
        if alpha < 1.0 / 255.0 {
            visit(s, Step::Faint);
            continue;
        }
        let test_t = t * (1.0 - alpha);
        if test_t < 0.0001 {
            visit(s, Step::Stop);
            break;
        }
        for (c, v) in col.iter_mut().zip(s.color) {
            *c += v * alpha * t;
        }
        t = test_t;
        visit(s, Step::Blended { clamped: g > 0.99 });
    }
    [col[0], col[1], col[2], 1.0 - t]
}

/// Front-to-back alpha blending of depth-sorted splats at every pixel.
/// Returns premultiplied `(r, g, b, alpha)` per pixel, row-major.
pub fn rasterize(splats: &[Splat], width: u32, height: u32) -> Vec<[f64; 4]> {
    let lists = tile_lists(splats, width, height);
    let mut out = vec![[0.0; 4]; (width * height) as usize];
    for py in 0..height {
        for px in 0..width {
            let list = &lists[tile_of(px, py, width)];
            out[(py * width + px) as usize] =
                blend_pixel(list.iter().map(|&k| &splats[k]), px, py, |_, _| {});
        }
    }
    out
}

/// Layers drawn under the Gaussians (straight-alpha RGBA8, the camera's size).
#[derive(Clone, Copy, Debug)]
pub struct Layers<'a> {
    /// Opaque or translucent background plate.
    pub background: &'a Image,
    /// Optional torso layer over the background.
    pub torso: Option<&'a Image>,
}

/// Straight-alpha RGBA8 to premultiplied f64.
fn premul(p: [u8; 4]) -> [f64; 4] {
    let a = f64::from(p[3]) / 255.0;
    [
        f64::from(p[0]) / 255.0 * a,
        f64::from(p[1]) / 255.0 * a,
        f64::from(p[2]) / 255.0 * a,
        a,
    ]
}

/// The premultiplied colour under the head at pixel `(x, y)`: the torso
/// layer (if any) over the background, from their straight-alpha RGBA8.
pub fn under(layers: Layers<'_>, x: u32, y: u32) -> [f64; 4] {
    under_warped(layers, None, x, y)
}

/// [`under`] with the torso layer moved by a neck warp (the warp and the
/// torso's [`synctalk_gaussians::neck::top_edges`]): the torso sampled
/// bilinearly (premultiplied, clamped to its edges) at the warp's source
/// of the pixel's centre.
pub fn under_warped(
    layers: Layers<'_>,
    warp: Option<(&NeckWarp, &[f32])>,
    x: u32,
    y: u32,
) -> [f64; 4] {
    let b = premul(layers.background.pixel(x, y));
    let Some(torso) = layers.torso else {
        return b;
    };
    let t = match warp {
        None => premul(torso.pixel(x, y)),
        Some((w, top)) => {
            let s = w.source(top, [f64::from(x) + 0.5, f64::from(y) + 0.5]);
            bilinear(torso, s[0] - 0.5, s[1] - 0.5)
        }
    };
    std::array::from_fn(|k| t[k] + (1.0 - t[3]) * b[k])
}

/// `img` (premultiplied) at texel coordinates `(u, v)`, bilinear, clamped
/// to the edges.
fn bilinear(img: &Image, u: f64, v: f64) -> [f64; 4] {
    let (w, h) = (img.width as i64, img.height as i64);
    let (u0, v0) = (u.floor(), v.floor());
    let (fu, fv) = (u - u0, v - v0);
    let at = |i: i64, j: i64| premul(img.pixel(i.clamp(0, w - 1) as u32, j.clamp(0, h - 1) as u32));
    let (i, j) = (u0 as i64, v0 as i64);
    let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i, j + 1), at(i + 1, j + 1));
    std::array::from_fn(|k| {
        (a[k] * (1.0 - fu) + b[k] * fu) * (1.0 - fv) + (c[k] * (1.0 - fu) + d[k] * fu) * fv
    })
}

/// Composites premultiplied `head` over `torso` over `background` and
/// quantises to RGBA8 (straight alpha, rounding to nearest).
pub fn composite(head: &[[f64; 4]], layers: Layers<'_>) -> Image {
    composite_warped(head, layers, None)
}

/// [`composite`] with the torso moved by a neck warp ([`under_warped`]).
pub fn composite_warped(
    head: &[[f64; 4]],
    layers: Layers<'_>,
    warp: Option<(&NeckWarp, &[f32])>,
) -> Image {
    let bg = layers.background;
    let mut img = Image::solid(bg.width, bg.height, [0; 4]);
    for (i, h) in head.iter().enumerate() {
        let (x, y) = (i as u32 % bg.width, i as u32 / bg.width);
        let under = under_warped(layers, warp, x, y);
        let o: [f64; 4] = std::array::from_fn(|k| h[k] + (1.0 - h[3]) * under[k]);
        let q = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let px = if o[3] > 0.0 {
            [q(o[0] / o[3]), q(o[1] / o[3]), q(o[2] / o[3]), q(o[3])]
        } else {
            [0; 4]
        };
        img.data[i * 4..i * 4 + 4].copy_from_slice(&px);
    }
    img
}

/// Renders a frame: project, rasterize, composite.
pub fn render(g: &Gaussians, deform: DeformInput<'_>, cam: &Camera, layers: Layers<'_>) -> Image {
    let splats = project(g, deform, cam);
    composite(&rasterize(&splats, cam.width, cam.height), layers)
}
