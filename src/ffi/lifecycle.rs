//! Creating, observing and destroying a client; strings the library hands out.

use std::ffi::{c_char, c_void, CString};
use std::time::Duration;

use super::boundary::{guard, guard_ptr, into_c_string, required_str, write_out_error, ArgError};
use super::{client, with_client, FlagwireClient};
use crate::client::Client;
use crate::log::FlagwireLogCallback;
use crate::status::FlagwireStatus;

/// The C ABI version this header describes; `flagwire_abi_version()` returns the library's.
/// Bumped on any incompatible change; bindings refuse to run on a mismatch.
/// 2: decision records, pointer + length JSON, per-call errors, the log callback.
pub const FLAGWIRE_ABI_VERSION: u32 = 2;

/// The library version, e.g. "0.2.0". Static storage: do not free.
#[no_mangle]
pub extern "C" fn flagwire_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version (2). Bindings refuse to run when it differs from the one they were written for.
#[no_mangle]
pub extern "C" fn flagwire_abi_version() -> u32 {
    FLAGWIRE_ABI_VERSION
}

/// Creates a client from a JSON config object (docs/design.md §3) and starts its sender thread.
///
/// On success writes the new client to `*out_client` and returns OK. On failure returns
/// INVALID_CONFIG (or NULL_ARGUMENT / INVALID_UTF8), leaves `*out_client` untouched, and, when
/// `out_error` is not NULL, writes a message naming the offending key to `*out_error`; free it with
/// `flagwire_string_free`. The write key never appears in messages.
///
/// # Safety
/// `config_json` is NULL or NUL-terminated; `out_client` is NULL or writable; `out_error` is NULL
/// or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_init(
    config_json: *const c_char,
    out_client: *mut *mut FlagwireClient,
    out_error: *mut *mut c_char,
) -> FlagwireStatus {
    guard(None, || {
        if out_client.is_null() {
            // Safety: the caller upholds this function's contract.
            unsafe { write_out_error(out_error, ArgError::Null("out_client").message()) };
            return FlagwireStatus::NullArgument;
        }
        // Safety: as above.
        let config = match unsafe { required_str(config_json, "config_json") } {
            Ok(s) => s,
            Err(e) => {
                // Safety: as above.
                unsafe { write_out_error(out_error, e.message()) };
                return e.report(None);
            }
        };
        match Client::new(config) {
            Ok(inner) => {
                // Safety: checked non-NULL above; writable per the contract.
                unsafe { *out_client = Box::into_raw(Box::new(FlagwireClient { inner })) };
                FlagwireStatus::Ok
            }
            Err(message) => {
                // Safety: as above.
                unsafe { write_out_error(out_error, message) };
                FlagwireStatus::InvalidConfig
            }
        }
    })
}

/// Routes this client's log lines (at or above the config's `log_level`) to `callback` instead of
/// stderr; NULL goes back to stderr. `user_data` is passed back on every call; it must stay valid
/// until the callback is replaced or the client is shut down. The callback may run on any
/// thread, concurrently (flagwire's own, and the caller's for a debug line about its call); it
/// must not call `flagwire_set_log_callback` or
/// `flagwire_shutdown` (they wait for callbacks in progress). After `flagwire_shutdown` returns
/// the callback is never called again. Thread-safe.
///
/// # Safety
/// `c` is NULL or a live client; `callback`, when not NULL, is a function of that signature that
/// may be called from any thread.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_set_log_callback(
    c: *mut FlagwireClient,
    callback: FlagwireLogCallback,
    user_data: *mut c_void,
) -> FlagwireStatus {
    with_client!(c, |client| {
        client.set_log_callback(callback, user_data);
        FlagwireStatus::Ok
    })
}

/// Waits until every event queued before the call is delivered or has failed: OK. TIMEOUT when
/// `timeout_ms` passes first; nothing is lost, the events stay queued. Blocks the calling thread
/// only. Thread-safe.
///
/// # Safety
/// `c` is NULL or a live client.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_flush(c: *mut FlagwireClient, timeout_ms: u32) -> FlagwireStatus {
    with_client!(c, |client| client.flush(Duration::from_millis(timeout_ms.into())))
}

/// Counters since init in this process, as a JSON object (docs/design.md §6). The caller owns
/// the string and frees it with `flagwire_string_free`. NULL when `c` is NULL. Thread-safe.
///
/// # Safety
/// `c` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn flagwire_stats(c: *const FlagwireClient) -> *mut c_char {
    guard_ptr(|| match unsafe { client(c) } {
        Some(client) => into_c_string(client.stats_json()),
        None => std::ptr::null_mut(),
    })
}

/// Frees a string returned by flagwire. NULL is fine. Never pass memory from another allocator.
///
/// # Safety
/// `s` is NULL or a string flagwire returned that has not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn flagwire_string_free(s: *mut c_char) {
    if !s.is_null() {
        // Safety: per this function's contract the string came from `CString::into_raw`.
        let _ = std::panic::catch_unwind(|| drop(unsafe { CString::from_raw(s) }));
    }
}

/// Flushes with the deadline `timeout_ms`, stops the sender thread and frees the client.
/// Returns OK when everything was delivered or failed, TIMEOUT when the deadline passed (events not
/// yet sent are then dropped, and logged). NULL is fine (OK). The client must not be used by any
/// other thread during or after this call. Returns within `timeout_ms` plus a few milliseconds,
/// even while requests hang.
///
/// # Safety
/// `c` is NULL or a live client, not used by any other thread during or after the call.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_shutdown(c: *mut FlagwireClient, timeout_ms: u32) -> FlagwireStatus {
    if c.is_null() {
        return FlagwireStatus::Ok;
    }
    // Safety: per the contract, `c` came from `flagwire_init` and is given up here.
    let owned = unsafe { Box::from_raw(c) };
    guard(None, move || owned.inner.shutdown(Duration::from_millis(timeout_ms.into())))
}
