//! What one Argon2id hash costs natively on this machine: wall time (median and fastest of 15),
//! CPU time (median; this thread's time on a CPU, so other load on the machine inflates it far
//! less than the wall time) and peak heap memory during one hash, for the shop's parameters and
//! a few neighbours. The wasm cost is measured through the running service instead
//! (tests/e2e/tests/e2e/accounts.rs, `argon2_cost_in_wasm`).
//!
//! ```sh
//! cargo run --release -p accounts --example argon2_cost            # opt-level "s", like the wasm build
//! cargo run --profile native-release -p accounts --example argon2_cost
//! ```
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// This thread's time on a CPU so far, in ms (`/proc/thread-self/schedstat`, nanoseconds).
fn cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()))
        .map_or(0.0, |ns| ns / 1e6)
}

fn main() {
    let runs = 15;
    let candidates = [(8 * 1024, 3), (12 * 1024, 3), (19 * 1024, 2), (19 * 1024, 3), (46 * 1024, 1), (64 * 1024, 2)];
    println!("m (KiB)  t  p   median ms   fastest ms   median CPU ms   peak heap per hash (KiB)");
    for (m, t) in candidates {
        let params = Params::new(m, t, 1, None).expect("valid parameters");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut peak = 0;
        let mut cpu = Vec::new();
        let mut times: Vec<f64> = (0..runs)
            .map(|i| {
                let password = format!("correct horse battery staple {i}");
                let base = IN_USE.load(Ordering::Relaxed);
                PEAK.store(base, Ordering::Relaxed);
                let (started, cpu_before) = (Instant::now(), cpu_ms());
                let hash = argon2.hash_password(password.as_bytes()).expect("hashes");
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                cpu.push(cpu_ms() - cpu_before);
                std::hint::black_box(hash);
                peak = peak.max(PEAK.load(Ordering::Relaxed) - base);
                ms
            })
            .collect();
        times.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        let shop = m == accounts::hashing::MEMORY_KIB && t == accounts::hashing::ITERATIONS;
        println!(
            "{m:>7} {t:>2}  1 {:>11.1} {:>12.1} {:>15.1} {:>26}{}",
            times[runs / 2],
            times[0],
            cpu[runs / 2],
            peak / 1024,
            if shop { "   <- the shop's" } else { "" }
        );
    }
}
