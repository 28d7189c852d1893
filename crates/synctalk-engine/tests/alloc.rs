//! Heap allocations per frame in the steady state, counted by a global
//! allocator (this test binary only, so that nothing else runs meanwhile)
//! under the frame arena, installed as the CLI and the browser build
//! install it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use synctalk_arena::FrameArena;
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
static A: FrameArena<Counting> = FrameArena::new(Counting, synctalk_engine::ARENA_BYTES);

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
/// nothing calls the system allocator. Feeding the stream and everything
/// the engine does itself (windows, blinks, overrides, the controller)
/// allocate nothing; tract allocates each op's outputs on every run (816
/// allocations per frame for the demo's three networks) and frees them
/// within the run, and those come from the frame arena, which resets after
/// every run and never overflows.
#[test]
fn the_steady_state_makes_no_heap_allocation() {
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
    let a0 = synctalk_arena::stats();
    let (speech_allocs, speech_live) = count(|| pushes += run(10.0, true));
    let a1 = synctalk_arena::stats();
    let (rest_allocs, rest_live) = count(|| pushes += run(10.0, false));
    let a2 = synctalk_arena::stats();
    let frames = 600.0;
    eprintln!(
        "per frame: {:.1} heap allocations following speech, {:.1} at rest; stream pushes: {pushes}; \
         live bytes {speech_live:+} / {rest_live:+}; arena: {:.1} allocations and {:.1} resets per \
         speaking frame, high water {} KiB of a {} KiB slab, {} overflows",
        speech_allocs as f64 / frames,
        rest_allocs as f64 / frames,
        (a1.served - a0.served) as f64 / frames,
        (a1.resets - a0.resets) as f64 / frames,
        a2.high_water / 1024,
        a2.capacity / synctalk_arena::SLABS / 1024,
        a2.overflows,
    );
    assert_eq!(pushes, 0, "feeding the stream allocated");
    assert_eq!(speech_allocs, 0, "a speaking frame allocated");
    assert_eq!(rest_allocs, 0, "a frame at rest allocated");
    assert_eq!((speech_live, rest_live), (0, 0), "memory in use changed");
    // The networks did run, through the arena, and it reset after each run.
    assert!(a1.served - a0.served >= 600 * 3, "{a0:?} {a1:?}");
    assert_eq!(a1.resets - a0.resets, 600 * 3, "{a0:?} {a1:?}");
    assert_eq!(a2.served, a1.served, "a frame at rest ran a network");
    assert_eq!((a2.overflows, a2.live, a2.pinned), (0, 0, 0), "{a2:?}");
}
