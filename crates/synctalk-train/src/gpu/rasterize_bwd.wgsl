// Backward of the training forward raster (rasterize_fwd.wgsl): one 16x16
// workgroup per tile, one thread per pixel. Each pixel replays its blended
// splats back to front from the forward's final transmittance (T before a
// splat is T after it divided by 1 - alpha; alpha <= 0.99) and the colour
// accumulated behind it, and computes its share of every splat's gradient.
// The 256 shares of one splat are summed in workgroup memory in a fixed
// order (16 segments of 16 pixels, then the 16 segment sums) and written as
// one record per intersection (tile, splat): no atomics, every record has
// exactly one writer, and the sum is deterministic. accumulate.wgsl then
// sums the records of each splat.
//
// Record slots follow the renderer's emit.wgsl layout: splat g owns the
// records offsets[g] .. offsets[g] + area(rect[g]), one per tile of its
// rectangle in row-major order. The records must be cleared beforehand:
// list entries behind every pixel's last blended splat get no record.

@group(0) @binding(0) var<uniform> raster: Raster;
@group(0) @binding(1) var<storage, read> ranges: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> isect_vals: array<u32>;
@group(0) @binding(3) var<storage, read> splats: array<Splat>;
// Per splat: tile rectangle [x0, x1) x [y0, y1) packed as
// (x0 | y0 << 16, x1 | y1 << 16), and its first intersection in emit order.
@group(0) @binding(4) var<storage, read> tile_rects: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> isect_offsets: array<u32>;
@group(0) @binding(6) var<storage, read> state: array<PixelState>;
// dL/d premultiplied (r, g, b, alpha) per pixel, row-major.
@group(0) @binding(7) var<storage, read> grad_image: array<vec4<f32>>;
// GRAD_WORDS floats per intersection.
@group(0) @binding(8) var<storage, read_write> records: array<f32>;

const PIXELS: u32 = 256u;
const BATCH: u32 = 64u;
const SEGMENT: u32 = 16u;

// 2560 + 256 + 9216 + 576 + 8 bytes: under WebGPU's 16 KiB.
var<workgroup> batch: array<Splat, BATCH>;
var<workgroup> batch_slot: array<u32, BATCH>;
var<workgroup> shares: array<f32, 2304>; // GRAD_WORDS * PIXELS
var<workgroup> partial: array<f32, 144>; // GRAD_WORDS * SEGMENT
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

@compute @workgroup_size(16, 16)
fn rasterize_bwd(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let size = raster.image_size;
    let px = wid.x * TILE + lid.x;
    let py = wid.y * TILE + lid.y;
    let inside = px < size.x && py < size.y;
    let start = ranges[wid.y * raster.tiles.x + wid.x].x;
    let pix = vec2<f32>(f32(px), f32(py));

    var count = 0u;
    var t_final = 1.0;
    var grad = vec4<f32>(0.0);
    if (inside) {
        let p = py * size.x + px;
        count = state[p].count;
        t_final = state[p].t;
        grad = grad_image[p];
    }

    // The tile's walk ends at the last splat any pixel blended.
    if (li == 0u) {
        atomicStore(&max_count, 0u);
    }
    workgroupBarrier();
    atomicMax(&max_count, count);
    workgroupBarrier();
    if (li == 0u) {
        list_len = atomicLoad(&max_count);
    }
    let n = workgroupUniformLoad(&list_len);

    var t = t_final;
    var behind = vec3<f32>(0.0);
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
            var d_xy = vec2<f32>(0.0);
            var d_conic = vec3<f32>(0.0);
            var d_opacity = 0.0;
            var d_rgb = vec3<f32>(0.0);
            if (base + j < count) {
                let s = batch[j];
                let d = s.xy - pix;
                let power = -0.5 * (s.conic_ab.x * d.x * d.x + s.conic_c * d.y * d.y) - s.conic_ab.y * d.x * d.y;
                let gauss = exp(power);
                let raw = s.opacity * gauss;
                let alpha = min(0.99, raw);
                // Exactly the splats the forward blended (before its stop).
                if (power <= 0.0 && raw >= 1.0 / 255.0) {
                    let keep = 1.0 - alpha;
                    t = t / keep;
                    let w = alpha * t;
                    let rgb = vec3<f32>(s.r, s.g, s.b);
                    d_rgb = grad.rgb * w;
                    // A dot product written out: rasterize_bwd_runs.wgsl
                    // computes the same sum in the same order.
                    let e = rgb * t - behind / keep;
                    let d_alpha = grad.r * e.x + grad.g * e.y + grad.b * e.z + grad.a * t_final / keep;
                    behind += rgb * w;
                    // A clamped alpha passes nothing to opacity, mean, conic.
                    if (raw <= 0.99) {
                        d_opacity = d_alpha * gauss;
                        let d_power = d_alpha * alpha;
                        d_conic = vec3<f32>(-0.5 * d.x * d.x, -d.x * d.y, -0.5 * d.y * d.y) * d_power;
                        d_xy = -vec2<f32>(
                            s.conic_ab.x * d.x + s.conic_ab.y * d.y,
                            s.conic_c * d.y + s.conic_ab.y * d.x,
                        ) * d_power;
                    }
                }
            }
            shares[li] = d_xy.x;
            shares[PIXELS + li] = d_xy.y;
            shares[2u * PIXELS + li] = d_conic.x;
            shares[3u * PIXELS + li] = d_conic.y;
            shares[4u * PIXELS + li] = d_conic.z;
            shares[5u * PIXELS + li] = d_opacity;
            shares[6u * PIXELS + li] = d_rgb.x;
            shares[7u * PIXELS + li] = d_rgb.y;
            shares[8u * PIXELS + li] = d_rgb.z;
            workgroupBarrier();
            if (li < GRAD_WORDS * SEGMENT) {
                let first = (li / SEGMENT) * PIXELS + (li % SEGMENT) * SEGMENT;
                var acc = 0.0;
                for (var i = 0u; i < SEGMENT; i++) {
                    acc += shares[first + i];
                }
                partial[li] = acc;
            }
            workgroupBarrier();
            if (li < GRAD_WORDS) {
                var acc = 0.0;
                for (var i = 0u; i < SEGMENT; i++) {
                    acc += partial[li * SEGMENT + i];
                }
                records[batch_slot[j] * GRAD_WORDS + li] = acc;
            }
        }
    }
}
