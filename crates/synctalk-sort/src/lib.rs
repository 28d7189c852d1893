//! Portable GPU sorting primitives for the Gaussian-splatting renderer.
//!
//! * [`PrefixSum`]: exclusive prefix sum of a `u32` array, in place.
//! * [`RadixSort`]: stable LSD radix sort of `(u32 key, u32 value)` pairs.
//!
//! Both read their element count from a GPU buffer and size their dispatches
//! with indirect arguments, so a frame never waits for a CPU read-back. Neither
//! relies on one workgroup waiting for another (no decoupled look-back), so
//! they are correct on GPUs without forward-progress guarantees (Apple, mobile,
//! WebGPU in general).

mod layout;
mod radix;
mod scan;

pub use radix::{RadixSort, RowScan, SortError, SortTarget, MAX_SORT_KEYS};
pub use scan::{PrefixSum, ScanTarget, SCAN_BLOCK};
