//! The layers under the Gaussians: a background plate and an optional torso
//! layer, and the composite pass's bind groups over them.

use crate::view::{View, OUTPUT_FORMAT};
use crate::{RenderError, Renderer};
use synctalk_gaussians::Image;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CompositeUniform {
    size: [u32; 2],
    has_torso: u32,
    _pad: u32,
}

impl View {
    pub(crate) fn composite_group(
        r: &Renderer,
        uniform: &wgpu::Buffer,
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
                uniform.as_entire_binding(),
                wgpu::BindingResource::TextureView(&hv),
                wgpu::BindingResource::TextureView(&bg),
                wgpu::BindingResource::TextureView(&tv),
                wgpu::BindingResource::TextureView(&out),
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

    /// Points the composite pass at the current background and torso
    /// textures (both rasterizers' bind groups and the uniform).
    pub(crate) fn bind_layers(&mut self, r: &Renderer) {
        let u = CompositeUniform {
            size: [self.width, self.height],
            has_torso: u32::from(self.torso.is_some()),
            _pad: 0,
        };
        r.ctx
            .queue
            .write_buffer(&self.b.composite, 0, bytemuck::bytes_of(&u));
        self.g.composite = Self::composite_group(
            r,
            &self.b.composite,
            &self.head,
            &self.background,
            self.torso.as_ref(),
            &self.output,
        );
        self.g.composite_quads = Self::composite_group(
            r,
            &self.b.composite,
            &self.quad_head,
            &self.background,
            self.torso.as_ref(),
            &self.output,
        );
    }
}
