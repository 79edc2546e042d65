//! Segment Profile API lookups (docs/design.md §7).

use std::ffi::c_char;

use super::boundary::{into_c_string, required_str, required_utf8, with_out_error, ArgError};
use super::{with_client, FlagwireClient};
use crate::client::ProfileField;
use crate::status::FlagwireStatus;

/// What `flagwire_profile_lookup` returns. Stable numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagwireProfileField {
    /// The profile's traits as Optimizely attributes: a JSON object
    /// `{"trait": value, ..., "$opt_bucketing_id": "<group_id>"}` (scalar traits only; the
    /// bucketing id only with `profile.account_bucketing`).
    Attributes = 1,
    /// The profile's `user_id` external id (the earliest when a space allows several): the
    /// canonical id to bucket on across platforms.
    UserId = 2,
}

/// Segment Profile API lookup (docs/design.md §7). `identifier` is `<type>:<value>`
/// (`identifier_len` bytes of UTF-8), e.g. "user_id:abc" or "anonymous_id:x".
///
/// Runs on the calling thread through a TTL + LRU cache with one request in flight per identifier,
/// and never waits longer than `profile.timeout_ms`. OK writes `*out_value` (free it with
/// `flagwire_string_free`); NOT_FOUND for no such profile (or no user_id); UNAVAILABLE when the
/// API failed or timed out and nothing is cached (a stale entry is returned instead when there is
/// one); INVALID_CONFIG when no `profile` is configured; INVALID_JSON for a malformed identifier.
/// On any status but OK, writes the reason to `*out_error` when it is not NULL. Decide without
/// enrichment on any status but OK. Thread-safe.
///
/// # Safety
/// `c` is NULL or a live client; `identifier` is NULL or points to `identifier_len` readable
/// bytes; `out_value` is NULL or writable; `out_error` is NULL or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_profile_lookup(
    c: *mut FlagwireClient,
    field: FlagwireProfileField,
    identifier: *const u8,
    identifier_len: usize,
    out_value: *mut *mut c_char,
    out_error: *mut *mut c_char,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe {
        with_out_error(out_error, || {
            with_client!(c, |client| {
                if out_value.is_null() {
                    return ArgError::Null("out_value").report(Some(client));
                }
                let what = match field {
                    FlagwireProfileField::Attributes => ProfileField::Attributes,
                    FlagwireProfileField::UserId => ProfileField::UserId,
                };
                match required_utf8(identifier, identifier_len, "identifier") {
                    Ok(id) => match client.profile_lookup(id, what) {
                        (FlagwireStatus::Ok, Some(value)) => {
                            *out_value = into_c_string(value);
                            FlagwireStatus::Ok
                        }
                        (status, _) => status,
                    },
                    Err(e) => e.report(Some(client)),
                }
            })
        })
    }
}

/// # Safety
/// As the exports below.
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
        // Safety: the caller upholds the export's contract.
        match unsafe { required_str(identifier, "identifier") } {
            Ok(id) => match client.profile_lookup(id, what) {
                (FlagwireStatus::Ok, Some(value)) => {
                    // Safety: checked non-NULL above; writable per the contract.
                    unsafe { *out = into_c_string(value) };
                    FlagwireStatus::Ok
                }
                (status, _) => status,
            },
            Err(e) => e.report(Some(client)),
        }
    })
}

/// Deprecated since ABI 2: use `flagwire_profile_lookup` with `FLAGWIRE_PROFILE_FIELD_ATTRIBUTES`.
///
/// Segment Profile API: the profile's traits as Optimizely attributes, a JSON object
/// `{"trait": value, ..., "$opt_bucketing_id": "<group_id>"}` (scalar traits only; the bucketing id
/// only with `profile.account_bucketing`). `identifier` is `<type>:<value>`, e.g. "user_id:abc".
///
/// Runs on the calling thread through a TTL + LRU cache with one request in flight per identifier,
/// and never waits longer than `profile.timeout_ms`. OK writes `*out_attributes_json` (free it
/// with `flagwire_string_free`); NOT_FOUND for no such profile; UNAVAILABLE when the API failed or
/// timed out and nothing is cached (a stale entry is returned instead when there is one);
/// INVALID_CONFIG when no `profile` is configured; INVALID_JSON for a malformed identifier.
/// Decide without enrichment on any status but OK. Thread-safe.
///
/// # Safety
/// `c` is NULL or a live client; `identifier` is NULL or NUL-terminated; `out_attributes_json` is
/// NULL or writable.
#[deprecated(note = "use flagwire_profile_lookup")]
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_profile_attributes(
    c: *mut FlagwireClient,
    identifier: *const c_char,
    out_attributes_json: *mut *mut c_char,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe { profile_export(c, identifier, out_attributes_json, ProfileField::Attributes) }
}

/// Deprecated since ABI 2: use `flagwire_profile_lookup` with `FLAGWIRE_PROFILE_FIELD_USER_ID`.
///
/// Segment Profile API: the profile's `user_id` external id (the earliest when a space allows
/// several), the canonical id to bucket on across platforms; e.g. look up "anonymous_id:x".
/// Statuses, caching and timeout as `flagwire_profile_attributes`; NOT_FOUND also when the
/// profile has no user_id. OK writes `*out_user_id` (free with `flagwire_string_free`).
///
/// # Safety
/// As `flagwire_profile_attributes`.
#[deprecated(note = "use flagwire_profile_lookup")]
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_profile_user_id(
    c: *mut FlagwireClient,
    identifier: *const c_char,
    out_user_id: *mut *mut c_char,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe { profile_export(c, identifier, out_user_id, ProfileField::UserId) }
}
