//! The words several parts of the simulator share: the documented statuses,
//! bundle types and platforms, the undocumented status the dataset adds, and
//! the list filter fields with the key of an absent value.

/// The documented statuses (the seeded dataset also holds one undocumented value).
pub const STATUSES: [&str; 10] = [
    "draft",
    "pending_setup",
    "published",
    "published_priority",
    "accepted",
    "in_review",
    "finalized",
    "completed",
    "cancelled",
    "archived",
];
pub const BUNDLE_TYPES: [&str; 3] = ["account_only", "account_and_videos", "videos_only"];
pub const PLATFORMS: [&str; 2] = ["tiktok", "instagram"];
/// The countries of seeded bundles and accounts (`USA` too: clients must not assume two letters).
pub const COUNTRIES: [&str; 7] = ["US", "FR", "DE", "GB", "BR", "USA", "JP"];

/// A status no documentation lists, so clients prove they accept new enum values.
pub const UNKNOWN_STATUS: &str = "on_hold_for_review";

/// The list filters, in the order of a bundle's interned keys.
pub const FILTER_FIELDS: [&str; 5] = ["status", "platform", "bundle_type", "external_ref", "account_status"];

/// The key of a filter field that is absent, null or not a string.
pub const NO_SYMBOL: u32 = u32::MAX;
