//! HTTP/1.1 on a `TcpStream`: reading one request (Content-Length or chunked bodies,
//! `Expect: 100-continue`, keep-alive) and writing one response.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;

use base64::Engine as _;
use serde_json::{json, Value};

/// Raw (possibly gzip'd) bodies larger than this are refused without being read.
const MAX_RAW_BODY: usize = 64 << 20;
/// Request line plus headers.
const MAX_HEAD_BYTES: usize = 64 << 10;

pub(crate) struct HttpRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) http10: bool,
    pub(crate) keep_alive: bool,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| {
            let mut it = kv.splitn(2, '=');
            (it.next() == Some(name)).then(|| it.next().unwrap_or(""))
        })
    }
}

pub(crate) enum ReadError {
    /// Malformed request: answer this status and close.
    Bad(u16, String),
    /// The connection failed or closed mid-request: just close.
    Io,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Reads one line (without CRLF) into `buf`; Ok(false) on EOF before any byte.
fn read_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    budget: &mut usize,
) -> Result<bool, ReadError> {
    buf.clear();
    let n = r.by_ref().take(*budget as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') {
        if n > *budget {
            return Err(ReadError::Bad(431, "request head too large".into()));
        }
        return Err(ReadError::Io);
    }
    *budget -= n;
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(true)
}

pub(crate) fn read_request<R: BufRead>(
    r: &mut R,
    w: &mut TcpStream,
) -> Result<Option<HttpRequest>, ReadError> {
    let mut budget = MAX_HEAD_BYTES;
    let mut line = Vec::with_capacity(256);
    // Request line (skipping stray empty lines between requests).
    loop {
        if !read_line(r, &mut line, &mut budget)? {
            return Ok(None);
        }
        if !line.is_empty() {
            break;
        }
    }
    let request_line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = request_line.split_whitespace();
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m.to_owned(), t.to_owned(), v.to_owned()),
        _ => return Err(ReadError::Bad(400, "malformed request line".into())),
    };
    let http10 = match version.as_str() {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => {
            return Err(ReadError::Bad(
                505,
                "only HTTP/1.0 and HTTP/1.1 are supported".into(),
            ))
        }
    };
    let mut headers = Vec::new();
    loop {
        if !read_line(r, &mut line, &mut budget)? {
            return Err(ReadError::Io);
        }
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let (k, v) = text
            .split_once(':')
            .ok_or_else(|| ReadError::Bad(400, "malformed header".into()))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let connection = get("connection")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let chunked = get("transfer-encoding")
        .map(|te| te.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    let content_length = match get("content-length") {
        Some(cl) if !chunked => Some(
            cl.parse::<usize>()
                .map_err(|_| ReadError::Bad(400, "invalid content-length".into()))?,
        ),
        _ => None,
    };
    if let Some(cl) = content_length {
        if cl > MAX_RAW_BODY {
            return Err(ReadError::Bad(400, format!("body too large ({cl} bytes)")));
        }
    }
    let has_body = chunked || content_length.unwrap_or(0) > 0;
    if has_body
        && !http10
        && get("expect")
            .map(|e| e.eq_ignore_ascii_case("100-continue"))
            .unwrap_or(false)
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(cl) = content_length {
        let mut body = vec![0u8; cl];
        r.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target, String::new()),
    };
    Ok(Some(HttpRequest {
        method,
        path,
        query,
        http10,
        keep_alive,
        headers,
        body,
    }))
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        let mut budget = 4096;
        if !read_line(r, &mut line, &mut budget)? {
            return Err(ReadError::Io);
        }
        let text = String::from_utf8_lossy(&line);
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Bad(400, "malformed chunk size".into()))?;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                let mut budget = MAX_HEAD_BYTES;
                if !read_line(r, &mut line, &mut budget)? || line.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_RAW_BODY {
            return Err(ReadError::Bad(400, "body too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut budget = 2;
        if !read_line(r, &mut line, &mut budget)? || !line.is_empty() {
            return Err(ReadError::Bad(400, "malformed chunk".into()));
        }
    }
}

/// What a route does with the connection.
pub(crate) enum Outcome {
    Respond(Resp),
    Drop,
    Hang,
}

pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) close: bool,
}

impl Resp {
    pub(crate) fn json(status: u16, v: &Value) -> Resp {
        Resp::raw_json(status, v.to_string().into_bytes())
    }

    pub(crate) fn raw_json(status: u16, body: Vec<u8>) -> Resp {
        Resp::bytes(status, "application/json", body)
    }

    pub(crate) fn bytes(status: u16, content_type: &'static str, body: Vec<u8>) -> Resp {
        Resp {
            status,
            content_type,
            body,
            headers: Vec::new(),
            close: false,
        }
    }

    pub(crate) fn success(status: u16) -> Resp {
        Resp::raw_json(status, br#"{"success":true}"#.to_vec())
    }

    pub(crate) fn error(status: u16, reason: &str) -> Resp {
        Resp::json(status, &json!({"success": false, "error": reason}))
    }

    pub(crate) fn closing(mut self) -> Resp {
        self.close = true;
        self
    }
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        460 => "Client Closed Request",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        511 => "Network Authentication Required",
        _ => "Status",
    }
}

pub(crate) fn write_response(w: &mut TcpStream, resp: &Resp, http10: bool) -> io::Result<()> {
    // 1xx, 204 and 304 carry no body.
    let bodyless = resp.status < 200 || resp.status == 204 || resp.status == 304;
    let body: &[u8] = if bodyless { &[] } else { &resp.body };
    let mut out = Vec::with_capacity(192 + body.len());
    write!(
        out,
        "HTTP/1.1 {} {}\r\n",
        resp.status,
        reason_phrase(resp.status)
    )?;
    if !bodyless {
        write!(
            out,
            "Content-Type: {}\r\nContent-Length: {}\r\n",
            resp.content_type,
            body.len()
        )?;
    }
    for (k, v) in &resp.headers {
        write!(out, "{k}: {v}\r\n")?;
    }
    if resp.close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    w.write_all(&out)?;
    w.flush()
}

/// The decoded credentials (`user:password` text) of an `Authorization: Basic ...` header.
pub(crate) fn basic_credentials(header: Option<&str>) -> Option<String> {
    let (scheme, cred) = header?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cred.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Percent-decodes `s` (`+` becomes a space when `plus_is_space`, as in query strings).
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid percent-escape in {s:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("percent-decoded {s:?} is not UTF-8"))
}
