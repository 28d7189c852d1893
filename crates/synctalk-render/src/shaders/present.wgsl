// Copies the view's output (RGBA8, straight alpha, sRGB-encoded bytes) to a
// render target such as a canvas: a full-screen triangle, one texel per pixel
// (the target has the view's size). The colour is composited over black, so
// a translucent background shows as on an opaque page.

@group(0) @binding(0) var src: texture_2d<f32>;

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    return vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
}

@fragment
fn fs_main(@builtin(position) p: vec4<f32>) -> @location(0) vec4<f32> {
    let c = textureLoad(src, vec2<i32>(p.xy), 0);
    return vec4<f32>(c.rgb * c.a, 1.0);
}
