//! What the snapshot streams are: one object read as it is now, kept as a
//! new row only when it changed. A [`SnapshotStream`] is one request a run
//! (`GET {path}`); a [`DailyStream`] is one request per live row of a parent
//! list stream (`GET {prefix}{id}{suffix}`), one row per parent and day, the
//! parents in rotation. Run by `mirror::snapshots`.

#[derive(Debug)]
pub struct SnapshotStream {
    pub name: &'static str,
    pub path: &'static str,
    pub table: &'static str,
}

#[derive(Debug)]
pub struct DailyStream {
    pub name: &'static str,
    /// The list stream whose live rows are the parents.
    pub parent: &'static super::ListStream,
    /// `GET {prefix}{id}{suffix}`.
    pub prefix: &'static str,
    pub suffix: &'static str,
    pub table: &'static str,
    /// The 404 codes proving the parent gone.
    pub gone_codes: &'static [&'static str],
}
