//! Status codes of the C ABI (docs/design.md §2). The numbers are stable: never renumber, only append.

/// Result of every fallible flagwire function.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagwireStatus {
    /// Success.
    Ok = 0,
    /// A valid decision that is not an exposure (rollout, no rule, disabled decision event, ...).
    Skipped = 1,
    /// A required pointer argument was NULL.
    NullArgument = 2,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 3,
    /// JSON was malformed, or not of the expected shape.
    InvalidJson = 4,
    /// The config was refused; the message names the key.
    InvalidConfig = 5,
    /// The queue is full: the event was dropped and counted; the caller is never blocked.
    QueueFull = 6,
    /// One message over 32,000 bytes serialized: dropped and counted.
    TooLarge = 7,
    /// The client is shut down.
    Closed = 8,
    /// The deadline passed; nothing was lost, events stay queued.
    Timeout = 9,
    /// An internal bug was caught at the boundary; the client keeps working.
    Panic = 10,
    /// Profile API: no such profile.
    NotFound = 11,
    /// Profile API: error or timeout, and nothing cached.
    Unavailable = 12,
    /// A binary argument is malformed (a decision record whose lengths do not add up, an unknown
    /// record format); the message says which record and why. ABI 2.
    InvalidArgument = 13,
}
