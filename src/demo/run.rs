//! The full demo: an in-process simulator, a database ([`postgres`](super::postgres)),
//! then what the worker does in production, one step after the other:
//! migrate, mirror every stream, enqueue a handful of mutations, replay them
//! while the simulator fails requests and drops answers, and check against
//! the simulator's own ledger that each ran, and was charged, exactly once.

use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::SecretString;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::postgres::{self, Database};
use super::report::{self, Phase, Replay};
use crate::cli::DemoArgs;
use crate::config::Config;
use crate::db;
use crate::jobs::{self, queue};
use crate::mirror::{self, Mirror, Outcome};
use crate::sim::{self, DEMO_KEY, FaultTarget, SimConfig, SimServer};
use crate::startup::App;

/// Child requests one run may spend in the demo (600 in production): keeps
/// the default demo well under a minute at 20 requests/s.
const DEMO_CHILD_REQUESTS: u32 = 150;

/// Most drains the replay phase runs before it gives up on jobs still queued
/// (the demo's faults are a handful: every job is done within a few drains).
/// A count, not a deadline: a busy machine makes drains slower, not more.
const MAX_DRAINS: u32 = 100;

pub async fn run(args: &DemoArgs, bundles: usize, config: &Config) -> anyhow::Result<()> {
    // Listening before the database opens: a signal that comes while a
    // throwaway cluster starts is held (not the default action, which would
    // kill the process and leave the cluster behind) and stops the demo below.
    let mut interrupt = Interrupt::listen()?;
    let database = postgres::open(config, args.throwaway, args.pg_bin.as_deref()).await?;
    crate::errln!("database: {}", database.described);
    // Ctrl-C or SIGTERM (a container stopping, a timeout) must not leave a
    // throwaway server running: stop, clean up, then fail.
    let outcome = tokio::select! {
        outcome = with_database(args, bundles, config, &database) => outcome,
        signal = interrupt.recv() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    let kept_at = database.kept_at.clone();
    database.close().await?;
    outcome?;
    report::try_next(kept_at.as_deref());
    Ok(())
}

/// SIGINT and SIGTERM, registered at once (not on first poll).
struct Interrupt {
    int: Signal,
    term: Signal,
}

impl Interrupt {
    fn listen() -> anyhow::Result<Interrupt> {
        Ok(Interrupt {
            int: signal(SignalKind::interrupt()).context("Failed to listen for SIGINT")?,
            term: signal(SignalKind::terminate()).context("Failed to listen for SIGTERM")?,
        })
    }

    /// The first of the two to arrive.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

async fn with_database(
    args: &DemoArgs,
    bundles: usize,
    config: &Config,
    database: &Database,
) -> anyhow::Result<()> {
    let pool = &database.pool;
    let migrations = db::migrate(pool).await?;
    crate::errln!("migrations: {migrations} applied");
    let sim_config =
        SimConfig { bundles, rate_per_second: args.rate, burst: args.burst, ..SimConfig::default() };
    let server = sim::start(sim_config).await.context("Failed to start the simulator")?;
    let outcome = against(args, config, pool, &server).await;
    server.shutdown().await;
    outcome
}

async fn against(
    args: &DemoArgs,
    config: &Config,
    pool: &sqlx::PgPool,
    server: &SimServer,
) -> anyhow::Result<()> {
    let mut config = config.clone();
    let api = &mut config.api;
    api.base_url = server.base_url();
    api.key = Some(SecretString::from(DEMO_KEY));
    api.write_key = None;
    api.rate_per_second = args.rate;
    api.burst = args.burst;
    api.timeout = Duration::from_secs(5);
    api.max_wait = Duration::from_secs(60);
    config.sync.max_requests_per_run = DEMO_CHILD_REQUESTS;
    let app = App::build(&config, pool.clone()).await?;
    super::refuse_foreign_mirror(pool, server, app.read()?).await?;
    let m = app.mirror()?;
    crate::errln!(
        "simulator at {} with {} bundles, bucket of {} refilling at {}/s (the real key: 120 at 2/s)",
        server.base_url(),
        server.bundle_ids().len(),
        args.burst,
        args.rate
    );

    let mirrored = mirror_all(&m, server).await?;

    let jobs = super::mutations::enqueue(pool, server, args.mutations).await?;
    // Writes only: the first two sends fail before executing (503), the next
    // two execute and lose their answer; each is sent again with its key.
    server.update_faults(|f| {
        f.target = FaultTarget::Writes;
        f.fail_next = 2;
        f.drop_next = 2;
    })?;
    let replay = replay_all(&app).await?;
    server.update_faults(|f| *f = sim::Faults::default())?;

    crate::errln!("mirroring again: the new bundles arrive, the credit ledger shows the charges");
    let again = mirror_all(&m, server).await?;

    let ledger = server.ledger();
    let finished =
        queue::list(pool, None, i64::from(args.mutations) + 10).await.context("Failed to list the jobs")?;
    let report = report::Summary {
        mirrored,
        again,
        replay,
        jobs: &jobs,
        finished: &finished,
        ledger: &ledger,
        fired: server.stats().faults_fired,
        burst: args.burst,
        rate: args.rate,
    };
    report.print();
    let sample = report::run_queries(pool).await?;
    crate::output::out(&sample);
    report.verdict()
}

/// One pass over every stream, in the sync's order.
async fn mirror_all(m: &Mirror, server: &SimServer) -> anyhow::Result<Phase> {
    let before = server.key_stats(DEMO_KEY).map(|k| k.requests).unwrap_or(0);
    let started = Instant::now();
    let cancel = CancellationToken::new();
    let mut runs = Vec::new();
    for stream in mirror::ORDER {
        match mirror::sync_stream_once(m, stream, &cancel).await? {
            Outcome::Ran(run) => {
                crate::errln!("  {}", run);
                if let Some(e) = run.error {
                    return Err(e.context(format!("the demo's walk of {stream} failed")));
                }
                runs.push((run.stream, run.tally));
            }
            Outcome::Skipped { stream } => anyhow::bail!("{stream}: another process is walking it"),
        }
    }
    let requests = server.key_stats(DEMO_KEY).map(|k| k.requests).unwrap_or(0) - before;
    Ok(Phase { runs, requests, wall: started.elapsed() })
}

/// Drains the queue until every job is finished, waiting for retried jobs'
/// backoff (short in the demo) between drains.
async fn replay_all(app: &App) -> anyhow::Result<Replay> {
    let pool = app.pool();
    let mut replayer = app.replayer()?;
    replayer.settings.backoff_min = Duration::from_millis(200);
    replayer.settings.backoff_max = Duration::from_secs(1);
    replayer.settings.lease = Duration::from_secs(120);
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let mut replay = Replay::default();
    loop {
        let report = jobs::drain(&replayer, 4, &cancel).await?;
        if let Some(e) = report.key_refused {
            return Err(anyhow::Error::new(e).context("the simulator refused the demo key"));
        }
        replay.drains += 1;
        replay.retried += report.retrying;
        let queued = queue::list(pool, Some("queued"), 1000).await.context("Failed to list queued jobs")?;
        let Some(next) = queued.iter().map(|j| j.run_after).min() else { break };
        anyhow::ensure!(
            replay.drains < MAX_DRAINS,
            "{} jobs were still queued after {MAX_DRAINS} drains",
            queued.len()
        );
        // The next retry is due at a known time: wait for it, not for a guess.
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait.min(Duration::from_secs(5))).await;
    }
    replay.wall = started.elapsed();
    crate::errln!("  replay: every job finished after {} drains ({} retries)", replay.drains, replay.retried);
    Ok(replay)
}
