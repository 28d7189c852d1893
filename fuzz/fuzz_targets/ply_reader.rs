//! Any byte string fed to the 3DGS .ply reader gives a cloud or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = synctalk_gaussians::ply::parse(data) {
        assert!(g.validate().is_ok());
    }
});
