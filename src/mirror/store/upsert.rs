//! The page upsert of every table keyed by the item's `id` (a list
//! stream's, a per-parent list's), in the two plans of [`Probe`]. Table and
//! column names come from the static stream definitions, never from input.

use std::borrow::Cow;

use anyhow::Context;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};

use crate::mirror::rows::{NoId, Upserted, excerpt, id_of, typed};
use crate::mirror::streams::Column;

mod fresh;

/// How a page's upsert finds the rows the mirror already holds. Both write
/// exactly the same rows (new, differing, deleted, missed by a walk, moved
/// to another parent), with the same bookkeeping, and count them alike;
/// they differ in what a row costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Probe {
    /// Looks the page's ids up first and inserts or updates only the rows
    /// that must be written: a row that did not change is not touched at
    /// all (no dead tuple, no lock, no WAL). A new row costs three probes of
    /// the key (the lookup, `ON CONFLICT`'s, the insert's).
    #[default]
    Lookup,
    /// Inserts the page straight away, `ON CONFLICT` deciding per row: a new
    /// row costs two probes of the key, not three; a row that did not change
    /// is still not rewritten, but is locked until the page commits (a lock
    /// is a few bytes of WAL). For pages that are mostly new rows: a first
    /// walk, the head of a list that grew.
    Insert,
    /// Inserts the page with a plain `INSERT`: no probe of the key before
    /// each row, no row returned; for a page of new rows only (a first walk).
    /// It runs under a savepoint: if the mirror holds any of the page's ids
    /// (a unique violation), the page is rolled back to it and upserted as
    /// [`Probe::Insert`] does, so it writes and counts the same rows. The
    /// caller must be in a transaction.
    Fresh,
}

impl Probe {
    /// The plan for the next page, from what the last page written did:
    /// inserting plainly while all its rows were new, inserting first while
    /// most of them were.
    pub fn after(up: &Upserted) -> Probe {
        let rows = up.inserted + up.updated + up.revived + up.unchanged;
        match rows {
            0 => Probe::Lookup,
            _ if up.inserted == rows => Probe::Fresh,
            _ if up.inserted * 2 > rows => Probe::Insert,
            _ => Probe::Lookup,
        }
    }
}

/// Where a page's rows go: a table keyed by `id`, its typed columns, and
/// for the list of one parent row, the column naming the parent and its id.
pub(in crate::mirror) struct Target<'a> {
    pub table: &'static str,
    pub columns: &'static [Column],
    pub parent: Option<(&'static str, &'a str)>,
}

/// The page upsert of every table keyed by the item's `id` (a list
/// stream's, a per-parent list's): one statement writing only the rows that
/// are new, differ (or moved to another parent), were deleted or were
/// missed by a walk. With `strip_secrets`, every key naming a secret is
/// taken out of each item before it is compared or stored.
pub(in crate::mirror) async fn upsert_rows(
    conn: &mut PgConnection,
    target: &Target<'_>,
    items: &[Value],
    strip_secrets: bool,
    probe: Probe,
) -> anyhow::Result<Upserted> {
    if items.is_empty() {
        return Ok(Upserted::default());
    }
    let mut ids = Vec::with_capacity(items.len());
    let mut data = Vec::with_capacity(items.len());
    let mut columns = vec![Vec::with_capacity(items.len()); target.columns.len()];
    for (index, item) in items.iter().enumerate() {
        let item = stored(item, strip_secrets);
        let item = item.as_ref();
        let id = id_of(item).ok_or_else(|| NoId { index, excerpt: excerpt(item) })?;
        ids.push(id);
        data.push(json_text(item, data.last().map_or(0, String::len)));
        for (values, column) in columns.iter_mut().zip(target.columns) {
            values.push(typed(item.get(column.field), column.kind));
        }
    }
    let rows = Rows { ids, data, columns, parent: target.parent.map(|(_, id)| id) };
    let probe = match probe {
        Probe::Fresh if fresh::insert(conn, target, &rows).await? => {
            let inserted = items.len() as u64;
            return Ok(Upserted { inserted, ..Upserted::default() });
        }
        Probe::Fresh => Probe::Insert,
        other => other,
    };
    let sql = upsert_sql(target, probe);
    let (inserted, updated, revived, written) = rows
        .bind(sqlx::query_as::<_, (i64, i64, i64, i64)>(AssertSqlSafe(sql)))
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("Failed to upsert a page into {}", target.table))?;
    Ok(Upserted {
        inserted: inserted as u64,
        updated: updated as u64,
        revived: revived as u64,
        unchanged: items.len() as u64 - written as u64,
    })
}

/// A page's values, one array a column, as every plan's statement takes them.
struct Rows<'a> {
    ids: Vec<String>,
    data: Vec<String>,
    columns: Vec<Vec<Option<String>>>,
    parent: Option<&'a str>,
}

type Query<'q, O> = sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>;

impl<'q> Rows<'q> {
    fn bind<O>(&'q self, mut query: Query<'q, O>) -> Query<'q, O> {
        query = query.bind(&self.ids[..]).bind(&self.data[..]);
        for values in &self.columns {
            query = query.bind(&values[..]);
        }
        if let Some(parent_id) = self.parent {
            query = query.bind(parent_id);
        }
        query
    }
}

/// `item` as JSON text, written into a buffer sized like the item before it
/// (`Value::to_string` grows its buffer from nothing, copying it each time).
fn json_text(item: &Value, like: usize) -> String {
    let mut text = Vec::with_capacity(like + like / 8 + 64);
    serde_json::to_writer(&mut text, item).expect("a serde_json::Value always serializes");
    String::from_utf8(text).expect("serde_json writes UTF-8")
}

/// The item as stored and compared: without its secrets when asked (else
/// unchanged, not copied).
pub(in crate::mirror) fn stored(item: &Value, strip_secrets: bool) -> Cow<'_, Value> {
    if !strip_secrets {
        return Cow::Borrowed(item);
    }
    let mut item = item.clone();
    crate::secret::strip_secret_keys(&mut item);
    Cow::Owned(item)
}

/// The page's rows as a statement reads them (`incoming`: `id`, `data` as
/// jsonb, the typed columns cast, the parent's id), and the columns written
/// besides `id`, `data` and the bookkeeping.
fn incoming(t: &Target<'_>) -> (String, Vec<&'static str>) {
    let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
    let arrays: Vec<String> = (1..=names.len() + 2).map(|i| format!("${i}::text[]")).collect();
    let mut casts: Vec<String> =
        t.columns.iter().map(|c| format!("p.{0}::{1} AS {0}", c.name, c.kind.sql_type())).collect();
    let mut written = names.clone();
    if let Some((column, _)) = t.parent {
        casts.push(format!("${}::text AS {column}", names.len() + 3));
        written.push(column);
    }
    let incoming = format!(
        "SELECT p.id, p.data::jsonb AS data, {casts} FROM unnest({arrays}) AS p(id, data, {names})",
        casts = casts.join(", "),
        arrays = arrays.join(", "),
        names = names.join(", "),
    );
    (incoming, written)
}

/// `INSERT` of the rows of `source` (a relation with `incoming`'s columns)
/// into `table`, new rows' bookkeeping set to now: what every plan starts with.
fn insert_rows(table: &str, written: &str, source: &str) -> String {
    format!(
        "INSERT INTO {table} AS t (id, data, {written}, first_seen_at, last_seen_at, changed_at)
    SELECT id, data, {written}, now(), now(), now() FROM {source}"
    )
}

fn upsert_sql(t: &Target<'_>, probe: Probe) -> String {
    let (incoming, written) = incoming(t);
    // Whether the row held (`t`) must be written with the one coming in
    // (`new`): it differs, was deleted, was missed by a walk, or moved to
    // another parent. Both plans write exactly these rows.
    let must_write = |new: &str| {
        let moved = t.parent.map_or(String::new(), |(c, _)| format!(" OR t.{c} IS DISTINCT FROM {new}.{c}"));
        format!(
            "t.data IS DISTINCT FROM {new}.data OR t.deleted_at IS NOT NULL OR t.missing_walks > 0{moved}"
        )
    };
    let sets: Vec<String> = written.iter().map(|n| format!("{n} = excluded.{n}")).collect();
    let (table, written, sets) = (t.table, written.join(", "), sets.join(", "));
    let insert = format!(
        "{head}
    ON CONFLICT (id) DO UPDATE SET data = excluded.data, {sets},
        last_seen_at = excluded.last_seen_at,
        changed_at = CASE WHEN t.data IS DISTINCT FROM excluded.data THEN excluded.changed_at ELSE t.changed_at END,
        deleted_at = NULL,
        missing_walks = 0",
        head = insert_rows(table, &written, match probe {
            Probe::Lookup => "changed",
            Probe::Insert | Probe::Fresh => "incoming",
        }),
    );
    match probe {
        Probe::Lookup => format!(
            r#"
WITH incoming AS ({incoming}), changed AS (
    SELECT i.*, t.id IS NULL AS is_new, t.deleted_at IS NOT NULL AS was_deleted,
           t.data IS DISTINCT FROM i.data AS differs
    FROM incoming AS i LEFT JOIN {table} AS t ON t.id = i.id
    WHERE t.id IS NULL OR {must_write}
), up AS (
    {insert}
    RETURNING 1
)
SELECT count(*) FILTER (WHERE is_new),
       count(*) FILTER (WHERE NOT is_new AND differs),
       count(*) FILTER (WHERE NOT is_new AND NOT differs AND was_deleted),
       (SELECT count(*) FROM up)
FROM changed"#,
            must_write = must_write("i"),
        ),
        // A row the insert took is new when its version has no `xmax` (an
        // updated row's new version carries the lock `ON CONFLICT` took).
        // Rows written over are read as they were before the statement (its
        // snapshot) to tell changed from revived; new rows are not looked up.
        Probe::Insert | Probe::Fresh => format!(
            r#"
WITH incoming AS ({incoming}), up AS (
    {insert}
    WHERE {must_write}
    RETURNING t.id, t.data, t.xmax = 0 AS is_new
), written AS (
    SELECT up.is_new, old.deleted_at IS NOT NULL AS was_deleted, old.data IS DISTINCT FROM up.data AS differs
    FROM up LEFT JOIN LATERAL (
        SELECT o.data, o.deleted_at FROM {table} AS o WHERE NOT up.is_new AND o.id = up.id
    ) AS old ON true
)
SELECT count(*) FILTER (WHERE is_new),
       count(*) FILTER (WHERE NOT is_new AND differs),
       count(*) FILTER (WHERE NOT is_new AND NOT differs AND was_deleted),
       count(*)
FROM written"#,
            must_write = must_write("excluded"),
        ),
    }
}
