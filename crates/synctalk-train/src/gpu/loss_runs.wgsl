// Shared by the loss kernels for CPU adapters (`*_runs.wgsl`, see loss.rs):
// each thread computes a run of 16 consecutive outputs of a window sum, held
// as four vec4s, sliding its window one element per tap, so that each input
// word is loaded once per run instead of once per output. A CPU driver
// loads a word from a computed address one SIMD lane at a time (Mesa
// 22.3's llvmpipe: a loop with a bounds check per lane and component), which
// made those loads most of the per-pixel kernels' time; the vec4s are SIMD
// registers, and sliding them only renames registers. Every output is the
// same f32 expression, summed in the same order, as in the per-pixel kernel.

const RUN: u32 = 16u;

// Elements i .. i + 15 of a run: a holds 0..3, b 4..7, c 8..11, d 12..15.
struct Run {
    a: vec4<f32>,
    b: vec4<f32>,
    c: vec4<f32>,
    d: vec4<f32>,
}

fn run_zero() -> Run {
    return Run(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
}

// Element i (< 16) of r.
fn run_at(r: Run, i: u32) -> f32 {
    var v = r.d;
    if (i < 4u) {
        v = r.a;
    } else if (i < 8u) {
        v = r.b;
    } else if (i < 12u) {
        v = r.c;
    }
    return v[i & 3u];
}

// r with element i (< 16) replaced by r[i] + x; the others as they were.
fn run_add_at(r: Run, i: u32, x: f32) -> Run {
    let lane = vec4<u32>(0u, 1u, 2u, 3u);
    return Run(
        select(r.a, r.a + x, lane == vec4<u32>(i)),
        select(r.b, r.b + x, lane + 4u == vec4<u32>(i)),
        select(r.c, r.c + x, lane + 8u == vec4<u32>(i)),
        select(r.d, r.d + x, lane + 12u == vec4<u32>(i)),
    );
}

// `x` where `take`, else `r`: gathers runs computed in a loop at one call
// site (a kernel inlines each call of a window-sum function; a dozen call
// sites made lavapipe take a quarter of a second to compile one kernel).
fn run_pick(r: Run, x: Run, take: bool) -> Run {
    return Run(select(r.a, x.a, take), select(r.b, x.b, take), select(r.c, x.c, take), select(r.d, x.d, take));
}

// The window one element on: r[1..16] then x.
fn run_push_back(r: Run, x: f32) -> Run {
    return Run(
        vec4<f32>(r.a.yzw, r.b.x),
        vec4<f32>(r.b.yzw, r.c.x),
        vec4<f32>(r.c.yzw, r.d.x),
        vec4<f32>(r.d.yzw, x),
    );
}

// The window one element back: x then r[0..15].
fn run_push_front(r: Run, x: f32) -> Run {
    return Run(
        vec4<f32>(x, r.a.xyz),
        vec4<f32>(r.a.w, r.b.xyz),
        vec4<f32>(r.b.w, r.c.xyz),
        vec4<f32>(r.c.w, r.d.xyz),
    );
}

// acc + g * x per element (the per-pixel kernels' `s += g * x`).
fn run_madd(acc: Run, g: f32, x: Run) -> Run {
    return Run(acc.a + g * x.a, acc.b + g * x.b, acc.c + g * x.c, acc.d + g * x.d);
}

// acc + g * x * y per element (`s += g * x * y`).
fn run_madd2(acc: Run, g: f32, x: Run, y: Run) -> Run {
    return Run(acc.a + g * x.a * y.a, acc.b + g * x.b * y.b, acc.c + g * x.c * y.c, acc.d + g * x.d * y.d);
}

// run_madd where element i of x is element `first + i` of an axis of
// `len` elements (inside it), acc unchanged elsewhere: the per-pixel
// kernels' window bounds.
fn run_madd_in(acc: Run, g: f32, x: Run, first: i32, len: u32) -> Run {
    let at = vec4<i32>(first) + vec4<i32>(0, 1, 2, 3);
    let n = vec4<i32>(i32(len));
    let zero = vec4<i32>(0);
    return Run(
        select(acc.a, acc.a + g * x.a, (at >= zero) & (at < n)),
        select(acc.b, acc.b + g * x.b, (at + 4 >= zero) & (at + 4 < n)),
        select(acc.c, acc.c + g * x.c, (at + 8 >= zero) & (at + 8 < n)),
        select(acc.d, acc.d + g * x.d, (at + 12 >= zero) & (at + 12 < n)),
    );
}
