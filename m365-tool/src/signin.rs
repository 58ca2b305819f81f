//! Signing in: as the application (OAuth 2.0 client credentials at the tenant's token
//! endpoint, with a client secret or a certificate's signed assertion, for Graph's `.default`
//! scope), or as the administrator at the keyboard (the device code flow: a code shown here and
//! entered in a browser, for the delegated permissions the app was consented). The token is kept
//! in memory for its lifetime (renewed five minutes before it ends, through the refresh token
//! after a device code, or when Graph says it is no longer valid) and never logged.

use std::time::{Duration, Instant};

use common::secret::Secret;
use serde::Deserialize;

use crate::assertion::Certificate;
use crate::graph::GraphError;
use crate::odata;

/// How the app proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A client secret.
    Secret(Secret),
    /// A certificate registered on the app, with its private key.
    Certificate(Certificate),
    /// The administrator's own sign-in, with a code entered in a browser.
    DeviceCode,
}

/// The app's sign-in to one tenant.
#[derive(Debug)]
pub struct SignIn {
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub token_url: String,
    /// The application (client) ID.
    pub client_id: String,
    /// `{authority}/{tenant}/oauth2/v2.0/devicecode`.
    pub device_code_url: String,
    /// `{graph}/.default`.
    pub scope: String,
    credential: Credential,
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
    /// After a device code: the refresh token that renews the access token without a new code.
    refresh: tokio::sync::Mutex<Option<Secret>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// The identity platform's answer to a device code request.
#[derive(Deserialize)]
struct DeviceCodeAnswer {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    #[serde(default = "default_interval")]
    interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// A token request's outcome: the token, or the refusal's OAuth `error` and the tool's error.
enum Answer {
    Token(TokenAnswer),
    Refused(String, GraphError),
}

/// A token is renewed this long before it ends.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

impl SignIn {
    /// The sign-in of `client_id` to `tenant` at `authority`, for Graph at `graph`.
    pub fn new(
        authority: &str,
        tenant: &str,
        client_id: &str,
        graph: &str,
        credential: Credential,
    ) -> Self {
        let base = format!("{}/{tenant}/oauth2/v2.0", authority.trim_end_matches('/'));
        Self {
            token_url: format!("{base}/token"),
            device_code_url: format!("{base}/devicecode"),
            client_id: client_id.to_owned(),
            scope: format!("{}/.default", graph.trim_end_matches('/')),
            credential,
            cached: tokio::sync::Mutex::new(None),
            refresh: tokio::sync::Mutex::new(None),
        }
    }

    /// How the app signs in, for messages.
    pub fn method(&self) -> String {
        match &self.credential {
            Credential::Secret(_) => "a client secret".to_owned(),
            Credential::Certificate(c) => format!("the certificate with thumbprint {}", c.x5t),
            Credential::DeviceCode => "a device code (delegated)".to_owned(),
        }
    }

    /// Whether the administrator signs in (device code) rather than the app.
    pub fn delegated(&self) -> bool {
        matches!(self.credential, Credential::DeviceCode)
    }

    /// Forgets the token (Graph said it is not valid any more).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    /// A valid access token: the cached one, or a new one.
    pub async fn token(&self, http: &reqwest::Client) -> Result<Secret, GraphError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() + RENEW_BEFORE < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = match self.credential {
            Credential::DeviceCode => self.delegated_token(http).await?,
            _ => self.request(http).await?,
        };
        let who = if self.delegated() {
            format!("signed in as yourself through app {}", self.client_id)
        } else {
            format!("signed in as app {}", self.client_id)
        };
        log::info!(
            "{who} with {} (token valid {} min)",
            self.method(),
            lifetime.as_secs() / 60
        );
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// A delegated token: renewed with the refresh token when there is one, else (or when the
    /// refresh is refused) a new device code.
    async fn delegated_token(
        &self,
        http: &reqwest::Client,
    ) -> Result<(Secret, Duration), GraphError> {
        let mut refresh = self.refresh.lock().await;
        if let Some(token) = refresh.take() {
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", self.client_id.as_str()),
                ("scope", self.scope.as_str()),
                ("refresh_token", token.expose()),
            ];
            log::debug!("POST {} (refresh token)", self.token_url);
            match self.post_token(http, &form).await? {
                Answer::Token(answer) => return Ok(Self::keep(answer, &mut refresh)),
                Answer::Refused(error, _) => {
                    log::info!("the refresh token was refused ({error}); signing in again");
                }
            }
        }
        let answer = self.device_code(http).await?;
        Ok(Self::keep(answer, &mut refresh))
    }

    /// The access token of `answer`, keeping its refresh token.
    fn keep(answer: TokenAnswer, refresh: &mut Option<Secret>) -> (Secret, Duration) {
        *refresh = answer.refresh_token.map(Secret::new);
        (
            Secret::new(answer.access_token),
            Duration::from_secs(answer.expires_in),
        )
    }

    /// The device code flow: a code for the administrator to enter in a browser (said on
    /// stderr, whatever -q says: it is the prompt), then the token endpoint asked at the
    /// interval the platform names until the sign-in is done, declined or the code expires.
    async fn device_code(&self, http: &reqwest::Client) -> Result<TokenAnswer, GraphError> {
        let scope = format!("{} offline_access", self.scope);
        let form = [("client_id", self.client_id.as_str()), ("scope", &scope)];
        log::debug!("POST {} (device code)", self.device_code_url);
        let (status, body) = self.post(http, &self.device_code_url, &form).await?;
        if !status.is_success() {
            return Err(refused(status, &body).1);
        }
        let code: DeviceCodeAnswer =
            serde_json::from_slice(&body).map_err(|e| GraphError::Invalid {
                what: "the device code endpoint's answer".into(),
                reason: e.to_string(),
            })?;
        eprintln!(
            "m365-tool: to sign in, open {} in a browser and enter the code {} (within {} min)",
            code.verification_uri,
            code.user_code,
            code.expires_in.div_ceil(60)
        );
        let deadline = Instant::now() + Duration::from_secs(code.expires_in);
        let mut interval = Duration::from_secs(code.interval.max(1));
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", self.client_id.as_str()),
            ("device_code", code.device_code.as_str()),
        ];
        let expired = || GraphError::SignIn {
            message: format!(
                "the code {} expired before the sign-in was completed",
                code.user_code
            ),
            hint: "run the command again and enter the new code in time".to_owned(),
        };
        loop {
            if Instant::now() + interval > deadline {
                return Err(expired());
            }
            tokio::time::sleep(interval).await;
            match self.post_token(http, &form).await? {
                Answer::Token(answer) => return Ok(answer),
                Answer::Refused(error, refusal) => match error.as_str() {
                    "authorization_pending" => {}
                    "slow_down" => interval += Duration::from_secs(5),
                    "expired_token" | "code_expired" => return Err(expired()),
                    "authorization_declined" | "access_denied" => {
                        return Err(GraphError::SignIn {
                            message: "the sign-in was declined in the browser".to_owned(),
                            hint: "run the command again and accept the sign-in (an account that may not consent needs an administrator's consent for the app)".to_owned(),
                        });
                    }
                    _ => return Err(refusal),
                },
            }
        }
    }

    async fn post(
        &self,
        http: &reqwest::Client,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, Vec<u8>), GraphError> {
        let response = http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|e| GraphError::reach(url, &e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| GraphError::reach(url, &e))?;
        Ok((status, body.to_vec()))
    }

    /// Asks the token endpoint; a refusal is an answer too (its OAuth error).
    async fn post_token(
        &self,
        http: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> Result<Answer, GraphError> {
        let (status, body) = self.post(http, &self.token_url, form).await?;
        if !status.is_success() {
            let (error, refusal) = refused(status, &body);
            return Ok(Answer::Refused(error, refusal));
        }
        serde_json::from_slice(&body)
            .map(Answer::Token)
            .map_err(|e| GraphError::Invalid {
                what: "the token endpoint's answer".into(),
                reason: e.to_string(),
            })
    }

    async fn request(&self, http: &reqwest::Client) -> Result<(Secret, Duration), GraphError> {
        let assertion;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("scope", &self.scope),
        ];
        match &self.credential {
            Credential::Secret(secret) => form.push(("client_secret", secret.expose())),
            Credential::DeviceCode => {}
            Credential::Certificate(certificate) => {
                let mut id = [0u8; 16];
                getrandom::fill(&mut id).map_err(|e| GraphError::Invalid {
                    what: "the assertion".into(),
                    reason: e.to_string(),
                })?;
                let id = crate::assertion::base64url(&id);
                assertion = certificate
                    .assertion(
                        &self.client_id,
                        &self.token_url,
                        jiff::Timestamp::now().as_second(),
                        &id,
                    )
                    .map_err(|e| GraphError::Usage {
                        message: e.to_string(),
                    })?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                form.push(("client_assertion", assertion.expose()));
            }
        }
        log::debug!("POST {} (client credentials)", self.token_url);
        match self.post_token(http, &form).await? {
            Answer::Token(answer) => Ok((
                Secret::new(answer.access_token),
                Duration::from_secs(answer.expires_in),
            )),
            Answer::Refused(_, refusal) => Err(refusal),
        }
    }
}

/// A refused token request: its OAuth `error`, and the admin's line with the AADSTS number's
/// advice.
fn refused(status: reqwest::StatusCode, body: &[u8]) -> (String, GraphError) {
    let refused = odata::read_sign_in_error(body);
    let hint = odata::sign_in_hint(refused.as_ref().and_then(|r| r.aadsts));
    let error = refused
        .as_ref()
        .map_or_else(String::new, |r| r.error.clone());
    (
        error,
        GraphError::SignIn {
            message: refused.map_or_else(
                || format!("the token endpoint answered HTTP {}", status.as_u16()),
                |r| r.description,
            ),
            hint: hint.to_owned(),
        },
    )
}
