// The controller's backward from dL/dw (reduce.wgsl's totals, at
// `dw_offset`), one workgroup of 64 threads, plus the L2 term's gradient:
// writes dL/dθ in theta's layout. Thread j owns column j of W3, row j of W2
// and b2 (dL/d z2_j), row j of W1 and b1 (dL/d z1_j), and b3_j. Every sum
// is a fixed-order loop; every word has one writer: deterministic. ReLU as
// torch: no gradient where the activation is 0.

@group(0) @binding(1) var<storage, read> cond: array<f32>;
@group(0) @binding(2) var<storage, read> theta: array<f32>;
@group(0) @binding(3) var<storage, read> acts: array<f32>;
@group(0) @binding(4) var<storage, read> sums: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

var<workgroup> g3: array<f32, 32>;
var<workgroup> dz2: array<f32, MAX_HIDDEN>;

@compute @workgroup_size(64)
fn controller_bwd(@builtin(local_invocation_index) j: u32) {
    let o = offsets();
    let d = cp.input;
    let h = cp.hidden;
    let k_n = cp.bases;
    if (j < k_n) {
        let g = sums[cp.dw_offset + j];
        g3[j] = g;
        grad[o.b3 + j] = g + l2(5u) * theta[o.b3 + j];
    }
    workgroupBarrier();
    if (j < h) {
        let a2 = acts[h + j];
        var s = 0.0;
        for (var k = 0u; k < k_n; k++) {
            let idx = o.w3 + k * h + j;
            let g = g3[k];
            grad[idx] = g * a2 + l2(4u) * theta[idx];
            s += theta[idx] * g;
        }
        dz2[j] = select(0.0, s, a2 > 0.0);
    }
    workgroupBarrier();
    if (j < h) {
        let g2 = dz2[j];
        for (var i = 0u; i < h; i++) {
            let idx = o.w2 + j * h + i;
            grad[idx] = g2 * acts[i] + l2(2u) * theta[idx];
        }
        grad[o.b2 + j] = g2 + l2(3u) * theta[o.b2 + j];
        var s = 0.0;
        for (var m = 0u; m < h; m++) {
            s += theta[o.w2 + m * h + j] * dz2[m];
        }
        let g1 = select(0.0, s, acts[j] > 0.0);
        for (var c = 0u; c < d; c++) {
            let idx = j * d + c;
            grad[idx] = g1 * cond[c] + l2(0u) * theta[idx];
        }
        grad[o.b1 + j] = g1 + l2(1u) * theta[o.b1 + j];
    }
}
