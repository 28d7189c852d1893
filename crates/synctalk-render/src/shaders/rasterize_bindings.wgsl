// What both tile kernels (rasterize.wgsl for GPUs, rasterize_columns.wgsl
// for CPU adapters) bind and share: one bind group layout in the renderer
// (`Renderer::with_tile_kernel`) serves either. Prepended to each kernel.
// The tile's splats are loaded in batches of BATCH into `batch`;
// `done_count` counts the threads whose pixels are all finished, and
// `all_done` is its workgroup-uniform copy.

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var<storage, read> ranges: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> isect_vals: array<u32>;
@group(0) @binding(3) var<storage, read> splats: array<Splat>;
@group(0) @binding(4) var head: texture_storage_2d<rgba32float, write>;

const BATCH: u32 = 256u;

var<workgroup> batch: array<Splat, BATCH>;
var<workgroup> done_count: atomic<u32>;
var<workgroup> all_done: u32;
