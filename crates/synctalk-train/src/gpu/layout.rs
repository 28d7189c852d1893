//! Which shape of the per-pixel kernels (image loss, raster forward and
//! backward) a device runs: the same results, shaped for its hardware.

/// How the per-pixel kernels map pixels to threads. Both give the same
/// numbers (every output is the same f32 expression, summed in the same
/// order: tested bit for bit on lavapipe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelLayout {
    /// One thread per pixel, partial sums in workgroup memory: for GPUs.
    PerPixel,
    /// Each thread a run of pixels held in vector registers (16 along a
    /// window, or a tile's rows), few barriers: for CPU adapters
    /// (lavapipe, SwiftShader), whose SIMD lanes load each word from a
    /// computed address one lane at a time and switch context at every
    /// barrier of every 8-wide slice.
    Runs,
}

impl PixelLayout {
    /// The layout for an adapter: [`PixelLayout::Runs`] on a CPU adapter,
    /// [`PixelLayout::PerPixel`] elsewhere.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> Self {
        if info.device_type == wgpu::DeviceType::Cpu {
            Self::Runs
        } else {
            Self::PerPixel
        }
    }

    /// [`Self::for_adapter`] of `device`'s adapter.
    pub fn for_device(device: &wgpu::Device) -> Self {
        Self::for_adapter(&device.adapter_info())
    }
}
