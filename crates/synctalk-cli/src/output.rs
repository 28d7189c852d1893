//! Results go to standard output through here, so that a reader that stops
//! early (`synctalk bench | head -3`) ends the command quietly instead of
//! making `println!` panic on the closed pipe.

use std::fmt;
use std::io::{self, Write};

/// Writes one line of results to standard output and flushes it.
pub fn line(args: fmt::Arguments<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Whether `e` is (or was caused by) a closed standard output pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

/// `outln!(...)`: `println!` for results, returning `io::Result<()>`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
