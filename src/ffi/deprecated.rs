//! ABI 1 inputs, kept so existing users do not break. Each is a thin wrapper over the ABI 2 path:
//! NUL-terminated strings instead of pointer + length, and errors read afterwards with
//! `flagwire_last_error` (per client, so concurrent calls may overwrite each other's message)
//! instead of a per-call `out_error`. New code uses the functions in `decisions`.

use std::ffi::c_char;

use super::boundary::{guard_ptr, into_c_string, optional_str, required_str, ArgError};
use super::decisions::reject;
use super::{client, with_client, FlagwireClient};
use crate::client::{Client, FlagDecision};
use crate::status::FlagwireStatus;

/// `flagwire_enqueue`'s body, shared with `flagwire_enqueue_json`.
pub(super) fn enqueue_text(client: &Client, json: &str) -> FlagwireStatus {
    #[cfg(feature = "testing")]
    if json == "__flagwire_test_panic__" {
        panic!("forced by the test hook");
    }
    client.enqueue(json)
}

/// Deprecated since ABI 2: use `flagwire_set_datafile_json`.
///
/// Gives the client the Optimizely datafile (NUL-terminated JSON). INVALID_JSON keeps the
/// previous one. Thread-safe.
///
/// # Safety
/// `c` is NULL or a live client; `datafile_json` is NULL or a NUL-terminated string.
#[deprecated(note = "use flagwire_set_datafile_json")]
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_set_datafile(c: *mut FlagwireClient, datafile_json: *const c_char) -> FlagwireStatus {
    with_client!(c, |client| match unsafe { required_str(datafile_json, "datafile_json") } {
        Ok(json) => client.set_datafile(json),
        Err(e) => e.report(Some(client)),
    })
}

/// Deprecated since ABI 2: use `flagwire_on_notification_json`.
///
/// Handles one DECISION notification as NUL-terminated JSON (any SDK's casing). OK when an
/// Experiment Viewed event was queued, SKIPPED when not an exposure, INVALID_JSON, QUEUE_FULL,
/// TOO_LARGE. Never blocks. Thread-safe.
///
/// # Safety
/// `c` is NULL or a live client; `notification_json` is NULL or a NUL-terminated string.
#[deprecated(note = "use flagwire_on_notification_json")]
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_on_decision(c: *mut FlagwireClient, notification_json: *const c_char) -> FlagwireStatus {
    with_client!(c, |client| match unsafe { required_str(notification_json, "notification_json") } {
        Ok(json) => client.on_decision(json),
        Err(e) => reject(client, e),
    })
}

/// Deprecated since ABI 2: use `flagwire_on_decision_record`, which also carries the experiment
/// and variation ids and takes strings as pointer + length.
///
/// `user_id` and `flag_key` are required. `rule_key` / `variation_key` may be NULL or "".
/// `enabled`: 0 = false, anything else = true. `decision_event_dispatched`: 1, 0, or -1 when not
/// known. `attributes_json`: a JSON object, or NULL. Statuses as `flagwire_on_decision`.
///
/// # Safety
/// `c` is NULL or a live client; every string is NULL or NUL-terminated.
#[deprecated(note = "use flagwire_on_decision_record")]
#[no_mangle]
#[must_use]
#[allow(clippy::too_many_arguments)]
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
        // Safety: the caller upholds this function's contract.
        let args = unsafe {
            (|| {
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
                    experiment_id: None,
                    variation_id: None,
                    attributes_json: optional_str(attributes_json, "attributes_json")?,
                    at: None,
                })
            })()
        };
        match args {
            Ok(args) => client.on_flag_decision(&args),
            Err(e) => reject(client, e),
        }
    })
}

/// Deprecated since ABI 2: use `flagwire_enqueue_json`.
///
/// Queues any Segment message given as NUL-terminated JSON. Statuses as `flagwire_enqueue_json`.
///
/// # Safety
/// `c` is NULL or a live client; `message_json` is NULL or a NUL-terminated string.
#[deprecated(note = "use flagwire_enqueue_json")]
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_enqueue(c: *mut FlagwireClient, message_json: *const c_char) -> FlagwireStatus {
    with_client!(c, |client| match unsafe { required_str(message_json, "message_json") } {
        Ok(json) => enqueue_text(client, json),
        Err(e) => reject(client, e),
    })
}

/// Deprecated since ABI 2: every ABI 2 input takes an `out_error` for its own message.
///
/// The last error message recorded on this client, or NULL. With several threads it may be
/// another thread's. The caller frees it with `flagwire_string_free`.
///
/// # Safety
/// `c` is NULL or a live client.
#[deprecated(note = "use the out_error parameter of the ABI 2 functions")]
#[no_mangle]
pub unsafe extern "C" fn flagwire_last_error(c: *const FlagwireClient) -> *mut c_char {
    guard_ptr(|| match unsafe { client(c) }.and_then(Client::last_error) {
        Some(message) => into_c_string(message),
        None => std::ptr::null_mut(),
    })
}
