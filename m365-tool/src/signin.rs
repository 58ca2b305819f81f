//! Signing in as the application: OAuth 2.0 client credentials at the tenant's token endpoint,
//! with a client secret or a certificate's signed assertion, for Graph's `.default` scope. The
//! token is kept in memory for its lifetime (renewed five minutes before it ends, or when Graph
//! says it is no longer valid) and never logged.

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
}

/// The app's sign-in to one tenant.
#[derive(Debug)]
pub struct SignIn {
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub token_url: String,
    /// The application (client) ID.
    pub client_id: String,
    /// `{graph}/.default`.
    pub scope: String,
    credential: Credential,
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
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
        Self {
            token_url: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            ),
            client_id: client_id.to_owned(),
            scope: format!("{}/.default", graph.trim_end_matches('/')),
            credential,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// How the app signs in, for messages.
    pub fn method(&self) -> String {
        match &self.credential {
            Credential::Secret(_) => "a client secret".to_owned(),
            Credential::Certificate(c) => format!("the certificate with thumbprint {}", c.x5t),
        }
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
        let (token, lifetime) = self.request(http).await?;
        log::info!(
            "signed in as app {} with {} (token valid {} min)",
            self.client_id,
            self.method(),
            lifetime.as_secs() / 60
        );
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
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
        let response = http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| GraphError::reach(&self.token_url, &e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| GraphError::reach(&self.token_url, &e))?;
        if !status.is_success() {
            let refused = odata::read_sign_in_error(&body);
            let hint = odata::sign_in_hint(refused.as_ref().and_then(|r| r.aadsts));
            return Err(GraphError::SignIn {
                message: refused.map_or_else(
                    || format!("the token endpoint answered HTTP {}", status.as_u16()),
                    |r| r.description,
                ),
                hint: hint.to_owned(),
            });
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| GraphError::Invalid {
                what: "the token endpoint's answer".into(),
                reason: e.to_string(),
            })?;
        Ok((
            Secret::new(answer.access_token),
            Duration::from_secs(answer.expires_in),
        ))
    }
}
