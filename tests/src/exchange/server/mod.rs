//! The simulator's servers: HTTPS for EWS (`/EWS/Exchange.asmx`) and Autodiscover with IIS-like
//! logons bound to the connection, the plain-HTTP site of Autodiscover's redirect method, and a
//! plain-HTTP control API on loopback for tests to read and preload state, set rights and inject
//! faults.
//!
//! - [`autodiscover`]: the POX and SOAP Autodiscover endpoints and the HTTP redirect.
//! - [`settings`]: the Exchange version played, logon rules, limits, mailbox access.
//! - [`logon`]: NTLM, Negotiate and Basic as IIS does them.
//! - [`faults`]: injected faults and EWSMaxConcurrency throttling.
//! - [`operations`]: a request's checks and its dispatch to [`folder_ops`] (GetFolder,
//!   FindFolder, ConvertId), [`permission_ops`] (UpdateFolder) and [`names`] (ResolveNames,
//!   ExpandDL).
//! - [`control`]: the control API.
//!
//! This file holds the state and one request's way through them.

pub mod autodiscover;
pub mod control;
pub mod faults;
pub mod folder_ops;
pub mod logon;
pub mod names;
pub mod operations;
pub mod permission_ops;
pub mod settings;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

use super::auth;
use super::directory::Directory;
use super::folders::Culture;
use super::model::Calendar;
use super::soap::{self, Element};
use common::sync::lock;
use faults::Fate;
use logon::ConnectionState;

pub use control::{CalendarDump, EntryDump};
pub use faults::{Conflict, Faults, InjectedError};
pub use settings::{Access, Profile, Settings};

/// Counts tests can read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// HTTP requests on the EWS path.
    pub http_requests: u64,
    /// SOAP requests served (after logon).
    pub soap_requests: u64,
    /// NTLM handshakes completed.
    pub ntlm_logons: u64,
    /// Kerberos logons accepted (SPNEGO or raw Kerberos in the Negotiate scheme).
    pub kerberos_logons: u64,
    /// Logons refused.
    pub refused_logons: u64,
    /// Logons refused for a missing or wrong channel binding.
    pub channel_binding_refusals: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Busy answers given (throttling and injected).
    pub busy_answers: u64,
    /// Requests sent inside a back-off the server had asked for (beyond a grace for
    /// requests already on their way).
    pub inside_backoff: u64,
    /// Requests naming a mailbox whose `X-AnchorMailbox` header is missing or names another
    /// (in a multi-server site, those land on the wrong server and are proxied or fail).
    pub anchor_mismatches: u64,
    /// The most requests one account had in flight at once.
    pub max_in_flight: usize,
    /// SOAP requests answered, and the microseconds from their arrival to their answer in all
    /// (the response time a client sees, less the network).
    pub timed_answers: u64,
    pub response_us: u64,
    /// Autodiscover requests answered (after logon).
    pub autodiscover_requests: u64,
    /// Redirects given by the plain-HTTP site.
    pub http_redirects: u64,
    /// SOAP operations by name.
    pub operations: HashMap<String, u64>,
    /// Permission lists written, by mailbox.
    pub calendar_writes: HashMap<String, u64>,
    /// The mailbox (`X-AnchorMailbox`, lower case) of each answered request, in the order the
    /// answers were given.
    pub answered: Vec<String>,
}

/// Everything the simulator knows.
#[derive(Default)]
struct State {
    calendars: HashMap<String, Calendar>,
    settings: Settings,
    faults: Faults,
    access: Access,
    stats: Stats,
    in_flight: HashMap<String, usize>,
    /// Each mailbox's language (lower-case address), as the lab provisioned it.
    cultures: HashMap<String, Culture>,
    /// Per account: the back-off the last busy answer asked for.
    backoffs: HashMap<String, faults::Backoff>,
    /// Requests seen, for spreading a throttling storm evenly.
    storm_counter: u64,
}

/// How late tokio's timer may fire (its wheel counts whole milliseconds).
const TIMER_SLACK: std::time::Duration = std::time::Duration::from_millis(1);

/// The simulator.
pub struct Simulator {
    state: Mutex<State>,
    directory: Directory,
    smb_conf: PathBuf,
    helper_environment: auth::HelperEnvironment,
    certificate_der: Vec<u8>,
    capture_dir: Option<PathBuf>,
    sequence: AtomicU64,
}

type Body = Full<Bytes>;

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

impl Simulator {
    /// A simulator over a directory.
    pub fn new(
        directory: Directory,
        smb_conf: PathBuf,
        helper_environment: auth::HelperEnvironment,
        certificate_der: Vec<u8>,
        capture_dir: Option<PathBuf>,
        settings: Settings,
    ) -> Arc<Self> {
        Arc::new(Simulator {
            state: Mutex::new(State {
                settings,
                ..State::default()
            }),
            directory,
            smb_conf,
            helper_environment,
            certificate_der,
            capture_dir,
            sequence: AtomicU64::new(0),
        })
    }

    /// Sets the mailboxes' languages (address → culture tag such as `nl-NL`): their folders are
    /// named in them, as Exchange names them when a mailbox is first used.
    pub fn set_cultures(&self, cultures: &HashMap<String, String>) {
        lock(&self.state).cultures = cultures
            .iter()
            .map(|(mailbox, tag)| (mailbox.to_ascii_lowercase(), Culture::from_tag(tag)))
            .collect();
    }

    fn capture(&self, operation: &str, request: &[u8], response: &str, fault: bool) {
        let Some(dir) = &self.capture_dir else { return };
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let kind = if fault { "fault" } else { "response" };
        let _ = std::fs::write(dir.join(format!("{n:06}-{operation}-request.xml")), request);
        let _ = std::fs::write(dir.join(format!("{n:06}-{operation}-{kind}.xml")), response);
    }

    async fn ews(
        self: &Arc<Self>,
        request: Request<Incoming>,
        connection: &mut ConnectionState,
    ) -> Result<Response<Body>, &'static str> {
        let arrived = std::time::Instant::now();
        lock(&self.state).stats.http_requests += 1;
        let autodiscover = autodiscover::Form::of_path(request.uri().path());
        if let Some(form) = autodiscover {
            if !self.serves_autodiscover(request.headers(), form) {
                return Ok(Self::not_found());
            }
        } else if !request
            .uri()
            .path()
            .eq_ignore_ascii_case("/EWS/Exchange.asmx")
        {
            return Ok(Self::not_found());
        }
        if request.method() != Method::POST {
            return Ok(respond(StatusCode::METHOD_NOT_ALLOWED, "text/html", "405"));
        }
        // IIS reads the whole request before answering, even one it refuses: a connection is
        // only reused when nothing of the last request is left unread.
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, 4 * 1024 * 1024).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Ok(respond(StatusCode::PAYLOAD_TOO_LARGE, "text/html", "413")),
        };
        let account = match self.logon(&parts.headers, connection).await {
            Ok(account) => account,
            Err(response) => return Ok(response),
        };
        if lock(&self.state)
            .settings
            .ews_disabled
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&account.sam))
        {
            return Ok(respond(
                StatusCode::FORBIDDEN,
                "text/html",
                "403 - Forbidden: Access is denied.",
            ));
        }
        if body.is_empty() {
            // The first leg of a logon that was already accepted: nothing to do.
            return Ok(respond(StatusCode::OK, "text/xml", ""));
        }
        if let Some(form) = autodiscover {
            return Ok(self.autodiscover(form, &parts.headers, &body));
        }
        // Read once; a body that does not parse gets its schema fault in `soap`.
        let envelope = soap::parse(&body);
        if let Ok(envelope) = &envelope {
            self.check_anchor(&parts.headers, envelope);
        }
        // Injected faults, in the order a client would meet them.
        let (fate, hold) = {
            let mut state = lock(&self.state);
            state.stats.soap_requests += 1;
            let named = envelope
                .as_ref()
                .map(Element::mailbox_addresses)
                .unwrap_or_default();
            (state.faults.fate(), state.faults.hold(&named))
        };
        match fate {
            Fate::Serve => {}
            Fate::Drop => return Err("connection dropped on purpose"),
            Fate::Unavailable => {
                return Ok(respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/html",
                    "<html><body>503 Service Unavailable</body></html>",
                ));
            }
        }
        let busy = lock(&self.state).admit(&account.sam, connection.sent_at(arrived), hold);
        // The latency is the server's response time, counted from the request's arrival:
        // reading it and checking the logon are part of it. The timer wakes up to a
        // millisecond late and the answer is made after it, so it is set a millisecond early:
        // the mean response time comes out at the latency asked for (`Stats::response_us`).
        if !hold.is_zero() {
            let early = hold.saturating_sub(TIMER_SLACK);
            tokio::time::sleep_until((arrived + early).into()).await;
        }
        let (status, xml, operation) = match busy {
            Some(busy) => busy.answer(self.settings().profile, envelope.as_ref().ok()),
            None => self.soap(&envelope, &account),
        };
        {
            let mut state = lock(&self.state);
            state.release(&account.sam);
            if operation == "UpdateFolder" && state.faults.take_drop_after_update() {
                return Err("connection dropped after the update was made");
            }
            *state.stats.operations.entry(operation.clone()).or_default() += 1;
            if let Some(anchor) = parts.headers.get("X-AnchorMailbox")
                && let Ok(anchor) = anchor.to_str()
            {
                state.stats.answered.push(anchor.to_ascii_lowercase());
            }
        }
        self.capture(
            &operation,
            &body,
            &xml,
            status == StatusCode::INTERNAL_SERVER_ERROR,
        );
        {
            let mut state = lock(&self.state);
            state.stats.timed_answers += 1;
            state.stats.response_us +=
                u64::try_from(arrived.elapsed().as_micros()).unwrap_or(u64::MAX);
        }
        if self.settings().byte_order_mark {
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            bytes.extend_from_slice(xml.as_bytes());
            return Ok(respond(status, "text/xml; charset=utf-8", bytes));
        }
        Ok(respond(status, "text/xml; charset=utf-8", xml))
    }

    /// Counts a request that names a mailbox without anchoring on it.
    fn check_anchor(&self, headers: &http::HeaderMap, envelope: &Element) {
        let anchor = headers.get("X-AnchorMailbox").and_then(|v| v.to_str().ok());
        let mismatched = envelope
            .mailbox_addresses()
            .iter()
            .any(|address| anchor.is_none_or(|a| !a.eq_ignore_ascii_case(address)));
        if mismatched {
            lock(&self.state).stats.anchor_mismatches += 1;
        }
    }

    fn settings(&self) -> Settings {
        lock(&self.state).settings.clone()
    }
}

/// Serves EWS over TLS on `listener` until the process ends.
pub async fn serve_ews(
    simulator: Arc<Simulator>,
    listener: TcpListener,
    acceptor: tokio_native_tls::TlsAcceptor,
) {
    let acceptor = Arc::new(acceptor);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (simulator, acceptor) = (Arc::clone(&simulator), Arc::clone(&acceptor));
        tokio::spawn(async move {
            lock(&simulator.state).stats.connections += 1;
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let connection = Arc::new(tokio::sync::Mutex::new(ConnectionState::default()));
            let service = service_fn(move |request| {
                let (simulator, connection) = (Arc::clone(&simulator), Arc::clone(&connection));
                async move {
                    let mut connection = connection.lock().await;
                    simulator.ews(request, &mut connection).await
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Serves the plain-HTTP site of Autodiscover's redirect method on `listener`.
pub async fn serve_http(simulator: Arc<Simulator>, listener: TcpListener) {
    crate::program::serve_plain(listener, move |request: Request<Incoming>| {
        let simulator = Arc::clone(&simulator);
        async move { simulator.http_site(request.uri().path()) }
    })
    .await;
}

/// Serves the control API on `listener`.
pub async fn serve_control(simulator: Arc<Simulator>, listener: TcpListener) {
    crate::program::serve_plain(listener, move |request| {
        let simulator = Arc::clone(&simulator);
        async move { simulator.control(request).await }
    })
    .await;
}
