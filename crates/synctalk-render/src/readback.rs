//! GPU-to-CPU copies: an RGBA8 texture into a buffer (rows padded to wgpu's
//! copy alignment) and back to packed rows, shared by the native read-back
//! and the browser's; and the blocking map of the native path (the browser
//! maps asynchronously).

use crate::RenderError;

/// Bytes per row of a texture copy of an RGBA8 image `width` pixels wide:
/// `4 width` rounded up to wgpu's `COPY_BYTES_PER_ROW_ALIGNMENT`.
pub fn padded_row(width: u32) -> u32 {
    (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT
}

/// Encodes a copy of the whole of `texture` (RGBA8) into `buffer`, whose
/// rows are [`padded_row`] bytes apart (it must hold `padded_row(width) ×
/// height` bytes).
pub fn encode_texture_copy(
    encoder: &mut wgpu::CommandEncoder,
    texture: &wgpu::Texture,
    buffer: &wgpu::Buffer,
) {
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded_row(texture.width())),
                rows_per_image: None,
            },
        },
        texture.size(),
    );
}

/// The packed RGBA rows (`4 width × height` bytes) of a copy made by
/// [`encode_texture_copy`] of a `width` × `height` texture.
pub fn unpad_rows(raw: &[u8], width: u32, height: u32) -> Vec<u8> {
    let (row, w) = (padded_row(width) as usize, (width * 4) as usize);
    let mut out = Vec::with_capacity(w * height as usize);
    for y in 0..height as usize {
        out.extend_from_slice(&raw[y * row..y * row + w]);
    }
    out
}

/// Maps `buffer` (MAP_READ) and returns its bytes, waiting for the GPU.
pub(crate) fn read_buffer(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
) -> Result<Vec<u8>, RenderError> {
    let slice = buffer.slice(..);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    rx.recv()
        .map_err(|e| RenderError::Readback(e.to_string()))?
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    let bytes = slice
        .get_mapped_range()
        .map_err(|e| RenderError::Readback(e.to_string()))?
        .to_vec();
    buffer.unmap();
    Ok(bytes)
}
