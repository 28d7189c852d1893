//! Heap allocations per frame in the steady state, counted by a global
//! allocator (this test binary only, so that nothing else runs meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use synctalk_engine::{Engine, Frame, SpeechStream};
use synctalk_portrait::Portrait;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations and live bytes while `f` runs.
fn count(f: impl FnOnce()) -> (usize, isize) {
    let (a0, l0) = (ALLOCS.load(Ordering::Relaxed), LIVE.load(Ordering::Relaxed));
    f();
    (
        ALLOCS.load(Ordering::Relaxed) - a0,
        LIVE.load(Ordering::Relaxed) - l0,
    )
}

/// Live input in 10 ms chunks at 48 kHz (a microphone) and frames at 60 fps,
/// following speech or at rest (the stream keeps running): after warm-up,
/// feeding the stream and everything the engine does itself
/// (windows, blinks, overrides, the controller) allocate nothing; the
/// network runtime (tract) allocates a fixed number of small tensors per
/// run and frees them, so memory in use does not change. tract has no
/// tensor arena: it allocates each op's outputs, about four per op. The
/// demo's Face-Sync graph has 149 ops (its phone decoder is unrolled over 12
/// instants): 628 per run; the Expression Generator adds 87 and Head-Sync
/// 101, 816 per frame in all. The bound catches growth, not tract's count.
#[test]
fn the_steady_state_allocates_nothing_but_the_network_runtime() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = Portrait::read_file(&root.join("models/demo/portrait.stk")).expect("demo");
    let mut e = Engine::new(&p).expect("engine");
    e.load_networks(&p).expect("networks");
    e.set_blendshape("browInnerUp", 0.3, 0.5).expect("override");
    e.set_stream(Some(SpeechStream::live(48_000).expect("stream")));
    let mut f = Frame::default();
    let chunk: Vec<f32> = (0..480).map(|n| (n as f32 * 0.07).sin() * 0.3).collect();
    let mut t = 0.0;
    // Returns the allocations made while feeding the stream.
    let mut run = |seconds: f64, speaking: bool| {
        let mut pushes = 0;
        let end = t + seconds;
        while t < end {
            let s = e.stream_mut().expect("stream");
            let (a, _) = count(|| {
                while s.seconds() < t + 0.1 {
                    s.push(&chunk).expect("push");
                }
            });
            pushes += a;
            // Speech time outside the stream: the face rests (no network run).
            let st = if speaking { Some(t) } else { Some(-1.0) };
            e.frame_into(t, st, &mut f).expect("frame");
            assert_eq!(f.speaking, speaking);
            t += 1.0 / 60.0;
        }
        pushes
    };
    run(2.0, true);
    run(3.0, false);
    let mut pushes = 0;
    let (speech_allocs, speech_live) = count(|| pushes += run(10.0, true));
    let (rest_allocs, rest_live) = count(|| pushes += run(10.0, false));
    let frames = 600.0;
    eprintln!(
        "per frame: {:.1} allocations following speech (all in tract), {:.1} at rest; stream pushes: {pushes}; live bytes {speech_live:+} / {rest_live:+}",
        speech_allocs as f64 / frames,
        rest_allocs as f64 / frames,
    );
    assert_eq!(pushes, 0, "feeding the stream allocated");
    assert_eq!(rest_allocs, 0, "a frame at rest allocated");
    assert_eq!((speech_live, rest_live), (0, 0), "memory in use changed");
    assert!(
        speech_allocs as f64 / frames <= 880.0,
        "{speech_allocs} allocations in {frames} frames"
    );
}
