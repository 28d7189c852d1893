//! Blocking host-side run of the loss kernels (native only), for tests
//! and tools.

use super::{GpuLoss, LossBuffers, LossKernels, LossParams, LOSS_COLUMNS};
use crate::cpu::LossWeights;
use crate::gpu::transfer::{cast, check_len, storage, submit_and_read, upload};
use crate::gpu::GpuError;

/// Host data for [`image_loss`].
#[derive(Clone, Copy, Debug)]
pub struct LossInputs<'a> {
    /// Image width in pixels (at least 11).
    pub width: u32,
    /// Image height in pixels (at least 11).
    pub height: u32,
    /// The head layer, premultiplied, row-major.
    pub head: &'a [[f32; 4]],
    /// The layer under it, premultiplied ([`super::under_layer`]).
    pub under: &'a [[f32; 4]],
    /// The target frame and masks ([`super::pack_target`]).
    pub target: &'a [u32],
    /// Loss weights.
    pub weights: LossWeights,
}

/// Runs the loss kernels on `inputs` and reads back the loss and `dL/d`
/// the head layer.
pub fn image_loss(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &LossKernels,
    inputs: &LossInputs<'_>,
) -> Result<GpuLoss, GpuError> {
    let (w, h) = (inputs.width, inputs.height);
    if w < 11 || h < 11 {
        return Err(GpuError::TooSmall {
            width: w,
            height: h,
        });
    }
    let params = LossParams::new(w, h, &inputs.weights);
    let pixels = params.pixels();
    if pixels > 1 << 24 {
        // Mask counts are summed in f32: exact below 2^24.
        return Err(GpuError::TooLarge {
            what: "loss pixels",
            got: pixels as u64,
            max: 1 << 24,
        });
    }
    check_len("head layer", inputs.head.len(), pixels)?;
    check_len("under layer", inputs.under.len(), pixels)?;
    check_len("target", inputs.target.len(), pixels)?;
    use wgpu::BufferUsages as U;
    let uniform = |bytes: &[u8]| upload(device, bytes, U::UNIFORM);
    let read = |bytes: &[u8]| upload(device, bytes, U::STORAGE);
    let lp = uniform(bytemuck::bytes_of(&params));
    let rp = uniform(bytemuck::bytes_of(&params.reduce_params()));
    let head = read(bytemuck::cast_slice(inputs.head));
    let under = read(bytemuck::cast_slice(inputs.under));
    let target = read(bytemuck::cast_slice(inputs.target));
    let [pred, rows, dmaps, partials, ssim_map] =
        params.scratch_bytes().map(|b| storage(device, b));
    let sums = storage(device, 4 * LOSS_COLUMNS);
    let grad_head = storage(device, 16 * pixels);
    let loss = storage(device, 16);
    let groups = kernels.bind(
        device,
        &LossBuffers {
            params: &lp,
            reduce: &rp,
            head: &head,
            under: &under,
            target: &target,
            pred: &pred,
            rows: &rows,
            dmaps: &dmaps,
            partials: &partials,
            ssim_map: &ssim_map,
            sums: &sums,
            grad_head: &grad_head,
            loss: &loss,
        },
    );
    let mut encoder = device.create_command_encoder(&Default::default());
    kernels.encode(&mut encoder, &groups, &params);
    let out = submit_and_read(
        device,
        queue,
        encoder,
        &[(&loss, 16), (&grad_head, 16 * pixels)],
    )?;
    let terms: Vec<f32> = cast(&out[0]);
    Ok(GpuLoss {
        terms: [terms[0], terms[1], terms[2], terms[3]],
        grad_head: cast(&out[1]),
    })
}
