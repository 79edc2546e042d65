//! The server: the accept loop, one thread per connection, and the routing of each request to
//! the control, Profile API or Segment routes.

use std::io::BufReader;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::control::control;
use crate::http::{read_request, write_response, HttpRequest, Outcome, ReadError, Resp};
use crate::state::{lock, InFlight, Shared};
use crate::{page, profile, segment};

pub(crate) fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopped() {
            break;
        }
        match conn {
            Ok(stream) => {
                let s = shared.clone();
                // A failed spawn drops (closes) the stream; the client sees a connection error.
                let _ = thread::Builder::new()
                    .name("collector-conn".into())
                    .spawn(move || serve_connection(s, stream));
            }
            Err(_) => {
                // EMFILE and friends: back off briefly instead of spinning.
                thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Removes a connection from the registry when its thread ends.
struct ConnGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.conns).remove(&self.id);
    }
}

fn serve_connection(shared: Arc<Shared>, stream: TcpStream) {
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    {
        let mut conns = lock(&shared.conns);
        if shared.stopped() {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        match stream.try_clone() {
            Ok(c) => {
                conns.insert(id, c);
            }
            Err(_) => return,
        }
    }
    let _guard = ConnGuard {
        shared: &shared,
        id,
    };
    let _ = stream.set_nodelay(true);
    let mut reader = match stream.try_clone() {
        Ok(r) => BufReader::with_capacity(64 << 10, r),
        Err(_) => return,
    };
    let mut writer = stream;
    loop {
        let req = match read_request(&mut reader, &mut writer) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(ReadError::Bad(status, msg)) => {
                let resp = Resp::error(status, &msg).closing();
                let _ = write_response(&mut writer, &resp, false);
                break;
            }
            Err(ReadError::Io) => break,
        };
        let keep_alive = req.keep_alive;
        let http10 = req.http10;
        // Counts a Segment request from its arrival until its answer is written (or its hang
        // ends).
        let _in_flight = (route(&req.path) == Route::Segment).then(|| InFlight::enter(&shared));
        match handle(&shared, req) {
            Outcome::Respond(mut resp) => {
                if !keep_alive || shared.stopped() {
                    resp.close = true;
                }
                if write_response(&mut writer, &resp, http10).is_err() || resp.close {
                    let _ = writer.shutdown(Shutdown::Write);
                    break;
                }
            }
            Outcome::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                break;
            }
            Outcome::Hang => {
                shared.wait_stopped();
                let _ = writer.shutdown(Shutdown::Both);
                break;
            }
        }
    }
}

/// Which part of the collector answers a path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Control,
    Profile,
    Segment,
    NotFound,
}

fn route(path: &str) -> Route {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/_test") {
        Route::Control
    } else if under("/v1/spaces") {
        Route::Profile
    } else if under("/v1") {
        Route::Segment
    } else {
        Route::NotFound
    }
}

fn handle(shared: &Shared, req: HttpRequest) -> Outcome {
    match route(&req.path) {
        Route::Control => Outcome::Respond(control(shared, &req)),
        Route::Profile => profile::handle(shared, req),
        Route::Segment => segment::handle(shared, req),
        Route::NotFound => {
            Outcome::Respond(page::asset(&req).unwrap_or_else(|| Resp::error(404, "not found")))
        }
    }
}
