// One workgroup per 16x16 tile, one thread per pixel: front-to-back alpha
// blending of the tile's depth-sorted splats, loaded in batches of 256 into
// workgroup memory. Writes premultiplied (colour, 1 - transmittance) to the
// head layer (rgba32float). Bindings and workgroup memory:
// rasterize_bindings.wgsl.

@compute @workgroup_size(16, 16)
fn rasterize(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let size = frame.image_size;
    let px = wid.x * TILE + lid.x;
    let py = wid.y * TILE + lid.y;
    let inside = px < size.x && py < size.y;
    let range = ranges[wid.y * frame.tiles.x + wid.x];
    let start = range.x;
    let end = max(range.x, range.y);
    let pix = vec2<f32>(f32(px), f32(py));

    if (li == 0u) {
        atomicStore(&done_count, 0u);
    }
    workgroupBarrier();
    var done = !inside;
    if (done) {
        atomicAdd(&done_count, 1u);
    }
    var t = 1.0;
    var color = vec3<f32>(0.0);
    for (var base = start; base < end; base += BATCH) {
        workgroupBarrier();
        if (li == 0u) {
            all_done = atomicLoad(&done_count);
        }
        if (workgroupUniformLoad(&all_done) == BATCH) {
            break;
        }
        let k = base + li;
        if (k < end) {
            batch[li] = splats[isect_vals[k]];
        }
        workgroupBarrier();
        if (!done) {
            let count = min(BATCH, end - base);
            for (var j = 0u; j < count; j++) {
                let s = batch[j];
                let d = s.xy - pix;
                let power = -0.5 * (s.conic_ab.x * d.x * d.x + s.conic_c * d.y * d.y) - s.conic_ab.y * d.x * d.y;
                // NaN fails both tests (and is not blended): a GPU's min()
                // may return 0.99 for min(0.99, NaN), an opaque splat.
                if (!(power <= 0.0)) {
                    continue;
                }
                let raw = s.opacity * exp(power);
                if (!(raw >= 1.0 / 255.0)) {
                    continue;
                }
                let alpha = min(0.99, raw);
                let test_t = t * (1.0 - alpha);
                if (test_t < 0.0001) {
                    done = true;
                    break;
                }
                color += vec3<f32>(s.r, s.g, s.b) * (alpha * t);
                t = test_t;
            }
            if (done) {
                atomicAdd(&done_count, 1u);
            }
        }
    }
    if (inside) {
        textureStore(head, vec2<u32>(px, py), vec4<f32>(color, 1.0 - t));
    }
}
