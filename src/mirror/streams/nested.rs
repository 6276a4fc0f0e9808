//! What a per-parent list stream is ([`NestedStream`]): for each live row of
//! a parent list stream, every page of `GET {prefix}{parent id}{suffix}`,
//! once per filter of `passes`, into a table keyed by the item's `id` with
//! the parent's id in `parent_column`. Run by `mirror::nested`.

#[derive(Debug)]
pub struct NestedStream {
    pub name: &'static str,
    /// The list stream whose live rows are the parents.
    pub parent: &'static super::ListStream,
    /// `GET {prefix}{id}{suffix}`.
    pub prefix: &'static str,
    pub suffix: &'static str,
    pub table: &'static str,
    /// The column holding the id of the parent the row was listed under.
    pub parent_column: &'static str,
    /// The walks of one parent, in order, each with its filter: together
    /// they partition the list (a server ignoring the filter costs a second
    /// walk of the same items, absorbed by id).
    pub passes: &'static [(&'static str, &'static str)],
    /// The 404 codes proving the parent gone (its rows go with it).
    pub gone_codes: &'static [&'static str],
    pub columns: &'static [super::Column],
}
