// Stable least-significant-digit radix sort of (u32 key, u32 value) pairs,
// 4 bits per pass. The number of keys is read from a GPU buffer (written by
// `setup`), so the sort needs no CPU read-back. Each pass:
//   count    per block of 1024 keys: 16-bin histogram -> hist[digit * blocks + block]
//   (scan.wgsl turns hist into exclusive global offsets)
//   scatter  per block: stable local rank of each key + its offset -> output
// No workgroup ever waits for another one (portable: no forward-progress
// assumption), unlike single-pass "onesweep" sorts.

const WG: u32 = 256u;
const PER_THREAD: u32 = 16u;
const BLOCK: u32 = 4096u;
const BINS: u32 = 16u;
const SCAN_BLOCK: u32 = 1024u;

struct SortInfo {
    num_keys: u32,
    // Indirect dispatch arguments for count/scatter: (blocks, 1, 1).
    blocks: u32,
    one_y: u32,
    one_z: u32,
}

struct ScanInfo {
    len: u32,
    groups: u32,
    one_y: u32,
    one_z: u32,
}

struct SetupParams {
    capacity: u32,
}

struct PassParams {
    shift: u32,
}

// --- setup ------------------------------------------------------------------

@group(0) @binding(0) var<storage, read> count_src: array<u32>;
@group(0) @binding(1) var<storage, read_write> setup_sort_info: SortInfo;
@group(0) @binding(2) var<storage, read_write> setup_scan_info: ScanInfo;
@group(0) @binding(3) var<uniform> setup_params: SetupParams;

@compute @workgroup_size(1)
fn setup() {
    let n = min(count_src[0], setup_params.capacity);
    let blocks = (n + BLOCK - 1u) / BLOCK;
    setup_sort_info.num_keys = n;
    setup_sort_info.blocks = blocks;
    setup_sort_info.one_y = 1u;
    setup_sort_info.one_z = 1u;
    let len = blocks * BINS;
    setup_scan_info.len = len;
    setup_scan_info.groups = (len + SCAN_BLOCK - 1u) / SCAN_BLOCK;
    setup_scan_info.one_y = 1u;
    setup_scan_info.one_z = 1u;
}

// --- passes -------------------------------------------------------------------
// Each thread owns 16 consecutive keys of its block, read as four vec4s
// (buffers are padded to whole blocks). Per-thread digit counts are kept
// as sixteen 16-bit counters packed in eight words.

@group(0) @binding(0) var<storage, read> keys_in: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> vals_in: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(3) var<storage, read_write> vals_out: array<u32>;
@group(0) @binding(4) var<storage, read_write> hist: array<u32>;
@group(0) @binding(5) var<storage, read> info: SortInfo;
@group(0) @binding(6) var<uniform> params: PassParams;

var<workgroup> local_hist: array<atomic<u32>, BINS>;
// [word * WG + thread]
var<workgroup> packed_scan: array<u32, 2048>;

@compute @workgroup_size(256)
fn count(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    if (lid < BINS) {
        atomicStore(&local_hist[lid], 0u);
    }
    workgroupBarrier();
    let n = info.num_keys;
    let start = wid.x * BLOCK + lid * PER_THREAD;
    var packed: array<u32, 8>;
    for (var w = 0u; w < 8u; w++) {
        packed[w] = 0u;
    }
    for (var q = 0u; q < 4u; q++) {
        let kv = keys_in[start / 4u + q];
        for (var c = 0u; c < 4u; c++) {
            if (start + q * 4u + c < n) {
                let digit = (kv[c] >> params.shift) & (BINS - 1u);
                packed[digit >> 1u] += 1u << ((digit & 1u) * 16u);
            }
        }
    }
    // One atomic per non-empty bin: keys sharing a digit (all of them, in
    // the high passes of a depth sort) cost one atomic per thread, not 16.
    for (var w = 0u; w < 8u; w++) {
        let p = packed[w];
        if ((p & 0xffffu) != 0u) {
            atomicAdd(&local_hist[2u * w], p & 0xffffu);
        }
        if ((p >> 16u) != 0u) {
            atomicAdd(&local_hist[2u * w + 1u], p >> 16u);
        }
    }
    workgroupBarrier();
    if (lid < BINS) {
        hist[lid * info.blocks + wid.x] = atomicLoad(&local_hist[lid]);
    }
}

@compute @workgroup_size(256)
fn scatter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = info.num_keys;
    let blocks = info.blocks;
    let start = wid.x * BLOCK + lid * PER_THREAD;
    var k: array<u32, 16>;
    var v: array<u32, 16>;
    var d: array<u32, 16>;
    var rank: array<u32, 16>;
    var packed: array<u32, 8>;
    for (var w = 0u; w < 8u; w++) {
        packed[w] = 0u;
    }
    for (var q = 0u; q < 4u; q++) {
        let kv = keys_in[start / 4u + q];
        let vv = vals_in[start / 4u + q];
        for (var c = 0u; c < 4u; c++) {
            let j = q * 4u + c;
            if (start + j < n) {
                k[j] = kv[c];
                v[j] = vv[c];
                let digit = (kv[c] >> params.shift) & (BINS - 1u);
                d[j] = digit;
                let w = digit >> 1u;
                let s = (digit & 1u) * 16u;
                rank[j] = (packed[w] >> s) & 0xffffu;
                packed[w] += 1u << s;
            } else {
                d[j] = BINS;
            }
        }
    }
    // Inclusive scan of the packed per-thread counts across the workgroup
    // (counts reach at most 4096, so 16-bit fields cannot overflow).
    for (var w = 0u; w < 8u; w++) {
        packed_scan[w * WG + lid] = packed[w];
    }
    workgroupBarrier();
    for (var o = 1u; o < WG; o = o << 1u) {
        var t: array<u32, 8>;
        for (var w = 0u; w < 8u; w++) {
            t[w] = 0u;
        }
        if (lid >= o) {
            for (var w = 0u; w < 8u; w++) {
                t[w] = packed_scan[w * WG + lid - o];
            }
        }
        workgroupBarrier();
        for (var w = 0u; w < 8u; w++) {
            packed_scan[w * WG + lid] += t[w];
        }
        workgroupBarrier();
    }
    for (var j = 0u; j < PER_THREAD; j++) {
        let digit = d[j];
        if (digit < BINS) {
            let w = digit >> 1u;
            let s = (digit & 1u) * 16u;
            let before = ((packed_scan[w * WG + lid] >> s) & 0xffffu) - ((packed[w] >> s) & 0xffffu);
            let dst = hist[digit * blocks + wid.x] + before + rank[j];
            keys_out[dst] = k[j];
            vals_out[dst] = v[j];
        }
    }
}
