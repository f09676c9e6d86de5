//! Per-step counters and latency histograms (HDR, microseconds), and the report table.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::journey::Step;

/// What one step did.
#[derive(Clone)]
pub struct StepStats {
    pub requests: u64,
    pub errors: u64,
    /// Latency in microseconds (1 µs .. 100 s, 3 significant digits).
    pub latency: Histogram<u64>,
}

impl Default for StepStats {
    fn default() -> Self {
        StepStats { requests: 0, errors: 0, latency: Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid bounds") }
    }
}

impl StepStats {
    pub fn p(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }
}

/// Everything a run recorded, shared by its virtual users.
#[derive(Clone, Default)]
pub struct Stats {
    inner: Arc<Mutex<StatsInner>>,
}

#[derive(Default)]
struct StatsInner {
    steps: BTreeMap<Step, StepStats>,
    /// The first few error descriptions, to say what went wrong.
    samples: Vec<String>,
}

const MAX_SAMPLES: usize = 10;

impl Stats {
    pub fn record(&self, step: Step, latency: Duration, error: Option<String>) {
        let mut inner = self.inner.lock().unwrap();
        let s = inner.steps.entry(step).or_default();
        s.requests += 1;
        let _ = s.latency.record((latency.as_micros() as u64).clamp(1, 100_000_000));
        if let Some(e) = error {
            s.errors += 1;
            if inner.samples.len() < MAX_SAMPLES {
                inner.samples.push(format!("{}: {e}", step.label()));
            }
        }
    }

    pub fn snapshot(&self) -> Report {
        let inner = self.inner.lock().unwrap();
        Report { steps: inner.steps.clone(), samples: inner.samples.clone(), elapsed: Duration::ZERO }
    }
}

/// The result of one run.
#[derive(Clone)]
pub struct Report {
    pub steps: BTreeMap<Step, StepStats>,
    pub samples: Vec<String>,
    pub elapsed: Duration,
}

impl Report {
    pub fn step(&self, step: Step) -> Option<&StepStats> {
        self.steps.get(&step)
    }

    /// All steps together.
    pub fn total(&self) -> StepStats {
        let mut t = StepStats::default();
        for s in self.steps.values() {
            t.requests += s.requests;
            t.errors += s.errors;
            t.latency.add(&s.latency).expect("same bounds");
        }
        t
    }

    /// Several runs as one: requests, errors and histograms added step by step, elapsed times summed
    /// (so `throughput` is over all of them).
    pub fn merge<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Report {
        let mut out = Report { steps: BTreeMap::new(), samples: Vec::new(), elapsed: Duration::ZERO };
        for r in reports {
            for (step, s) in &r.steps {
                let t = out.steps.entry(*step).or_default();
                t.requests += s.requests;
                t.errors += s.errors;
                t.latency.add(&s.latency).expect("same bounds");
            }
            for sample in &r.samples {
                if out.samples.len() < MAX_SAMPLES {
                    out.samples.push(sample.clone());
                }
            }
            out.elapsed += r.elapsed;
        }
        out
    }

    pub fn errors(&self) -> u64 {
        self.steps.values().map(|s| s.errors).sum()
    }

    pub fn throughput(&self, s: &StepStats) -> f64 {
        s.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The per-step table (markdown), with an `all` row.
    pub fn table(&self) -> String {
        let mut out = String::from("| step | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        let mut row = |name: &str, s: &StepStats| {
            out.push_str(&format!(
                "| {name} | {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
                s.requests,
                s.errors,
                self.throughput(s),
                s.p(0.50),
                s.p(0.95),
                s.p(0.99),
                s.max_ms()
            ));
        };
        for (step, s) in &self.steps {
            row(step.label(), s);
        }
        if self.steps.len() > 1 {
            row("all", &self.total());
        }
        out
    }

    /// The table, then the error samples if any.
    pub fn print(&self, title: &str) {
        println!("\n{title} ({:.1} s)\n", self.elapsed.as_secs_f64());
        print!("{}", self.table());
        if !self.samples.is_empty() {
            println!("\nfirst errors:");
            for s in &self.samples {
                println!("  {s}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_a_row_per_step_and_a_total() {
        let stats = Stats::default();
        for ms in 1..=100u64 {
            stats.record(Step::Home, Duration::from_millis(ms), None);
        }
        stats.record(Step::Cart, Duration::from_millis(5), Some("500".into()));
        let mut report = stats.snapshot();
        report.elapsed = Duration::from_secs(10);
        let home = report.step(Step::Home).unwrap();
        assert_eq!(home.requests, 100);
        assert!((home.p(0.5) - 50.0).abs() < 0.1, "{}", home.p(0.5));
        assert!((home.p(0.99) - 99.0).abs() < 0.1);
        assert_eq!(report.errors(), 1);
        let table = report.table();
        assert!(table.contains("| home | 100 | 0 | 10.0 |"), "{table}");
        assert!(table.contains("| all | 101 | 1 |"), "{table}");
        assert_eq!(report.samples, vec!["cart: 500".to_string()]);

        let both = Report::merge([&report, &report]);
        assert_eq!(both.elapsed, Duration::from_secs(20));
        assert_eq!(both.step(Step::Home).unwrap().requests, 200);
        assert!((both.throughput(both.step(Step::Home).unwrap()) - 10.0).abs() < 1e-9);
        assert!((both.step(Step::Home).unwrap().p(0.5) - 50.0).abs() < 0.1);
        assert_eq!(both.errors(), 2);
    }
}
