//! The browser bindings of SyncTalk Web. `www/src/synctalk.js` wraps them
//! into the public JavaScript API (`Avatar.load`, `speak`, `<synctalk-avatar>`);
//! use that, not these bindings, from a page.
//!
//! The crate is empty except on `wasm32`.

#[cfg(target_arch = "wasm32")]
mod web;

/// tract's per-run tensors come from a frame arena (see `synctalk-arena`):
/// no heap allocation per frame, and a wasm heap that cannot fragment.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: synctalk_arena::FrameArena<std::alloc::System> =
    synctalk_arena::FrameArena::new(std::alloc::System, synctalk_engine::ARENA_BYTES);
