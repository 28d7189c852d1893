//! The per-frame uniform (camera, image, counts, deformation coefficients)
//! shared by every renderer kernel: `Frame` in `shaders/common.wgsl`.

use crate::view::View;
use crate::{RenderError, MAX_BASES};
use synctalk_gaussians::Camera;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct FrameUniform {
    view: [[f32; 4]; 4],
    cam_pos: [f32; 4],
    focal: [f32; 2],
    principal: [f32; 2],
    lim_pos: [f32; 2],
    lim_neg: [f32; 2],
    image_size: [u32; 2],
    tiles: [u32; 2],
    num_gaussians: u32,
    sh_degree: u32,
    num_bases: u32,
    near: f32,
    isect_capacity: u32,
    sh_stride: u32,
    preprocess_groups_x: u32,
    _pad: u32,
    coeffs: [[f32; 4]; 8],
}

impl View {
    pub(crate) fn frame_uniform(
        &self,
        camera: &Camera,
        coeffs: &[f32],
    ) -> Result<FrameUniform, RenderError> {
        camera.validate()?;
        if (camera.width, camera.height) != (self.width, self.height) {
            return Err(RenderError::LayerSize {
                layer: "camera",
                got_w: camera.width,
                got_h: camera.height,
                want_w: self.width,
                want_h: self.height,
            });
        }
        if coeffs.len() > MAX_BASES {
            return Err(RenderError::Limit {
                what: "deformation coefficients",
                got: coeffs.len() as u64,
                limit: MAX_BASES as u64,
            });
        }
        if let Some((index, &value)) = coeffs.iter().enumerate().find(|(_, c)| !c.is_finite()) {
            return Err(RenderError::NotFinite {
                what: "deformation coefficients",
                index,
                value,
            });
        }
        let rot = glam::Mat3::from_cols_array_2d(&camera.rotation).transpose();
        let view = glam::Mat4::from_cols(
            rot.x_axis.extend(0.0),
            rot.y_axis.extend(0.0),
            rot.z_axis.extend(0.0),
            glam::Vec3::from(camera.translation).extend(1.0),
        );
        let pos = camera.position();
        let (w, h) = (camera.width as f32, camera.height as f32);
        let groups = self.scene.len.div_ceil(256);
        let mut c = [[0f32; 4]; 8];
        for (i, v) in coeffs.iter().enumerate() {
            c[i / 4][i % 4] = *v;
        }
        Ok(FrameUniform {
            view: view.to_cols_array_2d(),
            cam_pos: [pos[0], pos[1], pos[2], 1.0],
            focal: [camera.fx, camera.fy],
            principal: [camera.cx, camera.cy],
            lim_pos: [
                1.3 * (w - camera.cx) / camera.fx,
                1.3 * (h - camera.cy) / camera.fy,
            ],
            lim_neg: [1.3 * camera.cx / camera.fx, 1.3 * camera.cy / camera.fy],
            image_size: [self.width, self.height],
            tiles: self.tiles,
            num_gaussians: self.scene.len,
            sh_degree: self.scene.sh_degree,
            num_bases: self.scene.num_bases.min(coeffs.len() as u32),
            near: camera.near,
            isect_capacity: self.isect_capacity,
            sh_stride: self.scene.sh_stride,
            preprocess_groups_x: groups.min(65_535),
            _pad: 0,
            coeffs: c,
        })
    }
}
