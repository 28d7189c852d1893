// ssim_rows for CPU adapters (loss_runs.wgsl): one thread per run of 16
// positions of a row, per channel sliding 16 pixels of the composite and
// the target along the row's 26.

@group(0) @binding(1) var<storage, read> pred: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> target_px: array<u32>;
@group(0) @binding(3) var<storage, read_write> rows: array<f32>;

// Channel c of the composite and of the target at pixel (x, y); 0 past the
// row's end (read only for positions past valid.x, never stored).
fn pred_at(x: u32, y: u32, c: u32) -> f32 {
    if (x < lp.size.x) {
        return pred[y * lp.size.x + x][c];
    }
    return 0.0;
}

fn target_at(x: u32, y: u32, c: u32) -> f32 {
    if (x < lp.size.x) {
        return target_rgb(target_px[y * lp.size.x + x])[c];
    }
    return 0.0;
}

@compute @workgroup_size(256)
fn ssim_rows_runs(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let e = thread_index(gid, groups);
    let ow = lp.valid.x;
    let runs = (ow + RUN - 1u) / RUN;
    if (e >= runs * lp.size.y) {
        return;
    }
    let y = e / runs;
    let x0 = (e % runs) * RUN;
    for (var c = 0u; c < 3u; c++) {
        var a = run_zero();
        var b = run_zero();
        for (var i = 0u; i < RUN; i++) {
            a = run_push_back(a, pred_at(x0 + i, y, c));
            b = run_push_back(b, target_at(x0 + i, y, c));
        }
        var sx = run_zero();
        var sy = run_zero();
        var sxx = run_zero();
        var syy = run_zero();
        var sxy = run_zero();
        for (var u = 0u; u < 11u; u++) {
            let g = tap(u);
            sx = run_madd(sx, g, a);
            sy = run_madd(sy, g, b);
            sxx = run_madd2(sxx, g, a, a);
            syy = run_madd2(syy, g, b, b);
            sxy = run_madd2(sxy, g, a, b);
            if (u < 10u) {
                a = run_push_back(a, pred_at(x0 + RUN + u, y, c));
                b = run_push_back(b, target_at(x0 + RUN + u, y, c));
            }
        }
        for (var i = 0u; i < RUN; i++) {
            if (x0 + i < ow) {
                let o = (y * ow + x0 + i) * ROW_WORDS + c * 5u;
                rows[o] = run_at(sx, i);
                rows[o + 1u] = run_at(sy, i);
                rows[o + 2u] = run_at(sxx, i);
                rows[o + 3u] = run_at(syy, i);
                rows[o + 4u] = run_at(sxy, i);
            }
        }
    }
}
