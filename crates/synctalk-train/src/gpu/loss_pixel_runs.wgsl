// loss_pixel for CPU adapters: one workgroup of 8 threads per 256 pixels
// (loss_pixel's workgroup), thread l taking pixels l, l + 8, ..., l + 248.
// Its 32 pixels' terms are summed in registers by the same tree that
// loss_pixel runs over 256 threads in workgroup memory (strides 128 down to
// 8 pair pixels of one thread), then the 8 threads' sums by its last three
// strides: the same sums in the same order, with one barrier instead of
// nine barriers of 256 threads.

@group(0) @binding(1) var<storage, read> head: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> under: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> target_px: array<u32>;
@group(0) @binding(4) var<storage, read_write> pred: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;

// The 8 threads' sums, 5 terms each.
var<workgroup> part: array<f32, 40>;

// The five terms of four pixels, one vec4 each.
struct Terms4 {
    l1: vec4<f32>,
    in_a: vec4<f32>,
    in_n: vec4<f32>,
    out_a: vec4<f32>,
    out_n: vec4<f32>,
}

fn terms_of(p: u32) -> PixelTerms {
    if (p < lp.size.x * lp.size.y) {
        let h = head[p];
        let r = pixel_terms(h, under[p], target_px[p]);
        pred[p] = r.c;
        return r;
    }
    return PixelTerms(vec4<f32>(0.0), 0.0, vec2<f32>(0.0), vec2<f32>(0.0));
}

// Pixels p, p + 8, p + 16, p + 24.
fn terms4(p: u32) -> Terms4 {
    let a = terms_of(p);
    let b = terms_of(p + 8u);
    let c = terms_of(p + 16u);
    let d = terms_of(p + 24u);
    return Terms4(
        vec4<f32>(a.l1, b.l1, c.l1, d.l1),
        vec4<f32>(a.inside.x, b.inside.x, c.inside.x, d.inside.x),
        vec4<f32>(a.inside.y, b.inside.y, c.inside.y, d.inside.y),
        vec4<f32>(a.outside.x, b.outside.x, c.outside.x, d.outside.x),
        vec4<f32>(a.outside.y, b.outside.y, c.outside.y, d.outside.y),
    );
}

fn add4(x: Terms4, y: Terms4) -> Terms4 {
    return Terms4(x.l1 + y.l1, x.in_a + y.in_a, x.in_n + y.in_n, x.out_a + y.out_a, x.out_n + y.out_n);
}

// Strides 16 and 8 of a thread's tree (its pixels 4 apart in a vec4, then
// adjacent ones).
fn fold4(v: vec4<f32>) -> f32 {
    let z = v.xy + v.zw;
    return z.x + z.y;
}

@compute @workgroup_size(8)
fn loss_pixel_runs(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = row_index(wid, groups);
    let p = row * 256u + li;
    // Vector i holds the thread's pixels 4i .. 4i + 3 (lid p + 32 i + 8 j).
    // Strides 128, 64 and 32 of loss_pixel's tree: vectors i and i + 4,
    // then i and i + 2, then 0 and 1.
    let w0 = add4(terms4(p), terms4(p + 128u));
    let w1 = add4(terms4(p + 32u), terms4(p + 160u));
    let w2 = add4(terms4(p + 64u), terms4(p + 192u));
    let w3 = add4(terms4(p + 96u), terms4(p + 224u));
    let t = add4(add4(w0, w2), add4(w1, w3));
    part[li * 5u] = fold4(t.l1);
    part[li * 5u + 1u] = fold4(t.in_a);
    part[li * 5u + 2u] = fold4(t.in_n);
    part[li * 5u + 3u] = fold4(t.out_a);
    part[li * 5u + 4u] = fold4(t.out_n);
    workgroupBarrier();
    // Strides 4, 2, 1 over the threads, one term per thread.
    if (li < 5u) {
        let b0 = part[li] + part[20u + li];
        let b1 = part[5u + li] + part[25u + li];
        let b2 = part[10u + li] + part[30u + li];
        let b3 = part[15u + li] + part[35u + li];
        partials[row * COLUMNS + li] = (b0 + b2) + (b1 + b3);
    }
}
