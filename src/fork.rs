//! Fork safety without any call from the user (docs/design.md §5): a `pthread_atfork` child handler bumps
//! a generation counter; each client compares it on entry and, in the child, builds a fresh queue
//! and sender thread. The parent's queue copy is abandoned (leaked, never dropped: its locks may
//! have been held by threads that do not exist in the child), so the parent alone sends it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

extern "C" fn in_child() {
    // Async-signal-safe: atomics and close(2).
    GENERATION.fetch_add(1, Ordering::AcqRel);
    // The parent's spool locks stay the parent's (docs/design.md §5.1).
    crate::spool::close_inherited();
}

pub fn install() {
    INSTALL.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(in_child));
    });
}

pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}
