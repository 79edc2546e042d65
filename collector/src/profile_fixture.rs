//! The Profile API fixture: profiles given to [`crate::Collector::set_profiles`] (or
//! `POST /_test/profiles`, or the binary's `--profiles FILE`), parsed and validated once, then
//! served by `profile.rs`.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// `created_at` of fixture external ids and links that do not give one.
pub const DEFAULT_CREATED_AT: &str = "2024-01-01T00:00:00Z";
/// `source_id` of fixture external ids and links that do not give one.
pub const DEFAULT_SOURCE_ID: &str = "fixture";
/// `first_message_id` of every external id.
pub const FIRST_MESSAGE_ID: &str = "fixture";

/// Parsed, validated fixture.
#[derive(Default)]
pub(crate) struct Fixture {
    /// None: any space is accepted.
    pub(crate) space_id: Option<String>,
    /// None: any non-empty token is accepted.
    pub(crate) access_token: Option<String>,
    pub(crate) profiles: Vec<Profile>,
    /// `type:id` of every external id -> index into `profiles`.
    pub(crate) index: HashMap<String, usize>,
}

pub(crate) struct Profile {
    pub(crate) external_ids: Vec<IdEntry>,
    /// In the fixture's key order; values are compact JSON text (their own key order kept).
    pub(crate) traits: Vec<(String, String)>,
    pub(crate) links: Vec<IdEntry>,
}

pub(crate) struct IdEntry {
    pub(crate) ty: String,
    pub(crate) id: String,
    pub(crate) created_at: String,
    pub(crate) source_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureDoc {
    #[serde(default)]
    space_id: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    profiles: Option<Vec<ProfileDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileDoc {
    external_ids: Vec<IdDoc>,
    #[serde(default)]
    traits: Option<OrderedObject>,
    #[serde(default)]
    links: Option<Vec<IdDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdDoc {
    #[serde(rename = "type", default)]
    ty: Option<String>,
    id: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    source_id: Option<String>,
}

/// A JSON object with its entries in document order (serde_json's `Map` sorts keys unless its
/// `preserve_order` feature is on, which this crate does not enable).
struct OrderedObject(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of traits")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(e);
                }
                Ok(OrderedObject(entries))
            }
        }
        d.deserialize_map(V)
    }
}

/// Removes whitespace outside strings from valid JSON text.
fn minify(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_str, mut esc) = (false, false);
    for ch in raw.chars() {
        if in_str {
            out.push(ch);
            if esc {
                esc = false;
            } else if ch == '\\' {
                esc = true;
            } else if ch == '"' {
                in_str = false;
            }
        } else if !ch.is_ascii_whitespace() {
            if ch == '"' {
                in_str = true;
            }
            out.push(ch);
        }
    }
    out
}

impl IdEntry {
    fn from_doc(d: IdDoc, default_type: Option<&str>, what: &str) -> Result<IdEntry, String> {
        let ty = match (d.ty, default_type) {
            (Some(t), _) => t,
            (None, Some(t)) => t.to_owned(),
            (None, None) => return Err(format!("{what}: missing \"type\"")),
        };
        if ty.is_empty() || ty.contains(':') {
            return Err(format!(
                "{what}: \"type\" must be non-empty and contain no ':' (got {ty:?})"
            ));
        }
        if d.id.is_empty() {
            return Err(format!("{what}: \"id\" must be non-empty"));
        }
        Ok(IdEntry {
            ty,
            id: d.id,
            created_at: d.created_at.unwrap_or_else(|| DEFAULT_CREATED_AT.into()),
            source_id: d.source_id.unwrap_or_else(|| DEFAULT_SOURCE_ID.into()),
        })
    }

    fn key(&self) -> String {
        format!("{}:{}", self.ty, self.id)
    }
}

impl Fixture {
    /// Parses and validates fixture JSON text (trait order is the document order).
    pub(crate) fn parse(text: &str) -> Result<Fixture, String> {
        if text.trim_start().as_bytes().first() != Some(&b'{') {
            return Err("invalid profile fixture: not a JSON object".into());
        }
        let doc: FixtureDoc =
            serde_json::from_str(text).map_err(|e| format!("invalid profile fixture: {e}"))?;
        for (name, v) in [
            ("space_id", &doc.space_id),
            ("access_token", &doc.access_token),
        ] {
            if v.as_deref() == Some("") {
                return Err(format!("{name} must be non-empty (or absent: any)"));
            }
        }
        let mut fx = Fixture {
            space_id: doc.space_id,
            access_token: doc.access_token,
            ..Fixture::default()
        };
        for (p, pd) in doc.profiles.unwrap_or_default().into_iter().enumerate() {
            if pd.external_ids.is_empty() {
                return Err(format!("profiles[{p}]: external_ids must not be empty"));
            }
            let external_ids = pd
                .external_ids
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    IdEntry::from_doc(d, None, &format!("profiles[{p}].external_ids[{i}]"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let links = pd
                .links
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    IdEntry::from_doc(d, Some("group_id"), &format!("profiles[{p}].links[{i}]"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut seen = HashSet::new();
            let mut traits = Vec::new();
            for (k, v) in pd.traits.map(|o| o.0).unwrap_or_default() {
                if !seen.insert(k.clone()) {
                    return Err(format!("profiles[{p}].traits: duplicate key {k:?}"));
                }
                traits.push((k, minify(v.get())));
            }
            for e in &external_ids {
                if let Some(other) = fx.index.insert(e.key(), p) {
                    return Err(format!(
                        "external id {:?} appears in profiles[{other}] and profiles[{p}]",
                        e.key()
                    ));
                }
            }
            fx.profiles.push(Profile {
                external_ids,
                traits,
                links,
            });
        }
        Ok(fx)
    }

    pub(crate) fn len(&self) -> usize {
        self.profiles.len()
    }

    /// `{"space_id","access_token_set","profiles","identifiers"}` for `GET /_test/profiles`.
    pub(crate) fn summary(&self) -> Value {
        let mut ids: Vec<&String> = self.index.keys().collect();
        ids.sort();
        json!({
            "space_id": self.space_id,
            "access_token_set": self.access_token.is_some(),
            "profiles": self.profiles.len(),
            "identifiers": ids,
        })
    }
}
