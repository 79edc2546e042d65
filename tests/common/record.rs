//! Shared by the tests, benches and examples (`#[path]`): one encoder of the documented layout.
#![allow(dead_code)]

/// The ABI 2 decision record (docs/design.md §2.2), written independently of the library's
/// own encoder so the tests check the documented layout.
pub struct Record<'a> {
    pub user_id: &'a str,
    pub flag_key: &'a str,
    pub rule_key: Option<&'a str>,
    pub variation_key: Option<&'a str>,
    pub experiment_id: Option<&'a str>,
    pub variation_id: Option<&'a str>,
    pub attributes_json: Option<&'a str>,
    pub enabled: i8,
    pub dispatched: i8,
    pub at_ms: i64,
}

impl<'a> Record<'a> {
    pub fn new(user_id: &'a str, flag_key: &'a str, rule_key: Option<&'a str>, variation_key: Option<&'a str>) -> Record<'a> {
        Record { user_id, flag_key, rule_key, variation_key, experiment_id: None, variation_id: None, attributes_json: None, enabled: 1, dispatched: -1, at_ms: 0 }
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let strings = [Some(self.user_id), Some(self.flag_key), self.rule_key, self.variation_key, self.experiment_id, self.variation_id, self.attributes_json];
        let total: usize = 44 + strings.iter().map(|s| s.map_or(0, str::len)).sum::<usize>();
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&[1, self.enabled as u8, self.dispatched as u8, 0]);
        out.extend_from_slice(&self.at_ms.to_le_bytes());
        for s in &strings {
            out.extend_from_slice(&(s.map_or(0, str::len) as u32).to_le_bytes());
        }
        for s in strings.iter().flatten() {
            out.extend_from_slice(s.as_bytes());
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}
