//! HTTPS connections to the EWS endpoint, each authenticated on its own: NTLM (and Negotiate
//! carrying NTLM) authenticates a TCP connection once, with the TLS channel binding, and later
//! requests on it need nothing more, as IIS does it; Basic sends its header on every request.
//! Built on hyper's connection-level client so the handshake cannot wander to another socket.

use std::time::Duration;

use bytes::Bytes;
use common::base64::{decode as base64_decode, encode as base64};
use common::net::ReachError;
use common::secret::Secret;
use common::tls::TlsOptions;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::channel_binding;
use crate::ntlm;

/// The largest response body read (a calendar's permission list is a few kilobytes).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    /// NTLMv2 in the `NTLM` or `Negotiate` scheme, once per connection.
    Ntlm {
        /// `DOMAIN\name` or a UPN.
        user: String,
        /// The password.
        password: Secret,
        /// Send the tokens under `Negotiate` (as Windows does when Kerberos is unavailable).
        negotiate: bool,
    },
    /// HTTP Basic, on every request (TLS only).
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
}

impl TransportError {
    /// Whether the logon itself failed (refused, or impossible with this server): trying it
    /// again on another connection only adds failed logons, which count towards the account's
    /// lockout, so a run stops at the first.
    pub fn is_logon_failure(&self) -> bool {
        matches!(
            self,
            TransportError::Refused { .. }
                | TransportError::SchemeNotOffered { .. }
                | TransportError::BadChallenge { .. }
        )
    }

    /// The same failure, for every request after the one that met it.
    pub fn repeat(&self) -> Option<Self> {
        Some(match self {
            TransportError::Refused {
                address,
                user,
                scheme,
            } => TransportError::Refused {
                address: address.clone(),
                user: user.clone(),
                scheme,
            },
            TransportError::SchemeNotOffered {
                address,
                scheme,
                offered,
            } => TransportError::SchemeNotOffered {
                address: address.clone(),
                scheme,
                offered: offered.clone(),
            },
            TransportError::BadChallenge { address, reason } => TransportError::BadChallenge {
                address: address.clone(),
                reason: reason.clone(),
            },
            _ => return None,
        })
    }
}

impl Auth {
    fn scheme(&self) -> &'static str {
        match self {
            Auth::Ntlm {
                negotiate: true, ..
            } => "Negotiate",
            Auth::Ntlm {
                negotiate: false, ..
            } => "NTLM",
            Auth::Basic { .. } => "Basic",
        }
    }

    /// The user, for messages.
    pub fn user(&self) -> &str {
        match self {
            Auth::Ntlm { user, .. } | Auth::Basic { user, .. } => user,
        }
    }
}

/// The EWS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path and query (`/EWS/Exchange.asmx`).
    pub path: String,
}

/// Why a URL is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{url}\" is not a usable EWS URL: {reason}")]
pub struct UrlError {
    url: String,
    reason: &'static str,
}

impl Endpoint {
    /// `https://HOST[:PORT]/PATH`; plain `http://` is refused: credentials and mailbox data
    /// would cross the network in clear.
    pub fn from_url(url: &str) -> Result<Self, UrlError> {
        let err = |reason| UrlError {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("use https://HOST/EWS/Exchange.asmx"))?;
        if scheme.eq_ignore_ascii_case("http") {
            return Err(err("plain http is refused; use https://"));
        }
        if !scheme.eq_ignore_ascii_case("https") {
            return Err(err("use https://HOST/EWS/Exchange.asmx"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/EWS/Exchange.asmx"),
        };
        if authority.contains('@') {
            return Err(err("credentials do not belong in the URL"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| err("unclosed IPv6 address"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = port.map_or(Ok(443), |p| {
            p.parse::<u16>()
                .map_err(|_| err("the port is not a number"))
        })?;
        if host.is_empty() {
            return Err(err("no host"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// `https://host:port/path` for messages.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            format!("https://{host}{}", self.path)
        } else {
            format!("https://{host}:{}{}", self.port, self.path)
        }
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Why a request did not get an HTTP answer, or got one that is not EWS.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server could not be reached (DNS, TCP, TLS).
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// The connection broke mid-request.
    #[error("the connection to {address} broke: {reason}")]
    ConnectionLost {
        /// Where.
        address: String,
        /// What happened.
        reason: String,
    },
    /// The server does not offer the scheme asked for.
    #[error("{address} does not offer {scheme} authentication (it offers {offered})")]
    SchemeNotOffered {
        /// Where.
        address: String,
        /// Asked for.
        scheme: &'static str,
        /// Offered, from `WWW-Authenticate`.
        offered: String,
    },
    /// The server refused the credentials.
    #[error("{address} refused the logon of {user}")]
    Refused {
        /// Where.
        address: String,
        /// Who.
        user: String,
        /// The scheme that was refused.
        scheme: &'static str,
    },
    /// The server's answer to the logon's first step is not an NTLM challenge (a proxy's
    /// error page, say).
    #[error("{address} answered the logon with something that is not an NTLM challenge: {reason}")]
    BadChallenge {
        /// Where.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The body exceeded [`MAX_RESPONSE_BYTES`].
    #[error("the answer from {address} is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge {
        /// Where.
        address: String,
    },
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// One TLS connection, authenticated at most once.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    address: String,
    /// `tls-server-end-point` application data for this connection's server certificate.
    channel_binding: Option<Vec<u8>>,
    authenticated: bool,
    /// How many requests this connection carried.
    pub requests: u64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.address)
            .field("authenticated", &self.authenticated)
            .finish_non_exhaustive()
    }
}

async fn within<T>(
    address: &str,
    timeout: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, TransportError> {
    Ok(common::net::within(address, timeout, fut).await?)
}

impl Connection {
    /// Opens TCP and TLS to the endpoint.
    pub async fn open(
        endpoint: &Endpoint,
        tls: &TlsOptions,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let address = format!("{}:{}", endpoint.host, endpoint.port);
        let tcp = common::net::connect_tcp(&endpoint.host, endpoint.port, &[], timeout).await?;
        let peer = tcp.peer_addr().ok();
        let connector =
            tokio_native_tls::TlsConnector::from(tls.native_connector().map_err(ReachError::from)?);
        let stream = match within(&address, timeout, connector.connect(&endpoint.host, tcp)).await?
        {
            Ok(stream) => stream,
            Err(error) => {
                let (host, tls, reason) = (endpoint.host.clone(), tls.clone(), error.to_string());
                let problem = match peer {
                    Some(peer) => tokio::task::spawn_blocking(move || {
                        common::tls::diagnose(&host, peer.port(), &tls, timeout).or_else(|| {
                            let stream =
                                std::net::TcpStream::connect_timeout(&peer, timeout).ok()?;
                            common::tls::diagnose_stream(&host, stream, &tls)
                        })
                    })
                    .await
                    .ok()
                    .flatten(),
                    None => None,
                };
                return Err(ReachError::Tls {
                    address,
                    problem,
                    reason,
                }
                .into());
            }
        };
        let channel_binding = stream
            .get_ref()
            .peer_certificate()
            .ok()
            .flatten()
            .and_then(|c| c.to_der().ok())
            .map(|der| channel_binding::application_data(&der));
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::ConnectionLost {
                address: address.clone(),
                reason: e.to_string(),
            })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        log::debug!("TLS connection to {address} open");
        Ok(Self {
            sender,
            address,
            channel_binding,
            authenticated: false,
            requests: 0,
        })
    }

    /// Whether the connection can carry another request.
    pub fn is_open(&self) -> bool {
        !self.sender.is_closed()
    }

    async fn send(
        &mut self,
        endpoint: &Endpoint,
        body: Bytes,
        authorization: Option<common::secret::Secret>,
        anchor: Option<&str>,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let lost = |address: &str, e: &dyn std::fmt::Display| TransportError::ConnectionLost {
            address: address.to_owned(),
            reason: e.to_string(),
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(endpoint.path.as_str())
            .header(header::HOST, endpoint.authority())
            .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header(
                header::USER_AGENT,
                concat!("ews-tool/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::ACCEPT, "text/xml");
        if let Some(value) = authorization {
            // The header's own copy belongs to the HTTP library, which does not wipe it.
            let mut value =
                HeaderValue::from_str(value.expose()).map_err(|e| lost(&self.address, &e))?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        if let Some(mailbox) = anchor {
            // Routes the request to the mailbox's server in multi-server sites.
            request = request.header("X-AnchorMailbox", mailbox);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| lost(&self.address, &e))?;
        let address = self.address.clone();
        within(&address, timeout, self.sender.ready())
            .await?
            .map_err(|e| lost(&address, &e))?;
        let response = within(&address, timeout, self.sender.send_request(request))
            .await?
            .map_err(|e| lost(&address, &e))?;
        self.requests += 1;
        let (parts, incoming) = response.into_parts();
        let body = within(
            &address,
            timeout,
            Limited::new(incoming, MAX_RESPONSE_BYTES).collect(),
        )
        .await?
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                TransportError::TooLarge {
                    address: address.clone(),
                }
            } else {
                lost(&address, &e)
            }
        })?
        .to_bytes();
        Ok(HttpResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends a SOAP request, authenticating the connection first if it is not yet.
    pub async fn post(
        &mut self,
        endpoint: &Endpoint,
        auth: &Auth,
        soap: &str,
        anchor: Option<&str>,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let body = Bytes::from(soap.to_owned());
        match auth {
            Auth::Basic { user, password } => {
                let credential = zeroize::Zeroizing::new(format!("{user}:{}", password.expose()));
                let header =
                    common::secret::Secret::new(format!("Basic {}", base64(credential.as_bytes())));
                let response = self
                    .send(endpoint, body, Some(header), anchor, timeout)
                    .await?;
                if response.status == StatusCode::UNAUTHORIZED {
                    return Err(self.refusal(auth, &response));
                }
                Ok(response)
            }
            Auth::Ntlm { .. } => {
                if self.authenticated {
                    let response = self
                        .send(endpoint, body.clone(), None, anchor, timeout)
                        .await?;
                    if response.status != StatusCode::UNAUTHORIZED {
                        return Ok(response);
                    }
                    // The server forgot this connection's logon: once more from the start.
                    log::debug!("{}: authentication expired, logging on again", self.address);
                    self.authenticated = false;
                }
                self.ntlm_handshake(endpoint, auth, body, anchor, timeout)
                    .await
            }
        }
    }

    async fn ntlm_handshake(
        &mut self,
        endpoint: &Endpoint,
        auth: &Auth,
        body: Bytes,
        anchor: Option<&str>,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let Auth::Ntlm { user, password, .. } = auth else {
            unreachable!("only NTLM has a handshake")
        };
        let scheme = auth.scheme();
        let negotiate = ntlm::negotiate();
        let first = self
            .send(
                endpoint,
                Bytes::new(),
                Some(common::secret::Secret::new(format!(
                    "{scheme} {}",
                    base64(&negotiate)
                ))),
                anchor,
                timeout,
            )
            .await?;
        if first.status != StatusCode::UNAUTHORIZED {
            // No authentication required: send the real request.
            self.authenticated = true;
            return self.send(endpoint, body, None, anchor, timeout).await;
        }
        let Some(challenge_message) = challenge_token(&first.headers, scheme) else {
            return Err(TransportError::SchemeNotOffered {
                address: self.address.clone(),
                scheme,
                offered: offered_schemes(&first.headers),
            });
        };
        let challenge = ntlm::parse_challenge(&challenge_message).map_err(|e| {
            TransportError::BadChallenge {
                address: self.address.clone(),
                reason: e.to_string(),
            }
        })?;
        let target_name = format!("HTTP/{}", endpoint.host);
        let credentials = ntlm::Credentials {
            user,
            password: password.expose(),
            target_name: &target_name,
            channel_binding: self.channel_binding.as_deref(),
        };
        let authenticate = ntlm::authenticate(
            &credentials,
            &negotiate,
            &challenge_message,
            &challenge,
            ntlm::client_challenge(),
            ntlm::now_filetime(),
        );
        let response = self
            .send(
                endpoint,
                body,
                Some(common::secret::Secret::new(format!(
                    "{scheme} {}",
                    base64(&authenticate)
                ))),
                anchor,
                timeout,
            )
            .await?;
        if response.status == StatusCode::UNAUTHORIZED {
            return Err(self.refusal(auth, &response));
        }
        self.authenticated = true;
        log::debug!("{}: authenticated as {user} ({scheme})", self.address);
        Ok(response)
    }

    /// What a 401 means: the scheme is not offered at all, or the credentials were refused.
    fn refusal(&self, auth: &Auth, response: &HttpResponse) -> TransportError {
        let scheme = auth.scheme();
        let offers = |name: &str| {
            response
                .headers
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| {
                    v.split_whitespace()
                        .next()
                        .is_some_and(|s| s.eq_ignore_ascii_case(name))
                })
        };
        let offered = offered_schemes(&response.headers);
        if !offered.is_empty() && !offers(scheme) {
            return TransportError::SchemeNotOffered {
                address: self.address.clone(),
                scheme,
                offered,
            };
        }
        TransportError::Refused {
            address: self.address.clone(),
            user: auth.user().to_owned(),
            scheme,
        }
    }
}

/// The token of `scheme` in the `WWW-Authenticate` headers of a 401.
fn challenge_token(headers: &HeaderMap, scheme: &str) -> Option<Vec<u8>> {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|value| {
            let (name, token) = value.trim().split_once(' ')?;
            if name.eq_ignore_ascii_case(scheme) {
                base64_decode(token.trim())
            } else {
                None
            }
        })
}

fn offered_schemes(headers: &HeaderMap) -> String {
    let schemes: Vec<String> = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split_whitespace().next().map(str::to_owned))
        .collect();
    if schemes.is_empty() {
        "nothing".into()
    } else {
        schemes.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::from_url("https://mail.corp.example/EWS/Exchange.asmx").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("mail.corp.example", 443, "/EWS/Exchange.asmx")
        );
        assert_eq!(e.url(), "https://mail.corp.example/EWS/Exchange.asmx");
        let e = Endpoint::from_url("https://127.0.0.1:8443").unwrap();
        assert_eq!((e.port, e.path.as_str()), (8443, "/EWS/Exchange.asmx"));
        assert_eq!(
            Endpoint::from_url("https://[::1]:8443/x")
                .unwrap()
                .authority(),
            "[::1]:8443"
        );
        for bad in [
            "http://mail/EWS/Exchange.asmx",
            "mail.corp.example",
            "ftp://x",
            "https://user:pw@mail/",
            "https://:443/",
        ] {
            assert!(Endpoint::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn challenge_tokens_are_found_by_scheme() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Negotiate"),
        );
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("NTLM TlRMTVNTUAAC"),
        );
        assert_eq!(
            challenge_token(&headers, "NTLM").unwrap()[..7],
            b"NTLMSSP"[..]
        );
        assert_eq!(challenge_token(&headers, "Negotiate"), None);
        assert_eq!(offered_schemes(&headers), "Negotiate, NTLM");
    }
}
