//! Which endpoint URLs flagwire sends to (Segment's and the Profile API's), parsed with a real URL
//! parser: a hand-written check once let `http://localhost:@evil.example` pass as loopback and
//! sent the write key in clear text to another host.
//!
//! Rules: `https://`, or `http://` only to a loopback host (localhost, 127.0.0.0/8, ::1) unless
//! `allow_insecure_http`; no user-info; a host; no query or fragment. Requests go to the parser's
//! normalized serialization, so the HTTP client and this check read the same URL.

use url::{Host, Url};

/// Parses and checks an endpoint; the error completes "config: `<key>` ...".
pub fn parse(text: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain user-info (`user@` or `:@` before the host)".into());
    }
    if url.host().is_none() {
        return Err("has no host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(&url) => {}
        "http" => {
            return Err("uses plain http:// to a non-loopback host; use https:// or set `allow_insecure_http`".into())
        }
        _ => return Err("must start with https:// (or http:// for loopback)".into()),
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `{endpoint}/{path}` on the normalized endpoint (a base path is kept).
pub fn join(base: &Url, path: &str) -> String {
    format!("{}/{}", base.as_str().trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Where a 307/308 sends a request from `current`: resolved against it, checked by the same
/// rules, and never from https down to http.
pub fn redirect_target(current: &str, location: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let current = Url::parse(current).map_err(|e| format!("current URL: {e}"))?;
    let next = current.join(location).map_err(|e| format!("Location {location:?} is not a URL ({e})"))?;
    if current.scheme() == "https" && next.scheme() != "https" {
        return Err(format!("refusing a redirect from https to {}", next.scheme()));
    }
    let mut next = parse(next.as_str(), allow_insecure_http)?;
    next.set_fragment(None);
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tricky_forms() {
        let ok = |t: &str| parse(t, false).map(|u| u.to_string());
        assert_eq!(ok("https://api.segment.io").unwrap(), "https://api.segment.io/");
        assert!(ok("http://127.0.0.1:8080").is_ok());
        assert!(ok("http://127.1.2.3:8080/base/").is_ok());
        assert!(ok("http://localhost:8080/").is_ok());
        assert!(ok("http://LOCALHOST").is_ok());
        assert!(ok("http://[::1]:8080").is_ok());
        // User-info in every spelling: the host after `@` is the real one.
        for bad in [
            "http://localhost:@evil.example",
            "http://localhost@evil.example",
            "http://127.0.0.1:80@evil.example/",
            "https://user:pass@api.segment.io",
            "http://[::1]@evil.example",
        ] {
            assert!(ok(bad).unwrap_err().contains("user-info"), "{bad}");
        }
        // Hosts that merely start like loopback.
        for bad in ["http://127.0.0.1.evil.example", "http://localhost.evil.example", "http://evil.example#@localhost"] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        // A backslash is a path separator in special schemes: the host is localhost.
        assert_eq!(ok("http://localhost\\@evil.example").unwrap(), "http://localhost/@evil.example");
        assert!(ok("http://evil.example?x=@localhost").is_err());
        assert!(ok("http://collector.internal:8080").is_err());
        assert!(parse("http://collector.internal:8080", true).is_ok());
        assert!(ok("ftp://x").is_err());
        assert!(ok("https://").is_err());
        assert!(ok("not a url").is_err());
    }

    #[test]
    fn joins_and_redirects() {
        let base = parse("http://127.0.0.1:9/prefix/", false).unwrap();
        assert_eq!(join(&base, "v1/batch"), "http://127.0.0.1:9/prefix/v1/batch");
        let base = parse("https://api.segment.io", false).unwrap();
        assert_eq!(join(&base, "/v1/batch"), "https://api.segment.io/v1/batch");
        let cur = "https://api.segment.io/v1/batch";
        assert_eq!(redirect_target(cur, "/v2/batch", false).unwrap().as_str(), "https://api.segment.io/v2/batch");
        assert_eq!(redirect_target(cur, "https://events.eu1.segmentapis.com/v1/batch", false).unwrap().host_str(), Some("events.eu1.segmentapis.com"));
        assert!(redirect_target(cur, "http://api.segment.io/v1/batch", true).is_err(), "https -> http");
        assert!(redirect_target(cur, "https://u:p@x.example/", false).is_err());
        let local = "http://127.0.0.1:9/v1/batch";
        assert!(redirect_target(local, "http://127.0.0.1:10/v1/batch", false).is_ok());
        assert!(redirect_target(local, "http://evil.example/v1/batch", false).is_err());
    }
}
