//! The training forward of one frame (deform, pose, project, blend,
//! composite) and its backward, stage by stage.

use synctalk_gaussians::Camera;
use synctalk_reference::{project_gaussian, rasterize, Layers, RawGaussian, Splat, View};

use super::params::{Gradients, Params};
use super::project::{SplatGrad, ViewGrad};
use super::{composite, pose, project, raster, CpuError};

/// What one frame's forward needs besides the parameters.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The tracked head-to-camera (`rotation`, `translation`) and intrinsics.
    pub camera: &'a Camera,
    /// Pose correction in `POSE_UNITS`: the refined head-to-camera is
    /// `camera @ pose_delta(pose)`.
    pub pose: [f64; 6],
    /// Deformation coefficients `w` (one per basis).
    pub coeffs: &'a [f64],
    /// Torso and background layers (the camera's size).
    pub layers: Layers<'a>,
}

/// The forward's results, kept for the backward.
#[derive(Clone, Debug)]
pub struct Forward {
    /// The refined view the Gaussians were projected with.
    pub view: View,
    /// Deformed raw parameters per Gaussian.
    pub raws: Vec<RawGaussian>,
    /// Visible splats in Gaussian order (`Splat::index` names the Gaussian).
    pub splats: Vec<Splat>,
    /// The head layer, premultiplied `(r, g, b, alpha)` per pixel, row-major.
    pub head: Vec<[f64; 4]>,
    /// The composite, straight `(r, g, b, alpha)` per pixel, unclamped.
    pub image: Vec<[f64; 4]>,
}

/// `dL/d` the forward's outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputGrad {
    /// `dL/d` [`Forward::image`].
    pub image: Vec<[f64; 4]>,
    /// `dL/d` [`Forward::head`], besides what flows through the image
    /// (torch_trainer.py's alpha loss reads the head's alpha).
    pub head: Vec<[f64; 4]>,
}

impl OutputGrad {
    /// Zeros for `pixels` pixels.
    pub fn zeros(pixels: usize) -> Self {
        Self {
            image: vec![[0.0; 4]; pixels],
            head: vec![[0.0; 4]; pixels],
        }
    }
}

/// Every discrete decision a forward took: two forwards with equal branches
/// lie on the same smooth piece of the function (used to keep finite
/// differences away from cutoffs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branches(pub Vec<i64>);

/// Runs the training forward of one frame.
pub fn forward(params: &Params, frame: &Frame<'_>) -> Result<Forward, CpuError> {
    params.validate(frame.coeffs)?;
    let cam = frame.camera;
    composite::check_layers(frame.layers, cam.width, cam.height)?;
    let view = pose::posed_view(&View::from_camera(cam), &frame.pose);
    let raws: Vec<RawGaussian> = (0..params.len())
        .map(|i| params.deformed(i, frame.coeffs))
        .collect();
    let splats: Vec<Splat> = raws
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| project_gaussian(&view, i, raw, params.sh_degree, params.sh_used(i)))
        .collect();
    let head = rasterize(&splats, cam.width, cam.height);
    let image = composite::composite(&head, frame.layers);
    Ok(Forward {
        view,
        raws,
        splats,
        head,
        image,
    })
}

/// The branches `fwd` took (see [`Branches`]).
pub fn branches(params: &Params, frame: &Frame<'_>, fwd: &Forward) -> Branches {
    let mut out = Vec::new();
    for (i, raw) in fwd.raws.iter().enumerate() {
        match project::branches(&fwd.view, raw, params.sh_degree, params.sh_used(i)) {
            Some(b) => out.extend(b.map(i64::from)),
            None => out.push(-9),
        }
    }
    for s in &fwd.splats {
        out.push(s.index as i64);
        out.extend(s.rect);
    }
    raster::branches(
        &fwd.splats,
        frame.camera.width,
        frame.camera.height,
        &mut out,
    );
    composite::branches(&fwd.head, frame.layers, &mut out);
    Branches(out)
}

/// `dL/d` every parameter, the coefficients and the pose, given `dL/d` the
/// outputs of `fwd = forward(params, frame)`.
pub fn backward(
    params: &Params,
    frame: &Frame<'_>,
    fwd: &Forward,
    grad: &OutputGrad,
) -> Result<Gradients, CpuError> {
    let (width, height) = (frame.camera.width, frame.camera.height);
    let pixels = (width * height) as usize;
    for (what, got) in [
        ("image gradient", grad.image.len()),
        ("head gradient", grad.head.len()),
    ] {
        if got != pixels {
            return Err(CpuError::Length {
                what,
                got,
                expected: pixels,
            });
        }
    }
    let mut grad_head = composite::backward(&fwd.head, frame.layers, &grad.image);
    for (g, extra) in grad_head.iter_mut().zip(&grad.head) {
        for k in 0..4 {
            g[k] += extra[k];
        }
    }
    let splat_grads: Vec<SplatGrad> = raster::backward(&fwd.splats, width, height, &grad_head);
    let mut out = Gradients {
        params: params.zeros_like(),
        coeffs: vec![0.0; params.num_bases],
        pose: [0.0; 6],
    };
    let mut grad_view = ViewGrad::default();
    for (s, sg) in fwd.splats.iter().zip(&splat_grads) {
        let i = s.index;
        let used = params.sh_used(i).len();
        let raw_grad = project::backward(
            &fwd.view,
            &fwd.raws[i],
            params.sh_degree,
            params.sh_used(i),
            sg,
            &mut out.params.sh[i][..used],
            &mut grad_view,
        );
        out.params
            .add_deformed_grad(i, &raw_grad, params, frame.coeffs, &mut out.coeffs);
    }
    out.pose = pose::pose_backward(
        &View::from_camera(frame.camera),
        &frame.pose,
        &grad_view.rotation,
        grad_view.translation,
    );
    Ok(out)
}
