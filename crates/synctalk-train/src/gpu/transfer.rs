//! Host-side transfers: read-backs that do not block the thread
//! ([`read_back`], what the training loop uses on every platform), and for
//! the native test and tool helpers uploads, storage buffers and a blocking
//! submit-and-read.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytemuck::Pod;

use super::GpuError;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), GpuError> {
    if got == expected {
        Ok(())
    } else {
        Err(GpuError::Length {
            what,
            got,
            expected,
        })
    }
}

/// The smallest buffer made: zero-sized bindings are invalid.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const MIN_BYTES: usize = 64;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn upload<T: Pod>(
    device: &wgpu::Device,
    data: &[T],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    // Zero-sized bindings are invalid: keep at least 64 bytes (more than any element).
    let mut bytes = bytemuck::cast_slice::<T, u8>(data).to_vec();
    bytes.resize(bytes.len().max(MIN_BYTES), 0);
    use wgpu::util::DeviceExt;
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: &bytes,
        usage,
    })
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn storage(device: &wgpu::Device, bytes: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: bytes.max(MIN_BYTES) as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Submits `encoder` after copying each of `sources` into a staging
/// buffer, waits, and returns the bytes of each (native: blocks the thread).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn submit_and_read(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    encoder: wgpu::CommandEncoder,
    sources: &[(&wgpu::Buffer, usize)],
) -> Result<Vec<Vec<u8>>, GpuError> {
    pollster::block_on(read_back(device, queue, encoder, sources))
}

/// Submits `encoder` after copying each of `sources` (buffer, bytes) into a
/// staging buffer and resolves to the bytes of each once the GPU has
/// written them. Natively the device is polled to completion first, so the
/// future is ready at once; in a browser the page's event loop maps the
/// buffers while the caller awaits.
pub(crate) async fn read_back(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    mut encoder: wgpu::CommandEncoder,
    sources: &[(&wgpu::Buffer, usize)],
) -> Result<Vec<Vec<u8>>, GpuError> {
    let staging: Vec<wgpu::Buffer> = sources
        .iter()
        .map(|&(src, bytes)| {
            let size = (bytes.max(4) as u64).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
            let dst = device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            encoder.copy_buffer_to_buffer(src, 0, &dst, 0, size);
            dst
        })
        .collect();
    queue.submit([encoder.finish()]);
    let maps: Vec<Mapping> = staging
        .iter()
        .map(|buf| {
            let map = Mapping::default();
            let slot = map.0.clone();
            buf.slice(..).map_async(wgpu::MapMode::Read, move |r| {
                if let Ok(mut s) = slot.lock() {
                    s.0 = Some(r.map_err(|e| e.to_string()));
                    if let Some(w) = s.1.take() {
                        w.wake();
                    }
                }
            });
            map
        })
        .collect();
    #[cfg(not(target_arch = "wasm32"))]
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let mut out = Vec::with_capacity(sources.len());
    for ((buf, &(_, bytes)), map) in staging.iter().zip(sources).zip(maps) {
        map.await.map_err(GpuError::Readback)?;
        let slice = buf.slice(..);
        let data = slice
            .get_mapped_range()
            .map_err(|e| GpuError::Readback(e.to_string()))?[..bytes]
            .to_vec();
        buf.unmap();
        out.push(data);
    }
    Ok(out)
}

/// A buffer mapping in flight: resolves when wgpu calls back.
#[derive(Default)]
struct Mapping(MappingSlot);

type MappingSlot = Arc<Mutex<(Option<Result<(), String>>, Option<Waker>)>>;

impl Future for Mapping {
    type Output = Result<(), String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(mut s) = self.0.lock() else {
            return Poll::Ready(Err("a read-back's lock was poisoned".into()));
        };
        match s.0.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

pub(crate) fn cast<T: Pod>(bytes: &[u8]) -> Vec<T> {
    bytemuck::pod_collect_to_vec(bytes)
}
