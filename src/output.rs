//! Command output (stdout) and messages (stderr) that never panic and never
//! fail a command because a reader went away: `worker jobs list | head -1`
//! closes the pipe after one line, and a closed stderr has nobody to tell.
//! What is written after that is dropped; the command still finishes its work
//! and exits with its own status. `println!`/`eprintln!` would panic (exit 101).

use std::fmt;
use std::io::{ErrorKind, Write};

/// stdout, where a closed pipe swallows the rest of the output.
#[derive(Clone, Copy, Default)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::io::stdout().write(buf) {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(buf.len()),
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match std::io::stdout().flush() {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

/// stderr, whose errors are dropped: there is nowhere left to report them.
#[derive(Clone, Copy, Default)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Writes `text` to stdout as it is.
pub fn out(text: &str) {
    let _ = Stdout.write_all(text.as_bytes());
}

/// Writes one line to stdout (what [`outln!`](crate::outln) expands to).
pub fn out_line(args: fmt::Arguments<'_>) {
    // One write of the whole line, so it never interleaves with another.
    let _ = Stdout.write_all(format!("{args}\n").as_bytes());
}

/// Writes one line to stderr (what [`errln!`](crate::errln) expands to).
pub fn err_line(args: fmt::Arguments<'_>) {
    let _ = Stderr.write_all(format!("{args}\n").as_bytes());
}

/// `println!` that a closed stdout does not turn into a panic.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::out_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::output::out_line(format_args!($($arg)*)) };
}

/// `eprintln!` that a closed stderr does not turn into a panic.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::err_line(format_args!($($arg)*)) };
}
