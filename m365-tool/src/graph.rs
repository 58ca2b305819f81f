//! Talking to Microsoft Graph: every request with the app's token, JSON in and out, and Graph as
//! it behaves in production: a 429 or 503 holds back the whole client for its `Retry-After` (a
//! throttled tenant is throttled for every request, not just the one that heard it), a token
//! Graph no longer takes is renewed once, and refusals come back as [`GraphError`]s that name
//! the permission the app lacks.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{CommandError, ExitStatus};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::odata;
use crate::signin::SignIn;

/// How often one request is sent before the client gives up on a throttling or busy service.
const ATTEMPTS: u32 = 6;

/// Why a Graph request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphError {
    /// The service could not be reached.
    #[error("cannot reach {url}: {reason}")]
    Reach {
        /// What was asked.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The identity platform refused the app's sign-in.
    #[error("the sign-in was refused: {message}")]
    SignIn {
        /// Its description (AADSTS number first).
        message: String,
        /// What to do.
        hint: String,
    },
    /// Graph refused for lack of a permission (403).
    #[error("Graph refused {what} ({code}: {message})")]
    Denied {
        /// The request, in words.
        what: String,
        /// Graph's code.
        code: String,
        /// Graph's message.
        message: String,
        /// The application permission the request needs.
        permission: &'static str,
        /// Whether the administrator signed in (device code) rather than the app.
        delegated: bool,
    },
    /// Graph answered with an error.
    #[error("Graph answered HTTP {status} to {what} ({code}: {message})")]
    Service {
        /// The request, in words.
        what: String,
        /// The HTTP status.
        status: u16,
        /// Graph's code.
        code: String,
        /// Graph's message.
        message: String,
    },
    /// Graph kept throttling, or asked to wait longer than `--max-backoff`.
    #[error("Graph is throttling this app: it asked to wait {wait_s} s")]
    Throttled {
        /// The wait asked for, in seconds.
        wait_s: u64,
    },
    /// An answer that is not what Graph sends.
    #[error("{what} cannot be read: {reason}")]
    Invalid {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// A setting that cannot work.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
    },
}

impl GraphError {
    /// A request that got no answer.
    pub fn reach(url: &str, error: &reqwest::Error) -> Self {
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            reason = format!("{reason}: {inner}");
            source = inner.source();
        }
        GraphError::Reach {
            url: url.to_owned(),
            reason: common::error::one_line(&reason),
        }
    }

    /// Graph's error code, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Denied { code, .. } | GraphError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status Graph answered, if it did.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Denied { .. } => Some(403),
            GraphError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The operator's line.
    pub fn explain(&self) -> CommandError {
        match self {
            GraphError::Reach { .. } => CommandError::new(ExitStatus::Connect, self.to_string())
                .with_hint("check the network, --cloud or --graph-url, and --ca-file for a TLS-inspecting proxy")
                .with_code("connect"),
            GraphError::SignIn { hint, .. } => {
                CommandError::new(ExitStatus::Denied, self.to_string())
                    .with_hint(hint.clone())
                    .with_code("sign-in")
            }
            GraphError::Denied {
                permission,
                delegated,
                ..
            } => {
                CommandError::new(ExitStatus::Denied, self.to_string())
                    .with_hint(odata::denied_hint(permission, *delegated))
                    .with_code("permission")
            }
            GraphError::Service { status, .. } => CommandError::new(
                if *status >= 500 {
                    ExitStatus::Connect
                } else {
                    ExitStatus::ItemsFailed
                },
                self.to_string(),
            )
            .with_code("graph"),
            GraphError::Throttled { .. } => CommandError::new(ExitStatus::Connect, self.to_string())
                .with_hint("run the same command again later (it converges), or raise --max-backoff")
                .with_code("throttled"),
            GraphError::Invalid { .. } => {
                CommandError::new(ExitStatus::ItemsFailed, self.to_string()).with_code("graph")
            }
            GraphError::Usage { .. } => {
                CommandError::usage(self.to_string()).with_code("config")
            }
        }
    }
}

/// One request: what it is, in words, and the permission it needs.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// GET, POST, PATCH, DELETE.
    pub method: Method,
    /// The path below `/v1.0` (`/users/x`), with its query.
    pub path: String,
    /// The JSON body.
    pub body: Option<&'a Value>,
    /// The request in admin words (`reading svc@contoso.com`).
    pub what: String,
    /// The application permission it needs (`User.ReadWrite.All`).
    pub permission: &'static str,
}

/// A Graph client: a connection pool, the sign-in, and the throttling gate.
#[derive(Debug, Clone)]
pub struct Graph {
    http: reqwest::Client,
    base: String,
    signin: Arc<SignIn>,
    /// Nothing is sent before this instant (the last `Retry-After`).
    gate: Arc<std::sync::Mutex<Option<Instant>>>,
    max_backoff: Duration,
}

/// Graph's settings.
#[derive(Debug)]
pub struct GraphSettings {
    /// `https://graph.microsoft.com`.
    pub graph_url: String,
    /// The sign-in.
    pub signin: SignIn,
    /// Trust settings.
    pub tls: common::tls::TlsOptions,
    /// Longest wait for an answer.
    pub timeout: Duration,
    /// Longest `Retry-After` waited out.
    pub max_backoff: Duration,
}

impl Graph {
    /// A client.
    pub fn new(settings: GraphSettings) -> Result<Self, GraphError> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_native()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("m365-tool/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &settings.tls.ca_file {
            let pem = std::fs::read(path).map_err(|e| GraphError::Usage {
                message: format!("cannot read --ca-file {}: {e}", path.display()),
            })?;
            let certificate =
                reqwest::Certificate::from_pem(&pem).map_err(|e| GraphError::Usage {
                    message: format!("--ca-file {} is not a PEM certificate: {e}", path.display()),
                })?;
            builder = builder.add_root_certificate(certificate);
        }
        if settings.tls.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| GraphError::Usage {
            message: format!("cannot set up HTTPS: {e}"),
        })?;
        Ok(Self {
            http,
            base: format!("{}/v1.0", settings.graph_url.trim_end_matches('/')),
            signin: Arc::new(settings.signin),
            gate: Arc::new(std::sync::Mutex::new(None)),
            max_backoff: settings.max_backoff,
        })
    }

    /// Who makes the changes, for journals: the administrator's UPN after a device code (read
    /// from `/me`), else the app (`app CLIENT-ID`).
    pub async fn actor(&self) -> String {
        let app = format!("app {}", self.signin.client_id);
        if !self.signin.delegated() {
            return app;
        }
        match self
            .get(
                "/me?$select=userPrincipalName".into(),
                "reading who signed in".into(),
                "User.Read",
            )
            .await
        {
            Ok(me) => me["userPrincipalName"].as_str().map_or(app, |upn| {
                format!("{upn} (through app {})", self.signin.client_id)
            }),
            Err(e) => {
                log::info!("cannot read who signed in ({e}); the journal names the app");
                app
            }
        }
    }

    /// Graph's v1.0 root this client talks to (`https://graph.microsoft.com/v1.0`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Signs in now (so a refused sign-in is the first thing said).
    pub async fn sign_in(&self) -> Result<(), GraphError> {
        self.signin.token(&self.http).await.map(drop)
    }

    async fn wait_at_gate(&self) {
        let until = *common::sync::lock(&self.gate);
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
    }

    fn close_gate(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut gate = common::sync::lock(&self.gate);
        if gate.is_none_or(|g| g < until) {
            *gate = Some(until);
        }
    }

    /// Sends `call`; the status and the JSON answer (`Null` for an empty body) of any answer
    /// that is not an error. 404 comes back as [`GraphError::Service`] with status 404.
    pub async fn send(&self, call: &Call<'_>) -> Result<(StatusCode, Value), GraphError> {
        let url = format!("{}{}", self.base, call.path);
        let mut renewed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_at_gate().await;
            let token = self.signin.token(&self.http).await?;
            let mut request = self
                .http
                .request(call.method.clone(), &url)
                .bearer_auth(token.expose())
                .header("Accept", "application/json");
            if let Some(body) = call.body {
                request = request.json(body);
            }
            log::debug!("{} {url}", call.method);
            let response = request
                .send()
                .await
                .map_err(|e| GraphError::reach(&url, &e))?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body = response
                .bytes()
                .await
                .map_err(|e| GraphError::reach(&url, &e))?;
            log::debug!("{} {url}: HTTP {}", call.method, status.as_u16());
            if status.is_success() {
                if body.is_empty() {
                    return Ok((status, Value::Null));
                }
                let value = serde_json::from_slice(&body).map_err(|e| GraphError::Invalid {
                    what: format!("Graph's answer to {}", call.what),
                    reason: e.to_string(),
                })?;
                return Ok((status, value));
            }
            let error = odata::read_error(&body).unwrap_or_else(|| odata::ODataError {
                code: "unknown".into(),
                message: String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
            match status {
                StatusCode::TOO_MANY_REQUESTS
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT => {
                    let wait = Duration::from_secs(retry_after.unwrap_or(1 << attempt.min(5)));
                    if wait > self.max_backoff || attempt >= ATTEMPTS {
                        return Err(GraphError::Throttled {
                            wait_s: wait.as_secs(),
                        });
                    }
                    if wait >= Duration::from_secs(5) {
                        log::warn!(
                            "Graph asks to wait {} s (HTTP {}); waiting",
                            wait.as_secs(),
                            status.as_u16()
                        );
                    } else {
                        log::info!(
                            "Graph asks to wait {} s (HTTP {})",
                            wait.as_secs(),
                            status.as_u16()
                        );
                    }
                    self.close_gate(wait);
                }
                StatusCode::UNAUTHORIZED if !renewed => {
                    // An expired or revoked token: once more with a new one.
                    renewed = true;
                    self.signin.forget().await;
                }
                StatusCode::FORBIDDEN => {
                    return Err(GraphError::Denied {
                        what: call.what.clone(),
                        code: error.code,
                        message: error.message,
                        permission: call.permission,
                        delegated: self.signin.delegated(),
                    });
                }
                _ => {
                    return Err(GraphError::Service {
                        what: call.what.clone(),
                        status: status.as_u16(),
                        code: error.code,
                        message: error.message,
                    });
                }
            }
        }
    }

    /// GET `path`.
    pub async fn get(
        &self,
        path: String,
        what: String,
        permission: &'static str,
    ) -> Result<Value, GraphError> {
        self.send(&Call {
            method: Method::GET,
            path,
            body: None,
            what,
            permission,
        })
        .await
        .map(|(_, value)| value)
    }
}

/// The most requests one `$batch` carries (Graph's limit).
pub const BATCH_LIMIT: usize = 20;

impl Graph {
    /// Sends `calls` (at most [`BATCH_LIMIT`]) as one JSON `$batch`: one round trip instead of
    /// one each. Each call gets its own outcome, as [`Graph::send`] would give it; calls Graph
    /// throttled inside the batch (a 429 or 503 sub-response) are sent again, in a later batch,
    /// after the whole client has waited out their `Retry-After`.
    pub async fn batch(
        &self,
        calls: &[Call<'_>],
    ) -> Result<Vec<Result<(StatusCode, Value), GraphError>>, GraphError> {
        let mut outcomes: Vec<Option<Result<(StatusCode, Value), GraphError>>> =
            calls.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..calls.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let requests: Vec<Value> = pending
                .iter()
                .map(|&i| {
                    let call = &calls[i];
                    let mut request = serde_json::json!({
                        "id": i.to_string(),
                        "method": call.method.as_str(),
                        "url": call.path,
                    });
                    if let Some(body) = call.body {
                        request["body"] = body.clone();
                        request["headers"] =
                            serde_json::json!({"Content-Type": "application/json"});
                    }
                    request
                })
                .collect();
            let envelope = serde_json::json!({"requests": requests});
            let (_, answer) = self
                .send(&Call {
                    method: Method::POST,
                    path: "/$batch".into(),
                    body: Some(&envelope),
                    what: format!("a batch of {} requests", pending.len()),
                    permission: calls.first().map_or("User.Read.All", |c| c.permission),
                })
                .await?;
            let mut wait = Duration::ZERO;
            let mut again = Vec::new();
            let responses = answer
                .get("responses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for &i in &pending {
                let response = responses
                    .iter()
                    .find(|r| r["id"].as_str() == Some(i.to_string().as_str()));
                let Some(response) = response else {
                    outcomes[i] = Some(Err(GraphError::Invalid {
                        what: format!("the batch answer to {}", calls[i].what),
                        reason: "it has no response for this request".into(),
                    }));
                    continue;
                };
                let status = response["status"].as_u64().unwrap_or(0);
                let status = StatusCode::from_u16(u16::try_from(status).unwrap_or(500))
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = response.get("body").cloned().unwrap_or(Value::Null);
                if matches!(status.as_u16(), 429 | 503) {
                    let retry_after = response
                        .pointer("/headers/Retry-After")
                        .and_then(|v| {
                            v.as_str()
                                .and_then(|t| t.parse().ok())
                                .or_else(|| v.as_u64())
                        })
                        .unwrap_or(1 << attempt.min(5));
                    wait = wait.max(Duration::from_secs(retry_after));
                    again.push(i);
                    continue;
                }
                outcomes[i] = Some(sub_outcome(
                    status,
                    body,
                    &calls[i],
                    self.signin.delegated(),
                ));
            }
            if !again.is_empty() {
                if wait > self.max_backoff || attempt >= ATTEMPTS {
                    return Err(GraphError::Throttled {
                        wait_s: wait.as_secs(),
                    });
                }
                log::info!(
                    "Graph throttled {} requests of a batch; all wait {} s",
                    again.len(),
                    wait.as_secs()
                );
                self.close_gate(wait);
            }
            pending = again;
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(GraphError::Invalid {
                        what: "a batch".into(),
                        reason: "a request got no answer".into(),
                    })
                })
            })
            .collect())
    }
}

/// One sub-response of a batch, as [`Graph::send`] would have returned it.
fn sub_outcome(
    status: StatusCode,
    body: Value,
    call: &Call<'_>,
    delegated: bool,
) -> Result<(StatusCode, Value), GraphError> {
    if status.is_success() {
        return Ok((status, body));
    }
    let error =
        odata::read_error(body.to_string().as_bytes()).unwrap_or_else(|| odata::ODataError {
            code: "unknown".into(),
            message: body.to_string().chars().take(200).collect(),
        });
    if status == StatusCode::FORBIDDEN {
        return Err(GraphError::Denied {
            what: call.what.clone(),
            code: error.code,
            message: error.message,
            permission: call.permission,
            delegated,
        });
    }
    Err(GraphError::Service {
        what: call.what.clone(),
        status: status.as_u16(),
        code: error.code,
        message: error.message,
    })
}

/// Whether Graph does not show something *yet*: a new account (`Request_ResourceNotFound`) or
/// its mailbox (`MailboxNotEnabledForRESTAPI`) while they provision.
pub fn not_there_yet(error: &GraphError) -> bool {
    error.status() == Some(404)
        && matches!(
            error.code(),
            Some(
                "Request_ResourceNotFound"
                    | "MailboxNotEnabledForRESTAPI"
                    | "ResourceNotFound"
                    | "ErrorItemNotFound"
            )
        )
}

impl Graph {
    /// GET `path`, waiting (up to `wait`, with growing pauses) while Graph does not show the
    /// resource yet ([`not_there_yet`]); said once on stderr, not a failure unless it lasts.
    pub async fn get_eventually(
        &self,
        path: String,
        what: String,
        permission: &'static str,
        (wait, option): (Duration, &str),
    ) -> Result<Value, GraphError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(500);
        let mut said = false;
        loop {
            match self.get(path.clone(), what.clone(), permission).await {
                Err(error) if not_there_yet(&error) && started.elapsed() + pause <= wait => {
                    if !said {
                        log::warn!(
                            "{what}: Graph does not show it yet ({}); waiting for it (up to {} s, {option})",
                            error.code().unwrap_or(""),
                            wait.as_secs()
                        );
                        said = true;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
                other => return other,
            }
        }
    }
}

/// Escapes a user's id or UPN for a path segment (`/users/{id}`): a UPN's `#` or `'` and any
/// non-ASCII character percent-encoded.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@!$&()*+,;=:".contains(&byte) && byte != b'\'' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(segment("svc@contoso.com"), "svc@contoso.com");
        assert_eq!(segment("a#b/c d"), "a%23b%2Fc%20d");
        assert_eq!(segment("o'neil@x"), "o%27neil@x");
    }
}
