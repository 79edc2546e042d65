//! The panic boundary and argument conversion shared by every export.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::client::Client;
use crate::status::FlagwireStatus;

/// Runs `body` with panics caught; a panic becomes `FLAGWIRE_STATUS_PANIC` with the panic's text
/// recorded on the client (when there is one). Every export goes through this.
pub fn guard(client: Option<&Client>, body: impl FnOnce() -> FlagwireStatus) -> FlagwireStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(status) => status,
        Err(payload) => {
            if let Some(client) = client {
                client.set_error(format!("internal error (panic caught at the boundary): {}", panic_text(&*payload)));
            }
            FlagwireStatus::Panic
        }
    }
}

/// Like `guard` for functions returning a pointer: NULL on panic.
pub fn guard_ptr<T>(body: impl FnOnce() -> *mut T) -> *mut T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(std::ptr::null_mut())
}

pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

pub enum ArgError {
    Null(&'static str),
    Utf8(&'static str),
}

impl ArgError {
    pub fn report(self, client: Option<&Client>) -> FlagwireStatus {
        let (status, message) = match self {
            ArgError::Null(name) => (FlagwireStatus::NullArgument, format!("`{name}` is NULL")),
            ArgError::Utf8(name) => (FlagwireStatus::InvalidUtf8, format!("`{name}` is not valid UTF-8")),
        };
        if let Some(client) = client {
            client.set_error(message);
        }
        status
    }

    pub fn message(&self) -> String {
        match self {
            ArgError::Null(name) => format!("`{name}` is NULL"),
            ArgError::Utf8(name) => format!("`{name}` is not valid UTF-8"),
        }
    }
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for the call.
pub unsafe fn required_str<'a>(ptr: *const c_char, name: &'static str) -> Result<&'a str, ArgError> {
    if ptr.is_null() {
        return Err(ArgError::Null(name));
    }
    // Safety: per this function's contract.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| ArgError::Utf8(name))
}

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// As `required_str`.
pub unsafe fn optional_str<'a>(ptr: *const c_char, name: &'static str) -> Result<Option<&'a str>, ArgError> {
    if ptr.is_null() {
        return Ok(None);
    }
    // Safety: per this function's contract.
    unsafe { required_str(ptr, name) }.map(Some)
}

/// A required pointer + length byte argument (ABI 2). NULL is refused even with `len == 0`.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes valid for the call.
pub unsafe fn required_bytes<'a>(ptr: *const u8, len: usize, name: &'static str) -> Result<&'a [u8], ArgError> {
    if ptr.is_null() {
        return Err(ArgError::Null(name));
    }
    // Safety: per this function's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A required pointer + length UTF-8 string argument (ABI 2); NUL bytes are ordinary data.
///
/// # Safety
/// As `required_bytes`.
pub unsafe fn required_utf8<'a>(ptr: *const u8, len: usize, name: &'static str) -> Result<&'a str, ArgError> {
    // Safety: per this function's contract.
    let bytes = unsafe { required_bytes(ptr, len, name) }?;
    std::str::from_utf8(bytes).map_err(|_| ArgError::Utf8(name))
}

/// Runs an ABI 2 export's body; when it fails (any status but OK and SKIPPED) and the caller
/// passed `out_error`, writes the message recorded during this call there.
///
/// # Safety
/// `out_error` is NULL or valid to write a pointer to.
pub unsafe fn with_out_error(out_error: *mut *mut c_char, body: impl FnOnce() -> FlagwireStatus) -> FlagwireStatus {
    if out_error.is_null() {
        return body();
    }
    let (status, message) = crate::call_error::capture(body);
    if !matches!(status, FlagwireStatus::Ok | FlagwireStatus::Skipped) {
        let message = message.unwrap_or_else(|| format!("{status:?}"));
        // Safety: per this function's contract.
        unsafe { write_out_error(out_error, message) };
    }
    status
}

/// Hands a string to the caller; it must come back through `flagwire_string_free`.
/// Interior NULs (impossible in JSON output) are stripped rather than failing.
pub fn into_c_string(s: String) -> *mut c_char {
    match CString::new(s) {
        Ok(c) => c.into_raw(),
        Err(e) => {
            let mut bytes = e.into_vec();
            bytes.retain(|&b| b != 0);
            CString::new(bytes).map(CString::into_raw).unwrap_or(std::ptr::null_mut())
        }
    }
}

/// Writes `message` into an optional `char **out_error`.
///
/// # Safety
/// `out` is NULL or a valid pointer to write to.
pub unsafe fn write_out_error(out: *mut *mut c_char, message: String) {
    if !out.is_null() {
        // Safety: per this function's contract.
        unsafe { *out = into_c_string(message) };
    }
}
