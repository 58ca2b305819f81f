//! Logons as IIS does them: NTLM (and NTLM inside Negotiate) bound to the TCP connection and
//! checked by the lab's domain controller, optionally with the TLS channel binding (Extended
//! Protection), and Basic when enabled.

use http::{Response, StatusCode, header};

use super::super::auth::{self, NtlmHelper};
use super::super::directory::Principal;
use super::{Body, Simulator, lock, respond};

/// How a connection has logged on.
#[derive(Default)]
pub(super) struct ConnectionState {
    /// The account an NTLM handshake authenticated on this connection.
    account: Option<Principal>,
    /// A handshake in progress.
    helper: Option<NtlmHelper>,
    /// When the handshake in progress began: the client sent its request then.
    handshake_began: Option<std::time::Instant>,
}

impl ConnectionState {
    /// When the client sent the request that arrived at `arrived`: at the start of the
    /// handshake it completes, if it completes one.
    pub(super) fn sent_at(&mut self, arrived: std::time::Instant) -> std::time::Instant {
        self.handshake_began.take().unwrap_or(arrived)
    }
}

impl Simulator {
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
    pub(super) async fn logon(
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
                connection.handshake_began = Some(std::time::Instant::now());
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
            // SPNEGO (ASN.1 application 0) or a raw Kerberos AP-REQ under Negotiate.
            None if scheme == "Negotiate" && token.first() == Some(&0x60) => {
                let Some(account) = self.kerberos_logon(&token).await else {
                    lock(&self.state).stats.refused_logons += 1;
                    return Err(self.challenge_all());
                };
                lock(&self.state).stats.kerberos_logons += 1;
                connection.account = Some(account.clone());
                Ok(account)
            }
            _ => Err(self.challenge_all()),
        }
    }

    /// Accepts a Kerberos logon against the web site's keytab (`KRB5_KTNAME`) through the
    /// system's GSSAPI (tests/helpers/gss_accept.py): the account whose ticket it is, when the
    /// ticket is good and, with Extended Protection on, carries this site's TLS channel binding.
    /// One leg: the AP-REQ carries it all.
    async fn kerberos_logon(&self, token: &[u8]) -> Option<Principal> {
        let (extended_protection, stale) = {
            let state = lock(&self.state);
            (
                state.settings.extended_protection,
                state.faults.stale_keytab,
            )
        };
        let binding = if extended_protection {
            common::base64::encode(&auth::binding_data(&self.certificate_der))
        } else {
            String::new()
        };
        let verdict = auth::gss_accept(token, &binding, stale).await.ok()?;
        let mut words = verdict.split_whitespace();
        let (Some("OK"), Some(client), Some(bound)) = (words.next(), words.next(), words.next())
        else {
            return None;
        };
        if extended_protection && bound != "bound" {
            let mut state = lock(&self.state);
            state.stats.channel_binding_refusals += 1;
            return None;
        }
        let (user, _realm) = client.split_once('@').unwrap_or((client, ""));
        self.directory.by_sam(user)
    }
}
