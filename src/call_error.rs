//! The current call's error message, for ABI 2's `char **out_error` parameters.
//!
//! An export that was given an `out_error` runs its body inside `capture`; whatever the client
//! records with `Client::set_error` during that call is handed back to that caller alone. A
//! thread-local is safe here because it lives for one synchronous call only (a goroutine cannot
//! move between threads in the middle of a cgo call); it is never a "last error" between calls.

use std::cell::RefCell;

thread_local! {
    /// `Some` while a call captures; the inner `Option` is the message recorded so far.
    static SLOT: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// Resets the slot even when the body panics (the panic boundary sits outside).
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        SLOT.with(|s| *s.borrow_mut() = None);
    }
}

/// Runs `body`, returning its result and the message it recorded, if any.
pub fn capture<T>(body: impl FnOnce() -> T) -> (T, Option<String>) {
    SLOT.with(|s| *s.borrow_mut() = Some(None));
    let reset = Reset;
    let out = body();
    let message = SLOT.with(|s| s.borrow_mut().take().flatten());
    drop(reset);
    (out, message)
}

/// Records `message` for the capturing call on this thread, if there is one.
pub fn offer(message: &str) {
    SLOT.with(|s| {
        if let Ok(mut slot) = s.try_borrow_mut() {
            if let Some(current) = slot.as_mut() {
                *current = Some(message.to_string());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_only_inside() {
        offer("outside");
        let (v, m) = capture(|| {
            offer("first");
            offer("second");
            7
        });
        assert_eq!((v, m.as_deref()), (7, Some("second")));
        let (_, none) = capture(|| ());
        assert_eq!(none, None);
        let _ = std::panic::catch_unwind(|| capture(|| panic!("boom")));
        offer("after a panic");
        assert_eq!(capture(|| ()).1, None);
    }
}
