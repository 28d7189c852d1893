// Portrait compositing: premultiplied head over torso over background
// (layers are straight-alpha textures), written as straight-alpha RGBA8.

struct Composite {
    size: vec2<u32>,
    has_torso: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Composite;
@group(0) @binding(1) var head: texture_2d<f32>;
@group(0) @binding(2) var background: texture_2d<f32>;
@group(0) @binding(3) var torso: texture_2d<f32>;
@group(0) @binding(4) var out_image: texture_storage_2d<rgba8unorm, write>;

fn premultiply(c: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(c.rgb * c.a, c.a);
}

@compute @workgroup_size(16, 16)
fn composite(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.size.x || gid.y >= params.size.y) {
        return;
    }
    let p = vec2<i32>(gid.xy);
    var under = premultiply(textureLoad(background, p, 0));
    if (params.has_torso != 0u) {
        let tl = premultiply(textureLoad(torso, p, 0));
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
