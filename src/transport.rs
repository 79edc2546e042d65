//! HTTP transport: a shared pool of keep-alive connections (ureq Agent) to `{endpoint}/v1/batch`,
//! gzip bodies, Basic auth, 307/308 redirects followed, and each answer classified for the retry
//! policy. No retry logic lives here. Safe to use from several sender workers at once.

use std::sync::RwLock;
use std::time::Duration;

use base64::Engine as _;

use crate::config::Config;
use crate::endpoint;
use crate::gzip::GzipPool;

/// Hops followed for one request before giving up (Segment's libraries follow a few, too).
const MAX_REDIRECTS: usize = 5;

/// What one attempt produced, as the retry policy needs it.
#[derive(Debug)]
pub enum AttemptOutcome {
    /// Any 2xx (RudderStack answers a plain `OK`, Segment `{"success":true}`).
    Delivered,
    /// An HTTP answer that is not 2xx; `retry_after` is the raw header value, if any.
    Status { code: u16, retry_after: Option<String> },
    /// Connection refused or reset, DNS failure, TLS failure, timeout.
    #[allow(dead_code)] // read through Debug, in logs
    Transport { message: String },
    /// A redirect flagwire will not follow (to http from https, too many hops, bad Location).
    #[allow(dead_code)] // read through Debug, in logs
    BadRedirect { code: u16, why: String },
}

/// What one attempt cost.
pub struct Attempt {
    pub outcome: AttemptOutcome,
    /// Bytes put on the wire (gzip'd size), every hop counted.
    pub bytes_sent: usize,
    /// HTTP requests made (1 plus redirect hops).
    pub requests: u32,
}

pub struct Transport {
    agent: ureq::Agent,
    /// Where batches go; a 308 (permanent) answer moves it for every later request.
    batch_url: RwLock<String>,
    authorization: String,
    /// Compressors for request bodies; None when `gzip` is off.
    gzip: Option<GzipPool>,
    allow_insecure_http: bool,
}

/// Plain `check`, kept for config validation of every endpoint key.
pub fn check_endpoint(text: &str, allow_insecure_http: bool) -> Result<(), String> {
    endpoint::parse(text, allow_insecure_http).map(|_| ())
}

/// Parses PEM text into certificates; at least one is required.
pub fn parse_pem_certs(pem: &str) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem.as_bytes()) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("is not valid PEM: {e}")),
        }
    }
    if certs.is_empty() {
        return Err("holds no CERTIFICATE block".to_string());
    }
    Ok(certs)
}

/// An agent with the config's TLS roots and proxy, redirects left to the caller, and up to
/// `connections` keep-alive connections kept open.
pub(crate) fn build_agent(config: &Config, timeout: Duration) -> Result<ureq::Agent, String> {
    build_pooled_agent(config, timeout, 2)
}

fn build_pooled_agent(config: &Config, timeout: Duration, connections: usize) -> Result<ureq::Agent, String> {
    let mut builder = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .max_idle_connections(connections + 1)
        .max_idle_connections_per_host(connections)
        .user_agent(format!("flagwire/{}", crate::VERSION));
    if let Some(pem) = &config.ca_certs_pem {
        // Extra roots are added to Mozilla's set rather than replacing it.
        let mut roots: Vec<ureq::tls::Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        roots.extend(parse_pem_certs(pem)?);
        let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&roots)).build();
        builder = builder.tls_config(tls);
    }
    let proxy = match &config.proxy {
        Some(p) => Some(ureq::Proxy::new(p).map_err(|e| format!("config: `proxy` is invalid: {e}"))?),
        None => None,
    };
    builder = builder.proxy(proxy);
    Ok(builder.build().into())
}

impl Transport {
    pub fn new(config: &Config) -> Result<Transport, String> {
        let base = endpoint::parse(&config.endpoint, config.allow_insecure_http)
            .map_err(|e| format!("config: `endpoint` {e}"))?;
        let agent = build_pooled_agent(config, Duration::from_millis(config.request_timeout_ms), config.max_in_flight)?;
        let key = base64::engine::general_purpose::STANDARD.encode(format!("{}:", config.write_key));
        Ok(Transport {
            agent,
            batch_url: RwLock::new(endpoint::join(&base, "v1/batch")),
            authorization: format!("Basic {key}"),
            gzip: config.gzip.then(GzipPool::default),
            allow_insecure_http: config.allow_insecure_http,
        })
    }

    /// Writes the request body made of `parts` into `wire` as it goes on the wire (gzip'd when
    /// configured). Encoded once per attempt, before the request budget is consulted, so the budget
    /// times the request itself. `wire` is the caller's, reused from one request to the next, and
    /// the parts are compressed where they lie, with pooled compressors (`gzip`).
    pub fn encode_into(&self, parts: &[&[u8]], wire: &mut Vec<u8>) {
        match &self.gzip {
            Some(pool) => pool.encode(parts, wire),
            None => {
                wire.clear();
                parts.iter().for_each(|p| wire.extend_from_slice(p));
            }
        }
    }

    /// Sends one encoded request body (`encode` of the full `{"batch":[...]}` JSON), following
    /// 307/308 with the same method and body. `retry_count` is the attempt number after the first
    /// (0 on the first).
    pub fn send(&self, payload_ref: &[u8], retry_count: u32) -> Attempt {
        let mut url = self.batch_url.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut attempt = Attempt { outcome: AttemptOutcome::Delivered, bytes_sent: 0, requests: 0 };
        for hop in 0..=MAX_REDIRECTS {
            attempt.bytes_sent += payload_ref.len();
            attempt.requests += 1;
            let (outcome, location) = self.post(&url, payload_ref, retry_count);
            let code = match outcome {
                AttemptOutcome::Status { code: code @ (307 | 308), .. } => code,
                other => {
                    attempt.outcome = other;
                    return attempt;
                }
            };
            let next = match location {
                None => Err("no Location header".to_string()),
                Some(_) if hop == MAX_REDIRECTS => Err(format!("more than {MAX_REDIRECTS} redirects")),
                Some(location) => endpoint::redirect_target(&url, &location, self.allow_insecure_http),
            };
            match next {
                Ok(next) => {
                    url = next.to_string();
                    if code == 308 {
                        *self.batch_url.write().unwrap_or_else(|p| p.into_inner()) = url.clone();
                    }
                }
                Err(why) => {
                    attempt.outcome = AttemptOutcome::BadRedirect { code, why };
                    return attempt;
                }
            }
        }
        attempt
    }

    /// One POST; the outcome and, for a redirect, its Location.
    fn post(&self, url: &str, payload: &[u8], retry_count: u32) -> (AttemptOutcome, Option<String>) {
        let mut req = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("Authorization", &self.authorization);
        if self.gzip.is_some() {
            req = req.header("Content-Encoding", "gzip");
        }
        if retry_count > 0 {
            req = req.header("X-Retry-Count", &retry_count.to_string());
        }
        match req.send(payload) {
            Ok(mut resp) => {
                let code = resp.status().as_u16();
                let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string());
                let (retry_after, location) = (header("retry-after"), header("location"));
                // Read (bounded) and discard the body so the connection can be reused.
                let _ = resp.body_mut().with_config().limit(64 * 1024).read_to_vec();
                if (200..300).contains(&code) {
                    (AttemptOutcome::Delivered, None)
                } else {
                    (AttemptOutcome::Status { code, retry_after }, location)
                }
            }
            Err(e) => (AttemptOutcome::Transport { message: e.to_string() }, None),
        }
    }
}
