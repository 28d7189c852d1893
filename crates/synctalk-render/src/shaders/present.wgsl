// Shows the view's output (RGBA8, straight alpha, sRGB-encoded bytes) on a
// render target such as a canvas: a full-screen triangle. The target may be
// smaller than the output (a canvas sized to its CSS box times the device
// pixel ratio): each target pixel averages the output texels it covers (a
// box filter, in premultiplied alpha); at equal sizes that is one texel per
// pixel. Opaque targets get the colour composited over black; premultiplied
// targets (a transparent canvas, the page showing through) get it with its
// alpha.

struct Target {
    size: vec2<u32>,
    premultiplied: u32,
    _pad: u32,
}

@group(0) @binding(0) var src: texture_2d<f32>;
@group(0) @binding(1) var<uniform> dst: Target;

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    return vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
}

@fragment
fn fs_main(@builtin(position) p: vec4<f32>) -> @location(0) vec4<f32> {
    let src_size = vec2<i32>(textureDimensions(src));
    let scale = vec2<f32>(src_size) / vec2<f32>(max(dst.size, vec2<u32>(1u)));
    let px = floor(p.xy);
    let lo = clamp(vec2<i32>(floor(px * scale)), vec2<i32>(0), src_size - 1);
    let hi = clamp(max(vec2<i32>(ceil((px + 1.0) * scale)), lo + 1), lo + 1, src_size);
    var sum = vec4<f32>(0.0);
    for (var y = lo.y; y < hi.y; y++) {
        for (var x = lo.x; x < hi.x; x++) {
            let c = textureLoad(src, vec2<i32>(x, y), 0);
            sum += vec4<f32>(c.rgb * c.a, c.a);
        }
    }
    let c = sum / f32((hi.x - lo.x) * (hi.y - lo.y));
    if (dst.premultiplied != 0u) {
        return c;
    }
    return vec4<f32>(c.rgb, 1.0);
}
