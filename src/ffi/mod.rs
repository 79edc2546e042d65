//! The C ABI (DESIGN §2). The only place with `extern "C"`. Each export converts its arguments,
//! delegates to `Client`, and runs inside the panic boundary (`boundary::guard`).

mod boundary;

use std::ffi::{c_char, CString};
use std::time::Duration;

use boundary::{guard, guard_ptr, into_c_string, optional_str, required_str, write_out_error, ArgError};

use crate::client::{Client, FlagDecision, ProfileField};
use crate::status::FlagwireStatus;

/// An opaque client: a queue, a sender thread and its configuration.
/// Created by `flagwire_init`, destroyed by `flagwire_shutdown`.
pub struct FlagwireClient {
    inner: Client,
}

trait RejectArgument {
    /// Hot-path argument errors count as `dropped_invalid`, like malformed JSON.
    fn reject_argument(&self, e: ArgError) -> FlagwireStatus;
}

impl RejectArgument for Client {
    fn reject_argument(&self, e: ArgError) -> FlagwireStatus {
        self.count_invalid();
        e.report(Some(self))
    }
}

fn client<'a>(c: *const FlagwireClient) -> Option<&'a Client> {
    // Safety: the caller passes NULL or a pointer from `flagwire_init` not yet shut down.
    unsafe { c.as_ref() }.map(|c| &c.inner)
}

macro_rules! with_client {
    ($c:expr, |$client:ident| $body:expr) => {{
        let Some($client) = client($c) else { return FlagwireStatus::NullArgument };
        guard(Some($client), || $body)
    }};
}

/// The library version, e.g. "0.1.0". Static storage: do not free.
#[no_mangle]
pub extern "C" fn flagwire_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version (1). Bindings refuse to run when it differs from the one they were written for.
#[no_mangle]
pub extern "C" fn flagwire_abi_version() -> u32 {
    crate::ABI_VERSION
}

/// Creates a client from a JSON config object (DESIGN §3) and starts its sender thread.
///
/// On success writes the new client to `*out_client` and returns OK. On failure returns
/// INVALID_CONFIG (or NULL_ARGUMENT / INVALID_UTF8), leaves `*out_client` untouched, and, when
/// `out_error` is not NULL, writes a message naming the offending key to `*out_error`; free it with
/// `flagwire_string_free`. The write key never appears in messages.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_init(
    config_json: *const c_char,
    out_client: *mut *mut FlagwireClient,
    out_error: *mut *mut c_char,
) -> FlagwireStatus {
    guard(None, || {
        if out_client.is_null() {
            write_out_error(out_error, ArgError::Null("out_client").message());
            return FlagwireStatus::NullArgument;
        }
        let config = match required_str(config_json, "config_json") {
            Ok(s) => s,
            Err(e) => {
                write_out_error(out_error, e.message());
                return e.report(None);
            }
        };
        match Client::new(config) {
            Ok(inner) => {
                *out_client = Box::into_raw(Box::new(FlagwireClient { inner }));
                FlagwireStatus::Ok
            }
            Err(message) => {
                write_out_error(out_error, message);
                FlagwireStatus::InvalidConfig
            }
        }
    })
}

/// Gives the client the Optimizely datafile (JSON text) so rules are classified by flag from it.
/// Bindings call it on attach and on every config update. An invalid datafile returns
/// INVALID_JSON and the previous one is kept. Thread-safe.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_set_datafile(c: *mut FlagwireClient, datafile_json: *const c_char) -> FlagwireStatus {
    with_client!(c, |client| match required_str(datafile_json, "datafile_json") {
        Ok(json) => client.set_datafile(json),
        Err(e) => e.report(Some(client)),
    })
}

/// Handles one DECISION notification as JSON:
/// `{"type", "userId"|"user_id", "attributes", "decisionInfo"|"decision_info"}`, in any SDK's
/// casing (DESIGN §4). Returns OK when an Experiment Viewed event was queued, SKIPPED when the
/// decision is not an exposure, INVALID_JSON for a malformed notification, QUEUE_FULL / TOO_LARGE
/// when the event was dropped (and counted). Never blocks. Thread-safe.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_on_decision(c: *mut FlagwireClient, notification_json: *const c_char) -> FlagwireStatus {
    with_client!(c, |client| match required_str(notification_json, "notification_json") {
        Ok(json) => client.on_decision(json),
        Err(e) => client.reject_argument(e),
    })
}

/// The allocation-light fast path for a `flag` decision (the `decide` API).
///
/// `user_id` and `flag_key` are required. `rule_key` / `variation_key` may be NULL or "" (no rule
/// matched). `enabled`: 0 = false, anything else = true. `decision_event_dispatched`: 1, 0, or -1
/// when not known. `attributes_json`: a JSON object of user attributes, or NULL for none.
/// Statuses as `flagwire_on_decision`. Never blocks. Thread-safe.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_on_flag_decision(
    c: *mut FlagwireClient,
    user_id: *const c_char,
    flag_key: *const c_char,
    rule_key: *const c_char,
    variation_key: *const c_char,
    enabled: i32,
    decision_event_dispatched: i32,
    attributes_json: *const c_char,
) -> FlagwireStatus {
    with_client!(c, |client| {
        let args = (|| {
            Ok::<_, ArgError>(FlagDecision {
                user_id: required_str(user_id, "user_id")?,
                flag_key: required_str(flag_key, "flag_key")?,
                rule_key: optional_str(rule_key, "rule_key")?,
                variation_key: optional_str(variation_key, "variation_key")?,
                enabled: enabled != 0,
                decision_event_dispatched: match decision_event_dispatched {
                    0 => Some(false),
                    d if d > 0 => Some(true),
                    _ => None,
                },
                attributes_json: optional_str(attributes_json, "attributes_json")?,
            })
        })();
        match args {
            Ok(args) => client.on_flag_decision(&args),
            Err(e) => client.reject_argument(e),
        }
    })
}

/// Queues any Segment message (track, identify, page, screen, group, alias), validated as
/// Segment's libraries do: a known `type`, `userId` or `anonymousId`, `event` for track, `groupId`
/// for group, `previousId` for alias; otherwise INVALID_JSON. Fills `messageId`, `timestamp` and
/// `context.library` when absent. TOO_LARGE over 32,000 bytes. Never blocks. Thread-safe.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_enqueue(c: *mut FlagwireClient, message_json: *const c_char) -> FlagwireStatus {
    with_client!(c, |client| match required_str(message_json, "message_json") {
        Ok(json) => {
            #[cfg(feature = "testing")]
            if json == "__flagwire_test_panic__" {
                panic!("forced by the test hook");
            }
            client.enqueue(json)
        }
        Err(e) => client.reject_argument(e),
    })
}

/// Waits until every event queued before the call is delivered or has failed: OK. TIMEOUT when
/// `timeout_ms` passes first; nothing is lost, the events stay queued. Blocks the calling thread
/// only. Thread-safe.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_flush(c: *mut FlagwireClient, timeout_ms: u32) -> FlagwireStatus {
    with_client!(c, |client| client.flush(Duration::from_millis(timeout_ms.into())))
}

/// Counters since init in this process, as a JSON object (DESIGN §6). The caller owns the string
/// and frees it with `flagwire_string_free`. NULL when `c` is NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn flagwire_stats(c: *const FlagwireClient) -> *mut c_char {
    guard_ptr(|| match client(c) {
        Some(client) => into_c_string(client.stats_json()),
        None => std::ptr::null_mut(),
    })
}

/// The last error message recorded on this client, or NULL when there is none (or `c` is NULL).
/// The caller owns the string and frees it with `flagwire_string_free`. Thread-safe; with several
/// threads it is the most recent error of any of them.
#[no_mangle]
pub unsafe extern "C" fn flagwire_last_error(c: *const FlagwireClient) -> *mut c_char {
    guard_ptr(|| match client(c).and_then(Client::last_error) {
        Some(message) => into_c_string(message),
        None => std::ptr::null_mut(),
    })
}

/// Frees a string returned by flagwire. NULL is fine. Never pass memory from another allocator.
#[no_mangle]
pub unsafe extern "C" fn flagwire_string_free(s: *mut c_char) {
    if !s.is_null() {
        let _ = std::panic::catch_unwind(|| drop(CString::from_raw(s)));
    }
}

/// Flushes with the deadline `timeout_ms`, stops the sender thread and frees the client.
/// Returns OK when everything was delivered or failed, TIMEOUT when the deadline passed (events not
/// yet sent are then dropped, and logged). NULL is fine (OK). The client must not be used by any
/// other thread during or after this call. Returns within `timeout_ms` plus a few milliseconds,
/// even while a request hangs.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_shutdown(c: *mut FlagwireClient, timeout_ms: u32) -> FlagwireStatus {
    if c.is_null() {
        return FlagwireStatus::Ok;
    }
    let owned = Box::from_raw(c);
    guard(None, move || owned.inner.shutdown(Duration::from_millis(timeout_ms.into())))
}

unsafe fn profile_export(
    c: *mut FlagwireClient,
    identifier: *const c_char,
    out: *mut *mut c_char,
    what: ProfileField,
) -> FlagwireStatus {
    with_client!(c, |client| {
        if out.is_null() {
            return ArgError::Null("out").report(Some(client));
        }
        match required_str(identifier, "identifier") {
            Ok(id) => match client.profile_lookup(id, what) {
                (FlagwireStatus::Ok, Some(value)) => {
                    *out = into_c_string(value);
                    FlagwireStatus::Ok
                }
                (status, _) => status,
            },
            Err(e) => e.report(Some(client)),
        }
    })
}

/// Segment Profile API (DESIGN §7): the profile's traits as Optimizely attributes, a JSON object
/// `{"trait": value, ..., "$opt_bucketing_id": "<group_id>"}` (scalar traits only; the bucketing id
/// only with `profile.account_bucketing`). `identifier` is `<type>:<value>`, e.g. "user_id:abc".
///
/// Runs on the calling thread through a TTL + LRU cache with one request in flight per identifier,
/// and never waits longer than `profile.timeout_ms`. OK writes `*out_attributes_json` (free it
/// with `flagwire_string_free`); NOT_FOUND for no such profile; UNAVAILABLE when the API failed or
/// timed out and nothing is cached (a stale entry is returned instead when there is one);
/// INVALID_CONFIG when no `profile` is configured; INVALID_JSON for a malformed identifier.
/// Decide without enrichment on any status but OK. Thread-safe.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_profile_attributes(
    c: *mut FlagwireClient,
    identifier: *const c_char,
    out_attributes_json: *mut *mut c_char,
) -> FlagwireStatus {
    profile_export(c, identifier, out_attributes_json, ProfileField::Attributes)
}

/// Segment Profile API (DESIGN §7): the profile's `user_id` external id (the earliest when a space
/// allows several), the canonical id to bucket on across platforms; e.g. look up
/// "anonymous_id:x". Statuses, caching and timeout as `flagwire_profile_attributes`; NOT_FOUND also
/// when the profile has no user_id. OK writes `*out_user_id` (free with `flagwire_string_free`).
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_profile_user_id(
    c: *mut FlagwireClient,
    identifier: *const c_char,
    out_user_id: *mut *mut c_char,
) -> FlagwireStatus {
    profile_export(c, identifier, out_user_id, ProfileField::UserId)
}
