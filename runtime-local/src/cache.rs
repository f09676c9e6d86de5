//! Engine configuration and the on-disk cache of compiled components.
//!
//! Each component is compiled once; the native artifact is stored as
//! `<cache_dir>/<sha256(wasm bytes, wasmtime version, engine settings)>.cwasm` and loaded with
//! `Component::deserialize_file` on later runs. A stale or incompatible artifact is detected by
//! wasmtime itself, recompiled and replaced.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::limits::Limits;

/// The wasmtime version this crate embeds (part of the cache key).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// A string that changes whenever engine settings that affect compiled code change.
fn engine_fingerprint(limits: &Limits) -> String {
    let _ = limits; // limits do not affect generated code; kept for future settings
    format!("wasmtime={WASMTIME_VERSION};async;epoch;component-model;cranelift-speed;{}", std::env::consts::ARCH)
}

/// Bytes of each linear memory kept resident between instances (see [`build_engine`]).
const KEEP_RESIDENT_BYTES: usize = 4 << 20;
/// Bytes of each table kept resident between instances.
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 << 10;
/// Free slots that keep their resident pages (bounds the RSS that costs).
const MAX_WARM_SLOTS: u32 = 64;

/// Builds the engine used for every component of an app.
pub fn build_engine(limits: &Limits) -> Result<Engine> {
    let mut config = base_config();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(limits.max_instances)
        .total_core_instances(limits.max_instances * 4)
        .total_memories(limits.max_instances * 2)
        .total_tables(limits.max_instances * 4)
        .max_memory_size(limits.max_memory_bytes.max(1 << 20))
        // Reuse a slot's pages instead of returning them to the kernel after every request:
        // the pages a guest dirtied (found with PAGEMAP_SCAN on Linux >= 6.7) are reset in
        // place, up to this much a memory, so the next instance takes no page faults and there
        // is no `madvise` (and no TLB shootdown across cores) per request. Costs RSS: at most
        // this much per warm slot, in practice what the guests touch (well under 1 MiB each).
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
        .pagemap_scan(wasmtime::Enabled::Auto)
        .max_unused_warm_slots(MAX_WARM_SLOTS);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            tracing::warn!("pooling allocator unavailable ({e}); using on-demand allocation");
            Ok(Engine::new(&base_config())?)
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}

/// Where compiled artifacts go.
#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    fingerprint: String,
}

impl CompileCache {
    /// `dir = None` disables the cache.
    pub fn new(dir: Option<PathBuf>, limits: &Limits) -> Self {
        CompileCache { dir, fingerprint: engine_fingerprint(limits) }
    }

    /// The cache file for `wasm`.
    pub fn path_for(&self, wasm: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut h = Sha256::new();
        h.update(self.fingerprint.as_bytes());
        h.update([0u8]);
        h.update(wasm);
        let digest = h.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(dir.join(format!("{hex}.cwasm")))
    }

    /// Loads the component from the cache or compiles it (and stores the artifact).
    pub fn load(&self, engine: &Engine, wasm_path: &Path) -> Result<(Component, CacheOutcome)> {
        let wasm = std::fs::read(wasm_path)
            .with_context(|| format!("failed to read component {}", wasm_path.display()))?;
        let Some(cached) = self.path_for(&wasm) else {
            let c = Component::new(engine, &wasm)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("failed to compile {}", wasm_path.display()))?;
            return Ok((c, CacheOutcome::Disabled));
        };
        if cached.exists() {
            // SAFETY: the file was produced by `Component::serialize` of this same crate into a
            // directory we own; wasmtime validates the header/engine compatibility itself.
            match unsafe { Component::deserialize_file(engine, &cached) } {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => tracing::debug!("ignoring unusable cache entry {}: {e}", cached.display()),
            }
        }
        let c = Component::new(engine, &wasm)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("failed to compile {}", wasm_path.display()))?;
        if let Err(e) = store_artifact(&c, &cached) {
            tracing::warn!("could not write compile cache {}: {e:#}", cached.display());
        }
        Ok((c, CacheOutcome::Miss))
    }
}

fn store_artifact(c: &Component, path: &Path) -> Result<()> {
    let bytes = c.serialize().map_err(anyhow::Error::from)?;
    let dir = path.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp{}", path.file_name().unwrap().to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// What happened when loading a component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a previously compiled artifact.
    Hit,
    /// Compiled and stored.
    Miss,
    /// Cache disabled; compiled.
    Disabled,
}
