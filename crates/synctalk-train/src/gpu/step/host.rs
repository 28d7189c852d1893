//! Read-backs of a [`TrainStep`]'s results: futures that resolve once the
//! GPU has written them (natively at once: the device is polled; in a
//! browser while the page's event loop runs). Native callers that may block
//! use `pollster::block_on`.

use super::TrainStep;
use crate::gpu::transfer::{cast, read_back};
use crate::gpu::{GpuError, GpuParams};

/// What [`TrainStep::read_lists`] returns: the step's binning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepLists {
    /// `[pairs used, pairs needed]`.
    pub stats: [u32; 2],
    /// Per tile, its run in `isect_vals`.
    pub ranges: Vec<[u32; 2]>,
    /// The tile-sorted splat indices (the pairs used).
    pub isect_vals: Vec<u32>,
    /// Per splat, its first pair in emit order.
    pub offsets: Vec<u32>,
}

impl TrainStep {
    async fn read(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        sources: &[(&wgpu::Buffer, usize)],
    ) -> Result<Vec<Vec<u8>>, GpuError> {
        let encoder = device.create_command_encoder(&Default::default());
        read_back(device, queue, encoder, sources).await
    }

    /// The loss terms of the last step.
    pub async fn read_loss(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<[f32; 4], GpuError> {
        let out = self
            .read(device, queue, &[(&self.buffers.loss, 16)])
            .await?;
        let v: Vec<f32> = cast(&out[0]);
        Ok([v[0], v[1], v[2], v[3]])
    }

    /// The binning of the last step.
    pub async fn read_lists(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<StepLists, GpuError> {
        let b = &self.buffers;
        let tiles = self.raster_params.tiles[0] as usize * self.raster_params.tiles[1] as usize;
        let stats: Vec<u32> = cast(&self.read(device, queue, &[(&b.stats, 8)]).await?[0]);
        let used = stats[0] as usize;
        let (_, vals) = self.tile_sort.sorted(self.tile_bits);
        let n = self.n as usize;
        let out = self
            .read(
                device,
                queue,
                &[
                    (&b.ranges, 8 * tiles),
                    (vals, 4 * used),
                    (&b.isect_offsets, 4 * n),
                ],
            )
            .await?;
        Ok(StepLists {
            stats: [stats[0], stats[1]],
            ranges: cast(&out[0]),
            isect_vals: cast(&out[1]),
            offsets: cast(&out[2]),
        })
    }

    /// The parameters (after the last step's Adam update).
    pub async fn read_params(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<GpuParams, GpuError> {
        self.read_set(
            device,
            queue,
            [&self.buffers.gauss, &self.buffers.sh, &self.buffers.bases],
        )
        .await
    }

    /// The composite of the last step (straight RGB and alpha in [0, 1],
    /// row-major).
    pub async fn read_composite(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<Vec<[f32; 4]>, GpuError> {
        let pixels = self.config.width as usize * self.config.height as usize;
        let out = self
            .read(device, queue, &[(&self.buffers.pred, 16 * pixels)])
            .await?;
        Ok(cast(&out[0]))
    }

    /// `[pairs used, pairs needed]` of the last step.
    pub async fn read_stats(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<[u32; 2], GpuError> {
        let v: Vec<u32> = cast(
            &self
                .read(device, queue, &[(&self.buffers.stats, 8)])
                .await?[0],
        );
        Ok([v[0], v[1]])
    }

    /// The parameters and their Adam moments (after the last step).
    pub async fn read_state(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<super::StepState, GpuError> {
        let b = &self.buffers;
        let params = self.read_params(device, queue).await?;
        let words = self.adam_words().map(|w| 4 * w as usize);
        let sources: Vec<(&wgpu::Buffer, usize)> = b
            .moments
            .iter()
            .zip(words)
            .flat_map(|(m, w)| [(&m[0], w), (&m[1], w)])
            .collect();
        let out = self.read(device, queue, &sources).await?;
        let v: Vec<Vec<f32>> = out.iter().map(|o| cast(o)).collect();
        let mut it = v.into_iter();
        let mut next = || it.next().unwrap_or_default();
        let moments = [0, 1, 2].map(|_| [next(), next()]);
        Ok(super::StepState { params, moments })
    }

    /// The last step's gradients before Adam (its regularisers excluded),
    /// in the parameters' layout.
    pub async fn read_grads(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<GpuParams, GpuError> {
        let b = &self.buffers;
        self.read_set(device, queue, [&b.d_gauss, &b.d_sh, &b.d_bases])
            .await
    }

    async fn read_set(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        bufs: [&wgpu::Buffer; 3],
    ) -> Result<GpuParams, GpuError> {
        let [g, s, k] = self.adam_words().map(|w| 4 * w as usize);
        let out = self
            .read(device, queue, &[(bufs[0], g), (bufs[1], s), (bufs[2], k)])
            .await?;
        let gauss: Vec<f32> = cast(&out[0]);
        Ok(GpuParams {
            sh_degree: self.sh_degree,
            num_bases: self.num_bases as usize,
            gauss: gauss.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect(),
            sh: cast(&out[1]),
            bases: cast(&out[2]),
        })
    }
}
