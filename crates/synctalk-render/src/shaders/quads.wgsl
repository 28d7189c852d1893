// The alternative rasterizer: each visible Gaussian, in front-to-back depth
// order, is an instanced quad covering the pixels where its alpha can reach
// 1/255; the fragment shader evaluates the same alpha as the tile
// rasterizer, and the blend unit accumulates front to back with the "under"
// operator (dst += (1 - dst.a) * src). No binning, no tile sort; but no early
// stop at transmittance 1e-4 and f16 accumulation.

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> depth_vals: array<u32>;
@group(0) @binding(2) var<storage, read> splats: array<Splat>;

struct Varyings {
    @builtin(position) position: vec4<f32>,
    @location(0) @interpolate(flat) mean: vec2<f32>,
    @location(1) @interpolate(flat) conic: vec3<f32>,
    @location(2) @interpolate(flat) color_opacity: vec4<f32>,
}

@vertex
fn quad_vertex(@builtin(vertex_index) vi: u32, @builtin(instance_index) k: u32) -> Varyings {
    let s = splats[depth_vals[k]];
    // Extent: the original's 3-sigma radius, cut to where alpha >= 1/255.
    let a = s.conic_ab.x;
    let b = s.conic_ab.y;
    let c = s.conic_c;
    let det = a * c - b * b;
    let cov = vec3<f32>(c, -b, a) / det;
    let mid = 0.5 * (cov.x + cov.z);
    let radius = ceil(3.0 * sqrt(mid + sqrt(max(0.1, mid * mid - (cov.x * cov.z - cov.y * cov.y)))));
    let ext = min(vec2<f32>(radius), sqrt(2.0 * log(255.0 * s.opacity) * cov.xz) + vec2<f32>(0.01));
    let corner = vec2<f32>(f32(vi & 1u), f32(vi >> 1u)) * 2.0 - 1.0;
    // Pixel-index coordinates (centres at integers) to clip space.
    let p = s.xy + corner * ext + vec2<f32>(0.5);
    let size = vec2<f32>(frame.image_size);
    var out: Varyings;
    out.position = vec4<f32>(p.x / size.x * 2.0 - 1.0, 1.0 - p.y / size.y * 2.0, 0.0, 1.0);
    out.mean = s.xy;
    out.conic = vec3<f32>(a, b, c);
    out.color_opacity = vec4<f32>(s.r, s.g, s.b, s.opacity);
    return out;
}

@fragment
fn quad_fragment(v: Varyings) -> @location(0) vec4<f32> {
    let d = v.mean - (v.position.xy - vec2<f32>(0.5));
    let power = -0.5 * (v.conic.x * d.x * d.x + v.conic.z * d.y * d.y) - v.conic.y * d.x * d.y;
    if (power > 0.0) {
        discard;
    }
    let alpha = min(0.99, v.color_opacity.w * exp(power));
    if (alpha < 1.0 / 255.0) {
        discard;
    }
    return vec4<f32>(v.color_opacity.rgb * alpha, alpha);
}
