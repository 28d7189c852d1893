// ssim_cols for CPU adapters (loss_runs.wgsl): one thread per run of 16
// positions of a column, the vertical window sums sliding down 26 rows of
// the horizontal pass; the SSIM map and its derivatives as ssim_cols.
// The map summed over the channels goes per pixel to `ssim_map` (0 is
// never written: ssim_tree_runs reads valid positions only), for
// ssim_tree_runs to sum per 256 pixels as ssim_cols does.

@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> dmaps: array<f32>;
@group(0) @binding(3) var<storage, read_write> ssim_map: array<f32>;

// Word w of the horizontal sums at position x of row y; 0 past the last row.
fn row_word(x: u32, y: u32, w: u32) -> f32 {
    if (y < lp.size.y) {
        return rows[(y * lp.valid.x + x) * ROW_WORDS + w];
    }
    return 0.0;
}

// The vertical window sums of word w at rows y0 .. y0 + 15 of column x.
fn col_sums(x: u32, y0: u32, w: u32) -> Run {
    var win = run_zero();
    for (var i = 0u; i < RUN; i++) {
        win = run_push_back(win, row_word(x, y0 + i, w));
    }
    var acc = run_zero();
    for (var v = 0u; v < 11u; v++) {
        acc = run_madd(acc, tap(v), win);
        if (v < 10u) {
            win = run_push_back(win, row_word(x, y0 + RUN + v, w));
        }
    }
    return acc;
}

@compute @workgroup_size(256)
fn ssim_cols_runs(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let e = thread_index(gid, groups);
    let ow = lp.valid.x;
    let runs = (lp.valid.y + RUN - 1u) / RUN;
    if (e >= runs * ow) {
        return;
    }
    let x = e % ow;
    let y0 = (e / ow) * RUN;
    var m = run_zero();
    for (var c = 0u; c < 3u; c++) {
        var s0 = run_zero();
        var s1 = run_zero();
        var s2 = run_zero();
        var s3 = run_zero();
        var s4 = run_zero();
        for (var k = 0u; k < 5u; k++) {
            let r = col_sums(x, y0, c * 5u + k);
            s0 = run_pick(s0, r, k == 0u);
            s1 = run_pick(s1, r, k == 1u);
            s2 = run_pick(s2, r, k == 2u);
            s3 = run_pick(s3, r, k == 3u);
            s4 = run_pick(s4, r, k == 4u);
        }
        for (var i = 0u; i < RUN; i++) {
            let y = y0 + i;
            if (y < lp.valid.y) {
                let r = ssim_at(run_at(s0, i), run_at(s1, i), run_at(s2, i), run_at(s3, i), run_at(s4, i));
                m = run_add_at(m, i, r.m);
                let o = (y * ow + x) * D_WORDS + c * 3u;
                dmaps[o] = r.d.x;
                dmaps[o + 1u] = r.d.y;
                dmaps[o + 2u] = r.d.z;
            }
        }
    }
    for (var i = 0u; i < RUN; i++) {
        let y = y0 + i;
        if (y < lp.valid.y) {
            ssim_map[y * lp.size.x + x] = run_at(m, i);
        }
    }
}
