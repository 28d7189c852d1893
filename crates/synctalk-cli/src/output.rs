//! Results go to standard output through here, so that a reader that stops
//! early (`synctalk bench | head -3`) ends the command quietly instead of
//! making `println!` panic on the closed pipe.

use std::fmt;
use std::io::{self, Write};

/// A failed write of results to standard output (and only that: a closed
/// pipe elsewhere, e.g. a `--json` FIFO, stays an ordinary error).
#[derive(Debug)]
pub struct StdoutError(io::Error);

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Writes one line of results to standard output and flushes it.
pub fn line(args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(StdoutError)
}

/// Whether `e` is (or was caused by) standard output's reader going away.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<StdoutError>())
        .any(|s| s.0.kind() == io::ErrorKind::BrokenPipe)
}

/// `outln!(...)`: `println!` for results, returning `Result<(), StdoutError>`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_standard_outputs_closed_pipe_counts() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        let stdout = anyhow::Error::from(StdoutError(pipe()));
        assert!(is_broken_pipe(&stdout));
        assert!(is_broken_pipe(&stdout.context("printing the table")));
        // A closed pipe elsewhere (a --json FIFO) is an error to report.
        let elsewhere = anyhow::Error::from(pipe()).context("cannot write r.json");
        assert!(!is_broken_pipe(&elsewhere));
        let other = anyhow::Error::from(StdoutError(io::Error::from(io::ErrorKind::Other)));
        assert!(!is_broken_pipe(&other));
    }
}
