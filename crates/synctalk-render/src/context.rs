//! Opening a GPU device for rendering.

use crate::RenderError;

/// A device and queue, plus what was learned while opening them.
#[derive(Clone, Debug)]
pub struct GpuContext {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Adapter name and backend, for reports.
    pub adapter: String,
    /// Whether GPU timestamp queries are enabled.
    pub timestamps: bool,
    /// The adapter itself (surface capabilities, limits).
    pub adapter_handle: wgpu::Adapter,
}

/// Opens the default adapter of `instance` (one that can present to
/// `surface`, if given) with its full limits, enabling timestamp queries when
/// the adapter has them and `want_timestamps` is set.
pub async fn request_device(
    instance: &wgpu::Instance,
    surface: Option<&wgpu::Surface<'_>>,
    want_timestamps: bool,
) -> Result<GpuContext, RenderError> {
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            compatible_surface: surface,
            ..Default::default()
        })
        .await
        .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
    let info = adapter.get_info();
    let timestamps =
        want_timestamps && adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let required_features = if timestamps {
        wgpu::Features::TIMESTAMP_QUERY
    } else {
        wgpu::Features::empty()
    };
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("synctalk"),
            required_features,
            required_limits: adapter.limits(),
            ..Default::default()
        })
        .await
        .map_err(|e| RenderError::Device(e.to_string()))?;
    Ok(GpuContext {
        device,
        queue,
        adapter: format!("{} ({:?}, {:?})", info.name, info.device_type, info.backend),
        timestamps,
        adapter_handle: adapter,
    })
}

#[cfg(not(target_arch = "wasm32"))]
impl GpuContext {
    /// Opens a device natively with the backends wgpu was built with
    /// (`WGPU_BACKEND` and related environment variables are honoured).
    ///
    /// wgpu's validation of indirect dispatches is off unless
    /// `WGPU_VALIDATION_INDIRECT_CALL=1` asks for it: it records a checking
    /// dispatch before each of a frame's ~25 indirect ones, 0.18 ms a frame
    /// on an H100 (0.654 against 0.477 ms at 10k Gaussians, 512²), more
    /// than the rasterizer takes. Every indirect argument the renderer and
    /// the sort use is written by their own kernels from counts clamped to
    /// the buffers' capacities, far below the per-dimension workgroup limit
    /// (`synctalk-sort`'s `setup`, `setup_visible.wgsl`, `setup_isect.wgsl`).
    /// In the browser the WebGPU implementation validates them regardless.
    pub fn headless(want_timestamps: bool) -> Result<Self, RenderError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if std::env::var_os("WGPU_VALIDATION_INDIRECT_CALL").is_none() {
            desc.flags
                .remove(wgpu::InstanceFlags::VALIDATION_INDIRECT_CALL);
        }
        let instance = wgpu::Instance::new(desc);
        block_on(request_device(&instance, None, want_timestamps))
    }
}

/// Minimal executor for wgpu's native futures, which complete immediately.
#[cfg(not(target_arch = "wasm32"))]
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
