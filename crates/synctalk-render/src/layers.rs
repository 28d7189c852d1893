//! The layers under the Gaussians: a background plate and an optional torso
//! layer, and the composite pass's bind groups over them.

use crate::view::{Buffers, View, OUTPUT_FORMAT};
use crate::{RenderError, Renderer};
use synctalk_gaussians::neck::{top_edges, NeckWarp};
use synctalk_gaussians::Image;

/// `composite.wgsl`'s `Composite`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CompositeUniform {
    size: [u32; 2],
    has_torso: u32,
    has_neck: u32,
    inverse: [[f32; 4]; 3],
    neck: [f32; 4],
}

/// Size of the composite pass's uniform.
pub(crate) const COMPOSITE_UNIFORM_BYTES: u64 = std::mem::size_of::<CompositeUniform>() as u64;

impl View {
    pub(crate) fn composite_group(
        r: &Renderer,
        b: &Buffers,
        head: &wgpu::Texture,
        background: &wgpu::Texture,
        torso: Option<&wgpu::Texture>,
        output: &wgpu::Texture,
    ) -> wgpu::BindGroup {
        let bg = background.create_view(&Default::default());
        let tv = torso.unwrap_or(background).create_view(&Default::default());
        let out = output.create_view(&Default::default());
        let hv = head.create_view(&Default::default());
        r.k.composite.bind(
            &r.ctx.device,
            &[
                b.composite.as_entire_binding(),
                wgpu::BindingResource::TextureView(&hv),
                wgpu::BindingResource::TextureView(&bg),
                wgpu::BindingResource::TextureView(&tv),
                wgpu::BindingResource::TextureView(&out),
                b.torso_top.as_entire_binding(),
            ],
        )
    }

    /// Sets the layers under the Gaussians: an opaque or translucent
    /// background plate and an optional torso layer (straight-alpha RGBA8, the
    /// view's size). Per frame, when only the torso changes, call
    /// [`View::set_torso`] alone.
    pub fn set_layers(
        &mut self,
        r: &Renderer,
        background: &Image,
        torso: Option<&Image>,
    ) -> Result<(), RenderError> {
        self.check_layer("background", background)?;
        if let Some(img) = torso {
            self.check_layer("torso", img)?;
        }
        self.write_layer(r, &self.background, background);
        self.set_torso(r, torso)
    }

    /// Sets (or removes) the torso layer, keeping the background. A torso
    /// replacing a torso is written into the same texture; the bind groups
    /// are rebuilt only when the torso appears or goes.
    pub fn set_torso(&mut self, r: &Renderer, torso: Option<&Image>) -> Result<(), RenderError> {
        if let Some(img) = torso {
            self.check_layer("torso", img)?;
        }
        match (&self.torso, torso) {
            (Some(t), Some(img)) => {
                self.write_layer(r, t, img);
                self.write_top_edges(r, img);
                return Ok(());
            }
            (None, None) => return Ok(()),
            _ => {}
        }
        self.torso = torso.map(|img| {
            let t = r.ctx.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("torso"),
                size: self.background.size(),
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: OUTPUT_FORMAT,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            self.write_layer(r, &t, img);
            t
        });
        if let Some(img) = torso {
            self.write_top_edges(r, img);
        }
        self.bind_layers(r);
        Ok(())
    }

    /// Refuses a layer image that is not RGBA8 of the view's size.
    fn check_layer(&self, layer: &'static str, img: &Image) -> Result<(), RenderError> {
        if (img.width, img.height) != (self.width, self.height)
            || img.data.len() != (img.width * img.height * 4) as usize
        {
            return Err(RenderError::LayerSize {
                layer,
                got_w: img.width,
                got_h: img.height,
                want_w: self.width,
                want_h: self.height,
            });
        }
        Ok(())
    }

    /// Uploads a checked layer image into `tex`.
    pub(crate) fn write_layer(&self, r: &Renderer, tex: &wgpu::Texture, img: &Image) {
        r.ctx.queue.write_texture(
            tex.as_image_copy(),
            &img.data,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(img.width * 4),
                rows_per_image: None,
            },
            tex.size(),
        );
    }

    /// Sets (or removes) the neck warp of the frames to come: the torso
    /// layer's neck follows the head (`synctalk_gaussians::neck`). It moves
    /// nothing without a torso layer.
    pub fn set_neck(&mut self, r: &Renderer, warp: Option<&NeckWarp>) {
        // Called every frame: a portrait without a jaw line writes nothing.
        if self.neck.as_ref() == warp {
            return;
        }
        self.neck = warp.copied();
        self.write_composite_uniform(r);
    }

    /// Uploads the torso's top edge per column, the neck warp's input.
    fn write_top_edges(&self, r: &Renderer, torso: &Image) {
        let top = top_edges(torso);
        r.ctx
            .queue
            .write_buffer(&self.b.torso_top, 0, bytemuck::cast_slice(&top));
    }

    fn write_composite_uniform(&self, r: &Renderer) {
        let neck = self.neck.filter(|_| self.torso.is_some());
        let w = neck.unwrap_or(NeckWarp {
            inverse: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            columns: [0.0; 2],
            fade: 1.0,
            depth: 1.0,
        });
        let u = CompositeUniform {
            size: [self.width, self.height],
            has_torso: u32::from(self.torso.is_some()),
            has_neck: u32::from(neck.is_some()),
            inverse: w.inverse.map(|[a, b, c]| [a, b, c, 0.0]),
            neck: [w.columns[0], w.columns[1], w.fade, w.depth],
        };
        r.ctx
            .queue
            .write_buffer(&self.b.composite, 0, bytemuck::bytes_of(&u));
    }

    /// Points the composite pass at the current background and torso
    /// textures (both rasterizers' bind groups and the uniform).
    pub(crate) fn bind_layers(&mut self, r: &Renderer) {
        self.write_composite_uniform(r);
        self.g.composite = Self::composite_group(
            r,
            &self.b,
            &self.head,
            &self.background,
            self.torso.as_ref(),
            &self.output,
        );
        self.g.composite_quads = Self::composite_group(
            r,
            &self.b,
            &self.quad_head,
            &self.background,
            self.torso.as_ref(),
            &self.output,
        );
    }
}
