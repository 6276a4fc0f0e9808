//! The line a person reads at the end of a stream's run (`worker sync`,
//! `worker --once`, the demo): the [`Display`](std::fmt::Display) of a [`RunSummary`].

use std::fmt;

use super::RunSummary;

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tally;
        write!(
            f,
            "{}: {} ({}{}) run {}: {} pages, {} items, {} inserted, {} updated, {} unchanged, {} deleted, \
             {} requests, {} answered 429, {:.1} s waiting for budget",
            self.stream,
            self.status.as_str(),
            self.kind,
            self.resumed_from_page.map(|p| format!(" from page {p}")).unwrap_or_default(),
            self.run_id,
            t.pages,
            t.items,
            t.inserted,
            t.updated,
            t.unchanged,
            t.deleted,
            t.requests,
            t.rate_limited,
            t.budget_wait_secs,
        )?;
        if let Some(note) = &self.note {
            write!(f, "; {note}")?;
        }
        if let Some(e) = &self.error {
            write!(f, "; error: {e:#}")?;
        }
        Ok(())
    }
}
