//! The arena as the global allocator of this test binary, over a system
//! allocator that counts the calls made on each thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Barrier, Mutex};
use synctalk_arena::{scope, stats, FrameArena};

struct Counting;

thread_local! {
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn tick() {
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        tick();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        tick();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        tick();
        unsafe { System.realloc(p, l, n) }
    }
}

const CAPACITY: usize = 4 << 20;
const SLAB: usize = CAPACITY / synctalk_arena::SLABS;

#[global_allocator]
static ALLOC: FrameArena<Counting> = FrameArena::new(Counting, CAPACITY);

/// The tests share the one arena: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Calls to the system allocator on this thread while `f` runs.
fn system_calls<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let c0 = CALLS.with(Cell::get);
    let r = f();
    (CALLS.with(Cell::get) - c0, r)
}

/// Work shaped like a network run: many temporaries of mixed sizes and
/// alignments, a growing vector, boxed values freed out of order.
fn churn(seed: u64) -> f64 {
    let mut acc = 0.0;
    let mut keep: Vec<Vec<f32>> = Vec::new();
    for i in 0..200u64 {
        let n = ((seed * 31 + i * 17) % 700 + 1) as usize;
        let v: Vec<f32> = (0..n).map(|k| (k as f32 + i as f32).sin()).collect();
        acc += v.iter().map(|&x| x as f64).sum::<f64>();
        if i % 3 == 0 {
            keep.push(v);
        }
        if keep.len() > 5 {
            keep.remove(1);
        }
        let b = Box::new([i as u128; 3]);
        acc += b[2] as f64;
    }
    let mut grown = Vec::new();
    for i in 0..5000u32 {
        grown.push(i);
    }
    acc + grown.iter().map(|&x| x as f64).sum::<f64>() + keep.len() as f64
}

#[test]
fn a_steady_scope_makes_no_system_allocation_and_gives_the_same_results() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let want = churn(7);
    scope(|| churn(1)); // reserves the block
    let before = stats();
    let (calls, got) = system_calls(|| (0..50).fold(None, |_, _| Some(scope(|| churn(7)))));
    let after = stats();
    assert_eq!(got, Some(want), "results differ inside the arena");
    assert_eq!(calls, 0, "the system allocator was called {calls} times");
    assert_eq!(after.capacity, CAPACITY);
    assert_eq!(after.resets - before.resets, 50, "{after:?}");
    assert_eq!(after.overflows, before.overflows);
    assert!(after.served - before.served > 50 * 200, "{after:?}");
    assert_eq!((after.in_use, after.live, after.pinned), (0, 0, 0));
    assert!(after.high_water > 0 && after.high_water <= SLAB);
    // Outside a scope, the system allocator serves.
    let (calls, v) = system_calls(|| vec![1u8; 100]);
    assert_eq!((calls, v.len()), (1, 100));
}

#[test]
fn an_allocation_that_outlives_its_scope_keeps_its_memory() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    scope(|| ());
    // Pin every slab but one, then keep carving: later scopes must not
    // hand out the kept vectors' bytes.
    let kept: Vec<Vec<u64>> = (0..synctalk_arena::SLABS - 1)
        .map(|_| scope(|| (0..1000).collect()))
        .collect();
    assert_eq!(stats().pinned, synctalk_arena::SLABS - 1);
    for k in 0..20 {
        let (calls, ()) = system_calls(|| {
            scope(|| {
                let v = vec![0xFFu8; 4096 + k];
                assert_eq!(v.iter().map(|&x| x as usize).sum::<usize>(), 255 * v.len());
            })
        });
        assert_eq!(calls, 0, "the free slab was not used");
        assert!(kept
            .iter()
            .all(|v| v.iter().enumerate().all(|(i, &x)| x == i as u64)));
    }
    // All pinned: the arena carves on from the last slab's top, never below.
    let last: Vec<u8> = scope(|| vec![7; 100]);
    assert_eq!(stats().pinned, synctalk_arena::SLABS);
    let in_use = stats().in_use;
    scope(|| {
        let v = vec![1u8; 10];
        assert!(stats().in_use >= in_use + 10);
        drop(v);
    });
    assert_eq!(last, vec![7; 100]);
    drop((kept, last));
    scope(|| drop(Box::new(1u8)));
    assert_eq!((stats().in_use, stats().pinned), (0, 0));
}

#[test]
fn a_full_block_overflows_to_the_system_allocator() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = stats().overflows;
    let (calls, sum) = system_calls(|| {
        scope(|| {
            let big: Vec<Vec<u8>> = (0..4).map(|i| vec![i as u8; SLAB / 3]).collect();
            big.iter().map(|v| v[v.len() - 1] as usize).sum::<usize>()
        })
    });
    assert_eq!(sum, 6);
    assert!(stats().overflows > before, "no overflow counted");
    assert!(calls >= 1);
    // Alignments up to a page are carved; larger ones go to the system.
    #[repr(align(128))]
    struct Wide([u8; 128]);
    #[repr(align(8192))]
    struct Paged([u8; 8192]);
    let o = stats().overflows;
    let (w, p) = scope(|| (Box::new(Wide([3; 128])), Box::new(Paged([4; 8192]))));
    assert_eq!((w.0[127], p.0[8191]), (3, 4));
    assert_eq!(&*w as *const Wide as usize % 128, 0);
    assert_eq!(&*p as *const Paged as usize % 8192, 0);
    assert_eq!(stats().overflows, o + 1);
    drop((w, p));
    scope(|| ());
    assert_eq!(stats().in_use, 0);
}

#[test]
fn one_thread_holds_the_arena_and_frees_may_come_from_any() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    scope(|| churn(1));
    let held = Barrier::new(2);
    let done = Barrier::new(2);
    std::thread::scope(|t| {
        t.spawn(|| {
            scope(|| {
                held.wait();
                done.wait();
            })
        });
        held.wait();
        // The other thread holds the arena: this scope uses the system.
        let (calls, v) = system_calls(|| scope(|| vec![5u8; 64]));
        assert_eq!((calls, v[63]), (1, 5));
        done.wait();
    });
    // Memory carved here and freed on another thread.
    let v: Vec<u32> = scope(|| (0..100).collect());
    assert_eq!(stats().pinned, 1);
    std::thread::spawn(move || assert_eq!(v.iter().sum::<u32>(), 4950))
        .join()
        .expect("thread");
    scope(|| ());
    assert_eq!((stats().in_use, stats().live, stats().pinned), (0, 0, 0));
}

#[test]
fn a_panic_inside_a_scope_releases_the_arena() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A silent hook: the default one would resolve a backtrace (when
    // RUST_BACKTRACE is set) into caches kept for the whole process.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| scope(|| panic!("inside")));
    std::panic::set_hook(hook);
    // The payload was carved inside: its slab stays pinned until it is
    // freed, the others serve.
    assert!(r.is_err());
    assert_eq!(stats().pinned, 1);
    scope(|| churn(2));
    let (calls, _) = system_calls(|| scope(|| churn(3)));
    assert_eq!(calls, 0, "the arena was not held after the panic");
    drop(r);
    scope(|| ());
    assert_eq!(stats().pinned, 0);
}

#[test]
fn nested_scopes_reset_once_at_the_outermost() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    scope(|| ());
    let resets = stats().resets;
    scope(|| {
        let a: Vec<u8> = (0..10).collect();
        scope(|| assert_eq!(vec![2u8; 10].len() + a.len(), 20));
        assert_eq!(stats().resets, resets);
    });
    assert_eq!(stats().resets, resets + 1);
}
