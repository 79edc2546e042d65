//! flagwire: Optimizely Feature Experimentation DECISION notifications in, Segment
//! "Experiment Viewed" batches out, behind a C ABI (see `include/flagwire.h` and DESIGN.md).

pub mod classify;
pub mod client;
pub mod config;
pub mod datafile;
pub mod decision;
pub mod event;
pub mod ffi;
mod fork;
pub mod ids;
mod log;
pub mod profile;
pub mod retry;
pub mod sender;
pub mod stats;
pub mod status;
pub mod strict_json;
pub mod transport;

pub use status::FlagwireStatus;

/// The crate version, also sent as `context.library.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Bumped on any incompatible change to the C ABI; bindings refuse to run on a mismatch.
pub const ABI_VERSION: u32 = 1;
