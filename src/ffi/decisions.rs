//! ABI 2 inputs: decision records (the one fast decision path of every binding) and JSON given as
//! pointer + length, each with a per-call `out_error`.

use std::ffi::c_char;

use super::boundary::{required_bytes, with_out_error, ArgError};
use super::{with_client, FlagwireClient};
use crate::client::Client;
use crate::record::{records, RecordError};
use crate::status::FlagwireStatus;

/// Bytes of a decision record's header (docs/design.md §2.2); the strings follow it.
pub const FLAGWIRE_RECORD_HEADER_LEN: usize = 44;

/// A decision record's `format` byte for a flag decision (the `decide` API).
pub const FLAGWIRE_RECORD_FORMAT_FLAG_DECISION: u8 = 1;

/// Hot-path argument errors count as `dropped_invalid`, like malformed JSON.
pub(super) fn reject(client: &Client, e: ArgError) -> FlagwireStatus {
    client.count_invalid();
    e.report(Some(client))
}

fn reject_record(client: &Client, e: RecordError) -> FlagwireStatus {
    client.count_invalid();
    client.set_error(e.message());
    match e {
        RecordError::Malformed { .. } => FlagwireStatus::InvalidArgument,
        RecordError::NotUtf8 { .. } => FlagwireStatus::InvalidUtf8,
    }
}

/// Whether a bad argument counts in `dropped_invalid` (decision and message inputs do; the
/// datafile does not).
#[derive(Clone, Copy)]
enum Counted {
    Yes,
    No,
}

/// The shape every ABI 2 input shares: its own `out_error`, the client handle, one
/// pointer + length argument read as bytes, and the panic boundary around `body`.
///
/// # Safety
/// As the exports: `c` NULL or live, `ptr` NULL or `len` readable bytes, `out_error` NULL or writable.
unsafe fn bytes_input(
    c: *mut FlagwireClient,
    ptr: *const u8,
    len: usize,
    name: &'static str,
    counted: Counted,
    out_error: *mut *mut c_char,
    body: impl FnOnce(&Client, &[u8]) -> FlagwireStatus,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe {
        with_out_error(out_error, || {
            with_client!(c, |client| match required_bytes(ptr, len, name) {
                Ok(bytes) => body(client, bytes),
                Err(e) => match counted {
                    Counted::Yes => reject(client, e),
                    Counted::No => e.report(Some(client)),
                },
            })
        })
    }
}

/// `bytes_input` for JSON text: the bytes must be UTF-8.
///
/// # Safety
/// As `bytes_input`.
unsafe fn json_input(
    c: *mut FlagwireClient,
    ptr: *const u8,
    len: usize,
    counted: Counted,
    out_error: *mut *mut c_char,
    body: impl FnOnce(&Client, &str) -> FlagwireStatus,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe {
        bytes_input(c, ptr, len, "json", counted, out_error, |client, bytes| match std::str::from_utf8(bytes) {
            Ok(text) => body(client, text),
            Err(_) => match counted {
                Counted::Yes => reject(client, ArgError::Utf8("json")),
                Counted::No => ArgError::Utf8("json").report(Some(client)),
            },
        })
    }
}

/// Handles exactly one flag decision (the `decide` API) encoded as a decision record
/// (docs/design.md §2.2: a 44-byte header, then user id, flag key, rule key, variation key,
/// experiment id, variation id and attributes JSON as length-prefixed UTF-8; NUL bytes are data).
///
/// Returns OK when an Experiment Viewed event was queued, SKIPPED when the decision is not an
/// exposure, INVALID_ARGUMENT for a malformed record (or more than one), INVALID_UTF8,
/// INVALID_JSON (empty user id or flag key, bad attributes), QUEUE_FULL / TOO_LARGE when the
/// event was dropped (counted). Never blocks. Thread-safe. On failure, writes a message to
/// `*out_error` when it is not NULL (free it with `flagwire_string_free`).
///
/// # Safety
/// `c` is NULL or a live client; `record` is NULL or points to `record_len` readable bytes;
/// `out_error` is NULL or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_on_decision_record(
    c: *mut FlagwireClient,
    record: *const u8,
    record_len: usize,
    out_error: *mut *mut c_char,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe {
        bytes_input(c, record, record_len, "record", Counted::Yes, out_error, |client, bytes| {
            let mut walk = records(bytes);
            let status = match walk.next() {
                Some(Ok(decision)) => client.on_flag_decision(&decision),
                Some(Err(e)) => return reject_record(client, e),
                None => return reject_record(client, RecordError::Malformed { offset: 0, why: "empty buffer".into() }),
            };
            if walk.next().is_some() {
                return reject_record(
                    client,
                    RecordError::Malformed { offset: 0, why: "more than one record: use flagwire_on_decision_records".into() },
                );
            }
            status
        })
    }
}

/// Handles any number of decision records laid back to back in `records` (a binding that
/// buffers decisions off the SDK's thread hands them over in one call). Each record is handled
/// as by `flagwire_on_decision_record` and counted in the stats; one record's outcome never
/// affects another's. Returns OK when every record was well-formed; INVALID_ARGUMENT when one
/// was not — records before it were handled, the rest of the buffer is dropped (counted once in
/// `dropped_invalid`) — with the byte offset in the message; INVALID_UTF8 when a record had an
/// invalid string (that record alone is dropped). Never blocks. Thread-safe.
///
/// # Safety
/// As `flagwire_on_decision_record`, with `records_len` readable bytes at `records`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_on_decision_records(
    c: *mut FlagwireClient,
    records_ptr: *const u8,
    records_len: usize,
    out_error: *mut *mut c_char,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe {
        bytes_input(c, records_ptr, records_len, "records", Counted::Yes, out_error, |client, bytes| {
            let mut worst = FlagwireStatus::Ok;
            for item in records(bytes) {
                match item {
                    Ok(decision) => {
                        let _ = client.on_flag_decision(&decision);
                    }
                    Err(e @ RecordError::NotUtf8 { .. }) => worst = reject_record(client, e),
                    Err(e) => return reject_record(client, e),
                }
            }
            worst
        })
    }
}

/// Handles one DECISION notification given as JSON (`json_len` bytes, UTF-8, no terminator
/// needed): `{"type", "userId"|"user_id", "attributes", "decisionInfo"|"decision_info"}` in any
/// SDK's casing (docs/design.md §4), including the legacy types. Statuses as
/// `flagwire_on_decision_record`. Never blocks. Thread-safe.
///
/// # Safety
/// `c` is NULL or a live client; `json` is NULL or points to `json_len` readable bytes;
/// `out_error` is NULL or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_on_notification_json(
    c: *mut FlagwireClient,
    json: *const u8,
    json_len: usize,
    out_error: *mut *mut c_char,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe { json_input(c, json, json_len, Counted::Yes, out_error, Client::on_decision) }
}

/// Gives the client the Optimizely datafile (`json_len` bytes of JSON) so rules are classified
/// by flag from it. Bindings call it on attach and on every config update. An invalid datafile
/// returns INVALID_JSON and the previous one is kept. Thread-safe.
///
/// # Safety
/// As `flagwire_on_notification_json`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_set_datafile_json(
    c: *mut FlagwireClient,
    json: *const u8,
    json_len: usize,
    out_error: *mut *mut c_char,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe { json_input(c, json, json_len, Counted::No, out_error, Client::set_datafile) }
}

/// Queues any Segment message given as JSON (track, identify, page, screen, group, alias),
/// validated as Segment's libraries do (docs/design.md §2.3); fills `messageId`, `timestamp`
/// and `context.library` when absent. INVALID_JSON with the reason, TOO_LARGE over 32,000
/// bytes, QUEUE_FULL. Never blocks. Thread-safe.
///
/// # Safety
/// As `flagwire_on_notification_json`.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn flagwire_enqueue_json(
    c: *mut FlagwireClient,
    json: *const u8,
    json_len: usize,
    out_error: *mut *mut c_char,
) -> FlagwireStatus {
    // Safety: the caller upholds this function's contract.
    unsafe { json_input(c, json, json_len, Counted::Yes, out_error, super::deprecated::enqueue_text) }
}
