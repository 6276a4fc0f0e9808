//! What a paginated list stream is: its path, its table and the typed
//! columns copied out of each item ([`ListStream`]).

/// How a typed column is read from the item's JSON. A value of the wrong
/// shape is stored as NULL (the item itself is always kept in `data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// RFC 3339.
    Timestamp,
    Numeric,
    /// A JSON `true` or `false` (a string "true" is not one).
    Boolean,
    /// A JSON array of strings, as `text[]`.
    TextArray,
    /// A JSON integer that fits in 64 bits.
    Integer,
}

impl Kind {
    /// The Postgres type of a column of this kind.
    pub const fn sql_type(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Timestamp => "timestamptz",
            Kind::Numeric => "numeric",
            Kind::Boolean => "boolean",
            Kind::TextArray => "text[]",
            Kind::Integer => "bigint",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// Top-level field of the item.
    pub field: &'static str,
    pub kind: Kind,
}

pub const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, field: name, kind }
}

#[derive(Debug)]
pub struct ListStream {
    pub name: &'static str,
    pub path: &'static str,
    /// Schema-qualified table; `id` is its primary key.
    pub table: &'static str,
    pub columns: &'static [Column],
    /// `GET {path}{id}` answers one row, or 404 with `gone_code`: used to
    /// confirm a row a complete walk did not see. `None`: rows are only
    /// marked deleted after two consecutive complete walks missed them.
    pub detail: Option<Detail>,
    /// Its rows own the rows of the child streams (keyed by `bundle_id`),
    /// which are marked deleted with them.
    pub children: bool,
    /// What a run does between two full walks.
    pub routine: Routine,
    /// Every object key named `secret` or ending in `_secret` is taken out
    /// of an item (at any depth) before it is compared or stored: secrets
    /// are never stored, wherever the item came from.
    pub strip_secrets: bool,
}

/// What a run of a list stream reads when its last full walk is younger than
/// `sync.full_walk_every` (older, or never: a full walk, the only kind that
/// may mark rows deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routine {
    /// Every run is a full walk.
    Never,
    /// An append-only list, newest first: a routine run stops at the first
    /// page made only of rows already held.
    Head,
    /// A list filtered by the time items last changed: a routine run reads
    /// every page of `{path}?{param}=<RFC 3339 UTC>`, the start of the last
    /// successful run (full, resumed or routine) minus `sync.since_overlap`.
    Since { param: &'static str },
}

/// Where one row of a list stream is read, and the 404 codes that prove it gone.
#[derive(Debug, Clone, Copy)]
pub struct Detail {
    pub path: &'static str,
    /// Only these codes prove the row gone: a 404 of a route (a wrong
    /// `api.base_url`, a proxy) proves nothing and deletes nothing.
    pub gone_codes: &'static [&'static str],
}
