//! Any byte string fed to the portrait reader, whole or streamed in two
//! pieces, must give a portrait or an error: never a panic, hang or
//! unbounded allocation. A portrait that parses must re-serialise and parse
//! to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synctalk_portrait::{Portrait, StreamParser};

fuzz_target!(|data: &[u8]| {
    let whole = Portrait::from_bytes(data);
    if data.len() > 1 {
        let split = data[0] as usize % data.len();
        let mut p = StreamParser::new();
        let streamed = p.push(&data[..split]).and_then(|_| p.push(&data[split..])).and_then(|_| p.finish());
        assert_eq!(whole.is_ok(), streamed.is_ok());
    }
    if let Ok(portrait) = whole {
        let bytes = portrait.to_bytes().expect("a parsed portrait re-serialises");
        assert_eq!(Portrait::from_bytes(&bytes).expect("and parses again"), portrait);
    }
});
