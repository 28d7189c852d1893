//! The image terms of torch_trainer.py's loss on the GPU (`loss.wgsl` and the
//! kernels after it) and their gradient with respect to the head layer,
//! tested against [`crate::cpu::image_loss`].
//!
//! Inputs per frame: the head layer (premultiplied RGB and alpha, the
//! raster forward's image), the layer under it (torso over the background
//! plate, premultiplied f32, [`under_layer`]) and the target frame with its
//! mask bits packed in one `u32` per pixel ([`pack_target`]). The composite
//! is the straight `o.rgb / o.a` of `o = head + (1 − head.a) under`, as
//! [`crate::cpu::composite()`].
//!
//! # Passes (one thread per pixel or per row element, 256 a workgroup)
//! 1. `loss_pixel`: the composite, the mouth-weighted L1 and the alpha
//!    terms (and the mask counts), summed over each workgroup by a fixed
//!    tree into its row of `partials` (6 columns).
//! 2. `ssim_rows`: horizontal 11-tap window sums of `x, y, x², y², xy` per
//!    channel at the `(W − 10)` valid columns of every row (15 words).
//! 3. `ssim_cols`: the vertical window sums at the `(W − 10) × (H − 10)`
//!    valid positions, the SSIM map and its derivatives with respect to
//!    `μx`, `E[x²]`, `E[xy]` (9 words), the map's sum into column 5.
//! 4. `reduce` (the projection backward's kernel): the 6 column sums.
//! 5. `ssim_spread`: the adjoint of the vertical window sum (a gather of
//!    the 11 positions above), back to every row.
//! 6. `loss_grad`: the adjoint of the horizontal sum, then `dL/d` the
//!    composite (L1 sign, `−ssim_w dSSIM`), through the composite to the
//!    head, plus the alpha loss; thread 0 writes [`GpuLoss::terms`].
//!
//! Separable passes through global memory rather than tiles with halos:
//! simplest, no workgroup memory beyond the reductions (5 KiB), at most 7
//! storage buffers per stage. Every sum has a fixed order: the loss and the
//! gradients are bit-identical from run to run (tested).
//!
//! # CPU adapters ([`PixelLayout::Runs`])
//! The same passes with other thread shapes (`*_runs.wgsl`, helpers in
//! `loss_runs.wgsl`): 2, 3, 5 and 6 give each thread a run of 16 outputs
//! along its window, so each input word is loaded once per run rather than
//! 11 times; 1 and the SSIM map's sum (`ssim_tree_runs`, after 3, which
//! leaves the map per pixel in `ssim_map`) sum 256 pixels with 8 threads
//! in registers by the per-pixel kernels' trees. The same expressions in
//! the same order: the results are those of [`PixelLayout::PerPixel`] bit
//! for bit (tested on lavapipe), in about a fifth of its time there.

use bytemuck::{Pod, Zeroable};

use super::kernel::{Bind, Kernel};
use super::raster::dispatch_1d;
use super::{PixelLayout, ReduceParams};
use crate::cpu::LossWeights;

/// Columns of a `partials` row: L1, interior `1 − a`, interior count,
/// outside `a`, outside count, SSIM map.
pub const LOSS_COLUMNS: usize = 6;
/// Words per element of the horizontal SSIM pass.
const ROW_WORDS: usize = 15;
/// Words per position of the SSIM derivative maps.
const D_WORDS: usize = 9;
/// SSIM window taps.
const TAPS: u32 = 11;
/// Outputs per thread of the [`PixelLayout::Runs`] window passes
/// (`RUN` in loss_runs.wgsl).
const RUN: u32 = 16;

/// The loss kernels' uniform (`LossParams` in loss.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LossParams {
    /// Image width and height.
    pub size: [u32; 2],
    /// SSIM positions across and down (`size − 10`).
    pub valid: [u32; 2],
    /// Mouth weight.
    pub mouth: f32,
    /// SSIM weight.
    pub ssim: f32,
    /// Alpha weight.
    pub alpha: f32,
    /// `1 / (3 valid.x valid.y)`.
    pub inv_count: f32,
    /// The 11 normalised Gaussian taps (sigma 1.5), then a 0.
    pub taps: [f32; 12],
}

impl LossParams {
    /// The uniform of a `width` × `height` image (both at least 11).
    pub fn new(width: u32, height: u32, weights: &LossWeights) -> Self {
        let g: Vec<f64> = (0..TAPS)
            .map(|i| {
                let d = f64::from(i) - 5.0;
                (-(d * d) / (2.0 * 1.5 * 1.5)).exp()
            })
            .collect();
        let sum: f64 = g.iter().sum();
        let mut taps = [0f32; 12];
        for (t, v) in taps.iter_mut().zip(&g) {
            *t = (v / sum) as f32;
        }
        let valid = [
            width.saturating_sub(TAPS - 1),
            height.saturating_sub(TAPS - 1),
        ];
        let count = 3.0 * f64::from(valid[0]) * f64::from(valid[1]);
        Self {
            size: [width, height],
            valid,
            mouth: weights.mouth as f32,
            ssim: weights.ssim as f32,
            alpha: weights.alpha as f32,
            inv_count: if count > 0.0 {
                (1.0 / count) as f32
            } else {
                0.0
            },
            taps,
        }
    }

    /// Pixels.
    pub fn pixels(&self) -> usize {
        self.size[0] as usize * self.size[1] as usize
    }

    /// Workgroups (rows of `partials`) of the per-pixel passes.
    pub fn groups(&self) -> u32 {
        let (x, y) = dispatch_1d(self.pixels() as u32);
        x * y
    }

    /// The `reduce` uniform over the `partials` rows.
    pub fn reduce_params(&self) -> ReduceParams {
        ReduceParams {
            rows: self.groups(),
            width: LOSS_COLUMNS as u32,
            pad: [0; 2],
        }
    }

    /// Bytes of each scratch buffer: `pred`, `rows`, `dmaps`, `partials`,
    /// `ssim_map`.
    pub fn scratch_bytes(&self) -> [usize; 5] {
        let rows = self.valid[0] as usize * self.size[1] as usize;
        let positions = self.valid[0] as usize * self.valid[1] as usize;
        [
            16 * self.pixels(),
            4 * ROW_WORDS * rows,
            4 * D_WORDS * positions,
            4 * LOSS_COLUMNS * self.groups() as usize,
            4 * self.pixels(),
        ]
    }
}

/// One target pixel as the loss kernels read it: `r | g << 8 | b << 16 |
/// mask << 24`.
pub fn pack_target(rgb: [u8; 3], mask: u8) -> u32 {
    u32::from_le_bytes([rgb[0], rgb[1], rgb[2], mask])
}

/// The layer under the head, premultiplied f32 per pixel (row-major), from
/// the torso and background layers as the renderer composites them.
pub fn under_layer(layers: synctalk_reference::Layers<'_>) -> Vec<[f32; 4]> {
    let (w, h) = (layers.background.width, layers.background.height);
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| synctalk_reference::under(layers, x, y).map(|v| v as f32))
        .collect()
}

/// The buffers the loss kernels bind. `P` pixels.
pub struct LossBuffers<'a> {
    /// Uniform: [`LossParams`].
    pub params: &'a wgpu::Buffer,
    /// Uniform: [`LossParams::reduce_params`].
    pub reduce: &'a wgpu::Buffer,
    /// `P` × `vec4<f32>`: the head layer, premultiplied.
    pub head: &'a wgpu::Buffer,
    /// `P` × `vec4<f32>`: the layer under it, premultiplied.
    pub under: &'a wgpu::Buffer,
    /// `P` × `u32`: [`pack_target`].
    pub target: &'a wgpu::Buffer,
    /// Scratch, [`LossParams::scratch_bytes`]: the composite.
    pub pred: &'a wgpu::Buffer,
    /// Scratch: the horizontal SSIM sums, then their vertical spread.
    pub rows: &'a wgpu::Buffer,
    /// Scratch: the SSIM derivative maps.
    pub dmaps: &'a wgpu::Buffer,
    /// Scratch: per-workgroup partial sums.
    pub partials: &'a wgpu::Buffer,
    /// Scratch of [`PixelLayout::Runs`]: the SSIM map per pixel.
    pub ssim_map: &'a wgpu::Buffer,
    /// Scratch: [`LOSS_COLUMNS`] floats, the column sums.
    pub sums: &'a wgpu::Buffer,
    /// Written: `P` × `vec4<f32>`, `dL/d` the head layer.
    pub grad_head: &'a wgpu::Buffer,
    /// Written: 4 floats, [`GpuLoss::terms`].
    pub loss: &'a wgpu::Buffer,
}

/// Bind groups of [`LossKernels`] over one set of [`LossBuffers`].
pub struct LossBindGroups {
    pixel: wgpu::BindGroup,
    rows: wgpu::BindGroup,
    cols: wgpu::BindGroup,
    tree: Option<wgpu::BindGroup>,
    reduce: wgpu::BindGroup,
    spread: wgpu::BindGroup,
    grad: wgpu::BindGroup,
}

/// The compiled loss kernels of one [`PixelLayout`].
pub struct LossKernels {
    layout: PixelLayout,
    pixel: Kernel,
    rows: Kernel,
    cols: Kernel,
    /// The SSIM map's sum of [`PixelLayout::Runs`].
    tree: Option<Kernel>,
    reduce: Kernel,
    spread: Kernel,
    grad: Kernel,
}

const PRELUDE: &str = include_str!("loss.wgsl");
const RUNS: &str = include_str!("loss_runs.wgsl");

impl LossKernels {
    /// Compiles the kernels of `device`'s layout
    /// ([`PixelLayout::for_device`]); WebGPU's default limits suffice.
    pub fn new(device: &wgpu::Device) -> Self {
        Self::with_layout(device, PixelLayout::for_device(device))
    }

    /// Compiles the kernels of `layout` (either runs on any device).
    pub fn with_layout(device: &wgpu::Device, layout: PixelLayout) -> Self {
        use Bind::{Read, Uniform, Write};
        let k = |src: &str, entry: &str, binds: &[Bind]| {
            Kernel::from_parts(device, &[PRELUDE, src], entry, binds)
        };
        let runs = |src: &str, entry: &str, binds: &[Bind]| {
            Kernel::from_parts(device, &[PRELUDE, RUNS, src], entry, binds)
        };
        let pixel_binds = [Uniform, Read, Read, Read, Write, Write];
        let rows_binds = [Uniform, Read, Read, Write];
        let spread_binds = [Uniform, Read, Write];
        let grad_binds = [Uniform, Read, Read, Read, Read, Read, Write, Write];
        let reduce = Kernel::new(
            device,
            include_str!("reduce.wgsl"),
            "reduce",
            &[Uniform, Read, Write],
        );
        match layout {
            PixelLayout::PerPixel => Self {
                layout,
                pixel: k(include_str!("loss_pixel.wgsl"), "loss_pixel", &pixel_binds),
                rows: k(include_str!("ssim_rows.wgsl"), "ssim_rows", &rows_binds),
                cols: k(
                    include_str!("ssim_cols.wgsl"),
                    "ssim_cols",
                    &[Uniform, Read, Write, Write],
                ),
                tree: None,
                reduce,
                spread: k(
                    include_str!("ssim_spread.wgsl"),
                    "ssim_spread",
                    &spread_binds,
                ),
                grad: k(include_str!("loss_grad.wgsl"), "loss_grad", &grad_binds),
            },
            PixelLayout::Runs => Self {
                layout,
                pixel: runs(
                    include_str!("loss_pixel_runs.wgsl"),
                    "loss_pixel_runs",
                    &pixel_binds,
                ),
                rows: runs(
                    include_str!("ssim_rows_runs.wgsl"),
                    "ssim_rows_runs",
                    &rows_binds,
                ),
                cols: runs(
                    include_str!("ssim_cols_runs.wgsl"),
                    "ssim_cols_runs",
                    &[Uniform, Read, Write, Write],
                ),
                tree: Some(runs(
                    include_str!("ssim_tree_runs.wgsl"),
                    "ssim_tree_runs",
                    &[Uniform, Read, Write],
                )),
                reduce,
                spread: runs(
                    include_str!("ssim_spread_runs.wgsl"),
                    "ssim_spread_runs",
                    &spread_binds,
                ),
                grad: runs(
                    include_str!("loss_grad_runs.wgsl"),
                    "loss_grad_runs",
                    &grad_binds,
                ),
            },
        }
    }

    /// The layout these kernels were compiled for.
    pub fn layout(&self) -> PixelLayout {
        self.layout
    }

    /// Bind groups over `b`.
    pub fn bind(&self, device: &wgpu::Device, b: &LossBuffers<'_>) -> LossBindGroups {
        let cols = match self.layout {
            PixelLayout::PerPixel => [b.params, b.rows, b.dmaps, b.partials],
            PixelLayout::Runs => [b.params, b.rows, b.dmaps, b.ssim_map],
        };
        LossBindGroups {
            pixel: self.pixel.bind(
                device,
                &[b.params, b.head, b.under, b.target, b.pred, b.partials],
            ),
            rows: self
                .rows
                .bind(device, &[b.params, b.pred, b.target, b.rows]),
            cols: self.cols.bind(device, &cols),
            tree: self
                .tree
                .as_ref()
                .map(|t| t.bind(device, &[b.params, b.ssim_map, b.partials])),
            reduce: self.reduce.bind(device, &[b.reduce, b.partials, b.sums]),
            spread: self.spread.bind(device, &[b.params, b.dmaps, b.rows]),
            grad: self.grad.bind(
                device,
                &[
                    b.params,
                    b.head,
                    b.under,
                    b.target,
                    b.rows,
                    b.sums,
                    b.grad_head,
                    b.loss,
                ],
            ),
        }
    }

    /// Encodes the passes for an image of `params` (at least 11 × 11).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        groups: &LossBindGroups,
        params: &LossParams,
    ) {
        let [w, h] = params.size;
        let [ow, oh] = params.valid;
        let pixels = dispatch_1d(params.pixels() as u32);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("image loss"),
            timestamp_writes: None,
        });
        let steps: Vec<(&Kernel, &wgpu::BindGroup, (u32, u32))> = match (&self.tree, &groups.tree) {
            (Some(tree), Some(tree_group)) => {
                // Workgroups of a pass with runs of `len` outputs on each
                // of `across` lines.
                let runs = |len: u32, across: u32| dispatch_1d(len.div_ceil(RUN) * across);
                vec![
                    (&self.pixel, &groups.pixel, pixels),
                    (&self.rows, &groups.rows, runs(ow, h)),
                    (&self.cols, &groups.cols, runs(oh, ow)),
                    (tree, tree_group, pixels),
                    (&self.reduce, &groups.reduce, (1, 1)),
                    (&self.spread, &groups.spread, runs(h, ow)),
                    (&self.grad, &groups.grad, runs(w, h)),
                ]
            }
            _ => {
                let rows = dispatch_1d(ow * h);
                vec![
                    (&self.pixel, &groups.pixel, pixels),
                    (&self.rows, &groups.rows, rows),
                    (&self.cols, &groups.cols, pixels),
                    (&self.reduce, &groups.reduce, (1, 1)),
                    (&self.spread, &groups.spread, rows),
                    (&self.grad, &groups.grad, pixels),
                ]
            }
        };
        for (kernel, group, (x, y)) in steps {
            if x == 0 {
                continue;
            }
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
    }
}

/// What [`image_loss`] reads back.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuLoss {
    /// Total, L1, SSIM (the loss uses `1 − SSIM`), alpha: as
    /// [`crate::cpu::Loss`].
    pub terms: [f32; 4],
    /// `dL/d` the premultiplied head layer per pixel.
    pub grad_head: Vec<[f32; 4]>,
}

#[cfg(not(target_arch = "wasm32"))]
pub use host::{image_loss, LossInputs};

#[cfg(not(target_arch = "wasm32"))]
mod host;
