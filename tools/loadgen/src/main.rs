//! `loadgen`: shopper journeys against the shop on loopback, and the benchmark suite behind
//! `scripts/bench`. Every run is bounded by a duration and a request count and stops by itself.
//!
//! ```sh
//! loadgen mix --base http://127.0.0.1:3000 -c 16 -d 60          # Online Boutique's mix
//! loadgen rate --base http://127.0.0.1:3000 --rps 200 -d 30      # fixed arrival rate
//! loadgen step checkout --cart-lines 20 -c 1 -d 15               # hammer one step
//! loadgen bench --runtime target/native-release/runtime-local    # the whole suite (scripts/bench)
//! ```
mod ab;
mod journey;
mod native;
mod otlp_sink;
mod stats;
mod suite;
mod target;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use journey::{Mix, RunConfig, Step};

#[derive(Parser)]
#[command(name = "loadgen", about = "Load generator for the shop (loopback targets only)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// The shop's base URL (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    base: String,
    /// How long to run, in seconds.
    #[arg(short, long, default_value_t = 30.0)]
    duration: f64,
    /// Stop after this many requests at most.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// Random seed (pages, quantities, addresses).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Shopper journeys: start at home, then browse 10, cart 3, add 2, home 1, checkout 1.
    Mix {
        #[command(flatten)]
        common: Common,
        /// Virtual users (each a closed loop, no think time).
        #[arg(short, long, default_value_t = 16)]
        concurrency: usize,
        /// Weights, e.g. `browse=10,cart=3,add=2,home=1,checkout=1`.
        #[arg(long)]
        mix: Option<String>,
    },
    /// Fixed arrival rate: `rps` steps a second (of the mix, or one `--step`).
    Rate {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        rps: f64,
        #[arg(long)]
        step: Option<Step>,
        #[arg(long)]
        mix: Option<String>,
        /// Most shoppers at once.
        #[arg(long, default_value_t = 256)]
        max_users: usize,
    },
    /// Hammer one step (checkout fills the cart with `--cart-lines` products first, unmeasured in its row).
    Step {
        step: Step,
        #[command(flatten)]
        common: Common,
        #[arg(short, long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 1)]
        cart_lines: usize,
    },
    /// The frontend's static route natively (hyper), for the runtime-overhead ratio.
    ServeNative {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// The benchmark suite: starts runtime-local, measures, prints one table, writes docs/benchmarks.md.
    Bench(Box<suite::BenchArgs>),
}

fn config(common: &Common, skus: Vec<String>) -> Result<RunConfig> {
    Ok(RunConfig {
        base: target::loopback_base(&common.base)?,
        duration: Duration::from_secs_f64(common.duration),
        max_requests: common.max_requests,
        seed: common.seed,
        skus: Arc::new(skus),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Mix { common, concurrency, mix } => {
            let base = target::loopback_base(&common.base)?;
            let cfg = config(&common, journey::discover_skus(&base).await?)?;
            let mix = mix.as_deref().map(Mix::parse).transpose()?.unwrap_or_default();
            let report = journey::run_mix(&cfg, &mix, concurrency).await;
            report.print(&format!("journey mix, {concurrency} shoppers"));
        }
        Command::Rate { common, rps, step, mix, max_users } => {
            let base = target::loopback_base(&common.base)?;
            let cfg = config(&common, journey::discover_skus(&base).await?)?;
            let mix = mix.as_deref().map(Mix::parse).transpose()?.unwrap_or_default();
            let report = journey::run_rate(&cfg, &mix, step, rps, max_users).await;
            report.print(&format!("fixed rate {rps}/s"));
        }
        Command::Step { step, common, concurrency, cart_lines } => {
            let base = target::loopback_base(&common.base)?;
            let skus = if step == Step::Static { vec!["-".to_string()] } else { journey::discover_skus(&base).await? };
            let cfg = config(&common, skus)?;
            let report = journey::run_step(&cfg, step, concurrency, cart_lines).await;
            report.print(&format!("{} x {concurrency}", step.label()));
        }
        Command::ServeNative { listen } => native::serve(listen).await?,
        Command::Bench(args) => suite::run(*args).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_takes_the_last_of_a_repeated_option() {
        // `scripts/bench --out <file>` comes after the script's own `--out docs/benchmarks.md`.
        let cli = Cli::try_parse_from([
            "loadgen", "bench", "--runtime", "rt", "--token", "t", "--out", "docs/benchmarks.md", "--mix-seconds", "3", "--out", "/tmp/b.md",
        ])
        .unwrap();
        let Command::Bench(args) = cli.command else { panic!("not bench") };
        assert_eq!(args.out.as_deref(), Some(std::path::Path::new("/tmp/b.md")));
        assert_eq!(args.mix_seconds, 3.0);
        assert!(args.baseline_runtime.is_none());
        // A/B needs both the baseline's runtime and its manifest.
        assert!(Cli::try_parse_from(["loadgen", "bench", "--runtime", "rt", "--token", "t", "--baseline-runtime", "b"]).is_err());
    }
}
