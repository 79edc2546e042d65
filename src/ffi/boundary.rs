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
    CStr::from_ptr(ptr).to_str().map_err(|_| ArgError::Utf8(name))
}

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// As `required_str`.
pub unsafe fn optional_str<'a>(ptr: *const c_char, name: &'static str) -> Result<Option<&'a str>, ArgError> {
    if ptr.is_null() {
        return Ok(None);
    }
    required_str(ptr, name).map(Some)
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
        *out = into_c_string(message);
    }
}
