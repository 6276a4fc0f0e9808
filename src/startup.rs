//! From the configuration to the running parts. [`App`] is built once per
//! command from the validated [`Config`] and the process's one pool: it
//! holds the read client (the API key) and the write client (the write key,
//! else the API key), and hands out what each command needs: the
//! [`Mirror`], the [`Replayer`], the webhook [`Refresher`], the [`Scheduler`].
//! Commands only wire what it gives them. The only module that knows both
//! `config` and the subsystems ([`parts`] maps the one onto the others).

mod parts;

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use parts::{
    budget_options, client, client_with_store, database, jobs_settings, mirror_settings, pool, require_pool,
    write_client,
};

use crate::api::{Client, Priority};
use crate::config::Config;
use crate::db::Owner;
use crate::jobs::Replayer;
use crate::mirror::Mirror;
use crate::progress;
use crate::schedule::{self, Scheduler};
use crate::webhooks::Refresher;

/// The configuration, the pool and the key's clients of one command.
#[derive(Clone)]
pub struct App {
    config: Config,
    pool: PgPool,
    /// `None` without `TOKPORTAL_API_KEY`: asking for it says so.
    read: Option<Client>,
    /// `None` with neither key.
    write: Option<Client>,
    /// The session this process's claims (jobs, webhook batches) are tied
    /// to, opened by the first claim.
    owner: Owner,
}

impl App {
    /// Connects to `DATABASE_URL`, checks that every migration is applied,
    /// and builds the app.
    pub async fn connect(config: &Config) -> anyhow::Result<App> {
        App::build(config, database(config).await?).await
    }

    /// The app on `pool`, which answers and holds every migration (the
    /// clients' shared budget lives in it).
    pub async fn build(config: &Config, pool: PgPool) -> anyhow::Result<App> {
        let api = &config.api;
        let read = match api.key {
            Some(_) => Some(client(api, Some(&pool)).await?),
            None => None,
        };
        let write = match (&api.write_key, &api.key) {
            (None, None) => None,
            _ => Some(write_client(api, Some(&pool)).await?),
        };
        let owner = Owner::new(&pool);
        Ok(App { config: config.clone(), pool, read, write, owner })
    }

    /// The same app, whose clients stop waiting for the key's budget when
    /// `cancel` fires: a request still waiting is not sent (a page is left
    /// for the next run, a job is released, a refresh's events are released).
    pub fn cancelled_by(&self, cancel: &CancellationToken) -> App {
        let with = |c: &Option<Client>| c.as_ref().map(|c| c.with_cancel(cancel.clone()));
        App { read: with(&self.read), write: with(&self.write), ..self.clone() }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The client of `TOKPORTAL_API_KEY`: the walks and the refreshes.
    pub fn read(&self) -> anyhow::Result<&Client> {
        self.read.as_ref().ok_or_else(parts::no_key)
    }

    /// The client mutations are sent with.
    pub fn write(&self) -> anyhow::Result<&Client> {
        self.write.as_ref().ok_or_else(parts::no_key)
    }

    /// The mirror, drawing its progress on the terminal's bars when a
    /// command started them.
    pub fn mirror(&self) -> anyhow::Result<Mirror> {
        let m = Mirror::new(self.pool.clone(), self.read()?.clone(), mirror_settings(&self.config))
            .with_in_flight_memory(self.config.api.pages_in_flight_memory);
        Ok(m.with_progress(Arc::new(progress::Terminal)))
    }

    pub fn replayer(&self) -> anyhow::Result<Replayer> {
        Ok(Replayer {
            pool: self.pool.clone(),
            client: self.write()?.clone(),
            settings: jobs_settings(&self.config),
            owner: self.owner.clone(),
        })
    }

    /// The webhook refresher. Someone waits for a refresh: its requests go
    /// ahead of the walk's pages, within the share `webhooks.walk_share`
    /// leaves them.
    pub fn refresher(&self) -> anyhow::Result<Refresher> {
        let walk_share = self.config.webhooks.walk_share;
        Ok(Refresher {
            pool: self.pool.clone(),
            client: self.read()?.with_priority(Priority::Refresh { walk_share }),
            window: self.config.webhooks.coalesce,
            owner: self.owner.clone(),
            lease: crate::webhooks::refresh::LEASE,
        })
    }

    /// The configured streams (`sync.streams`) on the mirror.
    pub fn scheduler(&self) -> anyhow::Result<Scheduler> {
        Ok(Scheduler {
            mirror: self.mirror()?,
            streams: schedule::streams(&self.config.sync.streams),
            walk_share: self.config.sync.walk_share,
        })
    }
}
