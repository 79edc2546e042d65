//! HTTP transport: one reused connection (ureq Agent) to `{endpoint}/v1/batch`, gzip bodies,
//! Basic auth, and the response classified for the retry policy. No retry logic lives here.

use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::config::Config;

/// What one attempt produced, as the retry policy needs it.
#[derive(Debug)]
pub enum AttemptOutcome {
    /// Any 2xx (RudderStack answers a plain `OK`, Segment `{"success":true}`).
    Delivered,
    /// An HTTP answer that is not 2xx; `retry_after` is the raw header value, if any.
    Status { code: u16, retry_after: Option<String> },
    /// Connection refused or reset, DNS failure, TLS failure, timeout.
    Transport { message: String },
}

pub struct Transport {
    agent: ureq::Agent,
    batch_url: String,
    authorization: String,
    gzip: bool,
    user_agent: String,
}

/// Loopback hosts may use plain HTTP (local collectors, sidecars); anything else needs HTTPS
/// unless `allow_insecure_http` is set, so a typo cannot leak the write key in clear text.
pub fn check_endpoint(endpoint: &str, allow_insecure_http: bool) -> Result<(), String> {
    let rest = if let Some(rest) = endpoint.strip_prefix("https://") {
        rest
    } else if let Some(rest) = endpoint.strip_prefix("http://") {
        if !allow_insecure_http && !is_loopback_authority(rest) {
            return Err(format!(
                "uses plain http:// to a non-loopback host; use https:// or set `allow_insecure_http`"
            ));
        }
        rest
    } else {
        return Err("must start with https:// (or http:// for loopback)".to_string());
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err("has no host".to_string());
    }
    Ok(())
}

fn is_loopback_authority(rest: &str) -> bool {
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(stripped) = authority.strip_prefix('[') {
        stripped.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority)
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
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

pub(crate) fn build_agent(config: &Config, timeout: Duration) -> Result<ureq::Agent, String> {
    let mut builder = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .max_idle_connections(2)
        .max_idle_connections_per_host(1)
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
        let agent = build_agent(config, Duration::from_millis(config.request_timeout_ms))?;
        let key = base64::engine::general_purpose::STANDARD.encode(format!("{}:", config.write_key));
        Ok(Transport {
            agent,
            batch_url: format!("{}/v1/batch", config.endpoint.trim_end_matches('/')),
            authorization: format!("Basic {key}"),
            gzip: config.gzip,
            user_agent: format!("flagwire/{}", crate::VERSION),
        })
    }

    /// Sends one request body (already the full `{"batch":[...]}` JSON). `retry_count` is the
    /// attempt number after the first (0 on the first attempt).
    pub fn send(&self, body: &[u8], retry_count: u32) -> (AttemptOutcome, usize) {
        let (payload, encoded) = if self.gzip {
            let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 8 + 64), Compression::fast());
            // Writing to a Vec cannot fail.
            let _ = enc.write_all(body);
            (enc.finish().unwrap_or_default(), true)
        } else {
            (body.to_vec(), false)
        };
        let sent_bytes = payload.len();
        let mut req = self
            .agent
            .post(&self.batch_url)
            .header("Content-Type", "application/json")
            .header("Authorization", &self.authorization)
            .header("User-Agent", &self.user_agent);
        if encoded {
            req = req.header("Content-Encoding", "gzip");
        }
        if retry_count > 0 {
            req = req.header("X-Retry-Count", &retry_count.to_string());
        }
        let outcome = match req.send(&payload[..]) {
            Ok(mut resp) => {
                let code = resp.status().as_u16();
                let retry_after =
                    resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string());
                // Read (bounded) and discard the body so the connection can be reused.
                let _ = resp.body_mut().with_config().limit(64 * 1024).read_to_vec();
                if (200..300).contains(&code) {
                    AttemptOutcome::Delivered
                } else {
                    AttemptOutcome::Status { code, retry_after }
                }
            }
            Err(e) => AttemptOutcome::Transport { message: e.to_string() },
        };
        (outcome, sent_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_rules() {
        assert!(check_endpoint("https://api.segment.io", false).is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080", false).is_ok());
        assert!(check_endpoint("http://localhost:8080/", false).is_ok());
        assert!(check_endpoint("http://[::1]:8080", false).is_ok());
        assert!(check_endpoint("http://collector.internal:8080", false).is_err());
        assert!(check_endpoint("http://collector.internal:8080", true).is_ok());
        assert!(check_endpoint("ftp://x", true).is_err());
        assert!(check_endpoint("https://", false).is_err());
    }
}
