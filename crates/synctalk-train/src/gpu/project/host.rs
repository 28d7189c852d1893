//! Blocking host-side runs of the projection kernels (native only): upload,
//! dispatch, read back. For tests and tools, not the training loop.

use bytemuck::Pod;
use synctalk_gaussians::DEFORM_CHANNELS;
use wgpu::util::DeviceExt;

use super::{
    FrameParams, GpuGradients, GpuParams, MeshPriorParams, PoseParams, ProjectBindGroups,
    ProjectBuffers, ProjectKernels, POSE_WORDS, SH_FLOATS, VIEW_WORDS,
};
use crate::gpu::transfer::{cast, check_len, submit_and_read, MIN_BYTES};
use crate::gpu::{GpuError, GpuSplat, IdBuffers, InvertIds, RasterGrad};

/// Host data for [`project_forward`] and [`project_backward`].
#[derive(Clone, Copy, Debug)]
pub struct ProjectInputs<'a> {
    /// The parameters.
    pub params: &'a GpuParams,
    /// The frame uniform (its counts must be the parameters').
    pub frame: FrameParams,
    /// The pose uniform (backward only).
    pub pose: PoseParams,
}

/// What [`project_forward`] reads back, one entry per Gaussian.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectOutput {
    /// Splat `i` is Gaussian `i`'s (zeros when culled).
    pub splats: Vec<GpuSplat>,
    /// View depth bits (`u32::MAX` when culled).
    pub depth_keys: Vec<u32>,
    /// Packed tile rectangles (empty when culled).
    pub rects: Vec<[u32; 2]>,
    /// Splat index + 1, 0 when culled.
    pub splat_of: Vec<u32>,
}

fn check_inputs(inputs: &ProjectInputs<'_>) -> Result<(), GpuError> {
    let p = inputs.params;
    p.validate()?;
    let f = &inputs.frame;
    for (what, frame, params) in [
        ("Gaussians", f.num_gaussians as usize, p.len()),
        ("bases", f.num_bases as usize, p.num_bases),
        ("SH degree", f.sh_degree as usize, p.sh_degree as usize),
    ] {
        if frame != params {
            return Err(GpuError::Frame {
                what,
                frame: frame as u64,
                params: params as u64,
            });
        }
    }
    Ok(())
}

/// A storage buffer holding `data`, at least `bytes` long (and at least
/// [`MIN_BYTES`]: zero-sized bindings are invalid), readable back.
fn filled<T: Pod>(device: &wgpu::Device, data: &[T], bytes: usize) -> wgpu::Buffer {
    let mut contents = bytemuck::cast_slice::<T, u8>(data).to_vec();
    contents.resize(contents.len().max(bytes).max(MIN_BYTES), 0);
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: &contents,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
    })
}

fn uniform<T: Pod>(device: &wgpu::Device, value: &T) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM,
    })
}

/// Every buffer of [`ProjectBuffers`], owned.
struct Owned {
    frame: wgpu::Buffer,
    reduce: wgpu::Buffer,
    pose: wgpu::Buffer,
    gauss: wgpu::Buffer,
    sh: wgpu::Buffer,
    bases: wgpu::Buffer,
    splats: wgpu::Buffer,
    depth_keys: wgpu::Buffer,
    tile_rects: wgpu::Buffer,
    splat_of: wgpu::Buffer,
    splat_grads: wgpu::Buffer,
    d_gauss: wgpu::Buffer,
    d_sh: wgpu::Buffer,
    d_bases: wgpu::Buffer,
    partials: wgpu::Buffer,
    sums: wgpu::Buffer,
    d_pose: wgpu::Buffer,
    prior: wgpu::Buffer,
    prior_m: wgpu::Buffer,
    prior_trust: wgpu::Buffer,
}

/// Initial contents of [`Owned`]'s input buffers (empty: zeros).
#[derive(Default)]
struct Contents<'a> {
    frame: FrameParams,
    pose: PoseParams,
    gauss: &'a [[f32; 4]],
    sh: &'a [f32],
    bases: &'a [f32],
    splat_of: &'a [u32],
    splat_grads: &'a [RasterGrad],
    d_gauss: &'a [[f32; 4]],
    sums: &'a [f32],
    prior: MeshPriorParams,
    prior_m: &'a [f32],
    prior_trust: &'a [f32],
}

impl Owned {
    /// Buffers sized for `frame`, initialised from `c`.
    fn new(device: &wgpu::Device, c: &Contents<'_>) -> Self {
        let (frame, pose) = (&c.frame, &c.pose);
        let n = frame.num_gaussians as usize;
        let k_n = frame.num_bases as usize;
        let width = frame.partial_width();
        Self {
            frame: uniform(device, frame),
            reduce: uniform(device, &frame.reduce_params()),
            pose: uniform(device, pose),
            gauss: filled(device, c.gauss, 48 * n),
            sh: filled(device, c.sh, 4 * SH_FLOATS * n),
            bases: filled(device, c.bases, 4 * DEFORM_CHANNELS * k_n * n),
            splats: filled::<u8>(device, &[], size_of::<GpuSplat>() * n),
            depth_keys: filled::<u8>(device, &[], 4 * n),
            tile_rects: filled::<u8>(device, &[], 8 * n),
            splat_of: filled(device, c.splat_of, 4 * n),
            splat_grads: filled(device, c.splat_grads, 0),
            d_gauss: filled(device, c.d_gauss, 48 * n),
            d_sh: filled::<u8>(device, &[], 4 * SH_FLOATS * n),
            d_bases: filled::<u8>(device, &[], 4 * DEFORM_CHANNELS * k_n * n),
            partials: filled::<u8>(device, &[], 4 * width * frame.partial_rows()),
            sums: filled(device, c.sums, 4 * width),
            d_pose: filled::<u8>(device, &[], 4 * POSE_WORDS),
            prior: uniform(device, &c.prior),
            prior_m: filled(device, c.prior_m, 0),
            prior_trust: filled(device, c.prior_trust, 0),
        }
    }

    fn bind(&self, device: &wgpu::Device, kernels: &ProjectKernels) -> ProjectBindGroups {
        kernels.bind(
            device,
            &ProjectBuffers {
                frame: &self.frame,
                reduce: &self.reduce,
                pose: &self.pose,
                gauss: &self.gauss,
                sh: &self.sh,
                bases: &self.bases,
                splats: &self.splats,
                depth_keys: &self.depth_keys,
                tile_rects: &self.tile_rects,
                splat_of: &self.splat_of,
                splat_grads: &self.splat_grads,
                d_gauss: &self.d_gauss,
                d_sh: &self.d_sh,
                d_bases: &self.d_bases,
                partials: &self.partials,
                sums: &self.sums,
                d_pose: &self.d_pose,
                prior: &self.prior,
                prior_m: &self.prior_m,
                prior_trust: &self.prior_trust,
            },
        )
    }
}

/// Runs `encode` on fresh buffers inside a validation error scope and reads
/// back `read` (buffer, bytes) pairs chosen from the buffers.
fn run(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &ProjectKernels,
    contents: &Contents<'_>,
    encode: impl FnOnce(&mut wgpu::CommandEncoder, &ProjectBindGroups),
    read: impl FnOnce(&Owned) -> Vec<(&wgpu::Buffer, usize)>,
) -> Result<Vec<Vec<u8>>, GpuError> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let owned = Owned::new(device, contents);
    let groups = owned.bind(device, kernels);
    let mut encoder = device.create_command_encoder(&Default::default());
    encode(&mut encoder, &groups);
    let out = submit_and_read(device, queue, encoder, &read(&owned));
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(GpuError::Wgpu(e.to_string()));
    }
    out
}

/// Runs the forward projection of `inputs` and reads back its outputs.
pub fn project_forward(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &ProjectKernels,
    inputs: &ProjectInputs<'_>,
) -> Result<ProjectOutput, GpuError> {
    check_inputs(inputs)?;
    let p = inputs.params;
    let n = p.len();
    let out = run(
        device,
        queue,
        kernels,
        &Contents {
            frame: inputs.frame,
            pose: inputs.pose,
            gauss: &p.gauss,
            sh: &p.sh,
            bases: &p.bases,
            ..Default::default()
        },
        |encoder, groups| kernels.encode_forward(encoder, groups, &inputs.frame),
        |o| {
            vec![
                (&o.splats, n * size_of::<GpuSplat>()),
                (&o.depth_keys, 4 * n),
                (&o.tile_rects, 8 * n),
                (&o.splat_of, 4 * n),
            ]
        },
    )?;
    Ok(ProjectOutput {
        splats: cast(&out[0]),
        depth_keys: cast(&out[1]),
        rects: cast(&out[2]),
        splat_of: cast(&out[3]),
    })
}

/// Runs the projection backward of `inputs` from the per-splat gradients
/// `splat_grads`, given the forward's `splat_of` (one per Gaussian: splat
/// index + 1, or 0), and reads back every gradient.
pub fn project_backward(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &ProjectKernels,
    inputs: &ProjectInputs<'_>,
    splat_of: &[u32],
    splat_grads: &[RasterGrad],
) -> Result<GpuGradients, GpuError> {
    check_inputs(inputs)?;
    let p = inputs.params;
    let n = p.len();
    let k_n = p.num_bases;
    check_len("splat_of", splat_of.len(), n)?;
    if let Some(&s) = splat_of.iter().find(|&&s| s as usize > splat_grads.len()) {
        return Err(GpuError::SplatIndex(s - 1));
    }
    let frame = &inputs.frame;
    let width = frame.partial_width();
    let out = run(
        device,
        queue,
        kernels,
        &Contents {
            frame: *frame,
            pose: inputs.pose,
            gauss: &p.gauss,
            sh: &p.sh,
            bases: &p.bases,
            splat_of,
            splat_grads,
            ..Default::default()
        },
        |encoder, groups| kernels.encode_backward(encoder, groups, frame),
        |o| {
            vec![
                (&o.d_gauss, 48 * n),
                (&o.d_sh, 4 * SH_FLOATS * n),
                (&o.d_bases, 4 * DEFORM_CHANNELS * k_n * n),
                (&o.sums, 4 * width),
                (&o.d_pose, 4 * POSE_WORDS),
            ]
        },
    )?;
    let sums: Vec<f32> = cast(&out[3]);
    let pose: Vec<f32> = cast(&out[4]);
    Ok(GpuGradients {
        params: GpuParams {
            sh_degree: p.sh_degree,
            num_bases: k_n,
            gauss: cast(&out[0]),
            sh: cast(&out[1]),
            bases: cast(&out[2]),
        },
        coeffs: sums[VIEW_WORDS..].to_vec(),
        view: std::array::from_fn(|k| sums[k]),
        pose: std::array::from_fn(|k| pose[k]),
    })
}

/// Runs the deformation backward alone: from `d_gauss` (`dL/d` the deformed
/// values, three vec4 per Gaussian) and `bases` (`11 K n`, `frame`'s
/// counts) to `dL/d` the bases and `dL/dw` (through the two-stage
/// reduction).
pub fn deform_backward(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &ProjectKernels,
    frame: &FrameParams,
    bases: &[f32],
    d_gauss: &[[f32; 4]],
) -> Result<(Vec<f32>, Vec<f32>), GpuError> {
    deform_backward_prior(
        device,
        queue,
        kernels,
        frame,
        bases,
        d_gauss,
        &MeshPriorParams::default(),
        &[],
        &[],
    )
}

/// [`deform_backward`] with the mesh prior: `prior` (its scale and
/// condition), `prior_m` (`3 D n`, Gaussian-major) and `prior_trust` (`n`).
#[allow(clippy::too_many_arguments)]
pub fn deform_backward_prior(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &ProjectKernels,
    frame: &FrameParams,
    bases: &[f32],
    d_gauss: &[[f32; 4]],
    prior: &MeshPriorParams,
    prior_m: &[f32],
    prior_trust: &[f32],
) -> Result<(Vec<f32>, Vec<f32>), GpuError> {
    let n = frame.num_gaussians as usize;
    let k_n = frame.num_bases as usize;
    check_len("d_gauss (vec4)", d_gauss.len(), 3 * n)?;
    check_len("bases", bases.len(), DEFORM_CHANNELS * k_n * n)?;
    if prior.scale != 0.0 {
        check_len("mesh prior M", prior_m.len(), 3 * prior.dim as usize * n)?;
        check_len("mesh prior trust", prior_trust.len(), n)?;
    }
    let width = frame.partial_width();
    let out = run(
        device,
        queue,
        kernels,
        &Contents {
            frame: *frame,
            bases,
            d_gauss,
            prior: *prior,
            prior_m,
            prior_trust,
            ..Default::default()
        },
        |encoder, groups| kernels.encode_deform(encoder, groups, frame),
        |o| {
            vec![
                (&o.d_bases, 4 * DEFORM_CHANNELS * k_n * n),
                (&o.sums, 4 * width),
            ]
        },
    )?;
    let sums: Vec<f32> = cast(&out[1]);
    Ok((cast(&out[0]), sums[VIEW_WORDS..].to_vec()))
}

/// Runs the pose backward alone on `dL/d` the refined view (`view_grad`:
/// rotation column-major, then translation).
pub fn pose_backward(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &ProjectKernels,
    pose: &PoseParams,
    view_grad: &[f32; VIEW_WORDS],
) -> Result<[f32; POSE_WORDS], GpuError> {
    let out = run(
        device,
        queue,
        kernels,
        &Contents {
            pose: *pose,
            sums: view_grad,
            ..Default::default()
        },
        |encoder, groups| kernels.encode_pose(encoder, groups),
        |o| vec![(&o.d_pose, 4 * POSE_WORDS)],
    )?;
    let d: Vec<f32> = cast(&out[0]);
    Ok(std::array::from_fn(|k| d[k]))
}

/// Runs [`InvertIds`] on host data: `ids[k]` is the Gaussian of splat slot
/// `k` (`ids.len()` slots, the first `visible` in use); returns, for each
/// of `num_gaussians` Gaussians, its slot + 1, or 0.
pub fn invert_ids(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernel: &InvertIds,
    visible: u32,
    ids: &[u32],
    num_gaussians: usize,
) -> Result<Vec<u32>, GpuError> {
    if visible as usize > ids.len() {
        return Err(GpuError::Length {
            what: "splat ids",
            got: ids.len(),
            expected: visible as usize,
        });
    }
    let capacity = u32::try_from(ids.len()).map_err(|_| GpuError::TooLarge {
        what: "splat slots",
        got: ids.len() as u64,
        max: u64::from(u32::MAX),
    })?;
    let words: Vec<u32> = ids
        .iter()
        .flat_map(|&g| {
            let mut w = [0u32; 10];
            w[9] = g;
            w
        })
        .collect();
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let counters = filled(device, &[visible], 0);
    let splats = filled(device, &words, 0);
    let splat_of = filled::<u8>(device, &[], 4 * num_gaussians);
    let group = kernel.bind(
        device,
        &IdBuffers {
            counters: &counters,
            splats: &splats,
            splat_of: &splat_of,
        },
    );
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.clear_buffer(&splat_of, 0, None);
    kernel.encode(&mut encoder, &group, capacity);
    let out = submit_and_read(device, queue, encoder, &[(&splat_of, 4 * num_gaussians)]);
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(GpuError::Wgpu(e.to_string()));
    }
    Ok(cast(&out?[0]))
}
