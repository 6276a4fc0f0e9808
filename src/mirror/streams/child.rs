//! What a per-bundle child stream is ([`ChildStream`]): one request per
//! bundle, `GET /bundles/{id}/{suffix}`, into a table keyed by `bundle_id`.
//! Which bundles a run fetches is planned by `mirror::children`.

#[derive(Debug)]
pub struct ChildStream {
    pub name: &'static str,
    /// `GET /bundles/{id}/{suffix}`.
    pub suffix: &'static str,
    pub table: &'static str,
    /// The answer is the bundle's list of video slots (else one account).
    pub videos: bool,
}

/// The documented 404 codes of a slot or an account that does not exist.
pub const CHILD_NOT_FOUND: &[&str] = &["VIDEO_NOT_FOUND", "ACCOUNT_NOT_FOUND"];
