//! The `spool` config object (docs/design.md §3, §5.1). Absent: no spool, delivery as before.

use serde::Deserialize;

/// When written spool files are forced to the disk (fsync). A process crash (kill -9, OOM) loses
/// nothing written, whatever the policy: the data is in the kernel's page cache. The policy only
/// decides what a machine crash or power loss may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncPolicy {
    /// Each file and its directory are synced before the file counts as written.
    Always,
    /// Files written in the last `sync_interval_ms` are synced together, by a background thread.
    Interval,
    /// Never: the operating system writes back when it chooses.
    Never,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    pub dir: String,
    pub max_bytes: u64,
    pub sync: SyncPolicy,
    pub sync_interval_ms: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig { dir: String::new(), max_bytes: 1 << 30, sync: SyncPolicy::Interval, sync_interval_ms: 1_000 }
    }
}

impl SpoolConfig {
    /// `max_bytes` and `sync_interval_ms` have ranges in config::NUMERIC_KEYS.
    pub fn validate(&self) -> Result<(), String> {
        if self.dir.is_empty() {
            return Err("config: `spool.dir` is required (a directory path) when `spool` is given".into());
        }
        if self.dir.contains('\0') {
            return Err("config: `spool.dir` must not contain a NUL byte".into());
        }
        Ok(())
    }
}
