// The backward for CPU adapters (PixelLayout::Runs): rasterize_bwd's
// gradients and records bit for bit, with 16 threads per tile, thread l
// replaying row l (16 pixels as four `Row4`s of vectors) instead of one
// thread per pixel. rasterize_bwd sums a splat's 256 pixel shares as 16
// segments of 16 pixels (a segment is a tile row, in x order), then the 16
// segment sums in order; here each thread sums its row in registers in x
// order, and after each batch of BATCH splats one barrier lets the threads
// add the 16 row sums of each (splat, word) in order. Three barriers per
// batch of 16 threads, where rasterize_bwd has two per splat for 256 (a CPU
// driver switches context at every barrier of every 8-wide slice).

@group(0) @binding(0) var<uniform> raster: Raster;
@group(0) @binding(1) var<storage, read> ranges: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> isect_vals: array<u32>;
@group(0) @binding(3) var<storage, read> splats: array<Splat>;
@group(0) @binding(4) var<storage, read> tile_rects: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> isect_offsets: array<u32>;
@group(0) @binding(6) var<storage, read> state: array<PixelState>;
@group(0) @binding(7) var<storage, read> grad_image: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> records: array<f32>;

const BATCH: u32 = 16u;

// 640 + 64 + 9216 + 8 bytes.
var<workgroup> batch: array<Splat, BATCH>;
var<workgroup> batch_slot: array<u32, BATCH>;
// Row sums: (splat j, row r, word w) at (j * TILE + r) * GRAD_WORDS + w.
var<workgroup> row_sums: array<f32, 2304>; // BATCH * TILE * GRAD_WORDS
var<workgroup> max_count: atomic<u32>;
var<workgroup> list_len: u32;

// Record index of splat g's intersection with tile (tx, ty).
fn record_slot(g: u32, tx: u32, ty: u32) -> u32 {
    let r = tile_rects[g];
    let x0 = r.x & 0xffffu;
    let y0 = r.x >> 16u;
    let x1 = r.y & 0xffffu;
    return isect_offsets[g] + (ty - y0) * (x1 - x0) + (tx - x0);
}

// Four pixels of a row: x, the forward's state and dL/d the pixel, and the
// replay's transmittance and the colour behind (splats after the current).
struct Row4 {
    px: vec4<f32>,
    count: vec4<u32>,
    t_final: vec4<f32>,
    gr: vec4<f32>,
    gg: vec4<f32>,
    gb: vec4<f32>,
    ga: vec4<f32>,
    t: vec4<f32>,
    br: vec4<f32>,
    bg: vec4<f32>,
    bb: vec4<f32>,
}

fn row4(x: u32, y: u32) -> Row4 {
    var count = vec4<u32>(0u);
    var t_final = vec4<f32>(1.0);
    var g = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var i = 0u; i < 4u; i++) {
        if (x + i < raster.image_size.x && y < raster.image_size.y) {
            let p = y * raster.image_size.x + x + i;
            count[i] = state[p].count;
            t_final[i] = state[p].t;
            g[i] = grad_image[p];
        }
    }
    let px = vec4<f32>(f32(x), f32(x + 1u), f32(x + 2u), f32(x + 3u));
    return Row4(
        px, count, t_final,
        vec4<f32>(g[0].x, g[1].x, g[2].x, g[3].x),
        vec4<f32>(g[0].y, g[1].y, g[2].y, g[3].y),
        vec4<f32>(g[0].z, g[1].z, g[2].z, g[3].z),
        vec4<f32>(g[0].w, g[1].w, g[2].w, g[3].w),
        t_final, vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0),
    );
}

// The four pixels' shares of one splat's gradient words, in record order.
struct Shares4 {
    x: vec4<f32>,
    y: vec4<f32>,
    ca: vec4<f32>,
    cb: vec4<f32>,
    cc: vec4<f32>,
    o: vec4<f32>,
    r: vec4<f32>,
    g: vec4<f32>,
    b: vec4<f32>,
}

struct Step4 {
    q: Row4,
    s: Shares4,
}

// rasterize_bwd's loop body for four pixels at once, entry `k` of the
// tile's list: the same expressions in the same order, its branches as
// masks (a share is 0 where rasterize_bwd leaves it 0).
fn replay(q: Row4, s: Splat, py: f32, k: u32) -> Step4 {
    let dx = vec4<f32>(s.xy.x) - q.px;
    let dy = s.xy.y - py;
    let power = -0.5 * (s.conic_ab.x * dx * dx + s.conic_c * dy * dy) - s.conic_ab.y * dx * dy;
    let gauss = exp(power);
    let raw = s.opacity * gauss;
    let alpha = min(vec4<f32>(0.99), raw);
    let hit = (vec4<u32>(k) < q.count) & (power <= vec4<f32>(0.0)) & (raw >= vec4<f32>(1.0 / 255.0));
    let keep = 1.0 - alpha;
    let t = select(q.t, q.t / keep, hit);
    let w = alpha * t;
    let zero = vec4<f32>(0.0);
    let d_r = select(zero, q.gr * w, hit);
    let d_g = select(zero, q.gg * w, hit);
    let d_b = select(zero, q.gb * w, hit);
    let d_alpha = q.gr * (s.r * t - q.br / keep) + q.gg * (s.g * t - q.bg / keep) + q.gb * (s.b * t - q.bb / keep)
        + q.ga * q.t_final / keep;
    let full = hit & (raw <= vec4<f32>(0.99));
    let d_power = d_alpha * alpha;
    var out = Step4(q, Shares4(
        select(zero, -(s.conic_ab.x * dx + s.conic_ab.y * dy) * d_power, full),
        select(zero, -(s.conic_c * dy + s.conic_ab.y * dx) * d_power, full),
        select(zero, -0.5 * dx * dx * d_power, full),
        select(zero, -dx * dy * d_power, full),
        select(zero, -0.5 * dy * dy * d_power, full),
        select(zero, d_alpha * gauss, full),
        d_r, d_g, d_b,
    ));
    out.q.t = t;
    out.q.br = select(q.br, q.br + s.r * w, hit);
    out.q.bg = select(q.bg, q.bg + s.g * w, hit);
    out.q.bb = select(q.bb, q.bb + s.b * w, hit);
    return out;
}

// The row's sum of one word in x order from 0, as rasterize_bwd's segment.
fn row_sum(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) -> f32 {
    var acc = 0.0;
    acc = acc + a.x + a.y + a.z + a.w;
    acc = acc + b.x + b.y + b.z + b.w;
    acc = acc + c.x + c.y + c.z + c.w;
    return acc + d.x + d.y + d.z + d.w;
}

@compute @workgroup_size(16)
fn rasterize_bwd_runs(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let x = wid.x * TILE;
    let y = wid.y * TILE + li;
    let py = f32(y);
    let start = ranges[wid.y * raster.tiles.x + wid.x].x;
    var q0 = row4(x, y);
    var q1 = row4(x + 4u, y);
    var q2 = row4(x + 8u, y);
    var q3 = row4(x + 12u, y);

    // The tile's walk ends at the last splat any pixel blended.
    if (li == 0u) {
        atomicStore(&max_count, 0u);
    }
    workgroupBarrier();
    let most = max(max(q0.count, q1.count), max(q2.count, q3.count));
    atomicMax(&max_count, max(max(most.x, most.y), max(most.z, most.w)));
    workgroupBarrier();
    if (li == 0u) {
        list_len = atomicLoad(&max_count);
    }
    let n = workgroupUniformLoad(&list_len);

    var remaining = n;
    while (remaining > 0u) {
        let batch_len = min(BATCH, remaining);
        let base = remaining - batch_len;
        remaining = base;
        workgroupBarrier();
        if (li < batch_len) {
            let g = isect_vals[start + base + li];
            batch[li] = splats[g];
            batch_slot[li] = record_slot(g, wid.x, wid.y);
        }
        workgroupBarrier();
        for (var jj = batch_len; jj > 0u; jj--) {
            let j = jj - 1u;
            let s = batch[j];
            let k = base + j;
            let r0 = replay(q0, s, py, k);
            let r1 = replay(q1, s, py, k);
            let r2 = replay(q2, s, py, k);
            let r3 = replay(q3, s, py, k);
            q0 = r0.q;
            q1 = r1.q;
            q2 = r2.q;
            q3 = r3.q;
            let o = (j * TILE + li) * GRAD_WORDS;
            row_sums[o] = row_sum(r0.s.x, r1.s.x, r2.s.x, r3.s.x);
            row_sums[o + 1u] = row_sum(r0.s.y, r1.s.y, r2.s.y, r3.s.y);
            row_sums[o + 2u] = row_sum(r0.s.ca, r1.s.ca, r2.s.ca, r3.s.ca);
            row_sums[o + 3u] = row_sum(r0.s.cb, r1.s.cb, r2.s.cb, r3.s.cb);
            row_sums[o + 4u] = row_sum(r0.s.cc, r1.s.cc, r2.s.cc, r3.s.cc);
            row_sums[o + 5u] = row_sum(r0.s.o, r1.s.o, r2.s.o, r3.s.o);
            row_sums[o + 6u] = row_sum(r0.s.r, r1.s.r, r2.s.r, r3.s.r);
            row_sums[o + 7u] = row_sum(r0.s.g, r1.s.g, r2.s.g, r3.s.g);
            row_sums[o + 8u] = row_sum(r0.s.b, r1.s.b, r2.s.b, r3.s.b);
        }
        workgroupBarrier();
        // Each (splat, word) of the batch: its 16 row sums in row order.
        for (var item = li; item < batch_len * GRAD_WORDS; item += TILE) {
            let j = item / GRAD_WORDS;
            let w = item % GRAD_WORDS;
            var acc = 0.0;
            for (var r = 0u; r < TILE; r++) {
                acc += row_sums[(j * TILE + r) * GRAD_WORDS + w];
            }
            records[batch_slot[j] * GRAD_WORDS + w] = acc;
        }
    }
}
