//! flagwire: Optimizely Feature Experimentation DECISION notifications in, Segment
//! "Experiment Viewed" batches out, behind a C ABI (see `include/flagwire.h` and docs/design.md).
//!
//! Only `ffi` (the exports) and the status type are public; everything else is internal.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::missing_safety_doc)]

mod call_error;
mod classify;
mod client;
mod config;
mod counts;
mod datafile;
mod decision;
mod dedupe;
mod endpoint;
mod event;
mod exposures;
pub mod ffi;
mod fork;
mod gzip;
mod hold;
mod ids;
mod log;
mod profile;
mod record;
mod retry;
mod sender;
mod spool;
mod stats;
mod status;
mod strict_json;
mod transport;

pub use log::FlagwireLogLevel;
/// The numeric config keys' ranges, for the integration tests (not part of the C ABI).
#[doc(hidden)]
pub use config::{NumericKey, NUMERIC_KEYS};
/// The dedupe table, for its benchmark (not part of the C ABI).
#[doc(hidden)]
pub use dedupe::{DedupeTable, Seen};
pub use status::FlagwireStatus;

/// The crate version, also sent as `context.library.version`.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
