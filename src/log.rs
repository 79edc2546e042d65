//! Leveled logging into the host's logger (ABI 2 `flagwire_set_log_callback`), stderr when no
//! callback is set. The write key is never passed here.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, RwLock};

use crate::config::LogLevel;

/// Severity handed to the log callback. Stable numbers, as the statuses.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagwireLogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

/// Receives each log line: `message` is UTF-8, `message_len` bytes long and also NUL-terminated,
/// valid only during the call. Called from any flagwire thread, possibly concurrently.
pub type FlagwireLogCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: FlagwireLogLevel, message: *const c_char, message_len: usize)>;

#[derive(Clone, Copy)]
struct Callback {
    function: unsafe extern "C" fn(*mut c_void, FlagwireLogLevel, *const c_char, usize),
    user_data: *mut c_void,
}

// Safety: the host promises (API conventions) the callback may be called from any thread.
unsafe impl Send for Callback {}
unsafe impl Sync for Callback {}

/// Cheap to clone; every clone of a client's logger shares its callback.
#[derive(Clone)]
pub struct Logger {
    level: LogLevel,
    /// Read-locked while a callback runs, so clearing it (shutdown) waits for calls in progress:
    /// after `flagwire_shutdown` returns, the host's callback is never called again.
    callback: Arc<RwLock<Option<Callback>>>,
}

impl Logger {
    pub fn new(level: LogLevel) -> Logger {
        Logger { level, callback: Arc::new(RwLock::new(None)) }
    }

    pub fn enabled(&self, level: LogLevel) -> bool {
        level != LogLevel::Off && level <= self.level
    }

    /// Routes later lines to `function` (None: back to stderr). Waits for lines being delivered.
    pub fn set_callback(&self, function: FlagwireLogCallback, user_data: *mut c_void) {
        let callback = function.map(|function| Callback { function, user_data });
        *self.callback.write().unwrap_or_else(|p| p.into_inner()) = callback;
    }

    pub fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        if !self.enabled(level) {
            return;
        }
        let (c_level, tag) = match level {
            LogLevel::Error => (FlagwireLogLevel::Error, "ERROR"),
            LogLevel::Warn => (FlagwireLogLevel::Warn, "WARN"),
            LogLevel::Info => (FlagwireLogLevel::Info, "INFO"),
            _ => (FlagwireLogLevel::Debug, "DEBUG"),
        };
        let message = message();
        let guard = self.callback.read().unwrap_or_else(|p| p.into_inner());
        match *guard {
            Some(cb) => {
                let len = message.len();
                let mut bytes = message.into_bytes();
                bytes.push(0);
                // Safety: the host registered this function for exactly this call shape.
                unsafe { (cb.function)(cb.user_data, c_level, bytes.as_ptr().cast(), len) };
            }
            None => eprintln!("flagwire {tag}: {message}"),
        }
    }
}
