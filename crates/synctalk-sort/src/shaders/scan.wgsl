// Exclusive prefix sum (in place) of a u32 array whose length lives in a GPU
// buffer. Small arrays: `scan_single`, one workgroup, one dispatch. Large
// arrays: three dispatches, none of which waits on another workgroup:
//   reduce       one workgroup per block of 1024 values -> partials[block]
//   scan_single  with SCAN_GROUPS = true and the partials bound as `data`
//   scan_add     one workgroup per block: local scan + partials[block]

const WG: u32 = 256u;
const PER_THREAD: u32 = 4u;
const BLOCK: u32 = 1024u;

struct ScanInfo {
    len: u32,
    groups: u32,
    one_y: u32,
    one_z: u32,
}

@group(0) @binding(0) var<storage, read_write> data: array<u32>;
@group(0) @binding(1) var<storage, read_write> partials: array<u32>;
@group(0) @binding(2) var<storage, read> info: ScanInfo;

var<workgroup> sh: array<u32, WG>;

// Inclusive Hillis-Steele scan across the workgroup; returns (exclusive, total).
fn scan_workgroup(lid: u32, v: u32) -> vec2<u32> {
    sh[lid] = v;
    workgroupBarrier();
    for (var o = 1u; o < WG; o = o << 1u) {
        var t = 0u;
        if (lid >= o) {
            t = sh[lid - o];
        }
        workgroupBarrier();
        sh[lid] = sh[lid] + t;
        workgroupBarrier();
    }
    let inclusive = sh[lid];
    let total = sh[WG - 1u];
    workgroupBarrier();
    return vec2<u32>(inclusive - v, total);
}

@compute @workgroup_size(256)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = wid.x * BLOCK;
    var s = 0u;
    for (var j = 0u; j < PER_THREAD; j++) {
        let i = base + j * WG + lid;
        if (i < info.len) {
            s += data[i];
        }
    }
    let r = scan_workgroup(lid, s);
    if (lid == 0u) {
        partials[wid.x] = r.y;
    }
}

// When true, `scan_single` scans `info.groups` values (the per-block
// partial sums of the three-dispatch variant) instead of `info.len`.
override SCAN_GROUPS: bool = false;

// Whole scan in one workgroup: chunks of 4096 values (16 consecutive ones
// per thread, summed serially) with a running carry, so that a long array
// costs few workgroup-wide scans (each is 16 barriers).
const SINGLE_PER_THREAD: u32 = 16u;
const SINGLE_CHUNK: u32 = WG * SINGLE_PER_THREAD;

@compute @workgroup_size(256)
fn scan_single(@builtin(local_invocation_index) lid: u32) {
    let n = select(info.len, info.groups, SCAN_GROUPS);
    var carry = 0u;
    for (var chunk = 0u; chunk < n; chunk += SINGLE_CHUNK) {
        let base = chunk + lid * SINGLE_PER_THREAD;
        var v: array<u32, SINGLE_PER_THREAD>;
        var s = 0u;
        for (var j = 0u; j < SINGLE_PER_THREAD; j++) {
            let i = base + j;
            var x = 0u;
            if (i < n) {
                x = data[i];
            }
            v[j] = s;
            s += x;
        }
        let r = scan_workgroup(lid, s);
        for (var j = 0u; j < SINGLE_PER_THREAD; j++) {
            let i = base + j;
            if (i < n) {
                data[i] = carry + r.x + v[j];
            }
        }
        carry += r.y;
    }
}

@compute @workgroup_size(256)
fn scan_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = wid.x * BLOCK + lid * PER_THREAD;
    var v: array<u32, 4>;
    var s = 0u;
    for (var j = 0u; j < PER_THREAD; j++) {
        let i = base + j;
        var x = 0u;
        if (i < info.len) {
            x = data[i];
        }
        v[j] = s;
        s += x;
    }
    let r = scan_workgroup(lid, s);
    let offset = partials[wid.x] + r.x;
    for (var j = 0u; j < PER_THREAD; j++) {
        let i = base + j;
        if (i < info.len) {
            data[i] = offset + v[j];
        }
    }
}
