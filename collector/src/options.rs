//! [`CollectorOptions`]: how to start a [`crate::Collector`].

/// How to start a [`crate::Collector`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectorOptions {
    /// Port on 127.0.0.1; 0 picks an ephemeral port.
    pub port: u16,
    /// Accepted write keys; empty means any non-empty key is accepted.
    pub write_keys: Vec<String>,
    /// Print one human-readable line per accepted message to stdout (never blocks requests).
    pub print: bool,
    /// Every Segment `/v1/*` request is answered only after this many milliseconds (plus
    /// jitter), standing in for the internet; see [`Collector::set_latency`].
    pub latency_ms: u64,
    /// Upper bound of a uniform random extra delay in `[0, jitter_ms]`, drawn per request.
    pub jitter_ms: u64,
    /// Accept messages that strict Segment-compatible receivers refuse with 400: numbers outside
    /// the f64 range, lone UTF-16 surrogate escapes, duplicate object keys (default: refuse the
    /// whole request, naming the problem). Single-message paths (`/v1/track`, ...) build a
    /// serde_json `Value`, which cannot hold the first two, so those stay refused there.
    pub lenient_json: bool,
}
