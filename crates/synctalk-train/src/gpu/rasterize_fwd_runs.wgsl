// The training forward for CPU adapters (PixelLayout::Runs): rasterize_fwd's
// blending pixel for pixel and operation for operation, with 8 threads per
// 16x16 tile, each blending two columns (32 pixels), as the renderer's
// rasterize_columns.wgsl does for the same reason: a CPU driver reads
// `batch[j]` one SIMD lane at a time, so a thread that blends 32 pixels per
// read pays it once per 32 pixels. Each thread holds its columns as `Quad`s
// (rows 4q .. 4q + 3) of vectors, never an array indexed at run time; the
// same bindings and outputs as rasterize_fwd.

@group(0) @binding(0) var<uniform> raster: Raster;
@group(0) @binding(1) var<storage, read> ranges: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> isect_vals: array<u32>;
@group(0) @binding(3) var<storage, read> splats: array<Splat>;
@group(0) @binding(4) var<storage, read_write> image: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> state: array<PixelState>;

const BATCH: u32 = 256u;
const THREADS: u32 = 8u;

var<workgroup> batch: array<Splat, BATCH>;
var<workgroup> done_count: atomic<u32>;
var<workgroup> all_done: u32;

// Four pixels of one column: their rows, transmittance, premultiplied
// colour, entries walked up to the last blended one, and whether each has
// stopped (opaque, or outside the image).
struct Quad {
    py: vec4<f32>,
    t: vec4<f32>,
    r: vec4<f32>,
    g: vec4<f32>,
    b: vec4<f32>,
    count: vec4<u32>,
    done: vec4<bool>,
}

fn quad(px: u32, y: u32) -> Quad {
    let rows = vec4<u32>(y, y + 1u, y + 2u, y + 3u);
    let inside = vec4<bool>(px < raster.image_size.x) & (rows < vec4<u32>(raster.image_size.y));
    return Quad(vec4<f32>(rows), vec4<f32>(1.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<u32>(0u), !inside);
}

// rasterize_fwd's loop body for four pixels at once, entry `k` of the
// tile's list: the same expressions in the same order, with its `continue`
// and `break` as masks.
fn blend(q: Quad, s: Splat, px: f32, k: u32) -> Quad {
    let dx = s.xy.x - px;
    let dy = vec4<f32>(s.xy.y) - q.py;
    let power = -0.5 * (s.conic_ab.x * dx * dx + s.conic_c * dy * dy) - s.conic_ab.y * dx * dy;
    let raw = s.opacity * exp(power);
    // NaN fails both tests, as in rasterize_fwd.wgsl.
    let hit = !q.done & (power <= vec4<f32>(0.0)) & (raw >= vec4<f32>(1.0 / 255.0));
    let alpha = min(vec4<f32>(0.99), raw);
    let test_t = q.t * (1.0 - alpha);
    let stop = hit & (test_t < vec4<f32>(0.0001));
    let take = hit & !stop;
    let w = alpha * q.t;
    return Quad(
        q.py,
        select(q.t, test_t, take),
        select(q.r, q.r + s.r * w, take),
        select(q.g, q.g + s.g * w, take),
        select(q.b, q.b + s.b * w, take),
        select(q.count, vec4<u32>(k + 1u), take),
        q.done | stop,
    );
}

fn store(q: Quad, px: u32, y: u32) {
    for (var i = 0u; i < 4u; i++) {
        if (px < raster.image_size.x && y + i < raster.image_size.y) {
            let p = (y + i) * raster.image_size.x + px;
            image[p] = vec4<f32>(q.r[i], q.g[i], q.b[i], 1.0 - q.t[i]);
            state[p] = PixelState(q.t[i], q.count[i]);
        }
    }
}

fn finished(a0: Quad, a1: Quad, a2: Quad, a3: Quad, b0: Quad, b1: Quad, b2: Quad, b3: Quad) -> bool {
    return all(a0.done & a1.done & a2.done & a3.done & b0.done & b1.done & b2.done & b3.done);
}

@compute @workgroup_size(8, 1)
fn rasterize_fwd_runs(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let pa = wid.x * TILE + li;
    let pb = pa + THREADS;
    let y = wid.y * TILE;
    let range = ranges[wid.y * raster.tiles.x + wid.x];
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
    var done = finished(a0, a1, a2, a3, b0, b1, b2, b3);
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
            let n = min(BATCH, end - base);
            for (var j = 0u; j < n; j++) {
                let s = batch[j];
                let k = base - start + j;
                a0 = blend(a0, s, fa, k);
                a1 = blend(a1, s, fa, k);
                a2 = blend(a2, s, fa, k);
                a3 = blend(a3, s, fa, k);
                b0 = blend(b0, s, fb, k);
                b1 = blend(b1, s, fb, k);
                b2 = blend(b2, s, fb, k);
                b3 = blend(b3, s, fb, k);
                if (finished(a0, a1, a2, a3, b0, b1, b2, b3)) {
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
