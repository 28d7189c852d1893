//! What `WasmAvatar` reports to JavaScript: `info()`, `stats()` and
//! `benchAudio()` (serialised with camelCase names).

use serde::Serialize;

/// `info()`: the portrait and the GPU it is drawn on.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Info {
    pub(super) name: String,
    pub(super) licence: String,
    pub(super) attribution: String,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) gaussians: usize,
    pub(super) bases: usize,
    pub(super) pose_frames: usize,
    pub(super) networks: Vec<String>,
    pub(super) adapter: String,
    pub(super) surface_format: String,
    pub(super) gpu_bytes: u64,
}

/// `stats()`: the last frame's figures and the session's counters.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Stats {
    pub(super) frames: u64,
    pub(super) engine_ms: f64,
    /// Mean of `engine_ms` over the frames that followed speech (the
    /// networks ran): one frame's figure is too coarse and noisy to judge.
    pub(super) engine_ms_speaking: f64,
    /// Frames drawn that followed speech.
    pub(super) speaking_frames: u64,
    #[serde(skip)]
    pub(super) speaking_ms_total: f64,
    pub(super) layers_ms: f64,
    pub(super) encode_ms: f64,
    pub(super) visible: u32,
    pub(super) intersections: u32,
    pub(super) intersection_capacity: u32,
    pub(super) speaking: bool,
    pub(super) pose_frame: usize,
    pub(super) jaw_open: f32,
    pub(super) gpu_bytes: u64,
    pub(super) wasm_heap_bytes: f64,
    /// The frame arena that tract's per-run tensors come from: its size,
    /// most bytes of a slab in use, runs it served (resets), and
    /// allocations that did not fit it and went to the heap.
    pub(super) arena_bytes: usize,
    pub(super) arena_high_water_bytes: usize,
    pub(super) arena_resets: usize,
    pub(super) arena_overflows: usize,
    pub(super) face_sync: bool,
    pub(super) expression: bool,
    pub(super) head_sync: bool,
    /// Head-Sync's turn of the head in the last frame, in degrees.
    pub(super) head_turn_deg: f32,
}

/// What [`WasmAvatar::bench_audio`] measured.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BenchFigures {
    pub(super) frames: usize,
    pub(super) mean_ms: f64,
    pub(super) median_ms: f64,
    pub(super) p95_ms: f64,
    pub(super) max_ms: f64,
}
