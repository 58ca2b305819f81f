//! The simulator's servers: HTTPS for EWS (`/EWS/Exchange.asmx`) with IIS-like logons bound to
//! the connection, and a plain-HTTP control API on loopback for tests to read and preload state,
//! set rights and inject faults.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use super::auth::{self, NtlmHelper};
use super::directory::{Directory, Principal};
use super::model::{self, Calendar, Member, Rights};
use super::soap::{self, Element, FolderResult, FolderView, ServerVersion, ShownEntry};

/// Which Exchange the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Profile {
    /// Exchange 2010 SP2.
    #[serde(rename = "2010")]
    Exchange2010Sp2,
    /// Exchange 2016.
    #[serde(rename = "2016")]
    Exchange2016,
    /// Exchange 2019.
    #[serde(rename = "2019")]
    Exchange2019,
}

const VERSIONS_2010: [&str; 5] = [
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
];
const VERSIONS_2013_ON: [&str; 12] = [
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2016",
    "V2015_10_05",
    "V2016_01_06",
    "V2016_04_13",
    "V2016_07_13",
    "V2016_10_10",
    "V2017_01_07",
    "V2017_04_14",
    "V2017_07_11",
];

impl Profile {
    /// What `ServerVersionInfo` says.
    pub fn server_version(self) -> ServerVersion {
        match self {
            Profile::Exchange2010Sp2 => ServerVersion {
                major: 14,
                minor: 2,
                build: 247,
                revision: 5,
                version: "Exchange2010_SP2",
            },
            Profile::Exchange2016 => ServerVersion {
                major: 15,
                minor: 1,
                build: 2507,
                revision: 6,
                version: "V2017_07_11",
            },
            Profile::Exchange2019 => ServerVersion {
                major: 15,
                minor: 2,
                build: 1544,
                revision: 4,
                version: "V2017_07_11",
            },
        }
    }

    /// Whether a `RequestServerVersion` is accepted; else the fault code.
    pub fn accepts(self, version: &str) -> Result<(), &'static str> {
        if VERSIONS_2010.contains(&version)
            || (self != Profile::Exchange2010Sp2 && VERSIONS_2013_ON.contains(&version))
        {
            return Ok(());
        }
        // Exchange 2019 answers a version it does not know with ErrorInvalidRequest.
        if self == Profile::Exchange2019 && version == "Exchange2019" {
            return Err("ErrorInvalidRequest");
        }
        Err("ErrorInvalidServerVersion")
    }
}

/// Settings tests may change while the simulator runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The version profile.
    pub profile: Profile,
    /// Refuse NTLM logons without the TLS channel binding.
    pub extended_protection: bool,
    /// Offer and accept Basic.
    pub basic: bool,
    /// Concurrent requests per account before `ErrorServerBusy` (EWSMaxConcurrency).
    pub max_concurrency: usize,
    /// `BackOffMilliseconds` of busy answers.
    pub back_off_ms: u64,
    /// Accounts (sAMAccountName) for which EWS is disabled: HTTP 403.
    pub ews_disabled: Vec<String>,
    /// Start responses with a UTF-8 byte-order mark, as some front ends do.
    pub byte_order_mark: bool,
    /// Answer an NTLM negotiate with a challenge that is not an NTLM message (a broken proxy).
    pub garbage_challenge: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            profile: Profile::Exchange2016,
            extended_protection: true,
            basic: false,
            max_concurrency: 10,
            back_off_ms: 300,
            ews_disabled: Vec::new(),
            byte_order_mark: false,
            garbage_challenge: false,
        }
    }
}

/// Faults to inject, each counting down.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before answering each SOAP request.
    pub latency_ms: u64,
    /// Answer this many SOAP requests with HTTP 503.
    pub http_503: u32,
    /// Close this many connections instead of answering.
    pub drop_connections: u32,
    /// Answer this many SOAP requests with `ErrorServerBusy`.
    pub busy: u32,
    /// Give those busy answers as response messages (HTTP 200) instead of faults.
    pub busy_as_message: bool,
    /// Another editor changes a calendar right after a client read it.
    pub conflicts: Vec<Conflict>,
    /// Answer the next requests of an operation with an error response message, once each.
    pub errors: Vec<InjectedError>,
    /// Carry out this many UpdateFolders, then close the connection instead of answering.
    pub drop_after_update: u32,
    /// Answer this many GetFolders without the folder's ChangeKey.
    pub omit_change_key: u32,
}

/// An error response message to give instead of doing the operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InjectedError {
    /// `GetFolder` or `UpdateFolder`.
    pub operation: String,
    /// The `ResponseCode`.
    pub code: String,
    /// The `MessageText`.
    pub text: String,
    /// A `BackOffMilliseconds` to add to the `MessageXml`.
    #[serde(default)]
    pub back_off_ms: Option<u64>,
}

/// "Someone else changed the list between your read and your write."
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conflict {
    /// The mailbox.
    pub mailbox: String,
    /// After how many more reads (each read triggers one change while this is positive).
    pub times: u32,
    /// The entry the other editor adds or changes: an address and a level.
    pub user: String,
    /// Its level.
    pub level: String,
}

/// Who may open which mailbox.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Access {
    /// Mailbox address → accounts (sAMAccountName) with FullAccess.
    pub full_access: HashMap<String, Vec<String>>,
    /// Accounts holding ApplicationImpersonation.
    pub impersonation: Vec<String>,
}

/// Counts tests can read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// HTTP requests on the EWS path.
    pub http_requests: u64,
    /// SOAP requests served (after logon).
    pub soap_requests: u64,
    /// NTLM handshakes completed.
    pub ntlm_logons: u64,
    /// Logons refused.
    pub refused_logons: u64,
    /// Logons refused for a missing or wrong channel binding.
    pub channel_binding_refusals: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Busy answers given (throttling and injected).
    pub busy_answers: u64,
    /// Requests naming a mailbox whose `X-AnchorMailbox` header is missing or names another
    /// (in a multi-server site, those land on the wrong server and are proxied or fail).
    pub anchor_mismatches: u64,
    /// The most requests one account had in flight at once.
    pub max_in_flight: usize,
    /// SOAP operations by name.
    pub operations: HashMap<String, u64>,
    /// Permission lists written, by mailbox.
    pub calendar_writes: HashMap<String, u64>,
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
}

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

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How a connection has logged on.
#[derive(Default)]
struct ConnectionState {
    /// The account an NTLM handshake authenticated on this connection.
    account: Option<Principal>,
    /// A handshake in progress.
    helper: Option<NtlmHelper>,
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

    fn unauthorized(tokens: &[(&str, Option<&[u8]>)]) -> Response<Body> {
        let mut response = respond(
            StatusCode::UNAUTHORIZED,
            "text/html",
            "401 - Unauthorized: Access is denied due to invalid credentials.",
        );
        for (scheme, token) in tokens {
            let value = match token {
                Some(t) => format!("{scheme} {}", common::base64::encode(t)),
                None => (*scheme).to_owned(),
            };
            if let Ok(value) = value.parse() {
                response
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }

    fn challenge_all(&self) -> Response<Body> {
        let basic = lock(&self.state).settings.basic;
        let mut schemes: Vec<(&str, Option<&[u8]>)> = vec![("Negotiate", None), ("NTLM", None)];
        if basic {
            schemes.push(("Basic realm=\"mail.lab.example\"", None));
        }
        Self::unauthorized(&schemes)
    }

    /// Logs the request on, as IIS would; `Err` is the response to give instead.
    async fn logon(
        &self,
        headers: &http::HeaderMap,
        connection: &mut ConnectionState,
    ) -> Result<Principal, Response<Body>> {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(authorization) = authorization else {
            return connection
                .account
                .clone()
                .ok_or_else(|| self.challenge_all());
        };
        let (scheme, token) = authorization
            .split_once(' ')
            .unwrap_or((&authorization, ""));
        if scheme.eq_ignore_ascii_case("Basic") {
            let basic = lock(&self.state).settings.basic;
            let decoded =
                common::base64::decode(token.trim()).and_then(|b| String::from_utf8(b).ok());
            if let (true, Some((user, password))) =
                (basic, decoded.as_deref().and_then(|d| d.split_once(':')))
                && auth::check_basic(&self.smb_conf, &self.helper_environment, user, password).await
                && let Some(account) = self.directory.by_logon(user)
            {
                return Ok(account);
            }
            lock(&self.state).stats.refused_logons += 1;
            return Err(self.challenge_all());
        }
        let scheme = if scheme.eq_ignore_ascii_case("NTLM") {
            "NTLM"
        } else if scheme.eq_ignore_ascii_case("Negotiate") {
            "Negotiate"
        } else {
            return Err(self.challenge_all());
        };
        let Some(token) = common::base64::decode(token.trim()) else {
            return Err(self.challenge_all());
        };
        match auth::message_type(&token) {
            Some(1) => {
                // A new handshake (the connection's earlier logon no longer counts).
                connection.account = None;
                let mut helper = NtlmHelper::start(&self.smb_conf, &self.helper_environment)
                    .map_err(|_| {
                        respond(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "text/plain",
                            "no NTLM helper",
                        )
                    })?;
                let mut challenge = helper
                    .challenge(&token)
                    .await
                    .map_err(|_| self.challenge_all())?;
                if lock(&self.state).settings.garbage_challenge {
                    challenge = b"<html>proxy error</html>".to_vec();
                }
                connection.helper = Some(helper);
                Err(Self::unauthorized(&[(scheme, Some(&challenge))]))
            }
            Some(3) => {
                let Some(mut helper) = connection.helper.take() else {
                    return Err(self.challenge_all());
                };
                let extended_protection = lock(&self.state).settings.extended_protection;
                if extended_protection
                    && auth::channel_bindings(&token)
                        != Some(auth::expected_bindings(&self.certificate_der))
                {
                    {
                        let mut state = lock(&self.state);
                        state.stats.channel_binding_refusals += 1;
                        state.stats.refused_logons += 1;
                    }
                    return Err(self.challenge_all());
                }
                let Ok(user) = helper.authenticate(&token).await else {
                    lock(&self.state).stats.refused_logons += 1;
                    return Err(self.challenge_all());
                };
                let account = self
                    .directory
                    .by_logon(&user)
                    .ok_or_else(|| self.challenge_all())?;
                lock(&self.state).stats.ntlm_logons += 1;
                connection.account = Some(account.clone());
                Ok(account)
            }
            // SPNEGO with Kerberos and anything else: not offered by this lab.
            _ => Err(self.challenge_all()),
        }
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
        lock(&self.state).stats.http_requests += 1;
        if !request
            .uri()
            .path()
            .eq_ignore_ascii_case("/EWS/Exchange.asmx")
        {
            return Ok(respond(
                StatusCode::NOT_FOUND,
                "text/html",
                "404 - File or directory not found.",
            ));
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
        // Read once; a body that does not parse gets its schema fault in `soap`.
        let envelope = soap::parse(&body);
        if let Ok(envelope) = &envelope {
            self.check_anchor(&parts.headers, envelope);
        }
        // Injected faults, in the order a client would meet them.
        let (latency, drop, unavailable) = {
            let mut state = lock(&self.state);
            state.stats.soap_requests += 1;
            let drop = state.faults.drop_connections > 0;
            if drop {
                state.faults.drop_connections -= 1;
            }
            let unavailable = !drop && state.faults.http_503 > 0;
            if unavailable {
                state.faults.http_503 -= 1;
            }
            (state.faults.latency_ms, drop, unavailable)
        };
        if drop {
            return Err("connection dropped on purpose");
        }
        if unavailable {
            return Ok(respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/html",
                "<html><body>503 Service Unavailable</body></html>",
            ));
        }
        // Throttling: requests of one account in flight at once (EWSMaxConcurrency).
        let throttled = {
            let mut state = lock(&self.state);
            let in_flight = state
                .in_flight
                .entry(account.sam.to_ascii_lowercase())
                .or_default();
            *in_flight += 1;
            let now = *in_flight;
            state.stats.max_in_flight = state.stats.max_in_flight.max(now);
            let injected = state.faults.busy > 0;
            if injected {
                state.faults.busy -= 1;
            }
            if injected || now > state.settings.max_concurrency {
                state.stats.busy_answers += 1;
                Some((
                    state.settings.back_off_ms,
                    injected && state.faults.busy_as_message,
                ))
            } else {
                None
            }
        };
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let (status, xml, operation) = match throttled {
            Some((ms, true)) => {
                let text = "The server cannot service this request right now. Try again later.";
                let asked = envelope
                    .as_ref()
                    .ok()
                    .and_then(|e| {
                        e.child("Body")
                            .and_then(|b| b.children.first())
                            .map(|o| o.name.clone())
                    })
                    .unwrap_or_else(|| "GetFolder".into());
                let answer = soap::folder_response(
                    &asked,
                    &[Err(("ErrorServerBusy".to_owned(), text.to_owned()))],
                    Some(ms),
                );
                (
                    StatusCode::OK,
                    soap::envelope(&self.settings().profile.server_version(), &answer),
                    "busy".to_owned(),
                )
            }
            Some((ms, false)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                soap::fault(
                    "ErrorServerBusy",
                    "The server cannot service this request right now. Try again later.",
                    Some(ms),
                ),
                "busy".to_owned(),
            ),
            None => self.soap(&envelope, &account),
        };
        if operation == "UpdateFolder" {
            let mut state = lock(&self.state);
            if state.faults.drop_after_update > 0 {
                state.faults.drop_after_update -= 1;
                if let Some(n) = state.in_flight.get_mut(&account.sam.to_ascii_lowercase()) {
                    *n = n.saturating_sub(1);
                }
                return Err("connection dropped after the update was made");
            }
        }
        {
            let mut state = lock(&self.state);
            if let Some(n) = state.in_flight.get_mut(&account.sam.to_ascii_lowercase()) {
                *n = n.saturating_sub(1);
            }
            *state.stats.operations.entry(operation.clone()).or_default() += 1;
        }
        self.capture(
            &operation,
            &body,
            &xml,
            status == StatusCode::INTERNAL_SERVER_ERROR,
        );
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

    /// Handles one SOAP request; returns the status, the body and the operation's name.
    fn soap(
        &self,
        envelope: &Result<Element, String>,
        account: &Principal,
    ) -> (StatusCode, String, String) {
        let settings = self.settings();
        let fault = |code: &str, text: &str| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                soap::fault(code, text, None),
                "fault".to_owned(),
            )
        };
        let envelope = match envelope {
            Ok(envelope) => envelope,
            Err(e) => {
                return fault(
                    "ErrorSchemaValidation",
                    &format!("The request failed schema validation: {e}"),
                );
            }
        };
        let version = envelope
            .path(&["Header", "RequestServerVersion"])
            .and_then(|v| v.attribute("Version"))
            .unwrap_or("Exchange2007_SP1");
        if let Err(code) = settings.profile.accepts(version) {
            return fault(code, "The specified server version is invalid.");
        }
        let impersonated = match envelope.path(&[
            "Header",
            "ExchangeImpersonation",
            "ConnectingSID",
        ]) {
            None => None,
            Some(sid) => {
                let allowed = lock(&self.state)
                    .access
                    .impersonation
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&account.sam));
                if !allowed {
                    return fault(
                        "ErrorImpersonateUserDenied",
                        "The account does not have permission to impersonate the requested user.",
                    );
                }
                let target = sid.children.first().and_then(|c| match c.name.as_str() {
                    "PrimarySmtpAddress" | "SmtpAddress" => self.directory.by_mail(c.text.trim()),
                    "PrincipalName" => self.directory.by_logon(c.text.trim()),
                    "SID" => self.directory.by_sid(c.text.trim()),
                    _ => None,
                });
                match target {
                    Some(t) => Some(t),
                    None => {
                        return fault(
                            "ErrorNonExistentMailbox",
                            "The impersonated user could not be found.",
                        );
                    }
                }
            }
        };
        let Some(operation) = envelope.child("Body").and_then(|b| b.children.first()) else {
            return fault("ErrorSchemaValidation", "The request has no operation.");
        };
        let name = operation.name.clone();
        let server = settings.profile.server_version();
        let injected = {
            let mut state = lock(&self.state);
            let index = state.faults.errors.iter().position(|e| e.operation == name);
            index.map(|i| state.faults.errors.remove(i))
        };
        if let Some(error) = injected {
            return (
                StatusCode::OK,
                soap::envelope(
                    &server,
                    &soap::folder_response(
                        &name,
                        &[Err((error.code, error.text))],
                        error.back_off_ms,
                    ),
                ),
                name,
            );
        }
        let body = match name.as_str() {
            "GetFolder" => {
                let mut results = self.get_folder(operation, account, impersonated.as_ref());
                let omit = {
                    let mut state = lock(&self.state);
                    let omit = state.faults.omit_change_key > 0;
                    if omit {
                        state.faults.omit_change_key -= 1;
                    }
                    omit
                };
                if omit {
                    for view in results.iter_mut().flatten() {
                        view.change_key.clear();
                    }
                }
                soap::folder_response("GetFolder", &results, None)
            }
            "UpdateFolder" => match self.update_folder(operation, account, impersonated.as_ref()) {
                Ok(results) => soap::folder_response("UpdateFolder", &results, None),
                Err(schema) => {
                    return fault(
                        "ErrorSchemaValidation",
                        &format!("The request failed schema validation: {schema}"),
                    );
                }
            },
            "FindFolder" => {
                let owner = impersonated.as_ref().unwrap_or(account);
                let mailbox = owner.mail.clone().unwrap_or_default();
                let calendar = self.calendar_of(&mailbox);
                soap::find_folder_response(&[
                    (
                        calendar.folder_id.clone(),
                        calendar.change_key(),
                        "Calendar",
                    ),
                    (
                        format!("AAMkInbox{}", owner.sid),
                        "AQAAAA==".into(),
                        "Inbox",
                    ),
                ])
            }
            "ConvertId" => {
                let format = operation
                    .attribute("DestinationFormat")
                    .unwrap_or("EwsId")
                    .to_owned();
                let ids: Vec<(String, String)> = operation
                    .child("SourceIds")
                    .map(|s| {
                        s.children
                            .iter()
                            .map(|a| {
                                (
                                    a.attribute("Id").unwrap_or("").to_owned(),
                                    a.attribute("Mailbox").unwrap_or("").to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                soap::convert_id_response(&ids, &format)
            }
            other => {
                return fault(
                    "ErrorInvalidRequest",
                    &format!("The operation {other} is not supported by this server."),
                );
            }
        };
        (StatusCode::OK, soap::envelope(&server, &body), name)
    }

    /// Works on a mailbox's calendar under the state's lock, creating it (Default and
    /// Anonymous only) on first use.
    fn with_calendar<T>(&self, mailbox: &str, work: impl FnOnce(&mut Calendar) -> T) -> T {
        let key = mailbox.to_ascii_lowercase();
        let mut state = lock(&self.state);
        let calendar = state.calendars.entry(key.clone()).or_insert_with(|| {
            Calendar::new(format!(
                "AAMkAGCal{}",
                common::base64::encode(key.as_bytes())
            ))
        });
        work(calendar)
    }

    fn calendar_of(&self, mailbox: &str) -> Calendar {
        self.with_calendar(mailbox, |calendar| calendar.clone())
    }

    /// The mailbox a folder reference means, after the access checks.
    fn open(
        &self,
        folder: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> Result<Principal, (String, String)> {
        let owner = match folder.name.as_str() {
            "DistinguishedFolderId" => {
                if folder.attribute("Id") != Some("calendar") {
                    return Err((
                        "ErrorFolderNotFound".to_owned(),
                        "Only the calendar is available in this lab.".into(),
                    ));
                }
                match (folder.path(&["Mailbox", "EmailAddress"]), impersonated) {
                    (Some(address), _) => self.directory.by_mail(address.text.trim()),
                    (None, Some(target)) => Some(target.clone()),
                    (None, None) => Some(account.clone()),
                }
            }
            "FolderId" => {
                let id = folder.attribute("Id").unwrap_or("");
                let mailbox = lock(&self.state)
                    .calendars
                    .iter()
                    .find(|(_, c)| c.folder_id == id)
                    .map(|(m, _)| m.clone());
                mailbox.and_then(|m| self.directory.by_mail(&m))
            }
            _ => None,
        };
        let Some(owner) = owner.filter(|o| o.mailbox.is_some() && o.mail.is_some()) else {
            return Err((
                "ErrorNonExistentMailbox".to_owned(),
                "No mailbox with such guid.".into(),
            ));
        };
        let allowed = owner.sid == account.sid
            || impersonated.is_some_and(|t| t.sid == owner.sid)
            || lock(&self.state)
                .access
                .full_access
                .iter()
                .any(|(m, accounts)| {
                    owner
                        .mail
                        .as_deref()
                        .is_some_and(|mail| m.eq_ignore_ascii_case(mail))
                        && accounts
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case(&account.sam))
                });
        if !allowed {
            return Err((
                "ErrorAccessDenied".to_owned(),
                "Access is denied. Check credentials and try again.".into(),
            ));
        }
        Ok(owner)
    }

    fn view(&self, calendar: &Calendar, with_permissions: bool) -> FolderView {
        FolderView {
            id: calendar.folder_id.clone(),
            change_key: calendar.change_key(),
            permissions: with_permissions.then(|| self.render(calendar)),
        }
    }

    fn render(&self, calendar: &Calendar) -> (Vec<ShownEntry>, Vec<String>) {
        let mut entries = Vec::new();
        let mut unknown = Vec::new();
        for (member, rights) in &calendar.entries {
            let level = model::level_name(rights);
            match member {
                Member::Default => entries.push(ShownEntry {
                    distinguished: Some("Default"),
                    sid: None,
                    address: None,
                    display_name: None,
                    rights: *rights,
                    level,
                }),
                Member::Anonymous => entries.push(ShownEntry {
                    distinguished: Some("Anonymous"),
                    sid: None,
                    address: None,
                    display_name: None,
                    rights: *rights,
                    level,
                }),
                Member::Sid(sid) => match self.directory.by_sid(sid) {
                    Some(p) => entries.push(ShownEntry {
                        distinguished: None,
                        sid: Some(p.sid),
                        address: p.mail,
                        display_name: Some(p.display_name),
                        rights: *rights,
                        level,
                    }),
                    None => unknown.push(format!("NT:{sid}")),
                },
            }
        }
        (entries, unknown)
    }

    fn get_folder(
        &self,
        operation: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> Vec<FolderResult> {
        // Exchange 2013 and later return the permission set only when asked for by name.
        let with_permissions = operation
            .path(&["FolderShape", "AdditionalProperties"])
            .is_some_and(|p| {
                p.children
                    .iter()
                    .any(|f| f.attribute("FieldURI") == Some("folder:PermissionSet"))
            });
        let Some(ids) = operation.child("FolderIds") else {
            return vec![Err((
                "ErrorInvalidRequest".to_owned(),
                "No FolderIds.".into(),
            ))];
        };
        ids.children
            .iter()
            .map(|folder| {
                let owner = self.open(folder, account, impersonated)?;
                let mailbox = owner.mail.clone().unwrap_or_default();
                let calendar = self.calendar_of(&mailbox);
                let view = self.view(&calendar, with_permissions);
                self.after_read(&mailbox);
                Ok(view)
            })
            .collect()
    }

    /// The "other editor" fault: a change right after a client read the calendar.
    fn after_read(&self, mailbox: &str) {
        let conflict = {
            let mut state = lock(&self.state);
            let found = state
                .faults
                .conflicts
                .iter_mut()
                .find(|c| c.mailbox.eq_ignore_ascii_case(mailbox) && c.times > 0);
            found.map(|c| {
                c.times -= 1;
                (c.user.clone(), c.level.clone())
            })
        };
        let Some((user, level)) = conflict else {
            return;
        };
        let (Some(principal), Some(rights)) =
            (self.directory.by_mail(&user), model::level_rights(&level))
        else {
            return;
        };
        self.with_calendar(mailbox, |calendar| {
            let member = Member::Sid(principal.sid);
            match calendar.entries.iter_mut().find(|(m, _)| *m == member) {
                Some(entry) => entry.1 = rights,
                None => calendar.entries.push((member, rights)),
            }
            calendar.change += 1;
        });
    }

    fn update_folder(
        &self,
        operation: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> Result<Vec<FolderResult>, String> {
        let changes = operation.child("FolderChanges").ok_or("no FolderChanges")?;
        let mut results = Vec::new();
        for change in changes.all("FolderChange") {
            let folder = change.children.first().ok_or("an empty FolderChange")?;
            let set_field = change
                .path(&["Updates", "SetFolderField"])
                .ok_or("no SetFolderField")?;
            let requested = soap::requested_permissions(set_field)?;
            results.push(self.set_permissions(folder, &requested, account, impersonated));
        }
        Ok(results)
    }

    fn set_permissions(
        &self,
        folder: &Element,
        requested: &[model::RequestedEntry],
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> FolderResult {
        let owner = self.open(folder, account, impersonated)?;
        let mailbox = owner.mail.clone().unwrap_or_default();
        let entries = model::validate(requested, |sid, address| match (sid, address) {
            (Some(sid), _) => self.directory.by_sid(sid).map(|p| p.sid),
            (None, Some(address)) => self.directory.by_mail(address).map(|p| p.sid),
            _ => None,
        })
        .map_err(|r| (r.code.to_owned(), r.text))?;
        // The change key is checked and the list replaced in one step, as one store write.
        let written = self.with_calendar(&mailbox, |calendar| {
            if folder
                .attribute("ChangeKey")
                .is_some_and(|key| key != calendar.change_key())
            {
                return Err(("ErrorIrresolvableConflict".to_owned(), "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.".into()));
            }
            calendar.entries = entries;
            calendar.change += 1;
            Ok(FolderView {
                id: calendar.folder_id.clone(),
                change_key: calendar.change_key(),
                permissions: None,
            })
        });
        if written.is_ok() {
            *lock(&self.state)
                .stats
                .calendar_writes
                .entry(mailbox.to_ascii_lowercase())
                .or_default() += 1;
        }
        written
    }
}

/// A calendar as the control API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalendarDump {
    /// The change key.
    pub change_key: String,
    /// The entries: `user` is Default, Anonymous, the address or the SID.
    pub entries: Vec<EntryDump>,
    /// Entries whose SID does not resolve.
    pub unknown: Vec<String>,
}

/// An entry as the control API shows and takes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryDump {
    /// Default, Anonymous, an address or a SID.
    pub user: String,
    /// The level (on input: a named level, unless `rights` is given).
    #[serde(default)]
    pub level: Option<String>,
    /// The rights.
    #[serde(default)]
    pub rights: Option<Rights>,
}

impl Simulator {
    fn dump(&self, mailbox: &str) -> CalendarDump {
        let calendar = self.calendar_of(mailbox);
        let (entries, unknown) = self.render(&calendar);
        CalendarDump {
            change_key: calendar.change_key(),
            entries: entries
                .into_iter()
                .map(|e| EntryDump {
                    user: e
                        .distinguished
                        .map(str::to_owned)
                        .or(e.address)
                        .or(e.sid)
                        .unwrap_or_default(),
                    level: Some(e.level.to_owned()),
                    rights: Some(e.rights),
                })
                .collect(),
            unknown,
        }
    }

    fn preload(&self, mailbox: &str, entries: &[EntryDump]) -> Result<(), String> {
        let mut stored = Vec::new();
        for entry in entries {
            let member = match entry.user.as_str() {
                "Default" => Member::Default,
                "Anonymous" => Member::Anonymous,
                user if user.starts_with("S-1-") => Member::Sid(user.to_owned()),
                user => Member::Sid(
                    self.directory
                        .by_mail(user)
                        .ok_or_else(|| format!("{user} is not in the directory"))?
                        .sid,
                ),
            };
            let rights = match (&entry.rights, entry.level.as_deref()) {
                (Some(rights), _) => *rights,
                (None, Some(level)) => {
                    model::level_rights(level).ok_or_else(|| format!("{level} is not a level"))?
                }
                (None, None) => return Err(format!("{} needs a level or rights", entry.user)),
            };
            stored.push((member, rights));
        }
        self.with_calendar(mailbox, |calendar| {
            calendar.entries = stored;
            calendar.change += 1;
        });
        Ok(())
    }

    /// The control API: JSON over plain HTTP on loopback.
    async fn control(self: &Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let body = request
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let json = |value: serde_json::Value| {
            respond(
                StatusCode::OK,
                "application/json",
                serde_json::to_vec(&value).unwrap_or_default(),
            )
        };
        let bad = |message: String| respond(StatusCode::BAD_REQUEST, "text/plain", message);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            (Method::GET, ["stats"]) => {
                json(serde_json::to_value(&lock(&self.state).stats).unwrap_or_default())
            }
            (Method::GET, ["calendars", mailbox]) => {
                json(serde_json::to_value(self.dump(mailbox)).unwrap_or_default())
            }
            (Method::PUT, ["calendars", mailbox]) => {
                match serde_json::from_slice::<Vec<EntryDump>>(&body)
                    .map_err(|e| e.to_string())
                    .and_then(|e| self.preload(mailbox, &e))
                {
                    Ok(()) => json(serde_json::to_value(self.dump(mailbox)).unwrap_or_default()),
                    Err(e) => bad(e),
                }
            }
            (Method::PUT, ["settings"]) => match serde_json::from_slice::<Settings>(&body) {
                Ok(settings) => {
                    lock(&self.state).settings = settings;
                    json(serde_json::json!({"ok": true}))
                }
                Err(e) => bad(e.to_string()),
            },
            (Method::PUT, ["faults"]) => match serde_json::from_slice::<Faults>(&body) {
                Ok(faults) => {
                    lock(&self.state).faults = faults;
                    json(serde_json::json!({"ok": true}))
                }
                Err(e) => bad(e.to_string()),
            },
            (Method::PUT, ["access"]) => match serde_json::from_slice::<Access>(&body) {
                Ok(access) => {
                    lock(&self.state).access = access;
                    json(serde_json::json!({"ok": true}))
                }
                Err(e) => bad(e.to_string()),
            },
            (Method::POST, ["forget", sid]) => {
                self.directory.forget(sid);
                json(serde_json::json!({"ok": true}))
            }
            _ => respond(StatusCode::NOT_FOUND, "text/plain", "no such control"),
        }
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

/// Serves the control API on `listener`.
pub async fn serve_control(simulator: Arc<Simulator>, listener: TcpListener) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let simulator = Arc::clone(&simulator);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let simulator = Arc::clone(&simulator);
                async move { Ok::<_, Infallible>(simulator.control(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}
