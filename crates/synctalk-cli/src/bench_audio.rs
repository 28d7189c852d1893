//! `synctalk bench-audio`: the per-frame CPU cost of the audio side (speech
//! pushed in small chunks as a microphone delivers it, resampling, log-mel,
//! the networks, the controller), on the calling thread
//! ([`synctalk_engine::bench_audio`], which the browser build runs too).

use crate::output::outln;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use synctalk_engine::Engine;
use synctalk_portrait::Portrait;

use crate::decode::AudioReader;

/// Arguments of `synctalk bench-audio`.
#[derive(clap::Args)]
pub struct BenchAudioArgs {
    /// The portrait (its networks and controller are timed).
    #[arg(long)]
    portrait: PathBuf,
    /// Speech to follow (any format `synctalk render` reads).
    #[arg(long)]
    audio: PathBuf,
    /// Frames per second of the simulated display.
    #[arg(long, default_value_t = 60.0)]
    fps: f64,
    /// Samples per pushed chunk (128 is a WebAudio render quantum).
    #[arg(long, default_value_t = 512)]
    chunk: usize,
}

/// Runs `synctalk bench-audio`.
pub fn run(a: &BenchAudioArgs) -> Result<()> {
    let p = Portrait::read_file(&a.portrait)
        .with_context(|| format!("{} is not a valid portrait", a.portrait.display()))?;
    let mut engine = Engine::new(&p)?;
    if !engine.load_networks(&p)? {
        bail!("{} has no face_sync network", a.portrait.display());
    }
    let mut audio = AudioReader::open(&a.audio)?;
    let rate = audio.rate();
    let mut pcm = Vec::new();
    let mut chunk = Vec::new();
    while audio.next_chunk(&mut chunk)? {
        pcm.extend_from_slice(&chunk);
        chunk.clear();
    }
    if pcm.is_empty() {
        bail!("{}: no audio samples", a.audio.display());
    }
    let start = std::time::Instant::now();
    // The engine checks --fps and --chunk (and names what they must be).
    let b = synctalk_engine::bench_audio(&mut engine, &pcm, rate, a.fps, a.chunk, || {
        start.elapsed().as_secs_f64() * 1e3
    })
    .context("--fps, --chunk")?;
    outln!(
        "{} frames at {} fps from {} Hz audio in {}-sample chunks: mean {:.3} ms, \
         median {:.3} ms, p95 {:.3} ms, max {:.3} ms per frame (one thread)",
        b.frames,
        a.fps,
        rate,
        a.chunk,
        b.mean_ms,
        b.median_ms,
        b.p95_ms,
        b.max_ms
    )?;
    // What tract allocated per run came from the frame arena (installed in
    // main.rs); an overflow would have gone to the heap.
    let arena = synctalk_arena::stats();
    outln!(
        "frame arena: {} network runs served, high water {} KiB of a {} KiB slab, {} allocations overflowed to the heap",
        arena.resets,
        arena.high_water / 1024,
        arena.capacity / synctalk_arena::SLABS / 1024,
        arena.overflows
    )?;
    Ok(())
}
