//! Blocking host-side transfers for the native test and tool helpers:
//! uploads, storage buffers, submit and read back.

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use super::GpuError;

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
pub(crate) const MIN_BYTES: usize = 64;

pub(crate) fn upload<T: Pod>(
    device: &wgpu::Device,
    data: &[T],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    // Zero-sized bindings are invalid: keep at least 64 bytes (more than any element).
    let mut bytes = bytemuck::cast_slice::<T, u8>(data).to_vec();
    bytes.resize(bytes.len().max(MIN_BYTES), 0);
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: &bytes,
        usage,
    })
}

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
/// buffer, waits, and returns the bytes of each.
pub(crate) fn submit_and_read(
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
    let mut out = Vec::with_capacity(sources.len());
    for (buf, &(_, bytes)) in staging.iter().zip(sources) {
        let slice = buf.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        rx.recv()
            .map_err(|e| GpuError::Readback(e.to_string()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let data = slice
            .get_mapped_range()
            .map_err(|e| GpuError::Readback(e.to_string()))?[..bytes]
            .to_vec();
        buf.unmap();
        out.push(data);
    }
    Ok(out)
}

pub(crate) fn cast<T: Pod>(bytes: &[u8]) -> Vec<T> {
    bytemuck::pod_collect_to_vec(bytes)
}
