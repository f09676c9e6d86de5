//! The benchmark suite behind `scripts/bench`: starts runtime-local (cold, then warm compile
//! cache), migrates, runs the journey mix, checkout alone, the trivial-route overhead against a
//! native twin, the cost of OTLP tracing (export off and on, interleaved), a round-trip audit with
//! debug logs, and reports one table (stdout and `docs/benchmarks.md`, between the `bench:begin` /
//! `bench:end` markers).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use tokio::process::{Child, Command};

use crate::journey::{self, Mix, RunConfig, Shopper, Step};
use crate::otlp_sink::{OtlpSink, SinkCounts};
use crate::stats::{Report, Stats, StepStats};

#[derive(Args, Clone)]
// A later occurrence wins, so `scripts/bench --out <scratch file>` overrides the script's own
// `--out docs/benchmarks.md` (e.g. for a short test run).
#[command(args_override_self = true)]
pub struct BenchArgs {
    /// The runtime-local binary (built with the `native-release` profile).
    #[arg(long)]
    pub(crate) runtime: PathBuf,
    /// The app manifest.
    #[arg(long, default_value = "spin.toml")]
    pub(crate) manifest: PathBuf,
    /// Where logs and compile caches go.
    #[arg(long, default_value = "target/bench")]
    pub(crate) work_dir: PathBuf,
    /// The markdown report to update (between `<!-- bench:begin -->` and `<!-- bench:end -->`).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// The operator token the runtime gets (for `POST /admin/migrate`).
    #[arg(long, env = "SPIN_VARIABLE_OPERATOR_TOKEN", hide_env_values = true)]
    pub(crate) token: String,
    /// Redis to clean up after the run: every key under the prefix is deleted.
    #[arg(long, env = "SPIN_VARIABLE_REDIS_URL", hide_env_values = true)]
    pub(crate) redis_url: Option<String>,
    #[arg(long, env = "SPIN_VARIABLE_REDIS_PREFIX")]
    pub(crate) redis_prefix: Option<String>,
    /// The shop's database, where the recommendations step adds its orders.
    #[arg(long, env = "SPIN_VARIABLE_DB_URL", hide_env_values = true)]
    pub(crate) db_url: Option<String>,
    /// Seconds of each probe of the throughput-at-objective search; 0 skips the search.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) objective_seconds: f64,
    /// Orders the recommendations step adds before measuring the pages again; 0 skips the step.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) recommendation_orders: u32,
    /// Seconds of product and cart pages in each half of the recommendations step.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) pages_seconds: f64,
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Seconds of journey mix.
    #[arg(long, default_value_t = 60.0)]
    pub(crate) mix_seconds: f64,
    /// Seconds of warm-up before the mix (not reported).
    #[arg(long, default_value_t = 5.0)]
    pub(crate) warmup_seconds: f64,
    /// Seconds of each checkout-alone run.
    #[arg(long, default_value_t = 15.0)]
    pub(crate) checkout_seconds: f64,
    /// Seconds of each trivial-route run.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) trivial_seconds: f64,
    /// Seconds of journey mix in each tracing-cost round (OTLP export off, on, off, on); 0 skips them.
    #[arg(long, default_value_t = 20.0)]
    pub(crate) tracing_seconds: f64,
    /// Off/on pairs of tracing-cost rounds.
    #[arg(long, default_value_t = 2)]
    pub(crate) tracing_pairs: usize,
    /// A note for the report (e.g. the load average when it was not idle).
    #[arg(long, default_value = "")]
    pub(crate) note: String,
    /// A/B mode: runtime-local built from the baseline revision. The suite's main steps then run
    /// on the baseline and on `--runtime` (interleaved, so the machine's drift falls on both) and
    /// the report is one side-by-side table (baseline | current | change). Not run in A/B mode:
    /// the native twin of the trivial route, recommendations at scale and the tracing cost.
    #[arg(long, requires = "baseline_manifest")]
    pub(crate) baseline_runtime: Option<PathBuf>,
    /// A/B mode: the baseline's app manifest (its components built from the baseline revision).
    #[arg(long, requires = "baseline_runtime")]
    pub(crate) baseline_manifest: Option<PathBuf>,
    /// A/B mode: the baseline's own database (its runtime migrates it), so a schema change in the
    /// current revision cannot break the baseline. Default: the current side's database.
    #[arg(long)]
    pub(crate) baseline_db_url: Option<String>,
    /// A/B mode: the baseline's Redis key prefix (deleted afterwards). Default: `<prefix>base:`.
    #[arg(long)]
    pub(crate) baseline_redis_prefix: Option<String>,
    /// A/B mode: how the report names the baseline (e.g. its commit).
    #[arg(long, default_value = "baseline")]
    pub(crate) baseline_label: String,
    /// A/B mode: rounds per side of each timed step, alternating A, B, A, B, ... (each round
    /// lasts the step's duration divided by this, so each side gets the step's full duration).
    #[arg(long, default_value_t = 2)]
    pub(crate) ab_rounds: usize,
}

/// Targets from issue 6.
const HOME_P99_MS: f64 = 25.0;
const CHECKOUT_P50_MS: f64 = 25.0;
const OVERHEAD_RATIO: f64 = 3.0;
pub(crate) const COMPONENT_BYTES: u64 = 1_000_000;
pub(crate) const TOTAL_BYTES: u64 = 4_000_000;
const PEAK_RSS_BYTES: u64 = 200 * 1024 * 1024;
const WARM_START_MS: f64 = 1000.0;
/// Issue 13: throughput lost with every request traced and exported.
const TRACING_LOSS_PCT: f64 = 10.0;
/// Seconds of (unreported) mix after each restart of the tracing-cost rounds.
const TRACING_WARMUP_SECONDS: f64 = 3.0;

/// One row of the report.
pub(crate) struct Row {
    pub(crate) name: String,
    stats: Option<(StepStats, f64)>,
    pub(crate) value: String,
    target: String,
    met: Option<bool>,
}

impl Row {
    fn latency(name: impl Into<String>, s: &StepStats, rps: f64) -> Row {
        Row { name: name.into(), stats: Some((s.clone(), rps)), value: String::new(), target: String::new(), met: None }
    }
    pub(crate) fn value(name: impl Into<String>, value: impl Into<String>) -> Row {
        Row { name: name.into(), stats: None, value: value.into(), target: String::new(), met: None }
    }
    fn target(mut self, target: impl Into<String>, met: bool) -> Row {
        self.target = target.into();
        self.met = Some(met);
        self
    }
}

fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measurement | requests | errors | req/s | p50 ms | p95 ms | p99 ms | value | target | met |\n\
         |---|---:|---:|---:|---:|---:|---:|---|---|---|\n",
    );
    for r in rows {
        let (requests, errors, rps, p50, p95, p99) = match &r.stats {
            Some((s, rps)) => (
                s.requests.to_string(),
                s.errors.to_string(),
                format!("{rps:.1}"),
                format!("{:.2}", s.p(0.5)),
                format!("{:.2}", s.p(0.95)),
                format!("{:.2}", s.p(0.99)),
            ),
            None => Default::default(),
        };
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(
            out,
            "| {} | {requests} | {errors} | {rps} | {p50} | {p95} | {p99} | {} | {} | {met} |",
            r.name, r.value, r.target
        );
    }
    out
}

pub async fn run(args: BenchArgs) -> Result<()> {
    if args.baseline_runtime.is_some() {
        return crate::ab::run(args).await;
    }
    std::fs::create_dir_all(&args.work_dir)?;
    let work = std::fs::canonicalize(&args.work_dir)?;
    let machine = machine_info(&args.note);
    eprintln!("{machine}");
    let mut rows = Vec::new();

    // Sizes of the components the manifest names.
    let components = manifest_sources(&args.manifest)?;
    let mut total = 0;
    for (id, path) in &components {
        let size = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?.len();
        total += size;
        rows.push(Row::value(format!("wasm size: {id}"), kib(size)).target("< 1 MB", size < COMPONENT_BYTES));
    }
    rows.push(Row::value("wasm size: all components", kib(total)).target("< 4 MB", total < TOTAL_BYTES));

    // Start-up: a fresh compile cache (cold), then the same cache again (warm). The warm one serves the load.
    let cache = work.join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    let log = work.join("runtime.log");
    let _ = std::fs::remove_file(&log);
    eprintln!("==> start-up with an empty compile cache");
    let (mut rt, _, cold) = start_runtime(&args, &cache, &log, &[]).await?;
    stop(&mut rt).await;
    eprintln!("==> start-up with a warm compile cache");
    let (mut rt, base, warm) = start_runtime(&args, &cache, &log, &[]).await?;
    let result = measure(&args, &work, &base, rt.id().context("runtime pid")?, &mut rows, cold, warm).await;
    stop(&mut rt).await;
    result?;

    if args.tracing_seconds > 0.0 {
        rows.extend(tracing_cost(&args, &work, &cache).await?);
    }

    // Round trips per request, from runtime-local's debug log (its own run, so logging costs nothing above).
    eprintln!("==> round-trip audit (RUST_LOG=runtime_local=debug)");
    let audit_log = work.join("audit.log");
    let _ = std::fs::remove_file(&audit_log);
    let (mut rt, base, _) =
        start_runtime(&args, &cache, &audit_log, &[("RUST_LOG", "info,runtime_local=debug,cranelift=warn,wasmtime=warn")]).await?;
    let audit = round_trip_audit(&base, &audit_log).await;
    stop(&mut rt).await;
    rows.extend(audit?);

    if let (Some(url), Some(prefix)) = (&args.redis_url, &args.redis_prefix) {
        if !prefix.is_empty() {
            if let Err(e) = delete_keys(url, prefix).await {
                eprintln!("warning: could not delete the bench's Redis keys: {e:#}");
            }
        }
    }

    let table = render(&rows);
    println!("\n{machine}\n\n{table}");
    if let Some(out) = &args.out {
        write_report(out, &machine, &table)?;
        eprintln!("==> wrote {}", out.display());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &BenchArgs,
    work: &Path,
    base: &str,
    pid: u32,
    rows: &mut Vec<Row>,
    cold: Duration,
    warm: Duration,
) -> Result<()> {
    migrate(base, &args.token).await?;
    let skus = Arc::new(journey::discover_skus(base).await?);
    // The mix buys thousands of units: enough stock that nothing sells out during the run.
    stock_up(base, &args.token, &skus).await?;
    let cfg = |secs: f64| RunConfig {
        base: base.to_string(),
        duration: Duration::from_secs_f64(secs),
        max_requests: 5_000_000,
        seed: 42,
        skus: skus.clone(),
    };
    let c = args.concurrency;

    eprintln!("==> warm-up: journey mix, {c} shoppers, {} s", args.warmup_seconds);
    let _ = journey::run_mix(&cfg(args.warmup_seconds), &Mix::default(), c).await;

    eprintln!("==> journey mix, {c} shoppers, {} s", args.mix_seconds);
    let cpu_before = CpuTimes::now(pid);
    let mix = journey::run_mix(&cfg(args.mix_seconds), &Mix::default(), c).await;
    let cpu = CpuTimes::now(pid).since(&cpu_before);
    mix.print("journey mix");
    let rss = peak_rss(pid)?;
    for (step, s) in &mix.steps {
        let mut row = Row::latency(format!("mix c={c}: {}", step.label()), s, mix.throughput(s));
        if *step == Step::Home {
            row = row.target(format!("p99 < {HOME_P99_MS} ms"), s.p(0.99) < HOME_P99_MS);
        }
        if *step == Step::PlaceOrder {
            row = row.target(format!("p50 < {CHECKOUT_P50_MS} ms"), s.p(0.5) < CHECKOUT_P50_MS);
        }
        rows.push(row);
    }
    let all = mix.total();
    rows.push(Row::latency(format!("mix c={c}: all"), &all, mix.throughput(&all)).target("0 errors", all.errors == 0));
    rows.push(
        Row::value("runtime-local peak RSS (VmHWM) after the mix", mib(rss)).target("< 200 MB", rss < PEAK_RSS_BYTES),
    );
    // Where the CPU went: all of it is on this machine's cores, shared by everyone.
    let per_request = |secs: f64| secs * 1000.0 / all.requests.max(1) as f64;
    let total = cpu.runtime + cpu.postgres + cpu.redis + cpu.loadgen;
    rows.push(Row::value(
        "mix: CPU ms per request (runtime-local / Postgres / Redis / loadgen = total)",
        format!(
            "{:.2} / {:.2} / {:.2} / {:.2} = {:.2} ms; {:.0}% of {} CPUs busy",
            per_request(cpu.runtime),
            per_request(cpu.postgres),
            per_request(cpu.redis),
            per_request(cpu.loadgen),
            per_request(total),
            100.0 * cpu.busy_fraction(mix.elapsed),
            cpu.cpus
        ),
    ));

    // The same mix below saturation: a fixed arrival rate at half the closed-loop throughput.
    let rate = (mix.throughput(&all) / 2.0).max(1.0);
    eprintln!("==> journey mix at a fixed {rate:.0} requests/s, {} s", args.mix_seconds / 2.0);
    let open = journey::run_rate(&cfg(args.mix_seconds / 2.0), &Mix::default(), None, rate, 256).await;
    open.print(&format!("journey mix at {rate:.0}/s"));
    for step in [Step::Home, Step::PlaceOrder] {
        if let Some(s) = open.step(step) {
            rows.push(Row::latency(format!("mix at a fixed {rate:.0} req/s (half of c={c}): {}", step.label()), s, open.throughput(s)));
        }
    }
    let open_all = open.total();
    rows.push(Row::latency(format!("mix at a fixed {rate:.0} req/s (half of c={c}): all"), &open_all, open.throughput(&open_all)));

    if args.objective_seconds > 0.0 {
        rows.extend(throughput_at_objective(&cfg(args.objective_seconds), pid, mix.throughput(&all)).await);
    }

    for lines in [1usize, 20] {
        eprintln!("==> checkout alone, {lines}-line cart, 1 shopper, {} s", args.checkout_seconds);
        let r = journey::run_step(&cfg(args.checkout_seconds), Step::PlaceOrder, 1, lines).await;
        r.print(&format!("checkout, {lines}-line cart"));
        let s = r.step(Step::PlaceOrder).cloned().unwrap_or_default();
        let errors = r.errors();
        let mut row = Row::latency(format!("checkout alone, {lines}-line cart (c=1)"), &s, r.throughput(&s));
        if errors > s.errors {
            row.value = format!("{errors} errors in its setup steps");
        }
        rows.push(row);
    }

    // The trivial route: runtime-local vs the same code natively.
    let native_log = std::fs::File::create(work.join("native.log"))?;
    let mut native = Command::new(std::env::current_exe()?)
        .args(["serve-native", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(native_log)
        .kill_on_drop(true)
        .spawn()?;
    let native_base = {
        use tokio::io::AsyncBufReadExt;
        let stdout = native.stdout.take().context("native stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = lines.next_line().await?.context("the native server said nothing")?;
        let addr = first.strip_prefix("listening on ").context("unexpected native server output")?.to_string();
        // Keep draining its log lines, as runtime-local's go to a file.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        format!("http://{addr}")
    };
    let native_pid = native.id().context("native server pid")?;
    let mut trivial = BTreeMap::new();
    let mut server_cpu_us = BTreeMap::new();
    for (name, url, server_pid) in [("runtime-local", base.to_string(), pid), ("native hyper", native_base.clone(), native_pid)] {
        for conc in [1usize, c] {
            eprintln!("==> trivial route on {name}, {conc} shoppers, {} s", args.trivial_seconds);
            let mut run_cfg = cfg(args.trivial_seconds);
            run_cfg.base = url.clone();
            let before = CpuTimes::now(server_pid);
            let r = journey::run_step(&run_cfg, Step::Static, conc, 0).await;
            let used = CpuTimes::now(server_pid).since(&before);
            let s = r.step(Step::Static).cloned().unwrap_or_default();
            let mut row = Row::latency(format!("GET /static/favicon.svg, {name}, c={conc}"), &s, r.throughput(&s));
            if conc == c {
                let us = used.runtime * 1e6 / s.requests.max(1) as f64;
                row.value = format!("server CPU {us:.0} µs a request");
                server_cpu_us.insert(name, us);
            }
            rows.push(row);
            trivial.insert((name, conc), (s, r.throughput(&r.step(Step::Static).cloned().unwrap_or_default())));
        }
    }
    let _ = native.kill().await;
    let cpu_ratio = server_cpu_us["runtime-local"] / server_cpu_us["native hyper"].max(1e-9);
    rows.push(
        Row::value(
            "trivial route: server CPU a request, runtime-local / native (instantiate + call + drop)",
            format!(
                "{cpu_ratio:.2}x ({:.0} vs {:.0} µs)",
                server_cpu_us["runtime-local"], server_cpu_us["native hyper"]
            ),
        )
        .target("within 3x", cpu_ratio <= OVERHEAD_RATIO),
    );
    let (rt1, nat1) = (&trivial[&("runtime-local", 1)], &trivial[&("native hyper", 1)]);
    let ratio = rt1.0.p(0.5) / nat1.0.p(0.5).max(1e-6);
    let overhead_us = (rt1.0.p(0.5) - nat1.0.p(0.5)) * 1000.0;
    rows.push(
        Row::value("trivial route: latency p50 at c=1, runtime-local / native", format!("{ratio:.2}x ({overhead_us:+.0} µs a request)"))
            .target("within 3x", ratio <= OVERHEAD_RATIO),
    );
    let (rtc, natc) = (&trivial[&("runtime-local", c)], &trivial[&("native hyper", c)]);
    rows.push(Row::value(
        format!("trivial route: throughput at c={c}, native / runtime-local"),
        format!("{:.2}x", natc.1 / rtc.1.max(1e-9)),
    ));

    if args.recommendation_orders > 0 {
        rows.extend(recommendations_at_scale(args, &cfg(args.pages_seconds)).await?);
    }

    rows.push(Row::value("start-up to first 200, empty compile cache", format!("{:.0} ms", cold.as_secs_f64() * 1000.0)));
    let warm_ms = warm.as_secs_f64() * 1000.0;
    rows.push(
        Row::value("start-up to first 200, warm compile cache", format!("{warm_ms:.0} ms"))
            .target("< 1 s", warm_ms < WARM_START_MS),
    );
    Ok(())
}

/// One runtime-local lifetime of the tracing-cost phase.
struct TracingRound {
    on: bool,
    /// The measured mix (not the warm-up).
    mix: Report,
    /// Every request the runtime got from the load generator: SKU discovery, warm-up and mix.
    requests_sent: u64,
    /// runtime-local's CPU seconds during the measured mix.
    runtime_cpu: f64,
    /// The share of the machine's CPU used meanwhile by everything else than runtime-local,
    /// Postgres, Redis and the load generator (other work on the machine).
    other_busy: f64,
    /// What the OTLP sink received from this runtime, up to its exit (after its final flush).
    received: SinkCounts,
    /// The sink thread's CPU seconds meanwhile.
    sink_cpu: f64,
}

/// Tracing cost: runtime-local restarted on the warm compile cache, OTLP export off, on, off, on
/// (`--tracing-pairs`; on: `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at [`OtlpSink`], every other `OTEL_*`
/// setting at its default, so every request is sampled), each with a short warm-up and the same
/// journey mix. Interleaving cancels most of the machine's drift; the rounds are summed.
async fn tracing_cost(args: &BenchArgs, work: &Path, cache: &Path) -> Result<Vec<Row>> {
    let sink = OtlpSink::start()?;
    let endpoint = sink.endpoint();
    let c = args.concurrency;
    let mut skus: Option<Arc<Vec<String>>> = None;
    let mut rounds: Vec<TracingRound> = Vec::new();
    let total = 2 * args.tracing_pairs;
    for (i, on) in (0..total).map(|i| (i, i % 2 == 1)) {
        let label = if on { "on" } else { "off" };
        eprintln!(
            "==> tracing cost, round {}/{total}: OTLP export {label}, {c} shoppers, {TRACING_WARMUP_SECONDS} s warm-up + {} s",
            i + 1,
            args.tracing_seconds
        );
        let log = work.join(format!("tracing-{}-{label}.log", i + 1));
        let _ = std::fs::remove_file(&log);
        let env: Vec<(&str, &str)> = if on { vec![("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())] } else { Vec::new() };
        let (sink_before, sink_cpu_before) = (sink.counts(), sink.cpu_seconds());
        let (mut rt, base, _) = start_runtime(args, cache, &log, &env).await?;
        let pid = rt.id().context("runtime pid")?;
        let result = async {
            // SKU discovery in the first round (export off, so its few requests are not counted).
            let skus = match &skus {
                Some(s) => s.clone(),
                None => skus.insert(Arc::new(journey::discover_skus(&base).await?)).clone(),
            };
            let cfg = |secs: f64| RunConfig {
                base: base.clone(),
                duration: Duration::from_secs_f64(secs),
                max_requests: 5_000_000,
                seed: 42,
                skus: skus.clone(),
            };
            let warm = journey::run_mix(&cfg(TRACING_WARMUP_SECONDS), &Mix::default(), c).await;
            let before = CpuTimes::now(pid);
            let mix = journey::run_mix(&cfg(args.tracing_seconds), &Mix::default(), c).await;
            let cpu = CpuTimes::now(pid).since(&before);
            // The start-up probe's one request, the warm-up and the mix.
            let sent = 1 + warm.total().requests + mix.total().requests;
            let ours = cpu.runtime + cpu.postgres + cpu.redis + cpu.loadgen;
            let other = (cpu.machine_busy - ours).max(0.0) / (mix.elapsed.as_secs_f64() * cpu.cpus as f64).max(1e-9);
            anyhow::Ok((mix, sent, cpu.runtime, other))
        }
        .await;
        // SIGINT: runtime-local stops accepting, finishes what is in flight and flushes its
        // exporters before it exits, so everything it exported has been counted once it is gone.
        stop(&mut rt).await;
        let (mix, requests_sent, runtime_cpu, other_busy) = result?;
        let received = sink.counts().since(&sink_before);
        let sink_cpu = sink.cpu_seconds() - sink_cpu_before;
        mix.print(&format!("journey mix, OTLP export {label}"));
        eprintln!(
            "    runtime-local CPU {:.3} ms a request; other processes {:.0}% of the machine; sink: {} spans ({} root), {} log records, {} POSTs, {} bytes",
            runtime_cpu * 1000.0 / mix.total().requests.max(1) as f64,
            100.0 * other_busy,
            received.spans,
            received.root_spans,
            received.log_records,
            received.posts(),
            received.bytes
        );
        rounds.push(TracingRound { on, mix, requests_sent, runtime_cpu, other_busy, received, sink_cpu });
    }
    Ok(tracing_rows(&rounds, c, args.tracing_seconds))
}

/// The report's rows for the tracing-cost rounds (pure; unit-tested).
fn tracing_rows(rounds: &[TracingRound], c: usize, seconds: f64) -> Vec<Row> {
    let side = |on: bool| rounds.iter().filter(move |r| r.on == on);
    let (off_mix, on_mix) = (Report::merge(side(false).map(|r| &r.mix)), Report::merge(side(true).map(|r| &r.mix)));
    let (off_all, on_all) = (off_mix.total(), on_mix.total());
    let (off_rps, on_rps) = (off_mix.throughput(&off_all), on_mix.throughput(&on_all));
    let per_round = |on: bool| {
        let list = |f: &dyn Fn(&TracingRound) -> String| side(on).map(f).collect::<Vec<_>>().join(", ");
        format!(
            "rounds: {} req/s; runtime-local CPU {} ms a request; other processes {} of the machine",
            list(&|r| format!("{:.0}", r.mix.throughput(&r.mix.total()))),
            list(&|r| format!("{:.3}", r.runtime_cpu * 1000.0 / r.mix.total().requests.max(1) as f64)),
            list(&|r| format!("{:.0}%", 100.0 * r.other_busy)),
        )
    };
    let n = |on: bool| side(on).count();
    let mut rows = Vec::new();
    for (on, mix, all, rps) in [(false, &off_mix, &off_all, off_rps), (true, &on_mix, &on_all, on_rps)] {
        let label = if on { "on" } else { "off" };
        let mut row = Row::latency(format!("tracing cost: mix c={c} all, OTLP export {label} ({} x {seconds} s)", n(on)), all, rps);
        row.value = per_round(on);
        rows.push(row);
        if let Some(s) = mix.step(Step::PlaceOrder) {
            rows.push(Row::latency(format!("tracing cost: mix c={c} place_order, OTLP export {label}"), s, mix.throughput(s)));
        }
    }
    let loss = 100.0 * (off_rps - on_rps) / off_rps.max(1e-9);
    // Other work on the machine takes CPU from the rounds unevenly: say how much.
    let other = |on: bool| 100.0 * side(on).map(|r| r.other_busy).sum::<f64>() / n(on).max(1) as f64;
    rows.push(
        Row::value(
            "tracing cost: mix throughput lost with OTLP export on (every request sampled)",
            format!(
                "{loss:.1}% ({off_rps:.0} -> {on_rps:.0} req/s; other processes used {:.0}% / {:.0}% of the machine in the off / on rounds)",
                other(false),
                other(true)
            ),
        )
        .target(format!("≤ {TRACING_LOSS_PCT:.0}%"), loss <= TRACING_LOSS_PCT),
    );
    let p50 = |m: &Report| m.step(Step::PlaceOrder).map_or(0.0, |s| s.p(0.5));
    let (off_p50, on_p50) = (p50(&off_mix), p50(&on_mix));
    rows.push(Row::value(
        "tracing cost: place_order p50, OTLP export off / on",
        format!("{off_p50:.2} / {on_p50:.2} ms ({:+.1}%)", 100.0 * (on_p50 - off_p50) / off_p50.max(1e-9)),
    ));
    let cpu_ms = |on: bool, all: &StepStats| side(on).map(|r| r.runtime_cpu).sum::<f64>() * 1000.0 / all.requests.max(1) as f64;
    let (off_cpu, on_cpu) = (cpu_ms(false, &off_all), cpu_ms(true, &on_all));
    rows.push(Row::value(
        "tracing cost: runtime-local CPU ms per request, OTLP export off / on",
        format!("{off_cpu:.3} / {on_cpu:.3} ms ({:+.1}%)", 100.0 * (on_cpu - off_cpu) / off_cpu.max(1e-9)),
    ));
    let got = side(true).fold(SinkCounts::default(), |a, r| SinkCounts {
        trace_posts: a.trace_posts + r.received.trace_posts,
        log_posts: a.log_posts + r.received.log_posts,
        metric_posts: a.metric_posts + r.received.metric_posts,
        bytes: a.bytes + r.received.bytes,
        spans: a.spans + r.received.spans,
        root_spans: a.root_spans + r.received.root_spans,
        log_records: a.log_records + r.received.log_records,
        bad_posts: a.bad_posts + r.received.bad_posts,
    });
    let sent: u64 = side(true).map(|r| r.requests_sent).sum::<u64>().max(1);
    let per = |x: u64| x as f64 / sent as f64;
    let sink_cpu_ms = side(true).map(|r| r.sink_cpu).sum::<f64>() * 1000.0 / sent as f64;
    rows.push(
        Row::value(
            "tracing cost: received by the OTLP sink per request sent, export on",
            format!(
                "{:.2} spans ({} spans, {} root for {sent} requests), {:.2} log records, {:.0} B; {} trace / {} log / {} metric POSTs, {} bad; sink CPU {:.3} ms a request",
                per(got.spans),
                got.spans,
                got.root_spans,
                per(got.log_records),
                per(got.bytes),
                got.trace_posts,
                got.log_posts,
                got.metric_posts,
                got.bad_posts,
                sink_cpu_ms,
            ),
        )
        .target("a root span for every request", got.root_spans >= sent && got.bad_posts == 0),
    );
    // Export off must export nothing.
    let leaked: u64 = side(false).map(|r| r.received.posts() + r.received.bad_posts).sum();
    if leaked > 0 {
        rows.push(Row::value("tracing cost: POSTs received with export off", leaked.to_string()).target("0", false));
    }
    rows
}

/// Starts runtime-local on a free loopback port; returns it, its base URL and the time from
/// spawn to the first 200 of a guest route. `OTEL_*` variables of our own environment are not
/// passed on (the suite decides when traces are exported); `env` is.
async fn start_runtime(args: &BenchArgs, cache: &Path, log: &Path, env: &[(&str, &str)]) -> Result<(Child, String, Duration)> {
    start_runtime_at(&args.runtime, &args.manifest, cache, log, env).await
}

/// [`start_runtime`] for a given runtime-local binary and manifest (A/B mode runs two).
pub(crate) async fn start_runtime_at(
    runtime: &Path,
    manifest: &Path,
    cache: &Path,
    log: &Path,
    env: &[(&str, &str)],
) -> Result<(Child, String, Duration)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listen = format!("127.0.0.1:{port}");
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let mut cmd = Command::new(runtime);
    cmd.args(["up", "--manifest"])
        .arg(manifest)
        .args(["--listen", &listen, "--cache-dir"])
        .arg(cache)
        .env("NO_COLOR", "1")
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {}", runtime.display()))?;
    let base = format!("http://{listen}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    loop {
        if let Ok(r) = client.get(format!("{base}/static/favicon.svg")).send().await {
            if r.status().as_u16() == 200 {
                return Ok((child, base, started.elapsed()));
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!("runtime-local exited ({status}) before answering; see {}", log.display());
        }
        if started.elapsed() > Duration::from_secs(180) {
            bail!("runtime-local did not answer within 3 minutes; see {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// SIGINT (graceful), then a kill after 15 s.
pub(crate) async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status().await;
    }
    if tokio::time::timeout(Duration::from_secs(15), child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// CPU seconds (user + system) used so far by runtime-local, every Postgres and Redis process,
/// and this load generator, plus the whole machine's busy time.
#[derive(Default)]
pub(crate) struct CpuTimes {
    pub(crate) runtime: f64,
    pub(crate) postgres: f64,
    pub(crate) redis: f64,
    pub(crate) loadgen: f64,
    pub(crate) machine_busy: f64,
    pub(crate) cpus: usize,
}

impl CpuTimes {
    pub(crate) fn now(runtime_pid: u32) -> CpuTimes {
        let tick = 100.0; // USER_HZ on Linux
        let proc_cpu = |pid: &str| -> Option<(String, f64)> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some((comm.to_string(), ticks / tick))
        };
        let mut t = CpuTimes { cpus: std::thread::available_parallelism().map_or(1, |n| n.get()), ..Default::default() };
        t.runtime = proc_cpu(&runtime_pid.to_string()).map_or(0.0, |(_, c)| c);
        t.loadgen = proc_cpu("self").map_or(0.0, |(_, c)| c);
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                match proc_cpu(&name) {
                    Some((comm, c)) if comm == "postgres" => t.postgres += c,
                    Some((comm, c)) if comm == "redis-server" => t.redis += c,
                    _ => {}
                }
            }
        }
        if let Ok(stat) = std::fs::read_to_string("/proc/stat") {
            if let Some(line) = stat.lines().next() {
                let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
                // user nice system idle iowait irq softirq steal
                if v.len() >= 8 {
                    t.machine_busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
                }
            }
        }
        t
    }

    /// Postgres backends that came and went in between are missed; close enough for a pool.
    pub(crate) fn since(&self, before: &CpuTimes) -> CpuTimes {
        CpuTimes {
            runtime: self.runtime - before.runtime,
            postgres: (self.postgres - before.postgres).max(0.0),
            redis: self.redis - before.redis,
            loadgen: self.loadgen - before.loadgen,
            machine_busy: self.machine_busy - before.machine_busy,
            cpus: self.cpus,
        }
    }

    /// Two spans added (the rounds of an A/B step).
    pub(crate) fn plus(&self, other: &CpuTimes) -> CpuTimes {
        CpuTimes {
            runtime: self.runtime + other.runtime,
            postgres: self.postgres + other.postgres,
            redis: self.redis + other.redis,
            loadgen: self.loadgen + other.loadgen,
            machine_busy: self.machine_busy + other.machine_busy,
            cpus: self.cpus.max(other.cpus),
        }
    }

    pub(crate) fn busy_fraction(&self, elapsed: Duration) -> f64 {
        self.machine_busy / (elapsed.as_secs_f64() * self.cpus as f64).max(1e-9)
    }
}

pub(crate) fn peak_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM")?;
    let kb: u64 = line.split_whitespace().nth(1).context("VmHWM value")?.parse()?;
    Ok(kb * 1024)
}

pub(crate) async fn migrate(base: &str, token: &str) -> Result<()> {
    let r = reqwest::Client::new().post(format!("{base}/admin/migrate")).bearer_auth(token).send().await?;
    let status = r.status();
    let body = r.text().await?;
    if !status.is_success() {
        bail!("migrate answered {status}: {body}");
    }
    Ok(())
}

/// The service objective of the throughput search: home p99 and checkout p99, with no error.
pub(crate) const OBJECTIVE_HOME_P99_MS: f64 = 25.0;
pub(crate) const OBJECTIVE_CHECKOUT_P99_MS: f64 = 100.0;
/// Probes of the search (a bisection between a fifth of the closed-loop throughput and all of it).
const OBJECTIVE_PROBES: usize = 6;

/// One fixed-rate probe of the journey mix: whether it kept the objective, and its CPU a
/// journey (all processes' CPU over the completed orders: a journey is the browsing, carting
/// and checkout around one order).
pub(crate) struct Probe {
    pub(crate) rate: f64,
    pub(crate) met: bool,
    pub(crate) home_p99: f64,
    pub(crate) checkout_p99: f64,
    pub(crate) cpu_ms_per_journey: f64,
}

pub(crate) async fn probe(cfg: &RunConfig, pid: u32, rate: f64) -> Probe {
    eprintln!("==> objective probe: journey mix at a fixed {rate:.0} requests/s, {} s", cfg.duration.as_secs_f64());
    let before = CpuTimes::now(pid);
    let r = journey::run_rate(cfg, &Mix::default(), None, rate, 256).await;
    let cpu = CpuTimes::now(pid).since(&before);
    let p99 = |step| r.step(step).map_or(f64::INFINITY, |s| s.p(0.99));
    let (home_p99, checkout_p99, errors) = (p99(Step::Home), p99(Step::PlaceOrder), r.errors());
    let orders = r.step(Step::PlaceOrder).map_or(0, |s| s.requests);
    let total = cpu.runtime + cpu.postgres + cpu.redis + cpu.loadgen;
    Probe {
        rate,
        met: home_p99 < OBJECTIVE_HOME_P99_MS && checkout_p99 < OBJECTIVE_CHECKOUT_P99_MS && errors == 0,
        home_p99,
        checkout_p99,
        cpu_ms_per_journey: total * 1000.0 / orders.max(1) as f64,
    }
}

/// The search of the throughput at the objective: a bisection between a fifth of the
/// closed-loop throughput and all of it, [`OBJECTIVE_PROBES`] probes at most (pure; the A/B
/// mode steps two of them in turn).
pub(crate) struct Bisection {
    lo: f64,
    hi: f64,
    pub(crate) best: Option<Probe>,
    tried: Vec<String>,
    probes: usize,
    done: bool,
}

impl Bisection {
    pub(crate) fn new(closed_loop: f64) -> Bisection {
        Bisection { lo: closed_loop / 5.0, hi: closed_loop, best: None, tried: Vec::new(), probes: 0, done: false }
    }

    /// The next rate to probe, or `None` when the search is over.
    pub(crate) fn next_rate(&self) -> Option<f64> {
        if self.done || self.probes >= OBJECTIVE_PROBES {
            None
        } else if self.best.is_none() && self.tried.is_empty() {
            Some(self.lo)
        } else {
            Some((self.lo + self.hi) / 2.0)
        }
    }

    pub(crate) fn record(&mut self, p: Probe) {
        let rate = p.rate;
        self.probes += 1;
        self.tried.push(format!("{:.0}/s {}", p.rate, if p.met { "ok" } else { "missed" }));
        if p.met {
            self.lo = rate;
            self.best = Some(p);
        } else {
            self.hi = rate;
            if self.best.is_none() && rate <= self.lo {
                self.done = true;
            }
        }
    }

    /// The report's value: the best rate kept, its latencies and CPU, and every probe.
    pub(crate) fn value(&self) -> String {
        match &self.best {
            Some(p) => format!(
                "{:.0} requests/s (home p99 {:.1} ms, checkout p99 {:.1} ms, 0 errors); CPU {:.1} ms a journey (all processes); probes: {}",
                p.rate,
                p.home_p99,
                p.checkout_p99,
                p.cpu_ms_per_journey,
                self.tried.join(", ")
            ),
            None => format!("not kept even at {:.0} requests/s; probes: {}", self.lo, self.tried.join(", ")),
        }
    }

    /// The probes as one line, e.g. `148/s ok, 443/s ok, 591/s missed`.
    pub(crate) fn probes(&self) -> String {
        self.tried.join(", ")
    }
}

/// Throughput at the objective: the highest fixed arrival rate (open loop, latency from each
/// request's scheduled time) at which the journey mix keeps home p99 < 25 ms and checkout p99 <
/// 100 ms with 0 errors, by bisection between a fifth of the closed-loop throughput and all of it.
async fn throughput_at_objective(cfg: &RunConfig, pid: u32, closed_loop: f64) -> Vec<Row> {
    let mut search = Bisection::new(closed_loop);
    while let Some(rate) = search.next_rate() {
        search.record(probe(cfg, pid, rate).await);
    }
    vec![Row::value(
        format!("throughput at objective: home p99 < {OBJECTIVE_HOME_P99_MS} ms, checkout p99 < {OBJECTIVE_CHECKOUT_P99_MS} ms, 0 errors"),
        search.value(),
    )
    .target("reported", search.best.is_some())]
}

/// Sets every product's stock to a million units (the most products takes) (`PUT /admin/stock/<sku>`).
pub(crate) async fn stock_up(base: &str, token: &str, skus: &[String]) -> Result<()> {
    let client = reqwest::Client::new();
    for sku in skus {
        let r = client.put(format!("{base}/admin/stock/{sku}")).bearer_auth(token).header("content-type", "application/json").body(r#"{"stock": 1000000}"#).send().await?;
        let status = r.status();
        if !status.is_success() {
            bail!("setting the stock of {sku} answered {status}: {}", r.text().await?);
        }
    }
    Ok(())
}

/// Recommendations with many orders behind them: the product page (4 recommendations) and the
/// cart page (3 lines, 4 recommendations) at 4 shoppers, before and after adding
/// `--recommendation-orders` orders of 1 to 4 products each. The orders go into products'
/// reservations, and the co-purchase counts and units sold they imply are added in bulk: the
/// same rows the service maintains one order at a time (a test in commerce_catalog.rs checks the
/// two agree). The pages read those counts, never the orders, so their cost should not move.
async fn recommendations_at_scale(args: &BenchArgs, cfg: &RunConfig) -> Result<Vec<Row>> {
    let url = args.db_url.as_deref().context("the recommendations step needs --db-url (SPIN_VARIABLE_DB_URL)")?;
    let (db, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let mut rows = Vec::new();
    let measure = |label: &'static str| async move {
        eprintln!("==> product and cart pages, 4 shoppers, {} s ({label})", cfg.duration.as_secs_f64());
        let r = journey::run_pages(cfg, 4, 3).await;
        r.print(&format!("pages, {label}"));
        r
    };
    let before: i64 = db.query_one("SELECT count(DISTINCT order_id) FROM stock_reservations", &[]).await?.get(0);
    let small = measure("before").await;
    eprintln!("==> adding {} orders", args.recommendation_orders);
    let started = std::time::Instant::now();
    seed_orders(&db, args.recommendation_orders).await?;
    let seeded = started.elapsed();
    let after: i64 = db.query_one("SELECT count(DISTINCT order_id) FROM stock_reservations", &[]).await?.get(0);
    let big = measure("after").await;
    for (report, orders) in [(&small, before), (&big, after)] {
        for step in [Step::Product, Step::Cart] {
            let s = report.step(step).cloned().unwrap_or_default();
            let row = Row::latency(format!("{} page with recommendations, {orders} orders (c=4)", step.label()), &s, report.throughput(&s));
            rows.push(row.target(format!("p99 < {HOME_P99_MS} ms, 0 errors"), s.p(0.99) < HOME_P99_MS && s.errors == 0));
        }
    }
    rows.push(Row::value("recommendations: adding the orders in bulk", format!("{:.1} s", seeded.as_secs_f64())));
    Ok(rows)
}

/// Adds `n` orders of 1 to 4 distinct products (1 or 2 units a line) as products' reservations,
/// with their co-purchase pairs and units sold.
async fn seed_orders(db: &tokio_postgres::Client, n: u32) -> Result<()> {
    let n = i32::try_from(n)?;
    db.batch_execute("DELETE FROM stock_reservations WHERE order_id LIKE 'ORD-BENCH%'").await?;
    db.execute(
        "INSERT INTO stock_reservations (order_id, sku, quantity) \
         SELECT 'ORD-BENCH' || lpad(g::text, 7, '0'), p.sku, 1 + (abs(hashtext(g::text || p.sku)) % 2) \
         FROM generate_series(1, $1) AS g \
         CROSS JOIN LATERAL (SELECT sku FROM products ORDER BY hashtext(g::text || sku) LIMIT 1 + g % 4) AS p",
        &[&n],
    )
    .await?;
    db.batch_execute(
        "INSERT INTO co_purchases (sku, other, orders) \
           SELECT a.sku, b.sku, count(*) FROM stock_reservations a JOIN stock_reservations b \
             ON a.order_id = b.order_id AND a.sku <> b.sku \
           WHERE a.order_id LIKE 'ORD-BENCH%' GROUP BY a.sku, b.sku \
         ON CONFLICT (sku, other) DO UPDATE SET orders = co_purchases.orders + EXCLUDED.orders; \
         UPDATE products p SET units_sold = p.units_sold + s.units \
           FROM (SELECT sku, sum(quantity) AS units FROM stock_reservations WHERE order_id LIKE 'ORD-BENCH%' GROUP BY sku) s \
           WHERE p.sku = s.sku; \
         ANALYZE stock_reservations; ANALYZE co_purchases; ANALYZE products;",
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_keys(url: &str, prefix: &str) -> Result<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await?;
    for chunk in keys.chunks(1000) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }
    Ok(())
}

/// `(component id, wasm path)` for every component of the manifest.
pub(crate) fn manifest_sources(manifest: &Path) -> Result<Vec<(String, PathBuf)>> {
    let text = std::fs::read_to_string(manifest)?;
    let doc: toml::Table = text.parse()?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    if let Some(components) = doc.get("component").and_then(|c| c.as_table()) {
        for (id, c) in components {
            if let Some(source) = c.get("source").and_then(|s| s.as_str()) {
                out.push((id.clone(), dir.join(source)));
            }
        }
    }
    Ok(out)
}

pub(crate) fn kib(bytes: u64) -> String {
    format!("{:.0} KiB ({bytes} B)", bytes as f64 / 1024.0)
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub(crate) fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub(crate) fn machine_info(note: &str) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_string(), |(_, m)| m.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = command_output("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let kernel = command_output("uname", &["-r"]).unwrap_or_default();
    let mut s = format!(
        "Machine: {cpus} CPUs ({model}), {:.1} GiB memory, Linux {kernel}; {date}; commit {commit}{}; load average at start {}",
        mem_kb as f64 / (1024.0 * 1024.0),
        if dirty { " (with uncommitted changes)" } else { "" },
        load.join(" "),
    );
    if !note.is_empty() {
        let _ = write!(s, "; {note}");
    }
    s
}

const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

/// Replaces the text between the markers (or creates the file with them).
pub(crate) fn write_report(path: &Path, machine: &str, table: &str) -> Result<()> {
    let generated = format!("{BEGIN}\n{machine}\n\n{table}{END}");
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if b < e => format!("{}{generated}{}", &old[..b], &old[e + END.len()..]),
            _ => format!("{old}\n{generated}\n"),
        },
        Err(_) => format!("# Benchmarks\n\nWritten by `scripts/bench`.\n\n{generated}\n"),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

/// What the runtime logged for one request: the lines up to and including its request line.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
struct Segment {
    request: String,
    chained: u32,
    sql: u32,
    sql_products: u32,
    sql_checkout: u32,
    redis: u32,
    /// `upstream_calls` from the frontend's own log line.
    frontend_calls: Option<u32>,
}

impl Segment {
    fn summary(&self) -> String {
        format!(
            "chained {} (frontend {}), SQL {} (products {}, checkout {}), Redis {}",
            self.chained,
            self.frontend_calls.map_or("?".into(), |n| n.to_string()),
            self.sql,
            self.sql_products,
            self.sql_checkout,
            self.redis
        )
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits a runtime log into one segment per top-level request (requests made one at a time).
fn segments(log: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut cur = Segment::default();
    for line in log.lines().map(strip_ansi) {
        if line.contains("runtime_local::request:") {
            cur.request = line.split("runtime_local::request:").nth(1).unwrap_or("").trim().to_string();
            out.push(std::mem::take(&mut cur));
        } else if line.contains("chained request") {
            cur.chained += 1;
        } else if line.contains(": pg query") || line.contains(": pg execute") {
            cur.sql += 1;
            if line.contains("component=products") {
                cur.sql_products += 1;
            }
            if line.contains("component=checkout") {
                cur.sql_checkout += 1;
            }
        } else if line.contains("runtime_local::host::redis: redis") {
            cur.redis += 1;
        } else if line.starts_with('{') && line.contains("\"service\":\"frontend\"") {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                cur.frontend_calls = v.get("upstream_calls").and_then(|n| n.as_u64()).map(|n| n as u32);
            }
        }
    }
    out
}

/// One shopper, one request at a time: which round trips each page and action makes, with a
/// 1-line and a 20-line cart.
pub(crate) async fn round_trip_audit(base: &str, log: &Path) -> Result<Vec<Row>> {
    let skus = Arc::new(journey::discover_skus(base).await?);
    let stats = Stats::default();
    let budget = journey::Budget::new(Duration::from_secs(120), 10_000);
    let mut shopper = Shopper::new(base, skus.clone(), stats.clone(), budget, 999, 7).follow_redirects(false);
    let count = |stats: &Stats| stats.snapshot().total().requests as usize;
    // Requests made by discover_skus are in the log too; the audit's start after them.
    let mut marks: Vec<(String, usize)> = Vec::new();
    let skip = wait_for_segments(log, 0).await?;
    fn step(marks: &mut Vec<(String, usize)>, label: &str, requests: usize) {
        marks.push((label.to_string(), requests - 1));
    }

    shopper.home(None).await?;
    step(&mut marks, "GET / (home)", count(&stats));
    shopper.browse(None).await?;
    step(&mut marks, "GET /product/{sku}", count(&stats));
    shopper.fill_cart(1).await?;
    step(&mut marks, "POST /cart/add, to an empty cart", count(&stats));
    shopper.view_cart(None).await?;
    step(&mut marks, "GET /cart, 1 line", count(&stats));
    shopper.checkout(None).await?;
    let n = count(&stats);
    marks.push(("GET /checkout, 1 line".into(), n - 2));
    marks.push(("POST /checkout, 1 line".into(), n - 1));
    shopper.fill_cart(20).await?;
    step(&mut marks, "POST /cart/add, to a 19-line cart", count(&stats));
    shopper.view_cart(None).await?;
    step(&mut marks, "GET /cart, 20 lines", count(&stats));
    shopper.checkout(None).await?;
    let n = count(&stats);
    marks.push(("GET /checkout, 20 lines".into(), n - 2));
    marks.push(("POST /checkout, 20 lines".into(), n - 1));
    if stats.snapshot().errors() > 0 {
        bail!("the audit's requests failed: {:?}", stats.snapshot().samples);
    }

    let total = count(&stats);
    let text = wait_for_text(log, skip + total).await?;
    let segs = segments(&text);
    let segs = &segs[skip..];
    let by = |label: &str| -> Segment {
        marks.iter().find(|(l, _)| l == label).and_then(|(_, i)| segs.get(*i)).cloned().unwrap_or_default()
    };
    let mut rows = Vec::new();
    for (label, _) in &marks {
        let s = by(label);
        rows.push(Row::value(format!("round trips: {label}"), format!("{} [{}]", s.summary(), s.request)));
    }
    let pages = ["GET / (home)", "GET /product/{sku}", "GET /cart, 20 lines", "GET /checkout, 20 lines"];
    let max_page_calls = pages.iter().filter_map(|p| by(p).frontend_calls).max().unwrap_or(u32::MAX);
    rows.push(
        Row::value("round trips: most service calls a page makes", max_page_calls.to_string())
            .target("<= 2", max_page_calls <= 2),
    );
    let (c1, c20) = (by("POST /checkout, 1 line"), by("POST /checkout, 20 lines"));
    rows.push(
        Row::value(
            "round trips: SQL in products at checkout (price the cart, reserve its stock), 1 / 20 lines",
            format!("{} / {}", c1.sql_products, c20.sql_products),
        )
        .target("2, whatever the size", c1.sql_products == 2 && c20.sql_products == 2),
    );
    let same = |a: &Segment, b: &Segment| a.sql == b.sql && a.redis == b.redis && a.chained == b.chained;
    let (a1, a20) = (by("POST /cart/add, to an empty cart"), by("POST /cart/add, to a 19-line cart"));
    let (v1, v20) = (by("GET /cart, 1 line"), by("GET /cart, 20 lines"));
    rows.push(
        Row::value(
            "round trips: Redis commands per cart op, 1 / 20 lines (add, view, checkout)",
            format!("{} / {}, {} / {}, {} / {}", a1.redis, a20.redis, v1.redis, v20.redis, c1.redis, c20.redis),
        )
        .target("independent of cart size", same(&v1, &v20) && same(&c1, &c20) && a1.redis <= a20.redis + 1),
    );
    Ok(rows)
}

/// The number of request lines in the log once it stops growing.
async fn wait_for_segments(log: &Path, _at_least: usize) -> Result<usize> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    Ok(segments(&text).len())
}

async fn wait_for_text(log: &Path, segments_needed: usize) -> Result<String> {
    for _ in 0..100 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if segments(&text).len() >= segments_needed {
            return Ok(text);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("runtime-local's log at {} has fewer request lines than requests made", log.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_segments_count_round_trips() {
        let log = "\
2026-01-01T00:00:00Z  INFO runtime_local::cache: app loaded\n\
2026-01-01T00:00:00Z DEBUG runtime_local::host::redis: redis component=carts command=HGETALL ok=true elapsed_ms=0.1\n\
2026-01-01T00:00:00Z DEBUG runtime_local::chaining: chained request caller=frontend target=carts\n\
2026-01-01T00:00:00Z DEBUG runtime_local::host::postgres: pg query component=products sql=SELECT\n\
{\"level\":\"info\",\"service\":\"frontend\",\"upstream_calls\":2}\n\
2026-01-01T00:00:00Z  INFO runtime_local::request: GET / frontend 200 3.0ms\n\
\u{1b}[2m2026\u{1b}[0m DEBUG \u{1b}[2mruntime_local::host::postgres\u{1b}[0m: pg execute component=checkout\n\
2026-01-01T00:00:00Z  INFO runtime_local::request: POST /checkout frontend 303 9.0ms\n";
        let s = segments(log);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            Segment {
                request: "GET / frontend 200 3.0ms".into(),
                chained: 1,
                sql: 1,
                sql_products: 1,
                sql_checkout: 0,
                redis: 1,
                frontend_calls: Some(2)
            }
        );
        assert_eq!(s[1].sql_checkout, 1);
    }

    #[test]
    fn report_replaces_between_markers() {
        let dir = std::env::temp_dir().join(format!("loadgen-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.md");
        std::fs::write(&path, format!("intro\n{BEGIN}\nold\n{END}\nanalysis\n")).unwrap();
        write_report(&path, "machine", "| t |\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("intro\n{BEGIN}\nmachine\n\n| t |\n{END}\nanalysis\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tracing_rows_sum_the_rounds() {
        let report = |rps: u64, order_ms: u64| {
            let stats = Stats::default();
            for _ in 0..rps * 10 {
                stats.record(Step::Product, Duration::from_millis(5), None);
            }
            stats.record(Step::PlaceOrder, Duration::from_millis(order_ms), None);
            let mut r = stats.snapshot();
            r.elapsed = Duration::from_secs(10);
            r
        };
        let counts = |spans: u64, root: u64| SinkCounts { trace_posts: 2, spans, root_spans: root, log_records: root, ..Default::default() };
        let round = |on: bool, rps: u64, order_ms: u64, received: SinkCounts| TracingRound {
            on,
            mix: report(rps, order_ms),
            requests_sent: rps * 10 + 1,
            runtime_cpu: rps as f64 * 10.0 * if on { 0.0011 } else { 0.001 },
            other_busy: 0.05,
            received,
            sink_cpu: 0.0,
        };
        let rounds = [
            round(false, 100, 50, SinkCounts::default()),
            round(true, 95, 60, counts(5000, 1001)),
            round(false, 100, 50, SinkCounts::default()),
            round(true, 85, 60, counts(4000, 851)),
        ];
        let t = render(&tracing_rows(&rounds, 16, 10.0));
        assert!(t.contains("| tracing cost: mix c=16 all, OTLP export off (2 x 10 s) | 2002 | 0 | 100.1 |"), "{t}");
        assert!(t.contains("rounds: 95, 85 req/s; runtime-local CPU 1.099, 1.099 ms a request; other processes 5%, 5%"), "{t}");
        assert!(t.contains("10.0% (100 -> 90 req/s; other processes used 5% / 5% of the machine in the off / on rounds) | ≤ 10% | yes |"), "{t}");
        assert!(t.contains("50.02 / 60.03 ms (+20.0%)"), "{t}");
        assert!(t.contains("0.999 / 1.099 ms (+10.0%)"), "{t}");
        assert!(t.contains("4.99 spans (9000 spans, 1852 root for 1802 requests)"), "{t}");
        assert!(t.contains("| a root span for every request | yes |"), "{t}");
        assert!(!t.contains("export off |  |"), "{t}");
    }

    #[test]
    fn bisection_probes_between_a_fifth_and_all() {
        let probe = |rate: f64, met: bool| Probe { rate, met, home_p99: 1.0, checkout_p99: 2.0, cpu_ms_per_journey: 3.0 };
        let mut search = Bisection::new(1000.0);
        let mut rates = Vec::new();
        while let Some(rate) = search.next_rate() {
            rates.push(rate);
            search.record(probe(rate, rate <= 550.0));
        }
        assert_eq!(rates, vec![200.0, 600.0, 400.0, 500.0, 550.0, 575.0]);
        assert_eq!(search.best.as_ref().map(|p| p.rate), Some(550.0));
        assert_eq!(search.probes(), "200/s ok, 600/s missed, 400/s ok, 500/s ok, 550/s ok, 575/s missed");
        assert!(search.value().starts_with("550 requests/s (home p99 1.0 ms, checkout p99 2.0 ms, 0 errors); CPU 3.0 ms a journey"));
        // Missed at a fifth already: one probe, nothing kept.
        let mut search = Bisection::new(1000.0);
        search.record(probe(200.0, false));
        assert_eq!(search.next_rate(), None);
        assert_eq!(search.value(), "not kept even at 200 requests/s; probes: 200/s missed");
    }

    #[test]
    fn table_marks_targets() {
        let rows = vec![Row::value("size", "10 KiB").target("< 1 MB", true), Row::value("rss", "300 MiB").target("< 200 MB", false)];
        let t = render(&rows);
        assert!(t.contains("| size |  |  |  |  |  |  | 10 KiB | < 1 MB | yes |"), "{t}");
        assert!(t.contains("**no**"));
    }
}
