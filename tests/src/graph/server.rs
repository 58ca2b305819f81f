//! The simulator's servers: HTTPS for the token endpoint and Graph (bearer tokens, application
//! permissions, throttling faults, every JSON body captured with its Graph type) and a
//! plain-HTTP control API on loopback for tests.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::sync::lock;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::tenant::{self, App};
use super::token;

/// Counts tests read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Token requests.
    pub token_requests: u64,
    /// Token requests refused.
    pub refused_sign_ins: u64,
    /// Graph requests (with any token).
    pub graph_requests: u64,
    /// Throttled answers given.
    pub throttled: u64,
    /// Requests that arrived while a Retry-After given earlier had not run out.
    pub inside_retry_after: u64,
    /// 403s for a missing permission.
    pub forbidden: u64,
    /// `$batch` requests.
    pub batches: u64,
    /// Requests carried inside them.
    pub batched_requests: u64,
    /// Graph requests by `METHOD operation`.
    pub operations: HashMap<String, u64>,
    /// Device codes handed out.
    pub device_codes: u64,
    /// Access tokens renewed with a refresh token.
    pub refresh_grants: u64,
}

/// Faults tests inject.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Answer the next this many Graph requests with `throttle_status`.
    pub throttle_count: u32,
    /// 429 (default) or 503.
    pub throttle_status: u16,
    /// The `Retry-After` of those answers, in seconds.
    pub retry_after: u64,
    /// How long every Graph request (a `$batch` as a whole) takes, in milliseconds.
    pub latency_ms: u64,
    /// The lifetime of the access tokens issued, in seconds (0: an hour, as the platform's).
    pub token_lifetime_s: u64,
    /// How long a device code may be entered, in seconds (0: 15 minutes, as the platform's).
    pub device_code_lifetime_s: u64,
    /// How long the answer to a creation (`POST /users`) is held back after the account is
    /// made, in milliseconds: a client that gives up first does not learn the outcome.
    pub slow_creations_ms: u64,
}

/// Who a request comes from: the permissions its token carries, and the signed-in user of a
/// delegated token.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The permissions (the app's roles; a delegated token here carries the same).
    pub roles: Vec<String>,
    /// The signed-in user (`None` for the app itself).
    pub user: Option<String>,
}

/// Everything the simulator knows.
#[derive(Default)]
pub struct State {
    /// The app registration.
    pub app: App,
    /// The tenant's SKUs, as `subscribedSkus` lists them.
    pub skus: Vec<Value>,
    /// Users by id.
    pub users: HashMap<String, Value>,
    /// Issued tokens: when they end, and the user signed in (a delegated token).
    pub tokens: HashMap<String, (Instant, Option<String>)>,
    /// Faults.
    pub faults: Faults,
    /// Counts.
    pub stats: Stats,
    /// When the last throttling answer was given, and until when it asked clients to wait.
    pub retry: Option<(Instant, Instant)>,
    /// When each account was created (by a client).
    pub created: HashMap<String, Instant>,
    /// When each account got a licence with an Exchange plan.
    pub licensed: HashMap<String, Instant>,
    /// Calendars' permission entries, by account id.
    pub calendars: HashMap<String, Vec<Value>>,
    /// Eventual-consistency windows.
    pub delays: super::calendars::Delays,
    /// Device codes handed out, by device code.
    pub device_codes: HashMap<String, super::token::DeviceGrant>,
    /// Refresh tokens that are still good.
    pub refresh_tokens: std::collections::HashSet<String>,
}

/// Application permissions that allow each kind of request (any one of them).
const READ_USERS: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const WRITE_USERS: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
const READ_SKUS: &[&str] = &[
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "LicenseAssignment.Read.All",
    "LicenseAssignment.ReadWrite.All",
];
const CALENDARS_READ: &[&str] = &[
    "Calendars.Read",
    "Calendars.ReadWrite",
    "MailboxFolder.Read.All",
    "MailboxFolder.ReadWrite.All",
];
const CALENDARS_WRITE: &[&str] = &["Calendars.ReadWrite", "MailboxFolder.ReadWrite.All"];
const ASSIGN: &[&str] = &[
    "LicenseAssignment.ReadWrite.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// The simulator.
pub struct Simulator {
    /// Its state.
    pub state: Mutex<State>,
    capture_dir: Option<PathBuf>,
    sequence: AtomicU64,
}

/// A body.
pub type Body = Full<Bytes>;

/// A JSON answer.
pub fn answer(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; odata.metadata=minimal; charset=utf-8"),
    );
    response
}

/// Graph's error answer.
pub fn odata_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    answer(status, &error_body(code, message))
}

/// Graph's error body.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "innerError": {
        "date": "2026-12-03T10:00:00", "request-id": super::guid(), "client-request-id": super::guid()}}})
}

/// What a handler hands back: the status and body, and the Graph types of the request's and
/// the answer's bodies, for the capture.
pub struct Handled {
    /// The status.
    pub status: StatusCode,
    /// The JSON body; `None` for an empty one (204).
    pub body: Option<Value>,
    /// The request body's type (`graph.user`, `action.assignLicense`), if it has one.
    pub request_type: Option<&'static str>,
    /// The answer body's type (`graph.user`, `collection.graph.subscribedSku`).
    pub response_type: Option<&'static str>,
}

impl Handled {
    /// Graph's error answer.
    pub fn error(status: StatusCode, code: &str, message: &str) -> Self {
        Self {
            status,
            body: Some(error_body(code, message)),
            request_type: None,
            response_type: None,
        }
    }

    /// A typed answer.
    pub fn typed(
        status: StatusCode,
        body: Option<Value>,
        request_type: Option<&'static str>,
        response_type: Option<&'static str>,
    ) -> Self {
        Self {
            status,
            body,
            request_type,
            response_type,
        }
    }
}

impl Simulator {
    /// A simulator with `app` registered, the default SKUs, and `mailboxes` (users with an
    /// Exchange Online mailbox for a long time: `{"upn", "displayName"}`).
    pub fn new(app: App, capture_dir: Option<PathBuf>, mailboxes: &[Value]) -> Arc<Self> {
        let mut state = State {
            app,
            skus: tenant::default_skus(),
            ..State::default()
        };
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(86_400))
            .unwrap_or_else(Instant::now);
        for mailbox in mailboxes {
            let upn = mailbox["upn"].as_str().unwrap_or("");
            let id = super::guid();
            let nickname = upn.split('@').next().unwrap_or("");
            state.users.insert(
                id.clone(),
                json!({"id": id, "userPrincipalName": upn, "mail": upn,
                    "displayName": mailbox["displayName"], "mailNickname": nickname,
                    "accountEnabled": true, "usageLocation": "NL", "passwordPolicies": "None",
                    "businessPhones": [],
                    "assignedLicenses": [{"skuId": tenant::E3_SKU, "disabledPlans": []}]}),
            );
            state.licensed.insert(id, long_ago);
        }
        // The administrator who signs in with a device code (no mailbox).
        let id = super::guid();
        state.users.insert(
            id.clone(),
            json!({"id": id, "userPrincipalName": tenant::ADMIN_UPN,
                "displayName": "Lab Administrator", "mailNickname": "admin",
                "accountEnabled": true, "usageLocation": "NL", "passwordPolicies": "None",
                "businessPhones": [], "assignedLicenses": []}),
        );
        Arc::new(Self {
            state: Mutex::new(state),
            capture_dir,
            sequence: AtomicU64::new(0),
        })
    }

    fn capture(&self, kind: &str, graph_type: &str, body: &[u8]) {
        let Some(dir) = &self.capture_dir else { return };
        if body.is_empty() {
            return;
        }
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let _ = std::fs::write(dir.join(format!("{n:06}-{kind}-{graph_type}.json")), body);
    }

    async fn handle(self: &Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let arrived = Instant::now();
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, 4 * 1024 * 1024).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return odata_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestTooLarge",
                    "The request is too large.",
                );
            }
        };
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or("").to_owned();
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if let Some(tenant) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix("/oauth2/v2.0/token"))
        {
            return self.token(tenant, &host, &path, &body);
        }
        if let Some(tenant) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix("/oauth2/v2.0/devicecode"))
        {
            return self.device_code(tenant, &body);
        }
        let Some(graph_path) = path.strip_prefix("/v1.0") else {
            return odata_error(StatusCode::NOT_FOUND, "BadRequest", "Invalid version.");
        };
        let caller = match self.bearer(&parts.headers) {
            Ok(caller) => caller,
            Err(response) => return *response,
        };
        let latency = lock(&self.state).faults.latency_ms;
        if latency > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
        }
        if parts.method == Method::POST && graph_path == "/$batch" {
            return self.batch(&body, &caller);
        }
        let (status, wait, value) =
            self.serve_one(&parts.method, graph_path, &query, &body, &caller, arrived);
        let slow = lock(&self.state).faults.slow_creations_ms;
        if slow > 0 && parts.method == Method::POST && graph_path == "/users" {
            tokio::time::sleep(Duration::from_millis(slow)).await;
        }
        let mut response = if let Some(value) = value {
            answer(status, &value)
        } else {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = status;
            response
        };
        if let Some(wait) = wait
            && let Ok(value) = wait.to_string().parse()
        {
            response.headers_mut().insert("Retry-After", value);
        }
        response
    }

    /// `POST /{tenant}/oauth2/v2.0/devicecode`: a device code and the code to enter.
    fn device_code(&self, tenant: &str, body: &[u8]) -> Response<Body> {
        let form = token::form(body);
        let mut state = lock(&self.state);
        if let Err(refusal) = token::check_public(&form, tenant) {
            return answer(
                StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
                &refusal.body,
            );
        }
        let lifetime = match state.faults.device_code_lifetime_s {
            0 => 900,
            n => n,
        };
        let device_code = format!("dc.{}", super::guid());
        let grant = token::DeviceGrant::new(Instant::now() + Duration::from_secs(lifetime));
        let user_code = grant.user_code.clone();
        state.device_codes.insert(device_code.clone(), grant);
        state.stats.device_codes += 1;
        answer(
            StatusCode::OK,
            &json!({
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": lifetime,
                "interval": 1,
                "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."),
            }),
        )
    }

    fn token(&self, tenant: &str, host: &str, path: &str, body: &[u8]) -> Response<Body> {
        let form = token::form(body);
        let audience = format!("https://{host}{path}");
        let mut state = lock(&self.state);
        state.stats.token_requests += 1;
        let lifetime = match state.faults.token_lifetime_s {
            0 => 3599,
            n => n,
        };
        let state = &mut *state;
        let checked = match form.get("grant_type").map(String::as_str) {
            Some(token::DEVICE_CODE_GRANT | "refresh_token") => token::check_public(&form, tenant)
                .and_then(|()| {
                    token::check_delegated(
                        &form,
                        &mut state.device_codes,
                        &mut state.refresh_tokens,
                        &mut state.stats.refresh_grants,
                    )
                }),
            _ => token::check(&form, tenant, &audience, &state.app).map(|()| None),
        };
        match checked {
            Ok(refresh) => {
                let access = format!("lab.{}.{}", super::guid(), super::guid());
                // A token from a device code or refresh token is the administrator's.
                let user = refresh.as_ref().map(|_| tenant::ADMIN_UPN.to_owned());
                state.tokens.insert(
                    access.clone(),
                    (Instant::now() + Duration::from_secs(lifetime), user),
                );
                let mut body = json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access});
                if let Some(refresh) = refresh {
                    body["refresh_token"] = json!(refresh);
                    body["scope"] = json!("User.ReadWrite.All Calendars.ReadWrite");
                }
                answer(StatusCode::OK, &body)
            }
            Err(refusal) => {
                state.stats.refused_sign_ins += 1;
                answer(
                    StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
                    &refusal.body,
                )
            }
        }
    }

    /// The app's roles for a valid bearer token, else Graph's 401.
    fn bearer(&self, headers: &http::HeaderMap) -> Result<Caller, Box<Response<Body>>> {
        let mut state = lock(&self.state);
        state.stats.graph_requests += 1;
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        match state.tokens.get(token) {
            Some((until, user)) if *until > Instant::now() => Ok(Caller {
                roles: state.app.roles.clone(),
                user: user.clone(),
            }),
            Some(_) => Err(Box::new(odata_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            ))),
            None => Err(Box::new(odata_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            ))),
        }
    }

    /// A throttling answer for this request, when a fault asks for one: its status, its
    /// `Retry-After` seconds and its body.
    /// `arrived`: when the request (or its batch) arrived; one that arrived after a throttling
    /// answer and before its `Retry-After` ran out is counted.
    fn throttle(&self, arrived: Instant) -> Option<(StatusCode, u64, Value)> {
        let mut state = lock(&self.state);
        if state
            .retry
            .is_some_and(|(given, until)| given < arrived && arrived < until)
        {
            state.stats.inside_retry_after += 1;
        }
        if state.faults.throttle_count == 0 {
            return None;
        }
        state.faults.throttle_count -= 1;
        state.stats.throttled += 1;
        let wait = state.faults.retry_after;
        let now = Instant::now();
        state.retry = Some((now, now + Duration::from_secs(wait)));
        Some(if state.faults.throttle_status == 503 {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                wait,
                error_body("serviceNotAvailable", "Service unavailable."),
            )
        } else {
            (
                StatusCode::TOO_MANY_REQUESTS,
                wait,
                error_body("TooManyRequests", "Too many requests."),
            )
        })
    }

    /// One request inside or outside a batch: throttled, or routed, counted and captured.
    fn serve_one(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        body: &[u8],
        caller: &Caller,
        arrived: Instant,
    ) -> (StatusCode, Option<u64>, Option<Value>) {
        if let Some((status, wait, value)) = self.throttle(arrived) {
            return (status, Some(wait), Some(value));
        }
        let handled = self.route(method, path, query, body, caller);
        let operation = format!("{method} {}", operation_name(path));
        *lock(&self.state)
            .stats
            .operations
            .entry(operation)
            .or_default() += 1;
        if let Some(kind) = handled.request_type {
            self.capture("request", kind, body);
        }
        if let (Some(kind), Some(value)) = (handled.response_type, &handled.body) {
            self.capture("response", kind, value.to_string().as_bytes());
        }
        (handled.status, None, handled.body)
    }

    /// `POST /$batch`: up to 20 requests, each answered as if sent alone (throttling
    /// included), in one answer.
    fn batch(&self, body: &[u8], caller: &Caller) -> Response<Body> {
        let arrived = Instant::now();
        let Ok(envelope) = serde_json::from_slice::<Value>(body) else {
            return odata_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid batch payload.",
            );
        };
        let Some(requests) = envelope.get("requests").and_then(Value::as_array) else {
            return odata_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid batch payload: no requests.",
            );
        };
        if requests.len() > 20 {
            return odata_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The number of batch requests in the payload exceeds the limit of 20.",
            );
        }
        {
            let mut state = lock(&self.state);
            state.stats.batches += 1;
            state.stats.batched_requests += requests.len() as u64;
        }
        let mut responses = Vec::with_capacity(requests.len());
        for request in requests {
            let id = request["id"].clone();
            let method = request["method"]
                .as_str()
                .unwrap_or("GET")
                .parse::<Method>()
                .unwrap_or(Method::GET);
            let url = request["url"].as_str().unwrap_or("");
            let url = format!("/{}", url.trim_start_matches('/'));
            let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
            let sub_body = request
                .get("body")
                .map(|b| b.to_string().into_bytes())
                .unwrap_or_default();
            let (status, wait, value) =
                self.serve_one(&method, path, query, &sub_body, caller, arrived);
            let mut headers = json!({"Content-Type": "application/json"});
            if let Some(wait) = wait {
                headers["Retry-After"] = json!(wait.to_string());
            }
            let mut response = json!({"id": id, "status": status.as_u16(), "headers": headers});
            if let Some(value) = value {
                response["body"] = value;
            }
            responses.push(response);
        }
        answer(StatusCode::OK, &json!({"responses": responses}))
    }

    fn route(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        body: &[u8],
        caller: &Caller,
    ) -> Handled {
        let roles = &caller.roles;
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let needs = |allowed: &[&str]| -> Option<Handled> {
            if roles.iter().any(|r| allowed.contains(&r.as_str())) {
                None
            } else {
                lock(&self.state).stats.forbidden += 1;
                Some(Handled::error(
                    StatusCode::FORBIDDEN,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                ))
            }
        };
        match (method, segments.as_slice()) {
            // The signed-in user: only with a delegated token, as Graph.
            (&Method::GET, ["me"]) => match &caller.user {
                Some(user) => self.read_user(user, query),
                None => Handled::error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                ),
            },
            (&Method::GET, ["subscribedSkus"]) => {
                needs(READ_SKUS).unwrap_or_else(|| self.subscribed_skus())
            }
            (&Method::POST, ["users"]) => {
                needs(WRITE_USERS).unwrap_or_else(|| self.create_user(body))
            }
            (&Method::GET, ["users", id]) => {
                needs(READ_USERS).unwrap_or_else(|| self.read_user(&decode(id), query))
            }
            (&Method::PATCH, ["users", id]) => {
                needs(WRITE_USERS).unwrap_or_else(|| self.update_user(&decode(id), body))
            }
            (&Method::POST, ["users", id, "assignLicense"]) => {
                needs(ASSIGN).unwrap_or_else(|| self.assign_license(&decode(id), body))
            }
            (&Method::GET, ["users", id, "calendar", "calendarPermissions"]) => {
                needs(CALENDARS_READ).unwrap_or_else(|| self.permissions(&decode(id)))
            }
            (&Method::POST, ["users", id, "calendar", "calendarPermissions"]) => {
                needs(CALENDARS_WRITE).unwrap_or_else(|| self.add_permission(&decode(id), body))
            }
            (&Method::PATCH, ["users", id, "calendar", "calendarPermissions", permission]) => {
                needs(CALENDARS_WRITE).unwrap_or_else(|| {
                    self.change_permission(&decode(id), &decode(permission), body)
                })
            }
            (&Method::DELETE, ["users", id, "calendar", "calendarPermissions", permission]) => {
                needs(CALENDARS_WRITE)
                    .unwrap_or_else(|| self.remove_permission(&decode(id), &decode(permission)))
            }
            _ => Handled::error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "Resource not found for the segment '{}'.",
                    segments.last().unwrap_or(&"")
                ),
            ),
        }
    }

    async fn control(self: &Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let path = parts.uri.path().to_owned();
        let parsed = || serde_json::from_slice::<Value>(&body);
        match (parts.method, path.as_str()) {
            (Method::GET, "/stats") => answer(StatusCode::OK, &json!(lock(&self.state).stats)),
            (Method::PUT, "/faults") => match serde_json::from_slice::<Faults>(&body) {
                Ok(faults) => {
                    lock(&self.state).faults = faults;
                    answer(StatusCode::OK, &json!({}))
                }
                Err(e) => answer(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
            },
            (Method::GET, "/device-codes") => {
                let state = lock(&self.state);
                let codes: Vec<Value> = state
                    .device_codes
                    .values()
                    .map(|g| json!({"user_code": g.user_code, "status": g.status}))
                    .collect();
                answer(StatusCode::OK, &json!(codes))
            }
            (Method::PUT, path) if path.starts_with("/device-codes/") => {
                let user_code = decode(&path["/device-codes/".len()..]);
                let approve = parsed()
                    .ok()
                    .and_then(|v| v["approve"].as_bool())
                    .unwrap_or(false);
                let mut state = lock(&self.state);
                match state
                    .device_codes
                    .values_mut()
                    .find(|g| g.user_code == user_code)
                {
                    Some(grant) => {
                        grant.status = if approve { "approved" } else { "declined" };
                        answer(StatusCode::OK, &json!({}))
                    }
                    None => answer(StatusCode::NOT_FOUND, &json!({"error": "no such code"})),
                }
            }
            (Method::PUT, "/delays") => match serde_json::from_slice(&body) {
                Ok(delays) => {
                    lock(&self.state).delays = delays;
                    answer(StatusCode::OK, &json!({}))
                }
                Err(e) => answer(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
            },
            (Method::GET, path) if path.starts_with("/calendars/") => {
                let key = decode(&path["/calendars/".len()..]);
                let state = lock(&self.state);
                let id = super::users::find(&state.users, &key)
                    .and_then(|u| u["id"].as_str())
                    .unwrap_or("")
                    .to_owned();
                let entries = state
                    .calendars
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| vec![super::calendars::my_organization()]);
                answer(StatusCode::OK, &json!(entries))
            }
            (Method::PUT, "/roles") => match serde_json::from_slice::<Vec<String>>(&body) {
                Ok(roles) => {
                    lock(&self.state).app.roles = roles;
                    answer(StatusCode::OK, &json!({}))
                }
                Err(e) => answer(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
            },
            (Method::PUT, "/skus") => match parsed() {
                Ok(Value::Array(skus)) => {
                    lock(&self.state).skus = skus;
                    answer(StatusCode::OK, &json!({}))
                }
                _ => answer(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "an array of SKUs"}),
                ),
            },
            (Method::GET, path) if path.starts_with("/users/") => {
                let key = decode(&path["/users/".len()..]);
                let state = lock(&self.state);
                match super::users::find(&state.users, &key) {
                    Some(user) => answer(StatusCode::OK, user),
                    None => answer(StatusCode::NOT_FOUND, &json!({})),
                }
            }
            _ => answer(StatusCode::NOT_FOUND, &json!({"error": "no such control"})),
        }
    }
}

/// Percent-decodes a path segment.
pub fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) =
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The operation's name for the counts: the path with ids left out.
fn operation_name(path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["users", _, "calendar", "calendarPermissions", _] => {
            "users/{id}/calendar/calendarPermissions/{id}".to_owned()
        }
        ["users", _, rest @ ..] => std::iter::once("users/{id}")
            .chain(rest.iter().copied())
            .collect::<Vec<_>>()
            .join("/"),
        other => other.join("/"),
    }
}

/// Serves the token endpoint and Graph over TLS on `listener`.
pub async fn serve(
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
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(move |request| {
                let simulator = Arc::clone(&simulator);
                async move { Ok::<_, Infallible>(simulator.handle(request).await) }
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
    crate::program::serve_plain(listener, move |request| {
        let simulator = Arc::clone(&simulator);
        async move { simulator.control(request).await }
    })
    .await;
}
