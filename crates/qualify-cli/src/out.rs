//! The one way the commands write to the terminal: `outln!` to stdout, `errln!` to stderr
//! (`println!` and `eprintln!` are denied in this crate; the module is declared first, so its
//! macros need no import).
//!
//! When the reader of stdout goes away (`qualify admin journal --json | head -1`), a write fails
//! with `BrokenPipe`: Rust ignores `SIGPIPE`, so the process is not killed as a C program would
//! be, and `println!` panics instead (exit 101, a panic message on stderr). Here the write
//! returns a [`StdoutError`] that ends the command quietly with exit 0, as ripgrep does: the
//! reader has what it wanted. Any other write error (a full disk) is reported, exit 1.
//!
//! stderr is where errors are reported, so an error writing there has nowhere to go and is
//! ignored.

use std::fmt;
use std::io::{self, Write};

/// stdout could not be written.
#[derive(Debug)]
pub struct StdoutError(pub io::Error);

impl StdoutError {
    /// The reader went away (a closed pipe): not an error to report.
    pub fn reader_gone(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write to stdout: {}", self.0)
    }
}

impl std::error::Error for StdoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Writes `text` and a newline to stdout, and flushes (a `--follow` line is seen at once).
pub fn line(text: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(StdoutError)
}

/// Writes `text` and a newline to stderr; a failure is ignored (see the module's documentation).
pub fn note(text: fmt::Arguments<'_>) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// Whether `error` (or a cause of it) is a write to stdout whose reader went away.
pub fn reader_gone(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<StdoutError>()
            .is_some_and(StdoutError::reader_gone)
    })
}

/// `outln!("...", args)`: a line on stdout, `Result<(), StdoutError>` (see [`line`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

/// `errln!("...", args)`: a line on stderr (see [`note`]).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::note(format_args!($($arg)*))
    };
}
