//! The deterministic dataset: bundles (every documented status and type, nullable
//! fields, awkward titles, unknown fields and one unknown status), their video
//! slots and accounts (see [`super::children`]), and each key's credit history,
//! all drawn from one seed.

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::bundle::Draft;
use super::children::{self, ChildSpec, Children};
use super::dataset::Dataset;
use super::rng::Rng;
use super::saved::pool::Pool;
use super::vocab::{BUNDLE_TYPES, COUNTRIES, PLATFORMS, STATUSES, UNKNOWN_STATUS};

const TITLES: [&str; 14] = [
    "Summer launch",
    "Café ☕ été — édition spéciale",
    "日本のキャンペーン",
    "🚀 Rocket drop 🚀",
    "He said \"go\"",
    "it's 'quoted'",
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "bell\u{7}char",
    "zero\u{200b}width",
    "Ünïcödé ñ Ω",
    "   padded   ",
    "",
];

/// What a new bundle is made of (from a create request or the PRNG).
#[derive(Debug, Clone)]
pub struct BundleSpec {
    pub bundle_type: String,
    pub platform: String,
    pub country: String,
    pub title: Option<String>,
    pub external_ref: Option<String>,
    pub videos_quantity: i64,
    pub edits_quantity: i64,
    pub review_mode: String,
    pub auto_finalize_videos: bool,
}

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).single().expect("a valid fixed date")
}

/// A bundle in `status`, born now: its id and its children's seed are the
/// next two draws of `rng`; slots and account follow the spec.
pub fn build(rng: &mut Rng, spec: &BundleSpec, status: &str, created_at: DateTime<Utc>) -> Draft {
    let id = rng.uuid();
    let child = ChildSpec {
        seed: rng.next_u64(),
        status,
        videos: spec.videos_quantity,
        platform: &spec.platform,
        country: &spec.country,
    };
    let drawn = children::draw(&child);
    let configured = drawn.video_statuses.len() - drawn.count(&["pending"]);
    let published = drawn.count(&["published", "accepted", "in_review", "finalized"]);
    let mut fields = Map::new();
    fields.insert("id".into(), Value::Null);
    fields.insert("status".into(), json!(status));
    fields.insert("bundle_type".into(), json!(spec.bundle_type));
    fields.insert("platform".into(), json!(spec.platform));
    fields.insert("country".into(), json!(spec.country));
    fields.insert("title".into(), json!(spec.title));
    fields.insert("external_ref".into(), json!(spec.external_ref));
    fields.insert("videos_quantity".into(), json!(spec.videos_quantity));
    fields.insert("edits_quantity".into(), json!(spec.edits_quantity));
    fields.insert("review_mode".into(), json!(spec.review_mode));
    fields.insert("auto_finalize_videos".into(), json!(spec.auto_finalize_videos));
    fields.insert("saved_account_id".into(), json!(drawn.saved_account_id.map(|id| id.to_string())));
    fields.insert("account_status".into(), json!(drawn.account_status));
    fields.insert("created_at".into(), json!(timestamp(created_at)));
    fields.insert("videos_configured".into(), json!(configured));
    fields.insert("videos_published".into(), json!(published));
    Draft { id, fields, children: Children::new(&child, id, &drawn) }
}

/// A random but valid spec: the seeded bundles and drift inserts use it.
pub fn random_spec(rng: &mut Rng, index: usize, ref_pool: u64) -> BundleSpec {
    let bundle_type = BUNDLE_TYPES[index % BUNDLE_TYPES.len()].to_string();
    let videos_quantity = if bundle_type == "account_only" { 0 } else { rng.between(1, 8) as i64 };
    let title = (!rng.chance(0.15)).then(|| {
        let base = rng.pick(&TITLES);
        if rng.chance(0.5) { format!("{base} #{index}") } else { base.to_string() }
    });
    BundleSpec {
        bundle_type,
        platform: rng.pick(&PLATFORMS).to_string(),
        country: rng.pick(&COUNTRIES).to_string(),
        title,
        // Shared refs on purpose: bulk creation copies one ref to many bundles.
        external_ref: (!rng.chance(0.4)).then(|| format!("ord-{}", rng.below(ref_pool.max(1)))),
        videos_quantity,
        edits_quantity: rng.below(4) as i64,
        review_mode: rng.pick(&["auto", "manual"]).to_string(),
        auto_finalize_videos: rng.chance(0.5),
    }
}

/// `count` bundles, one every 1 to 120 minutes from 2026-01-05. The first ones
/// cover every documented status (and the unknown one); every seventh carries
/// fields no documentation lists.
///
/// A delivered bundle's `saved_account_id` is one of `pool` (the seeded
/// accounts' ids), of its platform and country where there is one, picked by
/// the id the bundle drew, so the rest of its draws stay as they were.
pub fn bundles(seed: u64, count: usize, pool: &[Uuid]) -> Dataset {
    let mut rng = Rng::new(seed);
    let mut at = epoch();
    let drafts = (0..count).map(move |index| {
        at += Duration::seconds(rng.between(60, 7200) as i64);
        let status = match index {
            i if i < STATUSES.len() => STATUSES[i],
            i if i % 23 == 10 => UNKNOWN_STATUS,
            _ => *rng.pick(&STATUSES),
        };
        let spec = random_spec(&mut rng, index, count as u64 / 3);
        let mut draft = build(&mut rng, &spec, status, at);
        let drawn = draft.fields.get("saved_account_id").and_then(Value::as_str).and_then(|s| s.parse().ok());
        if let Some(drawn) = drawn {
            let id = Pool::for_bundle(pool, &spec.platform, &spec.country, drawn);
            draft.fields.insert("saved_account_id".into(), json!(id.map(|id| id.to_string())));
        }
        if index % 7 == 3 {
            draft.fields.insert("x_beta_flags".into(), json!(["fast_track", "ünknown"]));
            draft.fields.insert("priority_score".into(), json!(rng.below(1000) as f64 / 1000.0));
        }
        draft
    });
    Dataset::from_oldest_first(drafts)
}

/// A key's credit history, newest first, ending at `balance`: a purchase, then
/// usage debits. Deterministic per seed and key index.
pub fn credit_history(seed: u64, key_index: usize, balance: i64) -> Vec<Value> {
    let mut rng = Rng::new(seed ^ (0xC0FF_EE00 + key_index as u64));
    let debits: Vec<i64> = (0..40).map(|_| rng.between(2, 40) as i64).collect();
    let mut running = balance + debits.iter().sum::<i64>();
    let mut at = epoch() - Duration::days(2);
    let mut history = vec![json!({
        "id": rng.uuid().to_string(),
        "type": "purchase",
        "amount": running,
        "balance_after": running,
        "description": "Credit pack",
        "bundle_id": Value::Null,
        "created_at": timestamp(at),
    })];
    for amount in debits {
        at += Duration::seconds(rng.between(600, 20_000) as i64);
        running -= amount;
        history.push(json!({
            "id": rng.uuid().to_string(),
            "type": "debit",
            "amount": -amount,
            "balance_after": running,
            "description": "Bundle creation",
            "bundle_id": rng.uuid().to_string(),
            "created_at": timestamp(at),
        }));
    }
    history.reverse();
    history
}
