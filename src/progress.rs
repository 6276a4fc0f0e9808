//! Progress of a sync as a person watches it: on a terminal, one bar per
//! stream (indicatif) with an ETA at the key's budget; off a terminal,
//! nothing here (the mirror logs a progress line every `log.progress_secs`). The mirror
//! reports to the [`Terminal`] it is given, a no-op unless [`Bars::start`] installed bars.
//! Log lines go through [`StderrWriter`], which lifts the bars while a line is written.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::mirror::{Progress, Status};

struct Active {
    multi: MultiProgress,
    bars: HashMap<&'static str, ProgressBar>,
    rate_per_second: f64,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

fn active() -> MutexGuard<'static, Option<Active>> {
    ACTIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Bars drawn while this lives; dropping it clears them.
pub struct Bars(());

impl Bars {
    /// Installs the bars when stderr is a terminal; `None` otherwise.
    pub fn start(rate_per_second: f64) -> Option<Bars> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        *active() = Some(Active { multi, bars: HashMap::new(), rate_per_second });
        Some(Bars(()))
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(a) = active().take() {
            let _ = a.multi.clear();
        }
    }
}

/// The mirror's [`Progress`] on the bars [`Bars::start`] installed (nothing without them).
pub struct Terminal;

impl Progress for Terminal {
    fn advance(&self, stream: &'static str, done: u64, total: Option<u64>) {
        advance(stream, done, total);
    }

    fn finished(&self, stream: &'static str, status: Status) {
        finished(stream, status.as_str());
    }
}

/// `done` of `total` requests of `stream` are behind it (pages, or bundles
/// for a child stream).
fn advance(stream: &'static str, done: u64, total: Option<u64>) {
    let mut guard = active();
    let Some(a) = guard.as_mut() else { return };
    let rate = a.rate_per_second;
    let bar = a.bars.entry(stream).or_insert_with(|| {
        let bar = a.multi.add(ProgressBar::new(total.unwrap_or(0)));
        let style = ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {msg}")
            .expect("the template is valid")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(stream);
        bar
    });
    if let Some(total) = total {
        bar.set_length(total.max(done));
    }
    bar.set_position(done);
    // At the key's sustained rate: what the budget allows, whatever the server's speed.
    let left = total.map(|t| t.saturating_sub(done) as f64 / rate);
    bar.set_message(match left {
        Some(secs) => format!("eta {} at the key's budget", human(Duration::from_secs_f64(secs))),
        None => String::new(),
    });
}

/// The walk of `stream` ended with `status`.
fn finished(stream: &'static str, status: &str) {
    if let Some(a) = active().as_mut()
        && let Some(bar) = a.bars.get(stream)
    {
        bar.finish_with_message(status.to_string());
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// stderr for the log subscriber: a line written while bars are drawn is
/// written above them instead of through them.
#[derive(Clone, Copy, Default)]
pub struct StderrWriter;

/// A failed write is dropped, not returned: a closed stderr has nobody to
/// tell, and the log subscriber would report it by printing to that stderr.
impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let multi = active().as_ref().map(|a| a.multi.clone());
        match multi {
            Some(multi) => multi.suspend(|| crate::output::Stderr.write_all(buf)),
            None => crate::output::Stderr.write_all(buf),
        }?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        crate::output::Stderr.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrWriter {
    type Writer = StderrWriter;

    fn make_writer(&'a self) -> StderrWriter {
        StderrWriter
    }
}
