//! A bundle's video slots and account. Until something changes them they are
//! not stored: a [`Birth`] of 16 bytes regenerates them, identically, from the
//! bundle's own seed whenever they are read; the first change stores them.

use serde_json::{Value, json};
use uuid::Uuid;

use super::rng::Rng;
use super::vocab::{PLATFORMS, STATUSES, UNKNOWN_STATUS};

pub const VIDEO_STATUSES: [&str; 7] =
    ["pending", "configured", "published", "accepted", "in_review", "finalized", "pending_corrections"];

/// The statuses a bundle can be born in (seeded, or `pending_setup` when created).
const BIRTH_STATUSES: [&str; 11] = [
    STATUSES[0],
    STATUSES[1],
    STATUSES[2],
    STATUSES[3],
    STATUSES[4],
    STATUSES[5],
    STATUSES[6],
    STATUSES[7],
    STATUSES[8],
    STATUSES[9],
    UNKNOWN_STATUS,
];

/// What the children are generated from.
#[derive(Debug, Clone, Copy)]
pub struct ChildSpec<'a> {
    pub seed: u64,
    pub status: &'a str,
    pub videos: i64,
    pub platform: &'a str,
    pub country: &'a str,
}

/// The PRNG's draws for one bundle, in a fixed order; the list item's
/// `saved_account_id`, `account_status` and video counts come from them too.
#[derive(Debug, Clone)]
pub struct Drawn {
    pub saved_account_id: Option<Uuid>,
    pub account_status: Option<&'static str>,
    pub video_statuses: Vec<&'static str>,
    username: Option<String>,
}

impl Drawn {
    pub fn count(&self, wanted: &[&str]) -> usize {
        self.video_statuses.iter().filter(|s| wanted.contains(s)).count()
    }
}

pub fn draw(spec: &ChildSpec<'_>) -> Drawn {
    let mut rng = Rng::new(spec.seed);
    let delivered = matches!(spec.status, "accepted" | "in_review" | "finalized" | "completed");
    let saved_account_id = delivered.then(|| rng.uuid());
    let account_status = match spec.status {
        "draft" | "pending_setup" => None,
        _ if delivered => Some("delivered"),
        _ => Some(*rng.pick(&["pending", "in_creation", "delivered", "banned"])),
    };
    let video_statuses = (0..spec.videos.max(0))
        .map(|_| if spec.status == "pending_setup" { "pending" } else { *rng.pick(&VIDEO_STATUSES) })
        .collect();
    let username = delivered.then(|| format!("user_{}", rng.hex(8)));
    Drawn { saved_account_id, account_status, video_statuses, username }
}

/// Children that were changed, so they are stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Owned {
    pub videos: Vec<Value>,
    pub account: Value,
}

pub fn generate(spec: &ChildSpec<'_>, id: Uuid, drawn: &Drawn) -> Owned {
    let videos = drawn
        .video_statuses
        .iter()
        .zip(1i64..)
        .map(|(status, position)| {
            let configured = *status != "pending";
            json!({
                "position": position,
                "status": status,
                "caption": configured.then(|| format!("Clip {position} ✨")),
                "video_url": configured.then(|| format!("https://cdn.example.test/{id}/{position}.mp4")),
                "scheduled_date": Value::Null,
            })
        })
        .collect();
    let account = json!({
        "bundle_id": id.to_string(),
        "platform": spec.platform,
        "country": spec.country,
        "username": drawn.username,
        "display_name": drawn.username.is_some().then_some("Zoë ✓"),
        "bio": Value::Null,
        "status": drawn.account_status.unwrap_or("pending"),
        "saved_account_id": drawn.saved_account_id.map(|id| id.to_string()),
    });
    Owned { videos, account }
}

/// A [`ChildSpec`] packed in 16 bytes (`None` if a value does not fit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Birth {
    seed: u64,
    videos: u16,
    status: u8,
    platform: u8,
    /// Two or three ASCII bytes, zero-padded.
    country: [u8; 3],
}

impl Birth {
    pub fn pack(spec: &ChildSpec<'_>) -> Option<Birth> {
        let index = |list: &[&str], value: &str| list.iter().position(|s| *s == value)?.try_into().ok();
        let bytes = spec.country.as_bytes();
        if !(1..=3).contains(&bytes.len()) || bytes.contains(&0) {
            return None;
        }
        let mut country = [0u8; 3];
        country[..bytes.len()].copy_from_slice(bytes);
        Some(Birth {
            seed: spec.seed,
            videos: spec.videos.try_into().ok()?,
            status: index(&BIRTH_STATUSES, spec.status)?,
            platform: index(&PLATFORMS, spec.platform)?,
            country,
        })
    }

    pub fn spec(&self) -> ChildSpec<'_> {
        let len = self.country.iter().position(|b| *b == 0).unwrap_or(3);
        ChildSpec {
            seed: self.seed,
            status: BIRTH_STATUSES[usize::from(self.status)],
            videos: i64::from(self.videos),
            platform: PLATFORMS[usize::from(self.platform)],
            country: std::str::from_utf8(&self.country[..len]).unwrap_or_default(),
        }
    }
}

/// Generated on demand from `birth` until changed; stored in `owned` from the
/// first change on (or from the start when the spec cannot be packed).
#[derive(Debug, Clone, PartialEq)]
pub struct Children {
    birth: Birth,
    owned: Option<Box<Owned>>,
}

impl Children {
    /// Packed when possible; stored otherwise.
    pub fn new(spec: &ChildSpec<'_>, id: Uuid, drawn: &Drawn) -> Self {
        match Birth::pack(spec) {
            Some(birth) => Children { birth, owned: None },
            None => Children { birth: Birth::default(), owned: Some(Box::new(generate(spec, id, drawn))) },
        }
    }

    pub fn is_stored(&self) -> bool {
        self.owned.is_some()
    }

    /// The children as the endpoints serve them.
    pub fn get(&self, id: Uuid) -> Owned {
        match &self.owned {
            Some(owned) => (**owned).clone(),
            None => regenerate(&self.birth, id),
        }
    }

    /// Stores them (if not yet) so they can be changed.
    pub fn get_mut(&mut self, id: Uuid) -> &mut Owned {
        let birth = self.birth;
        self.owned.get_or_insert_with(|| Box::new(regenerate(&birth, id)))
    }
}

fn regenerate(birth: &Birth, id: Uuid) -> Owned {
    let spec = birth.spec();
    generate(&spec, id, &draw(&spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_children_regenerate_exactly_what_was_drawn() {
        let spec = ChildSpec { seed: 9, status: "completed", videos: 5, platform: "tiktok", country: "USA" };
        let id = Uuid::from_u128(7);
        let children = Children::new(&spec, id, &draw(&spec));
        assert!(!children.is_stored());
        assert_eq!(children.get(id), generate(&spec, id, &draw(&spec)));
        assert_eq!(children.get(id).videos.len(), 5);
        assert_eq!(children.get(id).account["country"], "USA");
    }

    #[test]
    fn what_cannot_be_packed_is_stored_and_a_change_is_kept() {
        let spec = ChildSpec { seed: 1, status: "brand_new", videos: 2, platform: "tiktok", country: "FR" };
        let id = Uuid::from_u128(8);
        let mut children = Children::new(&spec, id, &draw(&spec));
        assert!(children.is_stored());
        let packed = ChildSpec { status: "published", ..spec };
        let mut seeded = Children::new(&packed, id, &draw(&packed));
        seeded.get_mut(id).account["bio"] = json!("changed");
        assert_eq!(seeded.get(id).account["bio"], "changed");
        children.get_mut(id).videos.clear();
        assert!(children.get(id).videos.is_empty());
    }
}
