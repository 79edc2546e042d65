//! Random ids (messageIds) and jitter. One generator per thread, seeded from the OS and reseeded
//! after fork: a child must never repeat its parent's messageIds (Segment drops duplicates), and a
//! thread-local generator copied by fork() would otherwise produce exactly the parent's sequence.

use std::cell::RefCell;

use rand::rngs::{StdRng, SysRng};
use rand::{Rng, SeedableRng};

use crate::fork;

thread_local! {
    static GENERATOR: RefCell<Option<(u64, StdRng)>> = const { RefCell::new(None) };
}

fn seeded() -> StdRng {
    StdRng::try_from_rng(&mut SysRng).unwrap_or_else(|_| {
        // No OS randomness (should not happen on Linux): time, pid and the thread's address.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let local = 0u8;
        StdRng::seed_from_u64(now ^ ((std::process::id() as u64) << 32) ^ (&local as *const u8 as u64))
    })
}

fn with_generator<T>(f: impl FnOnce(&mut StdRng) -> T) -> T {
    let generation = fork::generation();
    GENERATOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_mut() {
            Some((g, rng)) if *g == generation => f(rng),
            _ => {
                let mut rng = seeded();
                let out = f(&mut rng);
                *slot = Some((generation, rng));
                out
            }
        }
    })
}

/// A random (version 4) UUID.
pub fn uuid_v4() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    with_generator(|rng| rng.fill_bytes(&mut bytes));
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A number in [0, 1), for backoff jitter.
pub fn unit_random() -> f64 {
    let bits = with_generator(|rng| rng.next_u64());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v4_and_distinct() {
        let a = uuid_v4();
        let b = uuid_v4();
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 4);
        let r = unit_random();
        assert!((0.0..1.0).contains(&r));
    }
}
