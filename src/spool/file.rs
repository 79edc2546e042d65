//! One spool file = one batch, and its content is a valid `/v1/batch` body: `{"batch":[...]}`
//! (no `writeKey`: the key is a secret and travels in the Authorization header; `sentAt` is set
//! on each attempt). Its name carries what is needed to trust it without a ledger:
//!
//! `b<created ms:13>-<writer tag:8 hex>-<seq:10>-<events>-<xxh3-64 of the content:16 hex>.json`
//!
//! Names sort oldest first. A file is written under `.tmp-<tag>-<seq>` and renamed to its name
//! once complete, so a name is only ever seen on a whole file; the checksum in the name catches a
//! file the disk tore or changed later (a power loss after the rename, a flipped bit).

use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;
use xxhash_rust::xxh3::Xxh3;

pub(crate) const PREFIX: &[u8] = b"{\"batch\":[";
pub(crate) const SUFFIX: &[u8] = b"]}";
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// Orders files oldest first: creation time, then the writer and its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub created_ms: u64,
    pub tag: u32,
    pub seq: u64,
}

/// What a file's name says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileName {
    pub key: Key,
    pub events: u32,
    pub checksum: u64,
}

impl FileName {
    pub fn render(&self) -> String {
        let k = self.key;
        format!("b{:013}-{:08x}-{:010}-{}-{:016x}.json", k.created_ms, k.tag, k.seq, self.events, self.checksum)
    }

    /// None for any name this module did not make (such files are left alone).
    pub fn parse(name: &str) -> Option<FileName> {
        let body = name.strip_prefix('b')?.strip_suffix(".json")?;
        let mut parts = body.split('-');
        let (ms, tag, seq, events, sum) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || ms.len() != 13 || tag.len() != 8 || seq.len() != 10 || sum.len() != 16 {
            return None;
        }
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let hex = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !(digits(ms) && digits(seq) && digits(events) && hex(tag) && hex(sum)) {
            return None;
        }
        Some(FileName {
            key: Key { created_ms: ms.parse().ok()?, tag: u32::from_str_radix(tag, 16).ok()?, seq: seq.parse().ok()? },
            events: events.parse().ok()?,
            checksum: u64::from_str_radix(sum, 16).ok()?,
        })
    }
}

pub fn tmp_name(tag: u32, seq: u64) -> String {
    format!("{TMP_PREFIX}{tag:08x}-{seq}")
}

/// The writer tag of a temporary file's name.
pub fn tmp_tag(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(TMP_PREFIX)?;
    u32::from_str_radix(rest.split('-').next()?, 16).ok()
}

/// Checksum of the content `PREFIX + joined + SUFFIX`, without building it.
pub fn checksum(joined: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(PREFIX);
    h.update(joined);
    h.update(SUFFIX);
    h.digest()
}

pub fn content_len(joined_len: usize) -> usize {
    PREFIX.len() + joined_len + SUFFIX.len()
}

/// Why a file cannot be sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Corrupt {
    Checksum,
    Shape,
}

/// Checks a file's content against its name; the range of the joined messages on success.
pub fn verify(content: &[u8], name: &FileName) -> Result<Range<usize>, Corrupt> {
    if xxhash_rust::xxh3::xxh3_64(content) != name.checksum {
        return Err(Corrupt::Checksum);
    }
    if content.len() < PREFIX.len() + SUFFIX.len() + 2 || !content.starts_with(PREFIX) || !content.ends_with(SUFFIX) {
        return Err(Corrupt::Shape);
    }
    Ok(PREFIX.len()..content.len() - SUFFIX.len())
}

/// End offset of each message in `joined` (messages joined by commas, as the sender writes them).
/// Only needed to split a refused batch, so only then parsed.
pub fn message_ends(joined: &[u8]) -> Option<Vec<usize>> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        batch: Vec<&'a RawValue>,
    }
    let mut text = Vec::with_capacity(content_len(joined.len()));
    text.extend_from_slice(PREFIX);
    text.extend_from_slice(joined);
    text.extend_from_slice(SUFFIX);
    let body: Body<'_> = serde_json::from_slice(&text).ok()?;
    let base = text.as_ptr() as usize + PREFIX.len();
    let mut ends = Vec::with_capacity(body.batch.len());
    let mut previous_end = 0;
    for (i, raw) in body.batch.iter().enumerate() {
        let start = raw.get().as_ptr() as usize - base;
        let end = start + raw.get().len();
        // The sender joins with exactly one comma and no whitespace; anything else is not ours.
        if start != if i == 0 { 0 } else { previous_end + 1 } {
            return None;
        }
        ends.push(end);
        previous_end = end;
    }
    (previous_end == joined.len() && !ends.is_empty()).then_some(ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_oldest_first() {
        let a = FileName { key: Key { created_ms: 1_700_000_000_123, tag: 0xdead_beef, seq: 7 }, events: 250, checksum: 0x0123_4567_89ab_cdef };
        let text = a.render();
        assert_eq!(text, "b1700000000123-deadbeef-0000000007-250-0123456789abcdef.json");
        assert_eq!(FileName::parse(&text), Some(a));
        let b = FileName { key: Key { created_ms: 1_700_000_000_124, tag: 0, seq: 0 }, ..a };
        assert!(a.key < b.key && text < b.render());
        for bad in ["LOCK", "b1.json", "notes.txt", &text.replace(".json", ".jsn"), &text.replace("-250-", "-x-"), &format!("{text}x"),
                    "b1700000000123-deadbeef-0000000007-250-0123456789abcdeF.json", "b1700000000123-deadbeef-0000000007-250-01234567.json"] {
            assert_eq!(FileName::parse(bad), None, "{bad}");
        }
        assert_eq!(tmp_tag(&tmp_name(0xabc, 9)), Some(0xabc));
    }

    #[test]
    fn content_is_checked_against_the_name() {
        let joined = br#"{"a":1},{"b":[1,2]},{"c":"x,y"}"#;
        let mut content = PREFIX.to_vec();
        content.extend_from_slice(joined);
        content.extend_from_slice(SUFFIX);
        let name = FileName { key: Key { created_ms: 1, tag: 1, seq: 1 }, events: 3, checksum: checksum(joined) };
        let range = verify(&content, &name).unwrap();
        assert_eq!(&content[range], joined);
        let ends = message_ends(joined).unwrap();
        assert_eq!(ends, vec![7, 19, joined.len()]);
        assert_eq!(verify(&content[..content.len() - 1], &name), Err(Corrupt::Checksum));
        let mut flipped = content.clone();
        flipped[12] ^= 0x20;
        assert_eq!(verify(&flipped, &name), Err(Corrupt::Checksum));
        assert_eq!(verify(b"", &FileName { checksum: xxhash_rust::xxh3::xxh3_64(b""), ..name }), Err(Corrupt::Shape));
        assert_eq!(message_ends(b"{\"a\":1}, {\"b\":2}"), None, "whitespace the sender never writes");
        assert_eq!(message_ends(b"garbage"), None);
    }
}
