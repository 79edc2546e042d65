//! Segment Profile API (docs/design.md §7): traits as Optimizely attributes, the canonical user id, and
//! the account as `$opt_bucketing_id`, for use before `decide`.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};
use base64::Engine as _;
use lru::LruCache;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::fork;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    pub space_id: String,
    pub access_token: String,
    pub endpoint: String,
    pub traits: Option<Vec<String>>,
    pub account_bucketing: bool,
    pub cache_ttl_ms: u64,
    pub cache_max_entries: usize,
    pub timeout_ms: u64,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            space_id: String::new(),
            access_token: String::new(),
            endpoint: "https://profiles.segment.com".into(),
            traits: None,
            account_bucketing: false,
            cache_ttl_ms: 120_000,
            cache_max_entries: 100_000,
            timeout_ms: 300,
        }
    }
}

impl ProfileConfig {
    pub fn validate(&self, allow_insecure_http: bool) -> Result<(), String> {
        if self.space_id.is_empty() {
            return Err("config: `profile.space_id` is required".into());
        }
        if self.access_token.is_empty() {
            return Err("config: `profile.access_token` is required".into());
        }
        // `timeout_ms`, `cache_ttl_ms` and `cache_max_entries` have ranges in config::NUMERIC_KEYS.
        crate::transport::check_endpoint(&self.endpoint, allow_insecure_http)
            .map_err(|e| format!("config: `profile.endpoint` {e}"))
    }
}

/// What a lookup produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Found(String),
    NotFound,
    /// The Profile API failed or timed out and nothing is cached; the text says why.
    Unavailable(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Attributes,
    UserId,
}

/// A cached answer: `None` is a cached 404.
#[derive(Clone)]
struct Entry {
    value: Option<String>,
    fetched: Instant,
}

/// A request in flight for one (kind, identifier); later callers wait for it instead of asking
/// the Profile API again.
#[derive(Default)]
struct InFlight {
    result: Mutex<Option<Result<Entry, String>>>,
    done: Condvar,
}

type Key = (Kind, String);

/// Segment Profile API client (docs/design.md §7): lookups on the caller's thread with a short timeout,
/// through a TTL + LRU cache, one request in flight per identifier, stale answers on error, and a
/// shared pause after a 429 so the space's 100 req/s budget is not hammered.
///
/// Fork safety (docs/design.md §5): connections, cache, in-flight table and pause live in a [`State`]
/// that belongs to one process. A forked child builds its own on its first lookup, so it never
/// reads an answer from a socket its parent also reads (the answer to another identifier), and
/// never waits for a request that only the parent's thread will finish.
pub struct ProfileClient {
    config: ProfileConfig,
    /// The client's config, to build this process's agent (proxy, extra roots).
    client_config: Config,
    base_url: String,
    authorization: String,
    /// This process's state; replaced (and the parent's leaked) in a forked child.
    state: ArcSwap<State>,
}

/// Everything a lookup touches that must not be shared between processes.
struct State {
    /// The fork generation (`fork::generation`) this state was built in.
    generation: u64,
    agent: ureq::Agent,
    cache: Mutex<LruCache<Key, Entry>>,
    in_flight: Mutex<HashMap<Key, Arc<InFlight>>>,
    /// No request before this instant (after a 429).
    paused_until: Mutex<Option<Instant>>,
    consecutive_429: AtomicU32,
}

impl State {
    fn new(config: &ProfileConfig, client: &Config, generation: u64) -> Result<State, String> {
        let capacity = NonZeroUsize::new(config.cache_max_entries).unwrap_or(NonZeroUsize::MIN);
        Ok(State {
            generation,
            agent: crate::transport::build_agent(client, Duration::from_millis(config.timeout_ms))?,
            // `sparse`: entries are allocated as they arrive, never `cache_max_entries` up front.
            cache: Mutex::new(LruCache::sparse(capacity)),
            in_flight: Mutex::new(HashMap::new()),
            paused_until: Mutex::new(None),
            consecutive_429: AtomicU32::new(0),
        })
    }

    /// After a 429 no lookup reaches the network until the pause ends: `Retry-After` if given,
    /// else 1 s doubling per consecutive 429, capped at 60 s.
    fn pause(&self, retry_after: Option<&str>) {
        let n = self.consecutive_429.fetch_add(1, Ordering::Relaxed).min(6);
        let wait = retry_after
            .and_then(|v| crate::retry::parse_retry_after(v, std::time::SystemTime::now()))
            .unwrap_or(Duration::from_secs(1 << n))
            .min(Duration::from_secs(60));
        *lock(&self.paused_until) = Some(Instant::now() + wait);
    }
}

/// Characters kept literal in the identifier's value (RFC 3986 unreserved); all else is encoded.
const VALUE_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

impl ProfileClient {
    pub fn new(config: &ProfileConfig, client: &Config) -> Result<ProfileClient, String> {
        fork::install();
        let state = State::new(config, client, fork::generation())?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:", config.access_token));
        // The parser's normalized URL, so the HTTP client requests exactly what was checked.
        let endpoint = crate::endpoint::parse(&config.endpoint, client.allow_insecure_http)
            .map_err(|e| format!("config: `profile.endpoint` {e}"))?;
        Ok(ProfileClient {
            base_url: crate::endpoint::join(
                &endpoint,
                &format!("v1/spaces/{}/collections/users/profiles/", utf8_percent_encode(&config.space_id, VALUE_ENCODE)),
            ),
            authorization: format!("Basic {token}"),
            state: ArcSwap::from_pointee(state),
            config: config.clone(),
            client_config: client.clone(),
        })
    }

    /// This process's state; in a forked child the first call builds a fresh one.
    fn state(&self) -> Result<Arc<State>, String> {
        let current = self.state.load_full();
        if current.generation == fork::generation() {
            return Ok(current);
        }
        self.after_fork(current)
    }

    /// Builds the child's state and installs it with a compare-and-swap (no lock: a lock of the
    /// parent's may be held by a thread that does not exist here). The parent's state is leaked,
    /// never dropped or used: its sockets are the parent's.
    ///
    /// The child keeps the parent's cached answers: they are right (each process only ever read
    /// answers on its own connections), and a pre-forking server that warmed its cache before
    /// forking N workers would otherwise ask the Profile API N times again for each of them. The
    /// cache is moved, not copied, and only when its lock is free: a lock held at fork time means
    /// a thread was changing it, so the child starts empty instead. The in-flight table always
    /// starts empty (those requests finish in the parent only); the 429 pause is kept.
    #[cold]
    fn after_fork(&self, parent: Arc<State>) -> Result<Arc<State>, String> {
        let fresh = State::new(&self.config, &self.client_config, fork::generation())?;
        if let Ok(paused) = parent.paused_until.try_lock() {
            *lock(&fresh.paused_until) = *paused;
        }
        fresh.consecutive_429.store(parent.consecutive_429.load(Ordering::Relaxed), Ordering::Relaxed);
        let fresh = Arc::new(fresh);
        let previous = self.state.compare_and_swap(&parent, Arc::clone(&fresh));
        if !Arc::ptr_eq(&previous, &parent) {
            // Another thread of this process installed its state first; ours was never used.
            return Ok(Guard::into_inner(previous));
        }
        // The parent's state stays alive for ever in this process: one reference is leaked.
        std::mem::forget(Arc::clone(&parent));
        // Only the thread that installed the state touches the parent's cache.
        if let Ok(mut inherited) = parent.cache.try_lock() {
            let mut cache = lock(&fresh.cache);
            let mut taken = std::mem::replace(&mut *inherited, LruCache::sparse(NonZeroUsize::MIN));
            // Answers this process already fetched are newer than the parent's.
            for (key, entry) in cache.iter().rev() {
                taken.put(key.clone(), entry.clone());
            }
            *cache = taken;
        }
        Ok(fresh)
    }

    /// Traits (scalar values only, filtered by `traits` when set) as a JSON object, plus
    /// `$opt_bucketing_id` from the user's account when `account_bucketing` is on.
    pub fn attributes(&self, identifier: &str) -> Result<Lookup, String> {
        self.lookup(Kind::Attributes, identifier)
    }

    /// The profile's `user_id` external id (the earliest, when a space allows several).
    pub fn user_id(&self, identifier: &str) -> Result<Lookup, String> {
        self.lookup(Kind::UserId, identifier)
    }

    /// `Err` only for a malformed identifier.
    fn lookup(&self, kind: Kind, identifier: &str) -> Result<Lookup, String> {
        let path_id = encode_identifier(identifier)?;
        let state = match self.state() {
            Ok(state) => state,
            Err(why) => return Ok(Lookup::Unavailable(format!("Profile API client after fork: {why}"))),
        };
        let deadline = Instant::now() + Duration::from_millis(self.config.timeout_ms);
        let key = (kind, identifier.to_string());
        let ttl = Duration::from_millis(self.config.cache_ttl_ms);
        let stale = {
            let mut cache = lock(&state.cache);
            match cache.get(&key) {
                Some(entry) if entry.fetched.elapsed() < ttl => return Ok(answer(entry.clone())),
                other => other.cloned(),
            }
        };
        let fail = |why: String| match &stale {
            Some(entry) => answer(entry.clone()),
            None => Lookup::Unavailable(why),
        };
        if let Some(until) = *lock(&state.paused_until) {
            if Instant::now() < until {
                return Ok(fail("Profile API rate limit (429): paused".into()));
            }
        }
        // One request in flight per key: the first caller fetches, the others wait for it.
        let (flight, leader) = {
            let mut map = lock(&state.in_flight);
            match map.get(&key) {
                Some(f) => (Arc::clone(f), false),
                None => {
                    let f = Arc::new(InFlight::default());
                    map.insert(key.clone(), Arc::clone(&f));
                    (f, true)
                }
            }
        };
        let result = if leader {
            let result = self.fetch(&state, kind, &path_id, deadline);
            if let Ok(entry) = &result {
                lock(&state.cache).put(key.clone(), entry.clone());
            }
            *lock(&flight.result) = Some(result.clone());
            flight.done.notify_all();
            lock(&state.in_flight).remove(&key);
            result
        } else {
            let mut slot = lock(&flight.result);
            loop {
                if let Some(r) = slot.as_ref() {
                    break r.clone();
                }
                let now = Instant::now();
                if now >= deadline {
                    break Err("Profile API did not answer within timeout_ms".to_string());
                }
                slot = flight.done.wait_timeout(slot, deadline - now).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
            }
        };
        Ok(match result {
            Ok(entry) => answer(entry),
            Err(why) => fail(why),
        })
    }

    fn fetch(&self, state: &State, kind: Kind, path_id: &str, deadline: Instant) -> Result<Entry, String> {
        let value = match kind {
            Kind::UserId => {
                let body = self.get(state, &format!("{path_id}/external_ids?include=user_id&limit=25"), deadline)?;
                body.map(|b| earliest_user_id(&b)).and_then(|id| id)
            }
            Kind::Attributes => match self.get(state, &format!("{path_id}/traits?{}", self.traits_query()), deadline)? {
                None => None,
                Some(traits) => {
                    let mut attributes = scalar_traits(&traits, self.config.traits.as_deref());
                    if self.config.account_bucketing {
                        if let Some(links) = self.get(state, &format!("{path_id}/links?limit=20"), deadline)? {
                            if let Some(group) = latest_group_id(&links) {
                                attributes.insert("$opt_bucketing_id".into(), Value::String(group));
                            }
                        }
                    }
                    Some(Value::Object(attributes).to_string())
                }
            },
        };
        Ok(Entry { value, fetched: Instant::now() })
    }

    fn traits_query(&self) -> String {
        match &self.config.traits {
            Some(keys) if !keys.is_empty() => {
                let list: Vec<String> = keys.iter().map(|k| utf8_percent_encode(k, VALUE_ENCODE).to_string()).collect();
                format!("limit=200&include={}", list.join(","))
            }
            _ => "limit=200".to_string(),
        }
    }

    /// One GET within the deadline: `Ok(None)` for 404, `Err` for anything that is not an answer.
    fn get(&self, state: &State, path: &str, deadline: Instant) -> Result<Option<Value>, String> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err("Profile API did not answer within timeout_ms".into());
        }
        let response = state
            .agent
            .get(format!("{}{path}", self.base_url))
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json")
            .config()
            .timeout_global(Some(remaining))
            .build()
            .call();
        let mut response = response.map_err(|e| format!("Profile API request failed: {e}"))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => {
                state.consecutive_429.store(0, Ordering::Relaxed);
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(4 * 1024 * 1024)
                    .read_to_vec()
                    .map_err(|e| format!("Profile API body: {e}"))?;
                serde_json::from_slice(&body).map(Some).map_err(|e| format!("Profile API answered invalid JSON: {e}"))
            }
            404 => Ok(None),
            429 => {
                let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
                state.pause(retry_after.as_deref());
                Err("Profile API rate limit (429)".into())
            }
            other => Err(format!("Profile API answered HTTP {other}")),
        }
    }
}

impl Drop for ProfileClient {
    fn drop(&mut self) {
        // A state inherited from the parent (never replaced here) is leaked, as in `after_fork`:
        // its locks and cache may be mid-change.
        let state = self.state.load_full();
        if state.generation != fork::generation() {
            std::mem::forget(state);
        }
    }
}

fn answer(entry: Entry) -> Lookup {
    match entry.value {
        Some(v) => Lookup::Found(v),
        None => Lookup::NotFound,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `<type>:<value>` with the value percent-encoded and the separator kept literal.
fn encode_identifier(identifier: &str) -> Result<String, String> {
    let (kind, value) = identifier
        .split_once(':')
        .ok_or_else(|| format!("identifier {identifier:?} must be <type>:<value>, e.g. user_id:abc"))?;
    let valid_kind = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !valid_kind || value.is_empty() {
        return Err(format!("identifier {identifier:?} must be <type>:<value> with a snake_case type, e.g. user_id:abc"));
    }
    Ok(format!("{kind}:{}", utf8_percent_encode(value, VALUE_ENCODE)))
}

/// Optimizely attributes accept strings, numbers and booleans only.
fn scalar_traits(body: &Value, include: Option<&[String]>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Object(traits)) = body.get("traits") {
        for (k, v) in traits {
            let wanted = include.is_none_or(|keys| keys.is_empty() || keys.iter().any(|x| x == k));
            if wanted && (v.is_string() || v.is_number() || v.is_boolean()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

fn earliest_user_id(body: &Value) -> Option<String> {
    body.get("data")?
        .as_array()?
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("user_id"))
        .filter_map(|e| Some((e.get("created_at").and_then(Value::as_str).unwrap_or(""), e.get("id")?.as_str()?)))
        .min()
        .map(|(_, id)| id.to_string())
}

/// The account to bucket on: the most recently linked `group_id` (the API names no primary).
fn latest_group_id(body: &Value) -> Option<String> {
    body.get("data")?
        .as_array()?
        .iter()
        .filter(|l| l.get("to_collection").and_then(Value::as_str) == Some("accounts"))
        .flat_map(|l| l.get("external_ids").and_then(Value::as_array).into_iter().flatten())
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("group_id"))
        .filter_map(|e| Some((e.get("created_at").and_then(Value::as_str).unwrap_or(""), e.get("id")?.as_str()?)))
        .max()
        .map(|(_, id)| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(encode_identifier("user_id:abc").unwrap(), "user_id:abc");
        assert_eq!(encode_identifier("phone_number:+1 555").unwrap(), "phone_number:%2B1%20555");
        assert_eq!(encode_identifier("email:a@b.co").unwrap(), "email:a%40b.co");
        assert!(encode_identifier("abc").is_err());
        assert!(encode_identifier("user_id:").is_err());
        assert!(encode_identifier("User Id:x").is_err());
    }

    #[test]
    fn selections() {
        let traits = serde_json::json!({"traits": {"plan": "pro", "n": 3, "b": false, "o": {"x": 1}, "l": [1], "z": null}});
        let all = scalar_traits(&traits, None);
        assert_eq!(Value::Object(all), serde_json::json!({"plan": "pro", "n": 3, "b": false}));
        let some = scalar_traits(&traits, Some(&["plan".to_string()]));
        assert_eq!(Value::Object(some), serde_json::json!({"plan": "pro"}));
        let ids = serde_json::json!({"data": [
            {"type": "user_id", "id": "late", "created_at": "2025-01-01T00:00:00Z"},
            {"type": "anonymous_id", "id": "a"},
            {"type": "user_id", "id": "early", "created_at": "2024-01-01T00:00:00Z"}]});
        assert_eq!(earliest_user_id(&ids).as_deref(), Some("early"));
        let links = serde_json::json!({"data": [
            {"to_collection": "accounts", "external_ids": [{"type": "group_id", "id": "old", "created_at": "2018-10-06T03:43:26Z"}]},
            {"to_collection": "accounts", "external_ids": [{"type": "group_id", "id": "new", "created_at": "2018-10-07T06:22:47Z"}]}]});
        assert_eq!(latest_group_id(&links).as_deref(), Some("new"));
    }
}
