//! Transport security (issue "Delivery you can trust" §8): HTTPS through rustls with an extra CA
//! from `ca_certs_pem`, a CONNECT proxy, and the write key kept out of logs, errors and stats.
//! The TLS server and the proxy are small local relays in front of the test collector.

mod common;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct TestPki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "flagwire test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    TestPki { ca_pem: ca_cert.pem(), server: Arc::new(server) }
}

/// Copies bytes both ways between a TLS stream and a plain one, polling with short timeouts.
fn pump_tls(mut tls: rustls::StreamOwned<rustls::ServerConnection, TcpStream>, mut plain: TcpStream) {
    let timeout = Some(Duration::from_millis(5));
    let _ = tls.sock.set_read_timeout(timeout);
    let _ = plain.set_read_timeout(timeout);
    let mut buf = vec![0u8; 64 * 1024];
    let mut idle = 0;
    while idle < 6000 {
        let mut moved = false;
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                moved = true;
                if plain.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        match plain.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                moved = true;
                if tls.write_all(&buf[..n]).is_err() || tls.flush().is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        idle = if moved { 0 } else { idle + 1 };
    }
}

/// An HTTPS front for the collector: https://localhost:PORT -> http://127.0.0.1:collector.
fn tls_front(pki: &TestPki, backend: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Arc::clone(&pki.server);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(stream) = stream else { continue };
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                let Ok(plain) = TcpStream::connect(("127.0.0.1", backend)) else { return };
                pump_tls(rustls::StreamOwned::new(conn, stream), plain);
            });
        }
    });
    port
}

/// A CONNECT proxy that records the targets it was asked for.
fn connect_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&targets);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut client) = stream else { continue };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let mut parts = head.split_whitespace();
                if parts.next() != Some("CONNECT") {
                    let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n");
                    return;
                }
                let target = parts.next().unwrap_or("").to_string();
                seen.lock().unwrap().push(target.clone());
                let port: u16 = target.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else { return };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut client, mut upstream) = (client, upstream);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut u2, &mut c2);
                });
                let _ = std::io::copy(&mut client, &mut upstream);
            });
        }
    });
    (port, targets)
}

#[test]
fn https_with_an_extra_ca_delivers_and_without_it_fails_verification() {
    let col = collector();
    let pki = pki();
    let port = tls_front(&pki, col.port());
    let endpoint = format!("https://localhost:{port}");

    let client = TestClient::new(&config(&endpoint, json!({"ca_certs_pem": pki.ca_pem})));
    assert_eq!(client.flag("tls-user", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(10_000), Status::Ok);
    assert_eq!(stat(&client.stats(), "delivered"), 1);
    assert_eq!(wait_messages(&col, 1)[0]["userId"], "tls-user");

    // Mozilla's roots alone do not trust the test CA: the batch fails (after its retries).
    let client = TestClient::new(&config(&endpoint, json!({"max_retries": 1})));
    assert_eq!(client.flag("untrusted", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(10_000), Status::Ok);
    let stats = client.stats();
    assert_eq!((stat(&stats, "failed"), stat(&stats, "delivered")), (1, 0));
    assert_eq!(col.messages().len(), 1);
}

#[test]
fn https_through_a_connect_proxy() {
    let col = collector();
    let pki = pki();
    let port = tls_front(&pki, col.port());
    let (proxy_port, targets) = connect_proxy();
    let client = TestClient::new(&config(
        &format!("https://localhost:{port}"),
        json!({"ca_certs_pem": pki.ca_pem, "proxy": format!("http://127.0.0.1:{proxy_port}")}),
    ));
    for i in 0..3 {
        assert_eq!(client.flag(&format!("proxied-{i}"), "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    }
    assert_eq!(client.flush(10_000), Status::Ok);
    assert_eq!(wait_messages(&col, 3).len(), 3);
    let seen = targets.lock().unwrap().clone();
    assert!(!seen.is_empty() && seen.iter().all(|t| t == &format!("localhost:{port}")), "{seen:?}");
}

#[test]
fn plain_http_to_a_remote_host_needs_allow_insecure_http() {
    let err = TestClient::try_new(&json!({"write_key": "k", "endpoint": "http://collector.example:8080"})).err().unwrap();
    assert_eq!(err.0, Status::InvalidConfig);
    assert!(err.1.contains("allow_insecure_http"), "{}", err.1);
    let ok = TestClient::try_new(&json!({"write_key": "k", "endpoint": "http://collector.example:8080", "allow_insecure_http": true, "log_level": "off"}));
    assert!(ok.is_ok());
    assert!(TestClient::try_new(&json!({"write_key": "k", "proxy": "socks5://127.0.0.1:1"})).is_err());
}

const SECRET: &str = "wk-SECRET-4f1c";

/// Runs in a child process (re-executing this test binary) so its stderr can be inspected.
#[test]
fn write_key_child_scenario() {
    if std::env::var("FLAGWIRE_WRITE_KEY_CHILD").is_err() {
        return;
    }
    let col = collector();
    col.script(vec![Step::status(503), Step::status(400)]);
    let mut cfg = config(&col.url(), json!({"log_level": "debug", "max_retries": 1}));
    cfg["write_key"] = json!(SECRET);
    let client = TestClient::new(&cfg);
    assert_eq!(client.flag("u", "f", Some("r"), Some("v"), true, 1, None), Status::Ok);
    assert_eq!(client.flush(10_000), Status::Ok);
    assert_eq!(client.decision("{"), Status::InvalidJson);
    println!("STATS {}", client.stats());
    println!("LAST_ERROR {}", client.last_error().unwrap_or_default());
    let err = TestClient::try_new(&json!({"write_key": SECRET, "endpoint": "http://remote.example", "bogus": 1})).err().unwrap();
    println!("INIT_ERROR {}", err.1);
}

#[test]
fn write_key_never_appears_in_logs_errors_or_stats() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "write_key_child_scenario", "--nocapture", "--test-threads=1"])
        .env("FLAGWIRE_WRITE_KEY_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    assert!(stderr.contains("flagwire DEBUG"), "debug logging should be on: {stderr}");
    assert!(stderr.contains("503") && stderr.contains("retrying"), "{stderr}");
    assert!(stdout.contains("STATS {") && stdout.contains("INIT_ERROR"), "{stdout}");
    assert!(!stderr.contains(SECRET), "write key in logs: {stderr}");
    assert!(!stdout.contains(SECRET), "write key in stats or errors: {stdout}");
}
