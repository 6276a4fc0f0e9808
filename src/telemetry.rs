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

/// Whether [`summary`] lines are JSON objects (`log.format = "json"`).
static SUMMARY_AS_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says how [`summary`] writes its lines; called once, by `main`.
pub fn set_summary_format(format: LogFormat) {
    SUMMARY_AS_JSON.store(matches!(format, LogFormat::Json), std::sync::atomic::Ordering::Relaxed);
}

/// Writes a run's summary line to stderr, whatever the log level: as the
/// line itself, or with `log.format = "json"` as one JSON object shaped like
/// the log's own lines, so a log collector parses every line of stderr.
pub fn summary(line: &str) {
    use std::io::Write;
    let text = if SUMMARY_AS_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        summary_json(line, chrono::Utc::now())
    } else {
        line.to_string()
    };
    // One write of the whole line: it never interleaves with a log line.
    let _ = crate::progress::StderrWriter.write_all(format!("{text}\n").as_bytes());
}

fn summary_json(line: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    serde_json::json!({
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": "INFO",
        "fields": { "message": line, "summary": true },
        "target": "tokportal_sync::summary",
    })
    .to_string()
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn a_json_summary_is_one_object_with_the_line_as_its_message() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-02T03:04:05Z").unwrap().to_utc();
        let text = summary_json("sync bundles succeeded: \"quoted\"\nsecond", at);
        assert!(!text.contains('\n'), "one line: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["fields"]["message"], "sync bundles succeeded: \"quoted\"\nsecond");
        assert_eq!(v["fields"]["summary"], true);
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["timestamp"], "2026-12-02T03:04:05.000000Z");
    }
}
