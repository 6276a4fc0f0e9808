//! What the mirror knows how to walk: [`ALL`], one line a stream, from which
//! everything else is derived: the names `sync.streams` and `--stream`
//! accept ([`names`]), the default of `sync.streams` ([`defaults`]), the order
//! a sync runs them in ([`order`]), and the manual's table of streams (a test
//! holds the two together).
//!
//! A stream is one file here and one line in [`ALL`]:
//! - a paginated list is a [`ListStream`]: its path, its table and the typed
//!   columns copied out of each item; its migration creates the table (`id
//!   text primary key`, the typed columns, `data jsonb`, and the bookkeeping
//!   columns of `tokportal.bundles`);
//! - a per-bundle child is a [`ChildStream`], planned per bundle by
//!   `mirror::children`; its table is keyed by `bundle_id`;
//! - a paginated list per row of a parent list stream is a [`NestedStream`]
//!   (`mirror::nested`): its table is keyed by the item's `id`, with the
//!   parent's id beside it;
//! - one object kept as a row each time it changed is a [`SnapshotStream`],
//!   and one per row of a parent list stream and day a [`DailyStream`]
//!   (`mirror::snapshots`).

mod account_analytics;
mod account_bans;
mod accounts;
mod bundle_accounts;
mod bundle_videos;
mod bundles;
mod child;
mod comments;
mod credit_balance;
mod credit_transactions;
mod list;
mod nested;
mod snapshot;
mod webhook_deliveries;
mod webhook_endpoints;

pub use account_analytics::ACCOUNT_ANALYTICS;
pub use account_bans::ACCOUNT_BANS;
pub use accounts::{ACCOUNT_GONE, ACCOUNTS};
pub use bundle_accounts::BUNDLE_ACCOUNTS;
pub use bundle_videos::BUNDLE_VIDEOS;
pub use bundles::{BUNDLE_NOT_FOUND, BUNDLES};
pub use child::{CHILD_NOT_FOUND, ChildStream};
pub use comments::{COMMENT_GONE, COMMENTS};
pub use credit_balance::CREDIT_BALANCE;
pub use credit_transactions::CREDIT_TRANSACTIONS;
pub use list::{Column, Detail, Kind, ListStream, Routine, col};
pub use nested::NestedStream;
pub use snapshot::{DailyStream, SnapshotStream};
pub use webhook_deliveries::WEBHOOK_DELIVERIES;
pub use webhook_endpoints::{WEBHOOK_ENDPOINTS, WEBHOOK_GONE};

/// Every stream, in the order the docs list them. `default_on`: mirrored
/// when `sync.streams` is not set (the credit ledger, comments, webhook
/// endpoints and deliveries, the balance and the analytics are opt-in).
pub const ALL: &[Entry] = &[
    Entry { stream: Stream::List(&BUNDLES), default_on: true },
    Entry { stream: Stream::Children(&BUNDLE_VIDEOS), default_on: true },
    Entry { stream: Stream::Children(&BUNDLE_ACCOUNTS), default_on: true },
    Entry { stream: Stream::List(&CREDIT_TRANSACTIONS), default_on: false },
    Entry { stream: Stream::List(&ACCOUNTS), default_on: true },
    Entry { stream: Stream::List(&ACCOUNT_BANS), default_on: true },
    Entry { stream: Stream::List(&COMMENTS), default_on: false },
    Entry { stream: Stream::List(&WEBHOOK_ENDPOINTS), default_on: false },
    Entry { stream: Stream::Nested(&WEBHOOK_DELIVERIES), default_on: false },
    Entry { stream: Stream::Snapshot(&CREDIT_BALANCE), default_on: false },
    Entry { stream: Stream::Daily(&ACCOUNT_ANALYTICS), default_on: false },
];

/// One line of [`ALL`].
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub stream: Stream,
    pub default_on: bool,
}

/// The kinds of stream, each walked its own way.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Every page of a list (`mirror::walk`).
    List(&'static ListStream),
    /// One request per planned bundle (`mirror::children`).
    Children(&'static ChildStream),
    /// Every page of a list per parent row, parents in rotation (`mirror::nested`).
    Nested(&'static NestedStream),
    /// One object, a row when it changed (`mirror::snapshots`).
    Snapshot(&'static SnapshotStream),
    /// One object per parent row and day, parents in rotation (`mirror::snapshots`).
    Daily(&'static DailyStream),
}

impl Stream {
    pub const fn name(self) -> &'static str {
        match self {
            Stream::List(s) => s.name,
            Stream::Children(s) => s.name,
            Stream::Nested(s) => s.name,
            Stream::Snapshot(s) => s.name,
            Stream::Daily(s) => s.name,
        }
    }

    /// The table its rows are written to.
    pub const fn table(self) -> &'static str {
        match self {
            Stream::List(s) => s.table,
            Stream::Children(s) => s.table,
            Stream::Nested(s) => s.table,
            Stream::Snapshot(s) => s.table,
            Stream::Daily(s) => s.table,
        }
    }

    /// Its freshness is the age of its last run (every kind but the
    /// per-bundle children, whose freshness is per bundle).
    pub const fn is_walked(self) -> bool {
        !matches!(self, Stream::Children(_))
    }

    /// The list stream whose rows it hangs from, if any: it runs after it.
    pub const fn parent(self) -> Option<&'static str> {
        match self {
            Stream::List(_) | Stream::Snapshot(_) => None,
            Stream::Children(_) => Some("bundles"),
            Stream::Nested(s) => Some(s.parent.name),
            Stream::Daily(s) => Some(s.parent.name),
        }
    }
}

const NAMES: &[&str] = &names_of::<{ ALL.len() }>();
const ORDER: &[&str] = &run_order::<{ ALL.len() }>();

/// The name of every stream, as [`ALL`] lists them.
pub const fn names() -> &'static [&'static str] {
    NAMES
}

/// The streams in the order a sync runs them: the lists first, then the
/// streams hanging from a list's rows (the children, the per-parent
/// streams), then the rest, each group as [`ALL`] lists them.
pub const fn order() -> &'static [&'static str] {
    ORDER
}

/// The streams mirrored when `sync.streams` is not set.
pub fn defaults() -> Vec<String> {
    ALL.iter().filter(|e| e.default_on).map(|e| e.stream.name().to_string()).collect()
}

/// The stream called `name`.
pub fn find(name: &str) -> Option<Stream> {
    ALL.iter().map(|e| e.stream).find(|s| s.name() == name)
}

/// The per-parent list streams, as [`ALL`] lists them.
pub fn nested() -> impl Iterator<Item = &'static NestedStream> {
    ALL.iter().filter_map(|e| match e.stream {
        Stream::Nested(s) => Some(s),
        _ => None,
    })
}

/// The child streams, as [`ALL`] lists them.
pub fn children() -> impl Iterator<Item = &'static ChildStream> {
    ALL.iter().filter_map(|e| match e.stream {
        Stream::Children(s) => Some(s),
        _ => None,
    })
}

const fn names_of<const N: usize>() -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = ALL[i].stream.name();
        i += 1;
    }
    names
}

/// 0: a list; 1: hangs from a list's rows; 2: the rest.
const fn group(stream: Stream) -> u8 {
    match stream {
        Stream::List(_) => 0,
        _ if stream.parent().is_some() => 1,
        _ => 2,
    }
}

const fn run_order<const N: usize>() -> [&'static str; N] {
    let mut order = [""; N];
    let (mut next, mut g) = (0, 0);
    while g < 3 {
        let mut i = 0;
        while i < N {
            if group(ALL[i].stream) == g {
                order[next] = ALL[i].stream.name();
                next += 1;
            }
            i += 1;
        }
        g += 1;
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_run_first_then_the_children_each_stream_once() {
        assert_eq!(
            order(),
            [
                "bundles",
                "credit_transactions",
                "accounts",
                "account_bans",
                "comments",
                "webhook_endpoints",
                "bundle_videos",
                "bundle_accounts",
                "webhook_deliveries",
                "account_analytics",
                "credit_balance"
            ]
        );
        let mut sorted = order().to_vec();
        sorted.sort_unstable();
        let mut all = names().to_vec();
        all.sort_unstable();
        assert_eq!(sorted, all);
        assert_eq!(defaults(), ["bundles", "bundle_videos", "bundle_accounts", "accounts", "account_bans"]);
    }

    #[test]
    fn the_manual_lists_exactly_the_streams_in_order_with_their_tables() {
        let page = include_str!("../../../docs/mirror.md");
        let from =
            page.find("walks each configured stream").expect("docs/mirror.md's section on `worker sync`");
        let table = &page[from..];
        let table = &table[table.find("| stream | source | table |").expect("the table of streams")..];
        let rows: Vec<(String, String)> = table
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(|c| c.trim().trim_matches('`')).collect();
                (cells[1].to_string(), format!("tokportal.{}", cells[3]))
            })
            .collect();
        let all: Vec<(String, String)> =
            ALL.iter().map(|e| (e.stream.name().to_string(), e.stream.table().to_string())).collect();
        assert_eq!(rows, all, "docs/mirror.md's table of streams and streams::ALL differ");
    }
}
