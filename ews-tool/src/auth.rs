//! How requests authenticate, behind one seam: a [`Mechanism`] (NTLM, Negotiate, Basic; later
//! Kerberos or an OAuth bearer token) makes a step-wise [`Authenticator`] per connection that
//! takes the server's challenge and gives the next `Authorization` value until the logon is
//! done. The transport drives the steps and never names a mechanism.

use common::base64::encode as base64;
use common::secret::Secret;

use crate::ntlm;

/// The next step of a logon.
#[derive(Debug)]
pub enum Leg {
    /// Send this `Authorization` value without the request's body and expect a challenge (a
    /// 401 carrying a token of the mechanism's scheme) back.
    More(Secret),
    /// Send this value with the request itself: its answer is the request's.
    Last(Secret),
}

/// Why a logon step could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The server's challenge is not one of this mechanism's.
    #[error("{0}")]
    BadChallenge(String),
    /// A challenge came where none was expected, or none where one was.
    #[error("the logon went out of step: {0}")]
    OutOfStep(&'static str),
    /// Kerberos could not make a logon: no ticket, an expired one, no such service principal.
    #[error("{message}")]
    Kerberos {
        /// What went wrong, in an administrator's words.
        message: String,
        /// What to do.
        hint: String,
    },
}

/// `--spn-from-cname`: the service principal names the host the URL's host is an alias of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CnameLookup {
    /// The DNS server to ask (`None`: the system's).
    pub dns_server: Option<std::net::IpAddr>,
}

/// One connection's logon in progress.
pub trait Authenticator: Send {
    /// The next `Authorization` value: the first one (`challenge` is `None`), or the answer to
    /// the server's challenge token.
    fn next(&mut self, challenge: Option<&[u8]>) -> Result<Leg, AuthError>;
}

/// A way to log on.
pub trait Mechanism: Send + Sync + std::fmt::Debug {
    /// The HTTP scheme (`NTLM`, `Negotiate`, `Basic`).
    fn scheme(&self) -> &'static str;
    /// Who logs on, for messages.
    fn user(&self) -> &str;
    /// Whether a logged-on connection carries later requests without logging on again (NTLM,
    /// Negotiate), or every request carries its credentials (Basic, bearer tokens).
    fn per_connection(&self) -> bool;
    /// Whether it logs on with a Kerberos ticket rather than a password (a refusal then means
    /// something else than a wrong password).
    fn ticket(&self) -> bool {
        false
    }
    /// Whether the service principal's host follows the URL host's CNAME records (and asked
    /// of which DNS server); `None` for the URL's host as written, as browsers do by default.
    fn spn_from_cname(&self) -> Option<CnameLookup> {
        None
    }
    /// A logon for a connection to `host` whose TLS channel binding (RFC 5929
    /// `tls-server-end-point` application data) is `binding`.
    fn start(&self, host: &str, binding: Option<&[u8]>) -> Box<dyn Authenticator>;
}

/// NTLMv2 (MS-NLMP) in the `NTLM` scheme, or in `Negotiate` as Windows sends it when Kerberos
/// is not at hand: negotiate, challenge, authenticate, once per connection.
#[derive(Debug, Clone)]
pub struct Ntlm {
    /// `DOMAIN\name` or a UPN.
    pub user: String,
    /// The password.
    pub password: Secret,
    /// Send the tokens under `Negotiate`.
    pub negotiate: bool,
}

impl Mechanism for Ntlm {
    fn scheme(&self) -> &'static str {
        if self.negotiate { "Negotiate" } else { "NTLM" }
    }

    fn user(&self) -> &str {
        &self.user
    }

    fn per_connection(&self) -> bool {
        true
    }

    fn start(&self, host: &str, binding: Option<&[u8]>) -> Box<dyn Authenticator> {
        Box::new(NtlmLogon {
            mechanism: self.clone(),
            target_name: format!("HTTP/{host}"),
            binding: binding.map(<[u8]>::to_vec),
            negotiate: None,
        })
    }
}

struct NtlmLogon {
    mechanism: Ntlm,
    target_name: String,
    binding: Option<Vec<u8>>,
    /// The negotiate message sent, which the authenticate message's MIC covers.
    negotiate: Option<Vec<u8>>,
}

impl Authenticator for NtlmLogon {
    fn next(&mut self, challenge: Option<&[u8]>) -> Result<Leg, AuthError> {
        let scheme = self.mechanism.scheme();
        match (challenge, &self.negotiate) {
            (None, None) => {
                let negotiate = ntlm::negotiate();
                let value = Secret::new(format!("{scheme} {}", base64(&negotiate)));
                self.negotiate = Some(negotiate);
                Ok(Leg::More(value))
            }
            (Some(message), Some(negotiate)) => {
                let parsed = ntlm::parse_challenge(message)
                    .map_err(|e| AuthError::BadChallenge(e.to_string()))?;
                let credentials = ntlm::Credentials {
                    user: &self.mechanism.user,
                    password: self.mechanism.password.expose(),
                    target_name: &self.target_name,
                    channel_binding: self.binding.as_deref(),
                };
                let authenticate = ntlm::authenticate(
                    &credentials,
                    negotiate,
                    message,
                    &parsed,
                    ntlm::client_challenge(),
                    ntlm::now_filetime(),
                );
                Ok(Leg::Last(Secret::new(format!(
                    "{scheme} {}",
                    base64(&authenticate)
                ))))
            }
            (None, Some(_)) => Err(AuthError::OutOfStep(
                "no challenge after the negotiate message",
            )),
            (Some(_), None) => Err(AuthError::OutOfStep(
                "a challenge before the negotiate message",
            )),
        }
    }
}

/// HTTP Basic: the credentials with every request (over TLS only).
#[derive(Debug, Clone)]
pub struct Basic {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: Secret,
}

impl Mechanism for Basic {
    fn scheme(&self) -> &'static str {
        "Basic"
    }

    fn user(&self) -> &str {
        &self.user
    }

    fn per_connection(&self) -> bool {
        false
    }

    fn start(&self, _host: &str, _binding: Option<&[u8]>) -> Box<dyn Authenticator> {
        Box::new(BasicLogon(self.clone()))
    }
}

struct BasicLogon(Basic);

impl Authenticator for BasicLogon {
    fn next(&mut self, _challenge: Option<&[u8]>) -> Result<Leg, AuthError> {
        let credential =
            zeroize::Zeroizing::new(format!("{}:{}", self.0.user, self.0.password.expose()));
        Ok(Leg::Last(Secret::new(format!(
            "Basic {}",
            base64(credential.as_bytes())
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntlm_is_negotiate_then_authenticate_and_refuses_a_garbage_challenge() {
        let mechanism = Ntlm {
            user: "LAB\\svc".into(),
            password: Secret::new("Secret-1".into()),
            negotiate: true,
        };
        assert!(mechanism.per_connection());
        let mut logon = mechanism.start("mail.lab.example", None);
        let Ok(Leg::More(first)) = logon.next(None) else {
            panic!("a negotiate leg first")
        };
        assert!(
            first.expose().starts_with("Negotiate TlRMTVNTUAAB"),
            "NTLMSSP type 1"
        );
        let error = logon.next(Some(b"<html>proxy error</html>")).err();
        assert!(
            matches!(error, Some(AuthError::BadChallenge(_))),
            "{error:?}"
        );
    }

    #[test]
    fn basic_goes_with_every_request() {
        let mechanism = Basic {
            user: "svc".into(),
            password: Secret::new("pw".into()),
        };
        assert!(!mechanism.per_connection());
        let Ok(Leg::Last(value)) = mechanism.start("mail", None).next(None) else {
            panic!("one leg")
        };
        assert_eq!(value.expose(), "Basic c3ZjOnB3");
    }
}
