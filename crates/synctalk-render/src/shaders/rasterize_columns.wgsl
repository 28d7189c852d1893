// The tile rasterizer for CPU adapters (lavapipe, SwiftShader): the same
// blending as rasterize.wgsl, pixel for pixel and operation for operation,
// but 8 threads per 16x16 tile, each blending two columns (32 pixels),
// instead of one thread per pixel.
//
// Why: a CPU driver runs the invocations of a workgroup as SIMD lanes and
// cannot tell that `batch[j]` is the same address in every lane, so each
// read of a splat from workgroup memory becomes a loop over the lanes
// (Mesa 22.3's llvmpipe: 9 scalar loads per lane per splat, about 10x the
// blending arithmetic; a 512x512 portrait frame spent 2.1 s here). A thread
// that blends 32 pixels per splat read pays that cost once per 32 pixels:
// 195 ms with one column per thread (16 threads), 1.5x less again with two
// (8 threads, one 8-wide SIMD slice). A GPU keeps rasterize.wgsl: 32x fewer
// threads would idle it.
//
// Each thread holds its columns as `Quad`s (rows 4q..4q+3), so the
// per-pixel state is vectors, never an array indexed at run time. (Quads
// grouped in a struct passed by pointer make naga 30's SPIR-V writer panic,
// hence the eight variables.) Bindings and workgroup memory:
// rasterize_bindings.wgsl, as rasterize.wgsl's.

// Four pixels of one column: their rows, transmittance, premultiplied
// colour, and whether each has stopped (opaque, or outside the image).
struct Quad {
    py: vec4<f32>,
    t: vec4<f32>,
    r: vec4<f32>,
    g: vec4<f32>,
    b: vec4<f32>,
    done: vec4<bool>,
}

fn quad(px: u32, y: u32) -> Quad {
    let rows = vec4<u32>(y, y + 1u, y + 2u, y + 3u);
    let inside = vec4<bool>(px < frame.image_size.x) & (rows < vec4<u32>(frame.image_size.y));
    return Quad(vec4<f32>(rows), vec4<f32>(1.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), !inside);
}

// rasterize.wgsl's loop body for four pixels at once: the same expressions
// in the same order, with its `continue` and `break` as masks.
fn blend(q: ptr<function, Quad>, s: Splat, px: f32) {
    let dx = s.xy.x - px;
    let dy = vec4<f32>(s.xy.y) - (*q).py;
    let power = -0.5 * (s.conic_ab.x * dx * dx + s.conic_c * dy * dy) - s.conic_ab.y * dx * dy;
    let raw = s.opacity * exp(power);
    // NaN fails both tests, as in rasterize.wgsl.
    let hit = !(*q).done & (power <= vec4<f32>(0.0)) & (raw >= vec4<f32>(1.0 / 255.0));
    let alpha = min(vec4<f32>(0.99), raw);
    let test_t = (*q).t * (1.0 - alpha);
    let stop = hit & (test_t < vec4<f32>(0.0001));
    let take = hit & !stop;
    let w = alpha * (*q).t;
    (*q).r = select((*q).r, (*q).r + s.r * w, take);
    (*q).g = select((*q).g, (*q).g + s.g * w, take);
    (*q).b = select((*q).b, (*q).b + s.b * w, take);
    (*q).t = select((*q).t, test_t, take);
    (*q).done = (*q).done | stop;
}

fn store(q: Quad, px: u32, y: u32) {
    for (var i = 0u; i < 4u; i++) {
        if (px < frame.image_size.x && y + i < frame.image_size.y) {
            textureStore(head, vec2<u32>(px, y + i), vec4<f32>(q.r[i], q.g[i], q.b[i], 1.0 - q.t[i]));
        }
    }
}

const THREADS: u32 = 8u;

@compute @workgroup_size(8, 1)
fn rasterize(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let pa = wid.x * TILE + li;
    let pb = pa + THREADS;
    let y = wid.y * TILE;
    let range = ranges[wid.y * frame.tiles.x + wid.x];
    let start = range.x;
    let end = max(range.x, range.y);
    let fa = f32(pa);
    let fb = f32(pb);
    var a0 = quad(pa, y);
    var a1 = quad(pa, y + 4u);
    var a2 = quad(pa, y + 8u);
    var a3 = quad(pa, y + 12u);
    var b0 = quad(pb, y);
    var b1 = quad(pb, y + 4u);
    var b2 = quad(pb, y + 8u);
    var b3 = quad(pb, y + 12u);

    if (li == 0u) {
        atomicStore(&done_count, 0u);
    }
    workgroupBarrier();
    var done = all(a0.done & a1.done & a2.done & a3.done & b0.done & b1.done & b2.done & b3.done);
    if (done) {
        atomicAdd(&done_count, 1u);
    }
    for (var base = start; base < end; base += BATCH) {
        workgroupBarrier();
        if (li == 0u) {
            all_done = atomicLoad(&done_count);
        }
        if (workgroupUniformLoad(&all_done) == THREADS) {
            break;
        }
        for (var k = li; k < BATCH; k += THREADS) {
            if (base + k < end) {
                batch[k] = splats[isect_vals[base + k]];
            }
        }
        workgroupBarrier();
        if (!done) {
            let count = min(BATCH, end - base);
            for (var j = 0u; j < count; j++) {
                let s = batch[j];
                blend(&a0, s, fa);
                blend(&a1, s, fa);
                blend(&a2, s, fa);
                blend(&a3, s, fa);
                blend(&b0, s, fb);
                blend(&b1, s, fb);
                blend(&b2, s, fb);
                blend(&b3, s, fb);
                if (all(a0.done & a1.done & a2.done & a3.done & b0.done & b1.done & b2.done & b3.done)) {
                    done = true;
                    break;
                }
            }
            if (done) {
                atomicAdd(&done_count, 1u);
            }
        }
    }
    store(a0, pa, y);
    store(a1, pa, y + 4u);
    store(a2, pa, y + 8u);
    store(a3, pa, y + 12u);
    store(b0, pb, y);
    store(b1, pb, y + 4u);
    store(b2, pb, y + 8u);
    store(b3, pb, y + 12u);
}
