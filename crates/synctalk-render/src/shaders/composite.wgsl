// Portrait compositing: premultiplied head over torso over background
// (layers are straight-alpha textures), written as straight-alpha RGBA8.
// With a neck warp (synctalk_gaussians::neck), the torso layer is sampled
// where the warp says, bilinearly.

struct Composite {
    size: vec2<u32>,
    has_torso: u32,
    has_neck: u32,
    // Rows of the warp's inverse homography (xyz used).
    inverse0: vec4<f32>,
    inverse1: vec4<f32>,
    inverse2: vec4<f32>,
    // Jaw columns (left, right), horizontal fade, vertical depth (pixels).
    neck: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: Composite;
@group(0) @binding(1) var head: texture_2d<f32>;
@group(0) @binding(2) var background: texture_2d<f32>;
@group(0) @binding(3) var torso: texture_2d<f32>;
@group(0) @binding(4) var out_image: texture_storage_2d<rgba8unorm, write>;
// The torso's top edge per column (synctalk_gaussians::neck::top_edges).
@group(0) @binding(5) var<storage, read> torso_top: array<f32>;

fn premultiply(c: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(c.rgb * c.a, c.a);
}

// NeckWarp::weight.
fn neck_weight(s: vec2<f32>) -> f32 {
    let n = params.neck;
    let outside = max(max(n.x - s.x, s.x - n.y), 0.0);
    let across = 1.0 - smoothstep(0.0, n.z, outside);
    let col = min(u32(max(floor(s.x), 0.0)), params.size.x - 1u);
    let below = s.y - torso_top[col];
    var down = 1.0;
    if (below > 0.0) {
        down = 1.0 - smoothstep(0.0, n.w, below);
    }
    return across * down;
}

// NeckWarp::source.
fn neck_source(q: vec2<f32>) -> vec2<f32> {
    let h = vec3<f32>(q, 1.0);
    let moved = vec2<f32>(dot(params.inverse0.xyz, h), dot(params.inverse1.xyz, h))
        / dot(params.inverse2.xyz, h);
    let s = q + neck_weight(q) * (moved - q);
    return q + neck_weight(s) * (moved - q);
}

fn torso_texel(i: vec2<i32>) -> vec4<f32> {
    let hi = vec2<i32>(params.size) - 1;
    return premultiply(textureLoad(torso, clamp(i, vec2<i32>(0), hi), 0));
}

// The torso (premultiplied) at continuous point s, bilinear, clamped.
fn torso_at(s: vec2<f32>) -> vec4<f32> {
    let u = s - 0.5;
    let u0 = floor(u);
    let f = u - u0;
    let i = vec2<i32>(u0);
    let top = mix(torso_texel(i), torso_texel(i + vec2<i32>(1, 0)), f.x);
    let bottom = mix(torso_texel(i + vec2<i32>(0, 1)), torso_texel(i + vec2<i32>(1, 1)), f.x);
    return mix(top, bottom, f.y);
}

@compute @workgroup_size(16, 16)
fn composite(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.size.x || gid.y >= params.size.y) {
        return;
    }
    let p = vec2<i32>(gid.xy);
    var under = premultiply(textureLoad(background, p, 0));
    if (params.has_torso != 0u) {
        var tl: vec4<f32>;
        if (params.has_neck != 0u) {
            tl = torso_at(neck_source(vec2<f32>(gid.xy) + 0.5));
        } else {
            tl = premultiply(textureLoad(torso, p, 0));
        }
        under = tl + (1.0 - tl.a) * under;
    }
    let h = textureLoad(head, p, 0);
    let o = h + (1.0 - h.a) * under;
    var straight = vec4<f32>(0.0);
    if (o.a > 0.0) {
        straight = vec4<f32>(o.rgb / o.a, o.a);
    }
    textureStore(out_image, p, clamp(straight, vec4<f32>(0.0), vec4<f32>(1.0)));
}
