//! The handful of mutations the demo enqueues, the way an application would:
//! creations that cost credits (marked `external_ref = 'worker-demo'`), and
//! changes to bundles the mirror holds.

use anyhow::Context;
use sqlx::PgPool;

use crate::jobs::queue::{self, Job};
use crate::jobs::validate;
use crate::sim::SimServer;

/// Enqueues `count` mutations, cycling through a few kinds, and returns them.
pub async fn enqueue(pool: &PgPool, server: &SimServer, count: u32) -> anyhow::Result<Vec<Job>> {
    // Bundles that can still be published and configured: the newest pending ones.
    let pending: Vec<String> = server
        .list_items()
        .into_iter()
        .filter(|(_, item)| item["status"] == "pending_setup")
        .map(|(id, _)| id)
        .take(count as usize)
        .collect();
    let mut jobs = Vec::new();
    for i in 0..count as usize {
        let target = pending.get(i % pending.len().max(1)).cloned().unwrap_or_default();
        let (method, path, body) = match i % 5 {
            0 => ("POST", "/bundles".to_string(), r#"{"bundle_type":"account_only","platform":"tiktok","country":"US","title":"demo account","external_ref":"worker-demo"}"#.to_string()),
            1 => ("POST", "/bundles".to_string(), r#"{"bundle_type":"account_and_videos","platform":"instagram","country":"FR","videos_quantity":3,"external_ref":"worker-demo"}"#.to_string()),
            2 if !target.is_empty() => ("PUT", format!("/bundles/{target}/account"), r#"{"username":"demo_user","bio":"set by worker demo"}"#.to_string()),
            3 => ("POST", "/bundles/bulk".to_string(), r#"{"bundle_type":"account_only","platform":"tiktok","country":"DE","quantity":2,"external_ref":"worker-demo"}"#.to_string()),
            4 if !target.is_empty() => ("POST", format!("/bundles/{target}/publish"), "{}".to_string()),
            _ => ("POST", "/bundles".to_string(), r#"{"bundle_type":"account_only","platform":"youtube","country":"US","external_ref":"worker-demo"}"#.to_string()),
        };
        let job = validate::new_job(method, &path, Some(body), None, None)?;
        jobs.push(queue::insert(pool, &job).await.context("Failed to enqueue a demo mutation")?);
    }
    crate::errln!("enqueued {} mutations (plain INSERTs into tokportal.mutation_jobs)", jobs.len());
    Ok(jobs)
}
