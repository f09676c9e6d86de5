//! Resource limits applied to every request.

use std::time::Duration;

/// Per-request and per-backend limits. All have safe defaults; see [`Limits::default`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum linear memory of one component instance (bytes). Default 64 MiB.
    /// A guest that grows beyond it sees an allocation failure (typically a trap -> 500).
    pub max_memory_bytes: usize,
    /// Wall-clock execution deadline of one request, including chained calls it makes and
    /// streaming the response body. Default 30 s. CPU-bound guests are interrupted through
    /// wasmtime epoch interruption; a request past its deadline answers 500.
    pub execution_time: Duration,
    /// Maximum request body size (bytes). Default 1 MiB. Larger bodies answer 413.
    pub max_request_body_bytes: usize,
    /// Timeout of each Postgres / Redis call (connect, query, command). Default 10 s.
    pub backend_timeout: Duration,
    /// Default connect / first-byte / between-bytes timeout of outbound HTTP. Default 30 s.
    pub outbound_http_timeout: Duration,
    /// Maximum number of concurrently live component instances (pooling allocator). Default 256.
    pub max_instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory_bytes: 64 << 20,
            execution_time: Duration::from_secs(30),
            max_request_body_bytes: 1 << 20,
            backend_timeout: Duration::from_secs(10),
            outbound_http_timeout: Duration::from_secs(30),
            max_instances: 256,
        }
    }
}

/// Epoch tick used for execution deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

impl Limits {
    /// Number of epoch ticks corresponding to [`Limits::execution_time`].
    pub(crate) fn deadline_ticks(&self) -> u64 {
        (self.execution_time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1
    }
}
