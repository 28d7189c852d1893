// The Gaussian -> splat map the projection backward reads (`splat_of`:
// splat index + 1, 0 when culled), from a compacted forward: the renderer's
// preprocess.wgsl writes visible Gaussians at atomic-counter indices; if
// it records each splat's Gaussian in the Splat's last word (its `_pad`,
// as a u32), this scatter inverts that. `splat_of` must be cleared to 0
// first. One thread per splat slot; slots past counters[0] do nothing.

// counters[0]: visible splats.
@group(0) @binding(0) var<storage, read> counters: array<u32>;
// The splats as u32 words, SPLAT_WORDS each, the Gaussian id last.
@group(0) @binding(1) var<storage, read> splat_words: array<u32>;
@group(0) @binding(2) var<storage, read_write> splat_of: array<u32>;

const GROUP: u32 = 256u;
const SPLAT_WORDS: u32 = 10u;

@compute @workgroup_size(256)
fn invert_ids(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let k = gid.y * groups.x * GROUP + gid.x;
    if (k >= counters[0]) {
        return;
    }
    let g = splat_words[k * SPLAT_WORDS + SPLAT_WORDS - 1u];
    if (g < arrayLength(&splat_of)) {
        splat_of[g] = k + 1u;
    }
}
