//! Strict JSON, as strict Segment-compatible receivers read it.
//!
//! serde_json (like most JSON parsers) skips over values it is not asked to materialise without
//! checking them, and a `Map` keeps the last of two equal keys. Receivers written in stricter
//! stacks answer 400 to a batch holding a number outside the f64 range (`1e400`), a lone UTF-16
//! surrogate escape (`"\ud800"`) or an object key given twice, and the whole batch is lost. The
//! collector refuses the same (unless `lenient_json`) so that tests see what such receivers do.
//!
//! [`check`] walks one JSON value with a serde visitor that materialises every number and string
//! (serde_json itself then reports the first two problems) and remembers each object's keys.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Keys per object checked by a linear scan before a set takes over.
const LINEAR_KEYS: usize = 16;

/// Ok when `text` is one JSON value without out-of-range numbers, lone surrogates or duplicate
/// keys; Err names the first problem and where it is.
pub fn check(text: &[u8]) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    Strict::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| describe(&e))
}

/// serde_json's message, naming a lone surrogate as such: serde_json says "unexpected end of hex
/// escape" for `"\ud800"`. (Callers pass text that was already parsed once without decoding
/// escapes, so a `\u` escape that fails now is a lone surrogate.)
pub(crate) fn describe(e: &serde_json::Error) -> String {
    let m = e.to_string();
    if m.contains("hex escape") {
        format!("lone UTF-16 surrogate escape ({m})")
    } else {
        m
    }
}

/// A JSON value, checked and dropped.
struct Strict;

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
        // serde_json already refuses overflow ("number out of range"); this is the backstop.
        if v.is_finite() {
            Ok(Strict)
        } else {
            Err(E::custom("number out of range"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        // Segment's objects have a handful of keys: a linear scan beats hashing every key (this
        // check was the collector's largest cost under load); large objects switch to a set.
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let repeated = if many.is_empty() { few.contains(&k) } else { many.contains(&k) };
            if repeated {
                return Err(de::Error::custom(format_args!("duplicate key {k:?}")));
            }
            if many.is_empty() && few.len() < LINEAR_KEYS {
                few.push(k);
            } else {
                many.extend(few.drain(..));
                many.insert(k);
            }
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::{check, LINEAR_KEYS};

    #[test]
    fn accepts_ordinary_json() {
        for ok in [
            r#"{"a":1,"b":[1,2,{"a":2}],"c":{"a":null},"d":"\u00e9\ud83d\ude00","e":-1.5e300}"#,
            r#"{"n":18446744073709551616,"m":-9223372036854775809,"t":1e-400}"#,
            "[]",
            " \"x\" ",
        ] {
            assert_eq!(check(ok.as_bytes()), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_strict_receivers_refuse() {
        for (bad, why) in [
            (r#"{"a":1e400}"#, "number out of range"),
            (r#"{"a":[-1e309]}"#, "number out of range"),
            (r#"{"a":"\ud800"}"#, "surrogate"),
            (r#"{"a":"x\udc00y"}"#, "surrogate"),
            (r#"{"\ud800":1}"#, "surrogate"),
            (r#"{"a":1,"a":2}"#, "duplicate key \"a\""),
            (r#"{"p":{"x":{"k":1,"\u006b":2}}}"#, "duplicate key \"k\""),
            (r#"[{"b":1},{"c":1,"c":1}]"#, "duplicate key \"c\""),
            (r#"{"a":1} x"#, "trailing characters"),
        ] {
            let e = check(bad.as_bytes()).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn duplicate_keys_are_found_in_objects_of_any_size() {
        for n in [1, LINEAR_KEYS - 1, LINEAR_KEYS, LINEAR_KEYS + 1, 3 * LINEAR_KEYS] {
            let keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            let distinct = format!("{{{}}}", keys.join(","));
            assert!(check(distinct.as_bytes()).is_ok(), "{distinct}");
            for repeat in [0, n / 2, n - 1] {
                let dup = format!("{{{},\"k{repeat}\":0}}", keys.join(","));
                let e = check(dup.as_bytes()).expect_err(&dup);
                assert!(e.contains(&format!("duplicate key \"k{repeat}\"")), "{dup}: {e}");
            }
        }
    }
}
