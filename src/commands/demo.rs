//! `worker demo`: checks the flags (exit 2 for a bad one), then runs the full
//! demo or, with `--walk-only`, the walk alone (see [`crate::demo`]).

use crate::cli::{DemoArgs, usage};
use crate::config::Config;
use crate::demo;
use crate::sim::MAX_BUNDLES;

pub async fn run(args: DemoArgs, config: &Config) -> anyhow::Result<()> {
    let bundles = args.bundles.unwrap_or(if args.walk_only { 30_000 } else { 2_000 });
    check(&args, bundles).map_err(|message| usage("demo", message))?;
    if args.walk_only {
        demo::walk::run(&args, bundles, config).await
    } else {
        demo::run::run(&args, bundles, config).await
    }
}

fn check(args: &DemoArgs, bundles: usize) -> Result<(), String> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        return Err(format!("--rate must be a positive number of requests per second, got {}", args.rate));
    }
    if args.burst == 0 {
        return Err("--burst must be at least 1".into());
    }
    if bundles > MAX_BUNDLES {
        return Err(format!("--bundles {bundles} is more than the simulator holds (at most {MAX_BUNDLES})"));
    }
    if args.walk_only && (args.throwaway || args.pg_bin.is_some()) {
        return Err("--walk-only needs no database: drop --throwaway and --pg-bin".into());
    }
    if !args.walk_only && args.drift_every > 0 {
        return Err("--drift-every goes with --walk-only".into());
    }
    if args.mutations > 100 {
        return Err(format!("--mutations must be at most 100, got {}", args.mutations));
    }
    Ok(())
}
