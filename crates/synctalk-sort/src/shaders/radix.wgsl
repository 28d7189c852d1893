// Stable least-significant-digit radix sort of (u32 key, u32 value) pairs,
// 8 bits per pass (a 32-bit key takes 4 passes). The number of keys is read
// from a GPU buffer (written by `setup`), so the sort needs no CPU read-back.
// Each pass:
//   count      per block of WG * ROUNDS keys: 256-bin histogram
//              -> hist[digit * blocks + block]
//   scan_rows  one workgroup per digit: exclusive scan of its row of hist
//              over the blocks, the row's total -> hist[256 * blocks + digit]
//   scatter    per block: the digits' global starts (an exclusive scan of
//              the 256 totals in workgroup memory) plus the block's row
//              offsets; then, in rounds of 256 keys (one per thread, in key order):
//            each key's rank among the round's keys of its digit comes from
//            a 256-bit mask per digit in workgroup memory (one bit per
//            thread, set with atomicOr, counted with countOneBits), so the
//            result is stable without subgroup operations.
// No workgroup ever waits for another one (portable: no forward-progress
// assumption), unlike single-pass "onesweep" sorts. Three dispatches a pass
// at any size: the rows are scanned in parallel, so no workgroup walks the
// whole histogram. Workgroup memory: 9 KiB (WebGPU guarantees 16 KiB).
//
// CPU adapters scan the rows with `scan_rows_serial` instead (one
// workgroup, one thread per digit walking its row, no workgroup-wide scan
// per row), which also adds each digit's global start into its row, and
// compile `scatter` with ROW_STARTS = true so that it reads its offsets
// directly: on a CPU every workgroup that synchronises costs a context
// switch per barrier per SIMD slice, and 256 row scans of a short row were
// most of a sort.

const WG: u32 = 256u;
const BINS: u32 = 256u;
const MASK_WORDS: u32 = WG / 32u;
// Values each thread of scan_rows sums serially: a row of up to 4096
// blocks takes one workgroup-wide scan.
const ROW_PER_THREAD: u32 = 16u;
// Keys per thread per block: a block holds WG * ROUNDS keys.
override ROUNDS: u32 = 8u;
// Whether the rows of `hist` already hold global offsets (`scan_rows_serial`
// ran): `scatter` then skips its scan of the digit totals.
override ROW_STARTS: bool = false;

struct SortInfo {
    num_keys: u32,
    // Indirect dispatch arguments for count/scatter: (blocks, 1, 1).
    blocks: u32,
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
@group(0) @binding(2) var<uniform> setup_params: SetupParams;

@compute @workgroup_size(1)
fn setup() {
    let n = min(count_src[0], setup_params.capacity);
    let block = WG * ROUNDS;
    let blocks = (n + block - 1u) / block;
    setup_sort_info.num_keys = n;
    setup_sort_info.blocks = blocks;
    setup_sort_info.one_y = 1u;
    setup_sort_info.one_z = 1u;
}

// --- passes -------------------------------------------------------------------
// Thread `lid` of block `b` handles keys b * WG * ROUNDS + r * WG + lid for
// r = 0..ROUNDS: every load is coalesced, and round r covers 256 consecutive
// keys.

@group(0) @binding(0) var<storage, read> keys_in: array<u32>;
@group(0) @binding(1) var<storage, read> vals_in: array<u32>;
@group(0) @binding(2) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(3) var<storage, read_write> vals_out: array<u32>;
@group(0) @binding(4) var<storage, read_write> hist: array<u32>;
@group(0) @binding(5) var<storage, read> info: SortInfo;
@group(0) @binding(6) var<uniform> params: PassParams;

var<workgroup> local_hist: array<atomic<u32>, BINS>;
// Scatter: [digit * MASK_WORDS + word], bit `lid & 31` of word `lid / 32` set
// when thread lid's key of the current round has that digit.
var<workgroup> masks: array<atomic<u32>, 2048>;
// Scatter: where the next key of each digit goes.
var<workgroup> offsets: array<u32, BINS>;

@compute @workgroup_size(256)
fn count(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    atomicStore(&local_hist[lid], 0u);
    workgroupBarrier();
    let n = info.num_keys;
    let start = wid.x * WG * ROUNDS + lid;
    // Runs of one digit cost one atomic: where every key shares a digit (the
    // exponent byte of depth keys) the bins see one atomic per thread, not
    // one per key.
    var run_digit = 0u;
    var run = 0u;
    for (var r = 0u; r < ROUNDS; r++) {
        let i = start + r * WG;
        if (i < n) {
            let d = (keys_in[i] >> params.shift) & (BINS - 1u);
            if (d != run_digit && run > 0u) {
                atomicAdd(&local_hist[run_digit], run);
                run = 0u;
            }
            run_digit = d;
            run += 1u;
        }
    }
    if (run > 0u) {
        atomicAdd(&local_hist[run_digit], run);
    }
    workgroupBarrier();
    hist[lid * info.blocks + wid.x] = atomicLoad(&local_hist[lid]);
}

var<workgroup> row_scan: array<u32, WG>;

// Inclusive Hillis-Steele scan of one value per thread; returns
// (exclusive, total).
fn scan_threads(lid: u32, v: u32) -> vec2<u32> {
    row_scan[lid] = v;
    workgroupBarrier();
    for (var o = 1u; o < WG; o = o << 1u) {
        var t = 0u;
        if (lid >= o) {
            t = row_scan[lid - o];
        }
        workgroupBarrier();
        row_scan[lid] += t;
        workgroupBarrier();
    }
    let inclusive = row_scan[lid];
    let total = row_scan[WG - 1u];
    workgroupBarrier();
    return vec2<u32>(inclusive - v, total);
}

@compute @workgroup_size(256)
fn scan_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let blocks = info.blocks;
    let row = wid.x * blocks;
    var carry = 0u;
    for (var chunk = 0u; chunk < blocks; chunk += WG * ROW_PER_THREAD) {
        let base = chunk + lid * ROW_PER_THREAD;
        var v: array<u32, ROW_PER_THREAD>;
        var s = 0u;
        for (var j = 0u; j < ROW_PER_THREAD; j++) {
            var x = 0u;
            if (base + j < blocks) {
                x = hist[row + base + j];
            }
            v[j] = s;
            s += x;
        }
        let r = scan_threads(lid, s);
        for (var j = 0u; j < ROW_PER_THREAD; j++) {
            if (base + j < blocks) {
                hist[row + base + j] = carry + r.x + v[j];
            }
        }
        carry += r.y;
    }
    if (lid == 0u) {
        hist[BINS * blocks + wid.x] = carry;
    }
}

// One workgroup: thread `lid` sums the row of digit `lid`, the totals are
// scanned across threads, then the thread rewrites its row as the digit's
// global start plus the exclusive prefix over the blocks. The row totals
// go to hist[256 * blocks + digit], as scan_rows leaves them.
@compute @workgroup_size(256)
fn scan_rows_serial(@builtin(local_invocation_index) lid: u32) {
    let blocks = info.blocks;
    let row = lid * blocks;
    var total = 0u;
    for (var b = 0u; b < blocks; b++) {
        total += hist[row + b];
    }
    var carry = scan_threads(lid, total).x;
    for (var b = 0u; b < blocks; b++) {
        let x = hist[row + b];
        hist[row + b] = carry;
        carry += x;
    }
    hist[BINS * blocks + lid] = total;
}

@compute @workgroup_size(256)
fn scatter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = info.num_keys;
    let blocks = info.blocks;
    // Where digit `lid` starts in the output, plus the keys of that digit
    // in the blocks before this one.
    if (ROW_STARTS) {
        offsets[lid] = hist[lid * blocks + wid.x];
    } else {
        let starts = scan_threads(lid, hist[BINS * blocks + lid]);
        offsets[lid] = starts.x + hist[lid * blocks + wid.x];
    }
    for (var w = 0u; w < MASK_WORDS; w++) {
        atomicStore(&masks[lid * MASK_WORDS + w], 0u);
    }
    workgroupBarrier();
    let word = lid >> 5u;
    let bit = 1u << (lid & 31u);
    let start = wid.x * WG * ROUNDS;
    for (var r = 0u; r < ROUNDS; r++) {
        // Uniform: the rest of the block is past the end.
        if (start + r * WG >= n) {
            break;
        }
        let i = start + r * WG + lid;
        let valid = i < n;
        var d = 0u;
        var k = 0u;
        var v = 0u;
        if (valid) {
            k = keys_in[i];
            v = vals_in[i];
            d = (k >> params.shift) & (BINS - 1u);
            atomicOr(&masks[d * MASK_WORDS + word], bit);
        }
        workgroupBarrier();
        // Rank among this round's keys of digit d: the set bits below ours.
        var below = 0u;
        var last = false;
        if (valid) {
            let m = d * MASK_WORDS;
            let own = atomicLoad(&masks[m + word]);
            below = countOneBits(own & (bit - 1u));
            for (var w = 0u; w < word; w++) {
                below += countOneBits(atomicLoad(&masks[m + w]));
            }
            last = (own & ~(bit | (bit - 1u))) == 0u;
            for (var w = word + 1u; w < MASK_WORDS; w++) {
                last = last && atomicLoad(&masks[m + w]) == 0u;
            }
            let dst = offsets[d] + below;
            keys_out[dst] = k;
            vals_out[dst] = v;
        }
        workgroupBarrier();
        // The digit's last key of the round advances its offset and clears
        // its mask for the next round.
        if (last) {
            offsets[d] += below + 1u;
            for (var w = 0u; w < MASK_WORDS; w++) {
                atomicStore(&masks[d * MASK_WORDS + w], 0u);
            }
        }
        workgroupBarrier();
    }
}
