//! Gaussians and their deformation basis, uploaded to the GPU.

use crate::RenderError;
use synctalk_gaussians::{Deformation, Gaussians, DEFORM_CHANNELS};
use wgpu::util::DeviceExt;

/// Most Gaussians one scene may hold (preprocess dispatch limits, with margin).
pub const MAX_GAUSSIANS: usize = 16_000_000;
/// Most deformation bases (the per-frame coefficients live in a uniform).
pub const MAX_BASES: usize = 32;

/// A Gaussian cloud on the GPU: 48 bytes of geometry per Gaussian plus its
/// SH coefficients packed as f16, and an optional deformation basis.
#[derive(Clone)]
pub struct GpuScene {
    pub(crate) gauss: wgpu::Buffer,
    pub(crate) sh: wgpu::Buffer,
    pub(crate) bases: wgpu::Buffer,
    pub(crate) len: u32,
    pub(crate) sh_degree: u32,
    pub(crate) sh_stride: u32,
    pub(crate) num_bases: u32,
}

pub(crate) fn check_size(
    device: &wgpu::Device,
    what: &'static str,
    need: u64,
) -> Result<(), RenderError> {
    let limits = device.limits();
    let limit = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if need > limit {
        return Err(RenderError::TooLarge { what, need, limit });
    }
    Ok(())
}

impl GpuScene {
    /// Validates and uploads `cloud` and, if given, its deformation basis.
    pub fn new(
        device: &wgpu::Device,
        cloud: &Gaussians,
        deformation: Option<&Deformation>,
    ) -> Result<Self, RenderError> {
        cloud.validate()?;
        let n = cloud.len();
        if n > MAX_GAUSSIANS {
            return Err(RenderError::Limit {
                what: "Gaussians",
                got: n as u64,
                limit: MAX_GAUSSIANS as u64,
            });
        }
        let mut gauss = Vec::with_capacity(n * 12);
        for i in 0..n {
            gauss.extend(cloud.positions[i]);
            gauss.push(cloud.opacity_logits[i]);
            gauss.extend(cloud.rotations[i]);
            gauss.extend(cloud.log_scales[i]);
            gauss.push(0.0);
        }
        let coeffs = cloud.sh_coeffs();
        let sh_stride = (coeffs * 3).div_ceil(2);
        let mut sh = vec![0u32; n * sh_stride];
        for i in 0..n {
            let halves: Vec<u16> = cloud.sh[i * coeffs..(i + 1) * coeffs]
                .iter()
                .flatten()
                .map(|&v| half::f16::from_f32(v).to_bits())
                .collect();
            for (w, pair) in halves.chunks(2).enumerate() {
                sh[i * sh_stride + w] =
                    u32::from(pair[0]) | (u32::from(*pair.get(1).unwrap_or(&0)) << 16);
            }
        }
        let (bases, num_bases) = match deformation {
            Some(d) if d.num_bases > 0 => {
                if d.num_bases > MAX_BASES {
                    return Err(RenderError::Limit {
                        what: "deformation bases",
                        got: d.num_bases as u64,
                        limit: MAX_BASES as u64,
                    });
                }
                if !d.fits(n) {
                    return Err(RenderError::Limit {
                        what: "deformation basis values (must be bases x 11 x Gaussians)",
                        got: d.bases.len() as u64,
                        limit: (d.num_bases * DEFORM_CHANNELS * n) as u64,
                    });
                }
                (d.bases.clone(), d.num_bases)
            }
            _ => (vec![0.0f32], 0),
        };
        check_size(device, "Gaussian geometry", (gauss.len() * 4) as u64)?;
        check_size(device, "SH coefficients", (sh.len() * 4) as u64)?;
        check_size(device, "deformation basis", (bases.len() * 4) as u64)?;
        let upload = |label, data: &[u8]| {
            let padded: Vec<u8> = if data.is_empty() {
                vec![0; 16]
            } else {
                data.to_vec()
            };
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: &padded,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        Ok(Self {
            gauss: upload("gaussians", bytemuck::cast_slice(&gauss)),
            sh: upload("sh", bytemuck::cast_slice(&sh)),
            bases: upload("deformation bases", bytemuck::cast_slice(&bases)),
            len: n as u32,
            sh_degree: cloud.sh_degree,
            sh_stride: sh_stride as u32,
            num_bases: num_bases as u32,
        })
    }

    /// Number of Gaussians.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the scene holds no Gaussians.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of deformation bases (coefficients a frame takes).
    pub fn num_bases(&self) -> usize {
        self.num_bases as usize
    }

    /// GPU memory held by the scene's buffers, in bytes.
    pub fn gpu_bytes(&self) -> u64 {
        self.gauss.size() + self.sh.size() + self.bases.size()
    }
}
