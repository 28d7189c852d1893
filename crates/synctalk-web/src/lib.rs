//! The browser bindings of SyncTalk Web. `www/src/synctalk.js` wraps them
//! into the public JavaScript API (`Avatar.load`, `speak`, `<synctalk-avatar>`);
//! use that, not these bindings, from a page.
//!
//! The crate is empty except on `wasm32`.

#[cfg(target_arch = "wasm32")]
mod web;
