//! Decision records: the ABI 2 fast path's wire format (docs/design.md §2.2).
//!
//! A binding lays one flag decision out as a 44-byte header and seven strings back to back, in
//! one buffer it owns (cgo, JNA, the ffi gem, ctypes and koffi all pass a byte buffer cheaply;
//! none of them pass a struct of pointers cheaply). Strings are length-prefixed, so NUL bytes
//! are ordinary data, and one call can carry many records.
//!
//! ```text
//! offset size field
//!  0     4    record_len  u32 LE, header + strings
//!  4     1    format      u8, 1
//!  5     1    enabled     i8: 1, 0, -1 unknown
//!  6     1    dispatched  i8 (decisionEventDispatched): 1, 0, -1 unknown
//!  7     1    reserved    0
//!  8     8    at_ms       i64 LE, decision time in Unix ms; 0 = now
//! 16    28    lengths     7 x u32 LE: user_id, flag_key, rule_key, variation_key,
//!                         experiment_id, variation_id, attributes_json (0 = absent)
//! 44     ..   the seven strings, UTF-8, in that order, no terminators
//! ```

use std::time::{Duration, SystemTime};

use crate::client::FlagDecision;

pub(crate) use crate::ffi::{
    FLAGWIRE_RECORD_FORMAT_FLAG_DECISION as FORMAT_FLAG_DECISION, FLAGWIRE_RECORD_HEADER_LEN as HEADER_LEN,
};
const FIELDS: usize = 7;

/// Why a record was refused; `offset` is where the record starts in the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The bytes do not form a record (lengths, format): the rest of a buffer cannot be trusted.
    Malformed { offset: usize, why: String },
    /// A well-formed record with a field that is not UTF-8.
    NotUtf8 { offset: usize, field: &'static str },
}

impl RecordError {
    pub fn message(&self) -> String {
        match self {
            RecordError::Malformed { offset, why } => format!("decision record at byte {offset}: {why}"),
            RecordError::NotUtf8 { offset, field } => {
                format!("decision record at byte {offset}: `{field}` is not valid UTF-8")
            }
        }
    }
}

const NAMES: [&str; FIELDS] =
    ["user_id", "flag_key", "rule_key", "variation_key", "experiment_id", "variation_id", "attributes_json"];

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// Splits `buf` into records; each item is a decoded decision or the reason it was refused.
/// A malformed record ends the iteration (its length cannot be trusted to find the next one).
pub struct Records<'a> {
    buf: &'a [u8],
    offset: usize,
    done: bool,
}

pub fn records(buf: &[u8]) -> Records<'_> {
    Records { buf, offset: 0, done: false }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<FlagDecision<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.offset >= self.buf.len() {
            return None;
        }
        let offset = self.offset;
        let rest = &self.buf[offset..];
        match record_len(rest, offset) {
            Ok(len) => {
                self.offset += len;
                Some(decode(&rest[..len], offset))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn record_len(rest: &[u8], offset: usize) -> Result<usize, RecordError> {
    let malformed = |why: String| RecordError::Malformed { offset, why };
    if rest.len() < HEADER_LEN {
        return Err(malformed(format!("{} bytes left, a record header is {HEADER_LEN}", rest.len())));
    }
    if rest[4] != FORMAT_FLAG_DECISION {
        return Err(malformed(format!("unknown record format {}", rest[4])));
    }
    let len = u32_at(rest, 0);
    let strings: usize = (0..FIELDS).map(|i| u32_at(rest, 16 + 4 * i)).sum();
    if len != HEADER_LEN + strings {
        return Err(malformed(format!("record_len {len} differs from header + string lengths {}", HEADER_LEN + strings)));
    }
    if len > rest.len() {
        return Err(malformed(format!("record_len {len} runs past the buffer ({} bytes left)", rest.len())));
    }
    Ok(len)
}

/// Decodes one record whose length has been checked.
fn decode(rec: &[u8], offset: usize) -> Result<FlagDecision<'_>, RecordError> {
    let mut fields: [Option<&str>; FIELDS] = [None; FIELDS];
    let mut at = HEADER_LEN;
    for (i, field) in fields.iter_mut().enumerate() {
        let len = u32_at(rec, 16 + 4 * i);
        if len > 0 {
            let bytes = &rec[at..at + len];
            *field = Some(std::str::from_utf8(bytes).map_err(|_| RecordError::NotUtf8 { offset, field: NAMES[i] })?);
            at += len;
        }
    }
    let flag = |b: u8| match b as i8 {
        0 => Some(false),
        v if v > 0 => Some(true),
        _ => None,
    };
    let at_ms = i64::from_le_bytes(rec[8..16].try_into().unwrap_or([0; 8]));
    let at = match at_ms {
        0 => None,
        ms if ms > 0 => Some(SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64)),
        ms => {
            return Err(RecordError::Malformed { offset, why: format!("at_ms {ms} is negative") });
        }
    };
    Ok(FlagDecision {
        user_id: fields[0].unwrap_or(""),
        flag_key: fields[1].unwrap_or(""),
        rule_key: fields[2],
        variation_key: fields[3],
        enabled: flag(rec[5]).unwrap_or(false),
        decision_event_dispatched: flag(rec[6]),
        experiment_id: fields[4],
        variation_id: fields[5],
        attributes_json: fields[6],
        at,
    })
}

/// Encodes a record: the reference for every binding's encoder.
#[cfg(test)]
pub fn encode(out: &mut Vec<u8>, d: &FlagDecision<'_>, at_ms: i64) {
    let fields = [Some(d.user_id), Some(d.flag_key), d.rule_key, d.variation_key, d.experiment_id, d.variation_id, d.attributes_json];
    let strings: usize = fields.iter().map(|f| f.map_or(0, str::len)).sum();
    out.extend_from_slice(&((HEADER_LEN + strings) as u32).to_le_bytes());
    out.push(FORMAT_FLAG_DECISION);
    out.push(d.enabled as u8);
    out.push(match d.decision_event_dispatched {
        Some(true) => 1,
        Some(false) => 0,
        None => 0xff,
    });
    out.push(0);
    out.extend_from_slice(&at_ms.to_le_bytes());
    for f in &fields {
        out.extend_from_slice(&(f.map_or(0, str::len) as u32).to_le_bytes());
    }
    for f in fields.iter().flatten() {
        out.extend_from_slice(f.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>() -> FlagDecision<'a> {
        FlagDecision {
            user_id: "u\0ser",
            flag_key: "checkout",
            rule_key: Some("ab"),
            variation_key: Some("treatment"),
            enabled: true,
            decision_event_dispatched: Some(false),
            experiment_id: Some("2001"),
            variation_id: None,
            attributes_json: Some(r#"{"plan":"pro"}"#),
            at: None,
        }
    }

    #[test]
    fn round_trip_several() {
        let mut buf = Vec::new();
        encode(&mut buf, &sample(), 0);
        encode(&mut buf, &FlagDecision { rule_key: None, decision_event_dispatched: None, ..sample() }, 1_795_255_200_123);
        let got: Vec<_> = records(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].user_id, "u\0ser");
        assert_eq!(got[0].decision_event_dispatched, Some(false));
        assert_eq!(got[0].variation_id, None);
        assert_eq!(got[0].attributes_json, Some(r#"{"plan":"pro"}"#));
        assert_eq!(got[0].at, None);
        assert_eq!(got[1].rule_key, None);
        assert_eq!(got[1].decision_event_dispatched, None);
        assert_eq!(got[1].at, Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_255_200_123)));
    }

    #[test]
    fn malformed_records_stop_the_walk() {
        let mut buf = Vec::new();
        encode(&mut buf, &sample(), 0);
        let good = buf.len();
        encode(&mut buf, &sample(), 0);
        buf[good] += 1; // record_len no longer matches its strings
        let got: Vec<_> = records(&buf).collect();
        assert!(got[0].is_ok());
        assert!(matches!(&got[1], Err(RecordError::Malformed { offset, .. }) if *offset == good));
        assert_eq!(got.len(), 2);
        assert!(matches!(records(&buf[..10]).next(), Some(Err(RecordError::Malformed { .. }))));
        let mut bad_format = buf[..good].to_vec();
        bad_format[4] = 9;
        assert!(records(&bad_format).next().unwrap().unwrap_err().message().contains("format 9"));
        let mut bad_utf8 = buf[..good].to_vec();
        bad_utf8[HEADER_LEN] = 0xff;
        assert_eq!(records(&bad_utf8).next().unwrap().unwrap_err(), RecordError::NotUtf8 { offset: 0, field: "user_id" });
        let mut negative = buf[..good].to_vec();
        negative[8..16].copy_from_slice(&(-5i64).to_le_bytes());
        assert!(records(&negative).next().unwrap().is_err());
        assert!(records(&[]).next().is_none());
    }
}
