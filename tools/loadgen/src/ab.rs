//! A/B mode of the benchmark suite (`loadgen bench --baseline-runtime ... --baseline-manifest
//! ...`, what `scripts/bench --baseline <rev>` runs): the suite's main steps on a baseline build
//! (A) and the current one (B) in one run, and one side-by-side table (baseline | current |
//! change).
//!
//! Both runtimes are up at once (each on its own port, compile cache and database; the idle one
//! costs nothing), and every timed step alternates between them in rounds (A, B, A, B, ...:
//! `--ab-rounds` per side, each a share of the step's duration), so the machine's drift falls on
//! both sides. Steps: wasm sizes, start-up (cold and warm compile cache), the journey mix at
//! `--concurrency` (with CPU a request and peak RSS), the mix at a fixed rate (half the
//! baseline's closed-loop throughput, the same rate for both), throughput at the objective (the
//! two bisections probe in turn), checkout alone (1 and 20 lines), the trivial route (1 and
//! `--concurrency` shoppers, server CPU a request) and the round-trip audit. Not run in this mode:
//! the native twin of the trivial route (it is the same code on both sides), recommendations at
//! scale and the tracing cost (run the suite without a baseline for those).
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::process::Child;

use crate::journey::{self, Mix, RunConfig, Step};
use crate::stats::{Report, StepStats};
use crate::suite::{self, BenchArgs, Bisection, CpuTimes};

/// Which way is better for a number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Better {
    Lower,
    Higher,
}

/// One row of the side-by-side table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AbRow {
    pub(crate) name: String,
    pub(crate) a: String,
    pub(crate) b: String,
    pub(crate) change: String,
}

impl AbRow {
    /// A number on both sides, printed with `fmt`; the change in percent, and whether it is
    /// better or worse.
    pub(crate) fn num(name: impl Into<String>, a: f64, b: f64, fmt: impl Fn(f64) -> String, better: Better) -> AbRow {
        AbRow { name: name.into(), a: fmt(a), b: fmt(b), change: change(a, b, better) }
    }

    /// Text on both sides: the change says whether it is the same.
    pub(crate) fn text(name: impl Into<String>, a: impl Into<String>, b: impl Into<String>) -> AbRow {
        let (a, b) = (a.into(), b.into());
        let change = if a == b { "same" } else { "differs" }.to_string();
        AbRow { name: name.into(), a, b, change }
    }
}

/// `+12.3% (worse)`: the relative change from `a` to `b`, judged by `better`.
pub(crate) fn change(a: f64, b: f64, better: Better) -> String {
    if !a.is_finite() || !b.is_finite() {
        return String::new();
    }
    if a == b {
        return "0%".to_string();
    }
    if a == 0.0 {
        return format!("{:+}", b - a);
    }
    let pct = 100.0 * (b - a) / a.abs();
    let verdict = match better {
        Better::Lower if b < a => " (better)",
        Better::Higher if b > a => " (better)",
        _ => " (worse)",
    };
    format!("{pct:+.1}%{verdict}")
}

pub(crate) fn render(a_label: &str, b_label: &str, rows: &[AbRow]) -> String {
    let mut out = format!("| measurement | {a_label} | {b_label} | change |\n|---|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(out, "| {} | {} | {} | {} |", r.name, r.a, r.b, r.change);
    }
    out
}

/// One side of the comparison.
struct Side {
    label: String,
    runtime: PathBuf,
    manifest: PathBuf,
    /// Its own directory under the work dir: compile cache and logs.
    dir: PathBuf,
    /// Environment given to its runtime (the baseline's database and Redis prefix).
    env: Vec<(String, String)>,
    redis_prefix: Option<String>,
}

impl Side {
    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    async fn start(&self, log: &str) -> Result<(Child, String, Duration)> {
        let log = self.dir.join(log);
        suite::start_runtime_at(&self.runtime, &self.manifest, &self.dir.join("cache"), &log, &self.env()).await
    }
}

/// A side's runtime, up and serving.
struct Up {
    child: Child,
    base: String,
    pid: u32,
    skus: Arc<Vec<String>>,
}

impl Up {
    fn cfg(&self, secs: f64) -> RunConfig {
        RunConfig {
            base: self.base.clone(),
            duration: Duration::from_secs_f64(secs),
            max_requests: 5_000_000,
            seed: 42,
            skus: self.skus.clone(),
        }
    }
}

/// What a timed step measured on one side, its rounds merged.
#[derive(Default)]
struct Measured {
    reports: Vec<Report>,
    cpu: CpuTimes,
}

impl Measured {
    fn report(&self) -> Report {
        Report::merge(&self.reports)
    }
}

/// Runs `step` on both sides in `rounds` alternating rounds (A, B, A, B, ...) of `secs / rounds`
/// each; what each side measured, with the CPU its runtime (and the stores and the load
/// generator) used meanwhile.
async fn interleaved<F, Fut>(ups: &[Up; 2], rounds: usize, secs: f64, what: &str, step: F) -> [Measured; 2]
where
    F: Fn(RunConfig) -> Fut,
    Fut: std::future::Future<Output = Report>,
{
    let rounds = rounds.max(1);
    let mut out: [Measured; 2] = Default::default();
    for round in 0..rounds {
        for (i, up) in ups.iter().enumerate() {
            eprintln!("==> {what}: {} round {}/{rounds}, {:.1} s", ["baseline", "current"][i], round + 1, secs / rounds as f64);
            let before = CpuTimes::now(up.pid);
            let report = step(up.cfg(secs / rounds as f64)).await;
            let used = CpuTimes::now(up.pid).since(&before);
            out[i].cpu = out[i].cpu.plus(&used);
            out[i].reports.push(report);
        }
    }
    out
}

fn ms(x: f64) -> String {
    format!("{x:.2} ms")
}

fn rps(x: f64) -> String {
    format!("{x:.1}/s")
}

fn count(x: f64) -> String {
    format!("{x:.0}")
}

/// Rows for one step's latency on both sides: requests, errors, throughput, p50 and p99.
fn latency_rows(rows: &mut Vec<AbRow>, name: &str, a: (&StepStats, f64), b: (&StepStats, f64), p50: bool) {
    rows.push(AbRow::num(format!("{name}: requests/s"), a.1, b.1, rps, Better::Higher));
    if p50 {
        rows.push(AbRow::num(format!("{name}: p50"), a.0.p(0.5), b.0.p(0.5), ms, Better::Lower));
    }
    rows.push(AbRow::num(format!("{name}: p99"), a.0.p(0.99), b.0.p(0.99), ms, Better::Lower));
    if a.0.errors + b.0.errors > 0 {
        rows.push(AbRow::num(format!("{name}: errors"), a.0.errors as f64, b.0.errors as f64, count, Better::Lower));
    }
}

fn step_of(report: &Report, step: Step) -> (StepStats, f64) {
    let s = report.step(step).cloned().unwrap_or_default();
    let t = report.throughput(&s);
    (s, t)
}

fn total_of(report: &Report) -> (StepStats, f64) {
    let s = report.total();
    let t = report.throughput(&s);
    (s, t)
}

pub async fn run(args: BenchArgs) -> Result<()> {
    std::fs::create_dir_all(&args.work_dir)?;
    let work = std::fs::canonicalize(&args.work_dir)?;
    let mut machine = suite::machine_info(&args.note);
    let _ = write!(
        machine,
        "; A/B run: baseline {} ({}), current ({}), {} alternating rounds a side per timed step",
        args.baseline_label,
        args.baseline_runtime.as_deref().unwrap_or(Path::new("?")).display(),
        args.runtime.display(),
        args.ab_rounds.max(1)
    );
    eprintln!("{machine}");
    let base_prefix = args
        .baseline_redis_prefix
        .clone()
        .or_else(|| args.redis_prefix.as_ref().map(|p| format!("{p}base:")));
    let mut base_env = Vec::new();
    if let Some(url) = &args.baseline_db_url {
        base_env.push(("SPIN_VARIABLE_DB_URL".to_string(), url.clone()));
    }
    if let Some(prefix) = &base_prefix {
        base_env.push(("SPIN_VARIABLE_REDIS_PREFIX".to_string(), prefix.clone()));
    }
    let sides = [
        Side {
            label: args.baseline_label.clone(),
            runtime: args.baseline_runtime.clone().context("--baseline-runtime")?,
            manifest: args.baseline_manifest.clone().context("--baseline-manifest")?,
            dir: work.join("ab-baseline"),
            env: base_env,
            redis_prefix: base_prefix,
        },
        Side {
            label: "current".to_string(),
            runtime: args.runtime.clone(),
            manifest: args.manifest.clone(),
            dir: work.join("ab-current"),
            env: Vec::new(),
            redis_prefix: args.redis_prefix.clone(),
        },
    ];
    let mut rows = Vec::new();

    // Sizes, as the default suite counts them (the components each manifest names).
    let sizes = [size_of(&sides[0].manifest)?, size_of(&sides[1].manifest)?];
    let kib = |b: f64| format!("{:.0} KiB", b / 1024.0);
    let mut names: Vec<&String> = sizes[0].0.iter().chain(sizes[1].0.iter()).map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    for name in names {
        let get = |i: usize| sizes[i].0.iter().find(|(n, _)| n == name).map_or(f64::NAN, |(_, b)| *b as f64);
        rows.push(AbRow::num(format!("wasm size: {name}"), get(0), get(1), kib, Better::Lower));
    }
    let (ta, tb) = (sizes[0].1 as f64, sizes[1].1 as f64);
    let mut total = AbRow::num("wasm size: all components", ta, tb, |b| format!("{b:.0} B"), Better::Lower);
    total.name = format!("wasm size: all components (target < {} B)", suite::TOTAL_BYTES);
    rows.push(total);

    // Start-up: each side cold (a fresh compile cache), then each warm; the warm ones serve.
    let mut cold = [Duration::ZERO; 2];
    for (i, side) in sides.iter().enumerate() {
        std::fs::create_dir_all(&side.dir)?;
        let _ = std::fs::remove_dir_all(side.dir.join("cache"));
        let _ = std::fs::remove_file(side.dir.join("runtime.log"));
        eprintln!("==> start-up of the {} side with an empty compile cache", side.label);
        let (mut child, _, t) = side.start("runtime.log").await?;
        suite::stop(&mut child).await;
        cold[i] = t;
    }
    let mut ups: Vec<Up> = Vec::new();
    let mut warm = [Duration::ZERO; 2];
    let mut started: Result<()> = Ok(());
    for (i, side) in sides.iter().enumerate() {
        eprintln!("==> start-up of the {} side with a warm compile cache", side.label);
        match side.start("runtime.log").await {
            Ok((child, base, t)) => {
                warm[i] = t;
                let pid = child.id().unwrap_or(0);
                ups.push(Up { child, base, pid, skus: Arc::default() });
            }
            Err(e) => {
                started = Err(e);
                break;
            }
        }
    }
    let result = match started {
        Err(e) => Err(e),
        Ok(()) => match <[Up; 2]>::try_from(std::mem::take(&mut ups)) {
            Ok(mut both) => {
                let r = measure(&args, &mut both, &mut rows).await;
                ups = Vec::from(both);
                r
            }
            Err(some) => {
                ups = some;
                Err(anyhow::anyhow!("a runtime did not start"))
            }
        },
    };
    for up in ups.iter_mut() {
        suite::stop(&mut up.child).await;
    }
    result?;
    rows.push(AbRow::num("start-up to first 200, empty compile cache", ms_of(cold[0]), ms_of(cold[1]), |x| format!("{x:.0} ms"), Better::Lower));
    rows.push(AbRow::num("start-up to first 200, warm compile cache", ms_of(warm[0]), ms_of(warm[1]), |x| format!("{x:.0} ms"), Better::Lower));

    // Round trips, from each runtime's debug log (their own runs, one request at a time).
    let mut audits = Vec::new();
    for side in &sides {
        eprintln!("==> round-trip audit of the {} side (RUST_LOG=runtime_local=debug)", side.label);
        let log = side.dir.join("audit.log");
        let _ = std::fs::remove_file(&log);
        let mut env = side.env();
        env.push(("RUST_LOG", "info,runtime_local=debug,cranelift=warn,wasmtime=warn"));
        let (mut child, base, _) =
            suite::start_runtime_at(&side.runtime, &side.manifest, &side.dir.join("cache"), &log, &env).await?;
        let audit = suite::round_trip_audit(&base, &log).await;
        suite::stop(&mut child).await;
        audits.push(audit?);
    }
    rows.extend(audit_rows(&audits[0], &audits[1]));

    if let Some(url) = &args.redis_url {
        for side in &sides {
            if let Some(prefix) = side.redis_prefix.as_deref().filter(|p| !p.is_empty()) {
                if let Err(e) = suite::delete_keys(url, prefix).await {
                    eprintln!("warning: could not delete the bench's Redis keys ({prefix}): {e:#}");
                }
            }
        }
    }

    let a_label = format!("baseline {}", sides[0].label);
    let table = render(&a_label, "current", &rows);
    println!("\n{machine}\n\n{table}");
    if let Some(out) = &args.out {
        suite::write_report(out, &machine, &table)?;
        eprintln!("==> wrote {}", out.display());
    }
    Ok(())
}

fn ms_of(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Every component's size and the total, as the default suite counts them.
fn size_of(manifest: &Path) -> Result<(Vec<(String, u64)>, u64)> {
    let mut out = Vec::new();
    let mut total = 0;
    for (id, path) in suite::manifest_sources(manifest)? {
        let size = std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?.len();
        total += size;
        out.push((id, size));
    }
    Ok((out, total))
}

/// The two audits side by side (the same rows, in the same order). The request counts are
/// compared without the timing in brackets.
pub(crate) fn audit_rows(a: &[suite::Row], b: &[suite::Row]) -> Vec<AbRow> {
    let counts = |v: &str| v.split(" [").next().unwrap_or("").to_string();
    a.iter()
        .map(|ra| {
            let vb = b.iter().find(|rb| rb.name == ra.name).map_or_else(|| "(missing)".to_string(), |rb| counts(&rb.value));
            AbRow::text(ra.name.clone(), counts(&ra.value), vb)
        })
        .collect()
}

async fn measure(args: &BenchArgs, ups: &mut [Up; 2], rows: &mut Vec<AbRow>) -> Result<()> {
    for up in ups.iter_mut() {
        suite::migrate(&up.base, &args.token).await?;
        up.skus = Arc::new(journey::discover_skus(&up.base).await?);
        suite::stock_up(&up.base, &args.token, &up.skus).await?;
    }
    let ups: &[Up; 2] = ups;
    let c = args.concurrency;
    let rounds = args.ab_rounds;

    for (i, up) in ups.iter().enumerate() {
        eprintln!("==> warm-up of the {} side: journey mix, {c} shoppers, {} s", ["baseline", "current"][i], args.warmup_seconds);
        let _ = journey::run_mix(&up.cfg(args.warmup_seconds), &Mix::default(), c).await;
    }

    // The journey mix, closed loop.
    let mix = interleaved(ups, rounds, args.mix_seconds, &format!("journey mix, {c} shoppers"), |cfg| async move {
        journey::run_mix(&cfg, &Mix::default(), c).await
    })
    .await;
    let reports = [mix[0].report(), mix[1].report()];
    for (i, r) in reports.iter().enumerate() {
        r.print(&format!("journey mix, {}", ["baseline", "current"][i]));
    }
    let (all_a, all_b) = (total_of(&reports[0]), total_of(&reports[1]));
    latency_rows(rows, &format!("mix c={c}: all"), (&all_a.0, all_a.1), (&all_b.0, all_b.1), true);
    for step in [Step::Home, Step::Product, Step::Cart, Step::AddToCart, Step::PlaceOrder] {
        let (a, b) = (step_of(&reports[0], step), step_of(&reports[1], step));
        rows.push(AbRow::num(format!("mix c={c}: {} p50", step.label()), a.0.p(0.5), b.0.p(0.5), ms, Better::Lower));
        rows.push(AbRow::num(format!("mix c={c}: {} p99", step.label()), a.0.p(0.99), b.0.p(0.99), ms, Better::Lower));
    }
    let per_request = |m: &Measured, secs: f64| secs * 1000.0 / m.report().total().requests.max(1) as f64;
    rows.push(AbRow::num(
        "mix: runtime-local CPU a request",
        per_request(&mix[0], mix[0].cpu.runtime),
        per_request(&mix[1], mix[1].cpu.runtime),
        |x| format!("{x:.3} ms"),
        Better::Lower,
    ));
    let all_cpu = |m: &Measured| m.cpu.runtime + m.cpu.postgres + m.cpu.redis + m.cpu.loadgen;
    rows.push(AbRow::num(
        "mix: CPU a request, runtime-local + Postgres + Redis + loadgen",
        per_request(&mix[0], all_cpu(&mix[0])),
        per_request(&mix[1], all_cpu(&mix[1])),
        |x| format!("{x:.3} ms"),
        Better::Lower,
    ));
    let rss = [suite::peak_rss(ups[0].pid).unwrap_or(0), suite::peak_rss(ups[1].pid).unwrap_or(0)];
    rows.push(AbRow::num(
        "runtime-local peak RSS (VmHWM) after the mix",
        rss[0] as f64,
        rss[1] as f64,
        |b| format!("{:.1} MiB", b / (1024.0 * 1024.0)),
        Better::Lower,
    ));

    // The same mix at one fixed rate for both: half the baseline's closed-loop throughput.
    let rate = (all_a.1 / 2.0).max(1.0);
    let open = interleaved(ups, rounds, args.mix_seconds / 2.0, &format!("journey mix at a fixed {rate:.0} requests/s"), |cfg| async move {
        journey::run_rate(&cfg, &Mix::default(), None, rate, 256).await
    })
    .await;
    let open = [open[0].report(), open[1].report()];
    for step in [Step::Home, Step::PlaceOrder] {
        let (a, b) = (step_of(&open[0], step), step_of(&open[1], step));
        let name = format!("mix at a fixed {rate:.0} req/s (half of the baseline's c={c}): {}", step.label());
        rows.push(AbRow::num(format!("{name} p50"), a.0.p(0.5), b.0.p(0.5), ms, Better::Lower));
        rows.push(AbRow::num(format!("{name} p99"), a.0.p(0.99), b.0.p(0.99), ms, Better::Lower));
    }
    let (oa, ob) = (total_of(&open[0]), total_of(&open[1]));
    let name = format!("mix at a fixed {rate:.0} req/s: all");
    rows.push(AbRow::num(format!("{name} p50"), oa.0.p(0.5), ob.0.p(0.5), ms, Better::Lower));
    rows.push(AbRow::num(format!("{name} p99"), oa.0.p(0.99), ob.0.p(0.99), ms, Better::Lower));
    if oa.0.errors + ob.0.errors > 0 {
        rows.push(AbRow::num(format!("{name} errors"), oa.0.errors as f64, ob.0.errors as f64, count, Better::Lower));
    }

    // Throughput at the objective: each side's bisection from its own closed-loop throughput,
    // probing in turn.
    if args.objective_seconds > 0.0 {
        let mut searches = [Bisection::new(all_a.1), Bisection::new(all_b.1)];
        loop {
            let mut probed = false;
            for (i, up) in ups.iter().enumerate() {
                if let Some(rate) = searches[i].next_rate() {
                    eprint!("    ({}) ", ["baseline", "current"][i]);
                    let p = suite::probe(&up.cfg(args.objective_seconds), up.pid, rate).await;
                    searches[i].record(p);
                    probed = true;
                }
            }
            if !probed {
                break;
            }
        }
        let best = |s: &Bisection| s.best.as_ref().map_or(0.0, |p| p.rate);
        let cpu = |s: &Bisection| s.best.as_ref().map_or(f64::NAN, |p| p.cpu_ms_per_journey);
        rows.push(AbRow::num(
            format!(
                "throughput at objective (home p99 < {} ms, checkout p99 < {} ms, 0 errors)",
                suite::OBJECTIVE_HOME_P99_MS,
                suite::OBJECTIVE_CHECKOUT_P99_MS
            ),
            best(&searches[0]),
            best(&searches[1]),
            |x| format!("{x:.0} req/s"),
            Better::Higher,
        ));
        rows.push(AbRow::num(
            "throughput at objective: CPU a journey (all processes)",
            cpu(&searches[0]),
            cpu(&searches[1]),
            |x| format!("{x:.1} ms"),
            Better::Lower,
        ));
        rows.push(AbRow::text("throughput at objective: probes", searches[0].probes(), searches[1].probes()));
    }

    // Checkout alone.
    for lines in [1usize, 20] {
        let m = interleaved(ups, rounds, args.checkout_seconds, &format!("checkout alone, {lines}-line cart, 1 shopper"), |cfg| async move {
            journey::run_step(&cfg, Step::PlaceOrder, 1, lines).await
        })
        .await;
        let (a, b) = (step_of(&m[0].report(), Step::PlaceOrder), step_of(&m[1].report(), Step::PlaceOrder));
        latency_rows(rows, &format!("checkout alone, {lines}-line cart (c=1)"), (&a.0, a.1), (&b.0, b.1), true);
        // Every request of the step (refilling the cart, the form, the order) over the orders.
        let per_order = |m: &Measured, s: &StepStats| m.cpu.runtime * 1e3 / s.requests.max(1) as f64;
        rows.push(AbRow::num(
            format!("checkout alone, {lines}-line cart: runtime-local CPU an order (with its cart refill and form)"),
            per_order(&m[0], &a.0),
            per_order(&m[1], &b.0),
            |x| format!("{x:.2} ms"),
            Better::Lower,
        ));
        let setup_errors = |m: &Measured| m.report().errors() as f64;
        let (ea, eb) = (setup_errors(&m[0]) - a.0.errors as f64, setup_errors(&m[1]) - b.0.errors as f64);
        if ea + eb > 0.0 {
            rows.push(AbRow::num(format!("checkout alone, {lines}-line cart: errors in its setup steps"), ea, eb, count, Better::Lower));
        }
    }

    // The trivial route, with the server's CPU a request.
    for conc in [1usize, c] {
        let m = interleaved(ups, rounds, args.trivial_seconds, &format!("trivial route, {conc} shoppers"), |cfg| async move {
            journey::run_step(&cfg, Step::Static, conc, 0).await
        })
        .await;
        let (a, b) = (step_of(&m[0].report(), Step::Static), step_of(&m[1].report(), Step::Static));
        let name = format!("GET /static/favicon.svg, c={conc}");
        latency_rows(rows, &name, (&a.0, a.1), (&b.0, b.1), true);
        let us = |m: &Measured, s: &StepStats| m.cpu.runtime * 1e6 / s.requests.max(1) as f64;
        rows.push(AbRow::num(format!("{name}: runtime-local CPU a request"), us(&m[0], &a.0), us(&m[1], &b.0), |x| format!("{x:.1} µs"), Better::Lower));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_says_which_way() {
        assert_eq!(change(100.0, 90.0, Better::Lower), "-10.0% (better)");
        assert_eq!(change(100.0, 110.0, Better::Lower), "+10.0% (worse)");
        assert_eq!(change(100.0, 110.0, Better::Higher), "+10.0% (better)");
        assert_eq!(change(5.0, 5.0, Better::Lower), "0%");
        assert_eq!(change(0.0, 3.0, Better::Lower), "+3");
        assert_eq!(change(f64::NAN, 3.0, Better::Lower), "");
    }

    #[test]
    fn table_is_side_by_side() {
        let rows = vec![
            AbRow::num("wasm size: all components", 4_488_968.0, 3_990_000.0, |b| format!("{b:.0} B"), Better::Lower),
            AbRow::text("round trips: GET /", "chained 2", "chained 2"),
            AbRow::text("round trips: POST /checkout", "chained 9", "chained 8"),
        ];
        let t = render("baseline 8a48f81", "current", &rows);
        assert!(t.starts_with("| measurement | baseline 8a48f81 | current | change |\n|---|---:|---:|---:|\n"), "{t}");
        assert!(t.contains("| wasm size: all components | 4488968 B | 3990000 B | -11.1% (better) |"), "{t}");
        assert!(t.contains("| round trips: GET / | chained 2 | chained 2 | same |"), "{t}");
        assert!(t.contains("| round trips: POST /checkout | chained 9 | chained 8 | differs |"), "{t}");
    }

    #[test]
    fn audits_compare_counts_not_timings() {
        let row = |name: &str, value: &str| suite::Row::value(name, value);
        let a = vec![row("round trips: GET /", "chained 2, SQL 1 [GET / frontend 200 3.0ms]"), row("most calls", "2")];
        let b = vec![row("round trips: GET /", "chained 2, SQL 1 [GET / frontend 200 2.1ms]")];
        let rows = audit_rows(&a, &b);
        assert_eq!(rows[0], AbRow::text("round trips: GET /", "chained 2, SQL 1", "chained 2, SQL 1"));
        assert_eq!(rows[0].change, "same");
        assert_eq!(rows[1].b, "(missing)");
    }
}
