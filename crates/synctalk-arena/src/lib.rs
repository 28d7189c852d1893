//! A frame arena: no heap allocation per frame for code that allocates on
//! every call and cannot be told otherwise.
//!
//! tract allocates every op's output tensors on every run and frees them
//! before the run returns (about 800 small allocations per frame for the
//! three audio networks). [`FrameArena`] is a global allocator wrapping
//! another one: inside a [`scope`], the allocations of the thread that holds
//! the arena are carved from one block reserved once, by moving a pointer;
//! when the outermost scope ends and everything carved from the block has
//! been freed, the pointer goes back to the block's start. So the steady
//! state calls the inner (system) allocator not at all, the memory in use
//! cannot grow or fragment, and an allocation costs an add and a compare.
//!
//! **Safety.** The block is cut in [`SLABS`] slabs, each with a count of
//! the allocations carved from it and not yet freed; a slab's memory is
//! handed out again only when that count is 0. An allocation that outlives
//! its scope (an error message, something a library creates once and
//! keeps) pins its slab until it is freed: the arena moves on to a free
//! slab. When the slab in use is full, or all are pinned, allocations go
//! to the inner allocator and are counted as [`Stats::overflows`]. Frees
//! may come from any thread.
//!
//! **Scope.** Only one thread holds the arena at a time: a scope entered
//! while another thread holds it allocates from the inner allocator, as
//! code outside any scope does. A program that does not install
//! [`FrameArena`] loses nothing: [`scope`] then only runs its closure.
//!
//! ```
//! #[global_allocator]
//! static ALLOC: synctalk_arena::FrameArena<std::alloc::System> =
//!     synctalk_arena::FrameArena::new(std::alloc::System, 4 << 20);
//!
//! fn main() {
//!     // Per frame: the temporaries of a run come from the arena.
//!     let sum = synctalk_arena::scope(|| (0..1000).collect::<Vec<u32>>().iter().sum::<u32>());
//!     assert_eq!(sum, 499_500);
//!     let s = synctalk_arena::stats();
//!     assert_eq!((s.capacity, s.resets, s.live, s.overflows), (4 << 20, 1, 0, 0));
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Alignment of the block and of its slabs, a page (any layout up to this
/// is carved from it; larger alignments go to the inner allocator). tract
/// aligns its tensors to 128 bytes.
const BLOCK_ALIGN: usize = 4096;

/// Slabs the block is cut in (each a quarter of the capacity): one pinned
/// by a long-lived allocation leaves the others to the frames.
pub const SLABS: usize = 4;

static BASE: AtomicPtr<u8> = AtomicPtr::new(ptr::null_mut());
static CAP: AtomicUsize = AtomicUsize::new(0);
/// The slab in use.
static CUR: AtomicUsize = AtomicUsize::new(0);
/// Offset of the first free byte of the slab in use.
static TOP: AtomicUsize = AtomicUsize::new(0);
/// Per slab: allocations carved from it and not yet freed.
static LIVE: [AtomicUsize; SLABS] = [const { AtomicUsize::new(0) }; SLABS];
/// The token of the thread holding the arena (0: none).
static OWNER: AtomicUsize = AtomicUsize::new(0);
static HIGH: AtomicUsize = AtomicUsize::new(0);
static SERVED: AtomicUsize = AtomicUsize::new(0);
static OVERFLOWS: AtomicUsize = AtomicUsize::new(0);
static RESETS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Nesting depth of [`scope`] on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Whether this thread holds the arena (inside its outermost scope).
    static HOLDS: Cell<bool> = const { Cell::new(false) };
    /// A byte whose address tells threads apart.
    static TOKEN: u8 = const { 0 };
}

fn holds() -> bool {
    HOLDS.try_with(Cell::get).unwrap_or(false)
}

fn token() -> usize {
    TOKEN.with(|t| t as *const u8 as usize)
}

/// Leaves a scope when dropped (also when the closure panics).
struct Exit;

impl Drop for Exit {
    fn drop(&mut self) {
        let depth = DEPTH.with(|d| {
            d.set(d.get() - 1);
            d.get()
        });
        if depth == 0 && HOLDS.with(Cell::get) {
            // Only the holder carves from the block, so nothing can be
            // carved between this check and the reset. The slab in use
            // first, else the next free one.
            let cur = CUR.load(Ordering::Relaxed);
            let free = (0..SLABS)
                .map(|k| (cur + k) % SLABS)
                .find(|&s| LIVE[s].load(Ordering::Acquire) == 0);
            if let Some(s) = free {
                CUR.store(s, Ordering::Relaxed);
                TOP.store(0, Ordering::Relaxed);
                RESETS.fetch_add(1, Ordering::Relaxed);
            }
            HOLDS.with(|h| h.set(false));
            OWNER.store(0, Ordering::Release);
        }
    }
}

/// Runs `f` with this thread's short-lived allocations carved from the
/// arena (when [`FrameArena`] is the global allocator and no other thread
/// holds it). Scopes nest; the arena is reset when the outermost one ends
/// with everything carved inside freed.
pub fn scope<R>(f: impl FnOnce() -> R) -> R {
    let outer = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get() == 1
    });
    let _exit = Exit;
    if outer
        && OWNER
            .compare_exchange(0, token(), Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    {
        HOLDS.with(|h| h.set(true));
    }
    f()
}

/// What the arena has done since the program started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Bytes of the block (0 until the first scope allocates, or when
    /// [`FrameArena`] is not installed).
    pub capacity: usize,
    /// Most bytes of a slab in use at once.
    pub high_water: usize,
    /// Bytes of the slab in use, now.
    pub in_use: usize,
    /// Allocations carved from the block and not yet freed.
    pub live: usize,
    /// Slabs holding allocations now.
    pub pinned: usize,
    /// Allocations carved from the block.
    pub served: usize,
    /// Allocations inside a held scope that did not fit the block (or asked
    /// for an alignment above 4 KiB) and went to the inner allocator.
    pub overflows: usize,
    /// Times a slab was reset (outermost scopes ended with the slab in use,
    /// or another, free).
    pub resets: usize,
}

/// The arena's figures (see [`Stats`]).
pub fn stats() -> Stats {
    Stats {
        capacity: CAP.load(Ordering::Relaxed),
        high_water: HIGH.load(Ordering::Relaxed),
        in_use: TOP.load(Ordering::Relaxed),
        live: LIVE.iter().map(|l| l.load(Ordering::Relaxed)).sum(),
        pinned: LIVE
            .iter()
            .filter(|l| l.load(Ordering::Relaxed) > 0)
            .count(),
        served: SERVED.load(Ordering::Relaxed),
        overflows: OVERFLOWS.load(Ordering::Relaxed),
        resets: RESETS.load(Ordering::Relaxed),
    }
}

/// The global allocator: `inner` outside scopes, the block inside them.
/// There is one block per program (it is the global allocator's).
pub struct FrameArena<A> {
    inner: A,
    capacity: usize,
}

impl<A> FrameArena<A> {
    /// An arena of `capacity` bytes over `inner` (rounded down to [`SLABS`]
    /// slabs of a multiple of 4 KiB); the block is reserved from `inner`
    /// when a scope first allocates.
    pub const fn new(inner: A, capacity: usize) -> Self {
        Self {
            inner,
            capacity: capacity / (SLABS * BLOCK_ALIGN) * (SLABS * BLOCK_ALIGN),
        }
    }

    fn slab(&self) -> usize {
        self.capacity / SLABS
    }
}

impl<A: GlobalAlloc> FrameArena<A> {
    /// The block, reserved on first use (null when `inner` refused it).
    unsafe fn block(&self) -> *mut u8 {
        let base = BASE.load(Ordering::Acquire);
        if !base.is_null() || self.capacity == 0 {
            return base;
        }
        let Ok(layout) = Layout::from_size_align(self.capacity, BLOCK_ALIGN) else {
            return ptr::null_mut();
        };
        // Only the holder gets here, and only one thread holds the arena.
        let base = unsafe { self.inner.alloc(layout) };
        if !base.is_null() {
            CAP.store(self.capacity, Ordering::Relaxed);
            BASE.store(base, Ordering::Release);
        }
        base
    }

    /// Carves `l` from the slab in use (the caller holds the arena), or null.
    unsafe fn carve(&self, l: Layout) -> *mut u8 {
        if l.align() > BLOCK_ALIGN {
            return ptr::null_mut();
        }
        let base = unsafe { self.block() };
        let cur = CUR.load(Ordering::Relaxed);
        if base.is_null() {
            return ptr::null_mut();
        }
        let top = TOP.load(Ordering::Relaxed);
        let start = (top + l.align() - 1) & !(l.align() - 1);
        let Some(end) = start.checked_add(l.size()).filter(|&e| e <= self.slab()) else {
            return ptr::null_mut();
        };
        TOP.store(end, Ordering::Relaxed);
        LIVE[cur].fetch_add(1, Ordering::AcqRel);
        SERVED.fetch_add(1, Ordering::Relaxed);
        HIGH.fetch_max(end, Ordering::Relaxed);
        // In bounds: cur * slab + start + size <= capacity; slabs are
        // multiples of 4 KiB, so the alignment holds.
        unsafe { base.add(cur * self.slab() + start) }
    }

    /// The slab of `p` and its offset in it, if `p` was carved from the block.
    fn locate(&self, p: *mut u8) -> Option<(usize, usize)> {
        let base = BASE.load(Ordering::Acquire);
        let off = (p as usize).wrapping_sub(base as usize);
        (!base.is_null() && off < CAP.load(Ordering::Relaxed))
            .then(|| (off / self.slab(), off % self.slab()))
    }

    /// Whether `(slab, off)` of `size` bytes ends at the top of the slab in use.
    fn is_last(slab: usize, off: usize, size: usize) -> bool {
        slab == CUR.load(Ordering::Relaxed) && off + size == TOP.load(Ordering::Relaxed)
    }
}

// SAFETY: block memory is handed out at most once until everything handed
// out of it has been freed (LIVE reaches 0 before TOP goes back); the
// carved ranges are disjoint and aligned as asked; everything else is the
// inner allocator's.
unsafe impl<A: GlobalAlloc> GlobalAlloc for FrameArena<A> {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if holds() {
            let p = unsafe { self.carve(l) };
            if !p.is_null() {
                return p;
            }
            OVERFLOWS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { self.inner.alloc(l) }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if holds() {
            let p = unsafe { self.carve(l) };
            if !p.is_null() {
                unsafe { ptr::write_bytes(p, 0, l.size()) };
                return p;
            }
            OVERFLOWS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { self.inner.alloc_zeroed(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let Some((slab, off)) = self.locate(p) else {
            return unsafe { self.inner.dealloc(p, l) };
        };
        // The holder gives back the slab's last allocation at once, so
        // that short-lived temporaries freed in order do not pile up.
        if holds() && Self::is_last(slab, off, l.size()) {
            TOP.store(off, Ordering::Relaxed);
        }
        LIVE[slab].fetch_sub(1, Ordering::AcqRel);
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let Some((slab, off)) = self.locate(p) else {
            return unsafe { self.inner.realloc(p, l, new_size) };
        };
        // The slab's last allocation grows or shrinks in place.
        if holds()
            && Self::is_last(slab, off, l.size())
            && off.checked_add(new_size).is_some_and(|e| e <= self.slab())
        {
            TOP.store(off + new_size, Ordering::Relaxed);
            HIGH.fetch_max(off + new_size, Ordering::Relaxed);
            return p;
        }
        // SAFETY: the caller guarantees that new_size, rounded up to the
        // alignment, does not overflow isize.
        let nl = unsafe { Layout::from_size_align_unchecked(new_size, l.align()) };
        let q = unsafe { self.alloc(nl) };
        if !q.is_null() {
            unsafe {
                ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
                self.dealloc(p, l);
            }
        }
        q
    }
}
