//! What each event type can change, so what its refresh fetches: [`TABLE`]
//! (docs/webhooks.md shows the same table). A batch fetches
//! the union of its events' rows, each once, whatever their number and order.

/// Whether a refresh reads the bundle's slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slots {
    #[default]
    No,
    /// Unless the bundle says it has none (`videos_quantity` 0, as the walk's
    /// child stream skips it): a request that can only answer `[]` is not sent.
    IfAny,
    Yes,
}

/// What one event type makes a refresh fetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fetch {
    /// `GET /bundles/{id}`, stored as the list item.
    pub bundle: bool,
    /// `GET /bundles/{id}/videos`.
    pub slots: Slots,
    /// `GET /bundles/{id}/account`.
    pub account: bool,
}

const ROW: Fetch = Fetch { bundle: true, slots: Slots::No, account: false };

/// Event types (exact, or a whole family `family.*`) and what they can
/// change. The reference documents bundle events for created, published,
/// cancelled and archived only; slot and account names are assumed.
pub const TABLE: &[(&str, Fetch)] = &[
    // A new bundle: its row, its slots and its account are all missing from
    // the mirror, and no video.* or account.* event announces the first ones.
    ("bundle.created", Fetch { bundle: true, slots: Slots::IfAny, account: true }),
    // Status changes of the documented lifecycle: the row. Slots and the
    // account change with events of their own, and the next walk re-reads the
    // children of every bundle whose row changed (`sync.children_*`).
    ("bundle.published", ROW),
    ("bundle.cancelled", ROW),
    ("bundle.archived", ROW),
    // A bundle event the reference does not list: at least the row.
    ("bundle.*", ROW),
    ("video.*", Fetch { bundle: false, slots: Slots::Yes, account: false }),
    ("account.*", Fetch { bundle: false, slots: Slots::No, account: true }),
];

/// What `kind` fetches; `None` for a type the table does not know.
pub fn fetch_of(kind: &str) -> Option<Fetch> {
    let family = kind.split_once('.').map(|(family, _)| family);
    let matches = |t: &str| t == kind || (t.strip_suffix(".*").is_some() && t.strip_suffix(".*") == family);
    TABLE.iter().find(|(t, _)| matches(t)).map(|(_, fetch)| *fetch)
}

/// What one batch needs fetched: the union of its events' [`Fetch`]es.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    pub fetch: Fetch,
    /// Events of a type the table does not know: stored and counted only.
    pub unknown: u32,
}

impl Work {
    pub fn of(types: &[String]) -> Work {
        let mut w = Work::default();
        for t in types {
            match fetch_of(t) {
                Some(f) => {
                    w.fetch.bundle |= f.bundle;
                    w.fetch.slots = w.fetch.slots.max(f.slots);
                    w.fetch.account |= f.account;
                }
                None => w.unknown += 1,
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_created_bundle_fetches_its_row_slots_and_account_and_a_status_change_its_row() {
        let all = Fetch { bundle: true, slots: Slots::IfAny, account: true };
        assert_eq!(Work::of(&types(&["bundle.created"])), Work { fetch: all, unknown: 0 });
        for status in ["bundle.published", "bundle.cancelled", "bundle.archived", "bundle.renamed"] {
            assert_eq!(Work::of(&types(&[status])).fetch, ROW, "{status}");
        }
    }

    #[test]
    fn a_batch_fetches_the_union_and_unknown_types_fetch_nothing() {
        let w = Work::of(&types(&["bundle.published", "video.published", "ping", "bundlex"]));
        assert_eq!(w, Work { fetch: Fetch { bundle: true, slots: Slots::Yes, account: false }, unknown: 2 });
        let w = Work::of(&types(&["bundle.created", "video.updated"]));
        assert_eq!(
            w.fetch.slots,
            Slots::Yes,
            "an event about a slot reads them even if the bundle says none"
        );
        assert!(Work::of(&types(&["account.banned"])).fetch.account);
    }
}
