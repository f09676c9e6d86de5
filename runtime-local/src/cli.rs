//! The `runtime-local` command line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::{App, Limits, RuntimeOptions};

/// Runs a Spin 3.x HTTP application locally on an embedded wasmtime.
#[derive(Parser, Debug)]
#[command(name = "runtime-local", version, about)]
pub struct Cli {
    /// Command.
    #[command(subcommand)]
    pub command: Command,
}

/// Sub-commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the application's HTTP trigger (like `spin up`).
    Up(UpArgs),
}

/// `runtime-local up` options.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Path to the application manifest.
    #[arg(short = 'f', long = "manifest", default_value = "spin.toml")]
    pub manifest: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000", env = "SPIN_HTTP_LISTEN_ADDR")]
    pub listen: SocketAddr,
    /// Set an application variable (`name=value`); wins over SPIN_VARIABLE_* and defaults.
    #[arg(long = "variable", value_name = "NAME=VALUE")]
    pub variables: Vec<String>,
    /// Compile cache directory [default: MANIFEST_DIR/.cache/runtime-local].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Do not read or write the compile cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Maximum linear memory per component instance, in MiB.
    #[arg(long, default_value_t = 64)]
    pub max_memory_mib: usize,
    /// Execution deadline per request, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
    /// Maximum request body size, in KiB.
    #[arg(long, default_value_t = 1024)]
    pub max_body_kib: usize,
    /// Run only this component (and its triggers); repeatable. Default: all components.
    #[arg(short = 'c', long = "component-id")]
    pub components: Vec<String>,
    /// Fail every Postgres query that returns no rows, as a check that the app never sends one
    /// (Spin 4.0.0-4.0.2 hang on such a query: spinframework/spin#3671).
    #[arg(long)]
    pub refuse_empty_query_results: bool,
}

/// Parses `name=value` pairs.
pub fn parse_variables(pairs: &[String]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            bail!("invalid --variable {p:?}: expected NAME=VALUE");
        };
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

/// Runs the CLI (called by the binary).
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Up(args) => {
            let options = RuntimeOptions {
                variables: parse_variables(&args.variables)?,
                env_variables: true,
                cache_dir: args.cache_dir.clone(),
                no_cache: args.no_cache,
                components: args.components.clone(),
                refuse_empty_query_results: args.refuse_empty_query_results,
                guest_output: None,
                // Like Spin: traces on when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set.
                otlp: crate::telemetry::OtlpConfig::from_env()?,
                limits: Limits {
                    max_memory_bytes: args.max_memory_mib << 20,
                    execution_time: Duration::from_secs(args.timeout_secs),
                    max_request_body_bytes: args.max_body_kib << 10,
                    ..Limits::default()
                },
            };
            let app = App::load(&args.manifest, options)
                .await
                .with_context(|| format!("failed to load {}", args.manifest.display()))?;
            let server = app.serve(args.listen).await?;
            println!("Serving {}", server.url());
            println!("Available Routes:");
            for (route, component) in app.routes() {
                println!("  {component}: {}{route}", server.url());
            }
            server.run_until_signal().await;
            Ok(())
        }
    }
}
