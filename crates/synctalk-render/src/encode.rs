//! Recording a frame: the compute passes of each stage, in order, and the
//! copies of the frame's counts.

use crate::view::{tile_bits, RasterMode, View};
use crate::{RenderError, Renderer};
use synctalk_gaussians::Camera;

impl View {
    /// Records one frame for `camera` with deformation coefficients `coeffs`
    /// (at most one per basis; missing ones are zero). The frame uniform is
    /// written through the queue, so submit `encoder` on this view's queue.
    pub fn encode(
        &self,
        r: &Renderer,
        encoder: &mut wgpu::CommandEncoder,
        camera: &Camera,
        coeffs: &[f32],
    ) -> Result<(), RenderError> {
        self.write_frame(r, encoder, camera, coeffs)?;
        encoder.clear_buffer(&self.b.ranges, 0, None);
        let k = &r.k;
        let g = &self.g;
        self.encode_preprocess(r, &mut self.compute_pass(encoder, 0));
        r.sort
            .encode(&mut self.compute_pass(encoder, 1), &g.depth_sort, 32);
        if self.raster == RasterMode::Quads {
            // No binning and no tile sort: empty passes keep the timestamp
            // slots filled.
            drop(self.compute_pass(encoder, 2));
            drop(self.compute_pass(encoder, 3));
            let mut rp = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("rasterize (quads)"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.quad_head_view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: self.timer.as_ref().map(|t| t.render_writes(4)),
                occlusion_query_set: None,
                multiview_mask: None,
            });
            rp.set_pipeline(&r.quads.pipeline);
            rp.set_bind_group(0, &g.quads, &[]);
            rp.draw_indirect(&self.b.draw_args, 0);
        } else {
            self.encode_tiles(r, encoder);
        }
        let composite = match self.raster {
            RasterMode::Tiles => &g.composite,
            RasterMode::Quads => &g.composite_quads,
        };
        {
            let p = &mut self.compute_pass(encoder, 5);
            p.set_pipeline(&k.composite.pipeline);
            p.set_bind_group(0, composite, &[]);
            p.dispatch_workgroups(self.width.div_ceil(16), self.height.div_ceil(16), 1);
        }
        if let Some(t) = &self.timer {
            t.resolve(encoder);
        }
        Ok(())
    }

    /// Records only what the frame's tile intersection count needs:
    /// preprocess, the tiles of each visible Gaussian and their prefix sum
    /// (no sorts, no rasterizer, nothing drawn). The total does not depend
    /// on the depth order (a sum over the visible Gaussians), so the
    /// unsorted list gives the same count as [`View::encode`] at a fraction
    /// of its cost: what sizing the buffers before the first frame needs.
    /// Follow with [`View::encode_stats`]; submit on this view's queue.
    pub fn encode_count(
        &self,
        r: &Renderer,
        encoder: &mut wgpu::CommandEncoder,
        camera: &Camera,
        coeffs: &[f32],
    ) -> Result<(), RenderError> {
        self.write_frame(r, encoder, camera, coeffs)?;
        let p = &mut encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("intersection count"),
            timestamp_writes: None,
        });
        self.encode_preprocess(r, p);
        self.encode_tile_counts(r, p);
        Ok(())
    }

    /// Writes the frame uniform and clears the frame's counters.
    fn write_frame(
        &self,
        r: &Renderer,
        encoder: &mut wgpu::CommandEncoder,
        camera: &Camera,
        coeffs: &[f32],
    ) -> Result<(), RenderError> {
        let u = self.frame_uniform(camera, coeffs)?;
        r.ctx
            .queue
            .write_buffer(&self.b.frame, 0, bytemuck::bytes_of(&u));
        encoder.clear_buffer(&self.b.counters, 0, None);
        encoder.clear_buffer(&self.b.isect_info, 0, None);
        Ok(())
    }

    /// Stage 1: preprocess, then the dispatch sizes over visible Gaussians.
    fn encode_preprocess(&self, r: &Renderer, p: &mut wgpu::ComputePass<'_>) {
        let groups = self.scene.len.div_ceil(256);
        let gx = groups.clamp(1, 65_535);
        if groups > 0 {
            p.set_pipeline(&r.k.preprocess.pipeline);
            p.set_bind_group(0, &self.g.preprocess, &[]);
            p.dispatch_workgroups(gx, groups.div_ceil(gx), 1);
        }
        p.set_pipeline(&r.k.setup_visible.pipeline);
        p.set_bind_group(0, &self.g.setup_visible, &[]);
        p.dispatch_workgroups(1, 1, 1);
    }

    /// The first half of binning: tiles per visible Gaussian, their prefix
    /// sum, and the total (`isect_info`).
    fn encode_tile_counts(&self, r: &Renderer, p: &mut wgpu::ComputePass<'_>) {
        p.set_pipeline(&r.k.count_tiles.pipeline);
        p.set_bind_group(0, &self.g.count_tiles, &[]);
        p.dispatch_workgroups_indirect(&self.b.vis_args, 0);
        r.scan.encode(p, &self.g.tile_scan, &self.b.tile_scan_info);
        p.set_pipeline(&r.k.setup_isect.pipeline);
        p.set_bind_group(0, &self.g.setup_isect, &[]);
        p.dispatch_workgroups(1, 1, 1);
    }

    /// Begins the compute pass of render stage `stage`, timed when the
    /// device has timestamp queries.
    pub(crate) fn compute_pass<'e>(
        &self,
        encoder: &'e mut wgpu::CommandEncoder,
        stage: usize,
    ) -> wgpu::ComputePass<'e> {
        encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(crate::STAGES[stage]),
            timestamp_writes: self.timer.as_ref().map(|t| t.writes(stage)),
        })
    }

    /// Binning, tile sort and the tile rasterizer (stages 2 to 4).
    fn encode_tiles(&self, r: &Renderer, encoder: &mut wgpu::CommandEncoder) {
        let k = &r.k;
        let g = &self.g;
        {
            let p = &mut self.compute_pass(encoder, 2);
            self.encode_tile_counts(r, p);
            p.set_pipeline(&k.emit.pipeline);
            p.set_bind_group(0, &g.emit, &[]);
            p.dispatch_workgroups_indirect(&self.b.vis_args, 0);
        }
        {
            let p = &mut self.compute_pass(encoder, 3);
            r.sort.encode(p, &g.tile_sort, tile_bits(self.tiles));
            p.set_pipeline(&k.ranges.pipeline);
            p.set_bind_group(0, &g.ranges, &[]);
            p.dispatch_workgroups_indirect(&self.b.isect_info, 4);
        }
        {
            let p = &mut self.compute_pass(encoder, 4);
            p.set_pipeline(&k.rasterize.pipeline);
            p.set_bind_group(0, &g.rasterize, &[]);
            p.dispatch_workgroups(self.tiles[0], self.tiles[1], 1);
        }
    }

    /// Records copies of this frame's counts (visible Gaussians, tile
    /// intersections) into `dst` (48 bytes, `COPY_DST`), for
    /// [`View::parse_stats`] once mapped. Record after [`View::encode`].
    pub fn encode_stats(&self, encoder: &mut wgpu::CommandEncoder, dst: &wgpu::Buffer) {
        encoder.copy_buffer_to_buffer(&self.b.counters, 0, dst, 0, 16);
        encoder.copy_buffer_to_buffer(&self.b.isect_info, 0, dst, 16, 32);
    }

    /// Visible Gaussians and tile intersections from the bytes
    /// [`View::encode_stats`] copied (zeros if `raw` is short).
    pub fn parse_stats(raw: &[u8]) -> (u32, u32) {
        let word = |i: usize| {
            raw.get(4 * i..4 * i + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        (word(0), word(8))
    }
}
