//! Logging: tracing-subscriber writing to stderr (stdout is for command
//! output), as human-readable lines or JSON, filtered by `RUST_LOG` or `log.level`.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{EnvFilter, Registry, layer::SubscriberExt};

use crate::config::LogFormat;

/// Builds the subscriber; `RUST_LOG`, when set, wins over `level`.
pub fn subscriber<W>(format: LogFormat, level: &str, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = Registry::default().with(filter);
    match format {
        // Colours only on a terminal: logs piped to a file or journald stay plain text.
        LogFormat::Pretty => Box::new(registry.with(
            tracing_subscriber::fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(writer),
        )),
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            ),
        ),
    }
}

/// Installs the global subscriber. Called once, by `main`.
pub fn init(format: LogFormat, level: &str) {
    let sub = subscriber(format, level, std::io::stderr);
    // A second call (only possible in tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(sub);
}
