// ssim_spread for CPU adapters (loss_runs.wgsl): one thread per run of 16
// rows of a column, the window sliding up over the derivative maps.

@group(0) @binding(1) var<storage, read> dmaps: array<f32>;
@group(0) @binding(2) var<storage, read_write> spread: array<f32>;

// Word k of the derivative maps at position (x, y); 0 outside the
// positions.
fn dmap_word(x: u32, y: i32, k: u32) -> f32 {
    if (y >= 0 && y < i32(lp.valid.y)) {
        return dmaps[(u32(y) * lp.valid.x + x) * D_WORDS + k];
    }
    return 0.0;
}

// Word k of the spread at rows y0 .. y0 + 15 of column x: the positions
// y - v for v = 0 .. 10 that exist, in that order.
fn spread_sums(x: u32, y0: u32, k: u32) -> Run {
    var win = run_zero();
    for (var i = 0u; i < RUN; i++) {
        win = run_push_back(win, dmap_word(x, i32(y0 + i), k));
    }
    var acc = run_zero();
    for (var v = 0u; v < 11u; v++) {
        acc = run_madd_in(acc, tap(v), win, i32(y0) - i32(v), lp.valid.y);
        if (v < 10u) {
            win = run_push_front(win, dmap_word(x, i32(y0) - i32(v) - 1, k));
        }
    }
    return acc;
}

@compute @workgroup_size(256)
fn ssim_spread_runs(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let e = thread_index(gid, groups);
    let ow = lp.valid.x;
    let runs = (lp.size.y + RUN - 1u) / RUN;
    if (e >= runs * ow) {
        return;
    }
    let x = e % ow;
    let y0 = (e / ow) * RUN;
    for (var k = 0u; k < D_WORDS; k++) {
        let s = spread_sums(x, y0, k);
        for (var i = 0u; i < RUN; i++) {
            let y = y0 + i;
            if (y < lp.size.y) {
                spread[(y * ow + x) * D_WORDS + k] = run_at(s, i);
            }
        }
    }
}
