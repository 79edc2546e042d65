//! Segment-compatible test collector.
//!
//! A small HTTP/1.1 server on 127.0.0.1 that speaks the parts of Segment's Tracking API that
//! flagwire's clients use (`/v1/batch`, `/v1/import`, the single-message paths), records every
//! request and every accepted message, and can be scripted to fail (status codes with
//! `Retry-After`, delays, redirects, dropped connections, hung requests) or to answer only after
//! a simulated network latency.
//!
//! It is built on `std::net` directly (one thread per connection) so that it has full control of
//! the socket: a scripted `Drop` closes the TCP connection without any response, a `Hang` holds it
//! open until the collector stops, and stopping closes the listener and every open connection.
//!
//! It also serves Segment's Profile API (`GET /v1/spaces/{space}/collections/users/profiles/
//! {identifier}/{traits|external_ids|links}`) from fixture profiles, with its own fault script
//! and request log; see [`Collector::set_profiles`] and the order of checks documented at the
//! top of `src/profile.rs`.
//!
//! Tests in other languages use the binary (`flagwire-collector --port 0 --quiet`) and the JSON
//! control routes under `/_test/`.
//!
//! Where things are:
//! - `collector.rs`: [`Collector`], the public face; `options.rs`: [`CollectorOptions`];
//! - `server.rs`: accepting connections and routing each request; `http.rs`: HTTP/1.1 parsing
//!   and writing;
//! - `segment.rs`: the Tracking API routes; `segment_body.rs`: decoding and parsing their bodies;
//!   `strict_json.rs`: the strict JSON check;
//! - `profile.rs`: the Profile API routes; `profile_fixture.rs`: their fixture;
//! - `control.rs`: the `/_test/*` routes;
//! - `page.rs`: the live exposure page at `/` and its JSON; `live.rs`: what it shows;
//!   `datafile.rs`: the traffic allocation it compares with; `srm.rs`: the SRM test;
//! - `script.rs`: fault script steps; `records.rs`: what is recorded per request;
//! - `state.rs`: the state every connection thread shares (and how a script step is played);
//!   `printer.rs`: the stdout printer.

mod collector;
mod control;
mod datafile;
mod http;
mod live;
mod options;
mod page;
mod printer;
mod profile;
mod profile_fixture;
mod records;
mod script;
mod segment;
mod segment_body;
mod server;
mod srm;
mod state;
mod strict_json;

pub use collector::Collector;
pub use control::MAX_LATENCY_MS;
pub use options::CollectorOptions;
pub use printer::format_line;
pub use profile::{EXTERNAL_IDS_LIMIT, LINKS_LIMIT, TRAITS_LIMIT};
pub use profile_fixture::{DEFAULT_CREATED_AT, DEFAULT_SOURCE_ID, FIRST_MESSAGE_ID};
pub use records::{ProfileRequest, RequestRecord};
pub use script::Step;
/// The strict receiver's reading of a JSON text (out-of-range numbers, lone surrogates, duplicate
/// keys at any depth are refused), for tests that check what was sent.
pub use strict_json::check as check_strict_json;

/// Largest decoded body accepted on `/v1/batch` and `/v1/import` (Segment: 500KB).
pub const MAX_BATCH_BYTES: usize = 500_000;
/// Largest decoded body on a single-message path, and largest compact message in a batch (32KB).
pub const MAX_MESSAGE_BYTES: usize = 32_000;
/// More messages than this in one batch: answered 200, nothing accepted (Segment's behaviour).
pub const MAX_BATCH_MESSAGES: usize = 2500;
