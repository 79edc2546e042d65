//! The C ABI (docs/design.md §2). The only place with `extern "C"`. Each export converts its
//! arguments, delegates to `Client`, and runs inside the panic boundary (`boundary::guard`).
//!
//! - `lifecycle`: version, init, log callback, flush, stats, shutdown, string_free.
//! - `decisions`: the ABI 2 inputs — decision records, notification / datafile / message JSON
//!   as pointer + length, each with a per-call `out_error`.
//! - `profile`: the Segment Profile API lookups.
//! - `deprecated`: the ABI 1 inputs, thin wrappers kept so existing users do not break.

mod boundary;
mod decisions;
mod deprecated;
mod lifecycle;
mod profile;

pub use decisions::*;
pub use deprecated::*;
pub use lifecycle::*;
pub use profile::*;

use crate::client::Client;

/// An opaque client: a queue, a sender thread and its configuration.
/// Created by `flagwire_init`, destroyed by `flagwire_shutdown`.
pub struct FlagwireClient {
    inner: Client,
}

/// The client behind a handle, or None for NULL.
///
/// # Safety
/// `c` is NULL or a pointer from `flagwire_init` that has not been shut down.
unsafe fn client<'a>(c: *const FlagwireClient) -> Option<&'a Client> {
    // Safety: per this function's contract.
    unsafe { c.as_ref() }.map(|c| &c.inner)
}

/// `NULL_ARGUMENT` for a NULL handle, else `$body` inside the panic boundary.
macro_rules! with_client {
    ($c:expr, |$client:ident| $body:expr) => {{
        // Safety: every export's contract requires a valid or NULL handle.
        #[allow(unused_unsafe)]
        let Some($client) = (unsafe { $crate::ffi::client($c) }) else {
            $crate::call_error::offer("the client handle is NULL");
            return $crate::status::FlagwireStatus::NullArgument;
        };
        $crate::ffi::boundary::guard(Some($client), || $body)
    }};
}
use with_client;
