// loss_grad for CPU adapters (loss_runs.wgsl): one thread per run of 16
// pixels of a row, the window sliding left over the vertical spread; then
// each pixel's gradient as loss_grad (head_grad). The first thread writes
// the loss.

@group(0) @binding(1) var<storage, read> head: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> under: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> target_px: array<u32>;
@group(0) @binding(4) var<storage, read> spread: array<f32>;
@group(0) @binding(5) var<storage, read> sums: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_head: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;

// Word k of the vertical spread at position x of row y; 0 outside the
// positions.
fn spread_word(x: i32, y: u32, k: u32) -> f32 {
    if (x >= 0 && x < i32(lp.valid.x)) {
        return spread[(y * lp.valid.x + u32(x)) * D_WORDS + k];
    }
    return 0.0;
}

// Word k of the SSIM adjoint at pixels x0 .. x0 + 15 of row y: the
// positions x - u for u = 0 .. 10 that exist, in that order.
fn grad_sums(x0: u32, y: u32, k: u32) -> Run {
    var win = run_zero();
    for (var i = 0u; i < RUN; i++) {
        win = run_push_back(win, spread_word(i32(x0 + i), y, k));
    }
    var acc = run_zero();
    for (var u = 0u; u < 11u; u++) {
        acc = run_madd_in(acc, tap(u), win, i32(x0) - i32(u), lp.valid.x);
        if (u < 10u) {
            win = run_push_front(win, spread_word(i32(x0) - i32(u) - 1, y, k));
        }
    }
    return acc;
}

@compute @workgroup_size(256)
fn loss_grad_runs(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let e = thread_index(gid, groups);
    let n = lp.size.x * lp.size.y;
    if (e == 0u) {
        let t = loss_terms(array<f32, 6>(sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]), n);
        loss[0] = t.x;
        loss[1] = t.y;
        loss[2] = t.z;
        loss[3] = t.w;
    }
    let runs = (lp.size.x + RUN - 1u) / RUN;
    if (e >= runs * lp.size.y) {
        return;
    }
    let y = e / runs;
    let x0 = (e % runs) * RUN;
    let inside = sums[2];
    let outside = sums[4];
    var s0 = run_zero();
    var s1 = run_zero();
    var s2 = run_zero();
    var s3 = run_zero();
    var s4 = run_zero();
    var s5 = run_zero();
    var s6 = run_zero();
    var s7 = run_zero();
    var s8 = run_zero();
    for (var k = 0u; k < D_WORDS; k++) {
        let r = grad_sums(x0, y, k);
        s0 = run_pick(s0, r, k == 0u);
        s1 = run_pick(s1, r, k == 1u);
        s2 = run_pick(s2, r, k == 2u);
        s3 = run_pick(s3, r, k == 3u);
        s4 = run_pick(s4, r, k == 4u);
        s5 = run_pick(s5, r, k == 5u);
        s6 = run_pick(s6, r, k == 6u);
        s7 = run_pick(s7, r, k == 7u);
        s8 = run_pick(s8, r, k == 8u);
    }
    for (var i = 0u; i < RUN; i++) {
        let x = x0 + i;
        if (x < lp.size.x) {
            let p = y * lp.size.x + x;
            let s = array<f32, 9>(
                run_at(s0, i), run_at(s1, i), run_at(s2, i), run_at(s3, i), run_at(s4, i),
                run_at(s5, i), run_at(s6, i), run_at(s7, i), run_at(s8, i),
            );
            grad_head[p] = head_grad(head[p], under[p], target_px[p], s, n, inside, outside);
        }
    }
}
