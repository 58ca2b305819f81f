//! HTTPS connections to the EWS endpoint, each authenticated on its own through the
//! [`crate::auth`] seam: a per-connection mechanism (NTLM, Negotiate) logs a TCP connection on
//! once, with the TLS channel binding, and later requests on it need nothing more, as IIS does
//! it; a per-request one (Basic) sends its header every time. Built on hyper's
//! connection-level client rather than reqwest's pool: these logons authenticate one TCP
//! connection, and the channel binding needs that connection's certificate, so the handshake
//! must never wander to another socket.

use std::time::Duration;

use bytes::Bytes;
use common::base64::decode as base64_decode;
use common::net::ReachError;
use common::secret::Secret;
use common::tls::TlsOptions;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::auth::{AuthError, Leg, Mechanism};
use crate::endpoint::Endpoint;

/// The largest response body read (a calendar's permission list is a few kilobytes).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The TLS side of every connection of a run: the connector (the system trust store and
/// `--ca-file`, loaded once) and the settings a failed handshake is diagnosed with.
#[derive(Clone)]
pub struct Tls {
    /// Built once per run and shared by every connection.
    pub connector: tokio_native_tls::TlsConnector,
    /// What it was built from.
    pub options: TlsOptions,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The connector for `options` (loading the trust store: do it once).
    pub fn new(options: TlsOptions) -> Result<Self, ReachError> {
        Ok(Self {
            connector: tokio_native_tls::TlsConnector::from(options.native_connector()?),
            options,
        })
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
    /// The server refused a Kerberos ticket the KDC issued for it.
    #[error("{address} refused the Kerberos ticket of {principal}")]
    TicketRefused {
        /// Where.
        address: String,
        /// Whose ticket.
        principal: String,
        /// The service principal the ticket was for.
        spn: String,
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
    /// Kerberos could not make the logon's token (no ticket, expired, unknown SPN).
    #[error("{address}: {message}")]
    Kerberos {
        /// Where.
        address: String,
        /// What went wrong.
        message: String,
        /// What to do.
        hint: String,
    },
    /// The body exceeded [`MAX_RESPONSE_BYTES`].
    #[error("the answer from {address} is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge {
        /// Where.
        address: String,
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
                | TransportError::TicketRefused { .. }
                | TransportError::SchemeNotOffered { .. }
                | TransportError::BadChallenge { .. }
                | TransportError::Kerberos { .. }
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
            TransportError::TicketRefused {
                address,
                principal,
                spn,
            } => TransportError::TicketRefused {
                address: address.clone(),
                principal: principal.clone(),
                spn: spn.clone(),
            },
            TransportError::Kerberos {
                address,
                message,
                hint,
            } => TransportError::Kerberos {
                address: address.clone(),
                message: message.clone(),
                hint: hint.clone(),
            },
            _ => return None,
        })
    }
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
        tls: &Tls,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let address = format!("{}:{}", endpoint.host, endpoint.port);
        let tcp = common::net::connect_tcp(&endpoint.host, endpoint.port, &[], timeout).await?;
        let peer = tcp.peer_addr().ok();
        let stream = match within(
            &address,
            timeout,
            tls.connector.connect(&endpoint.host, tcp),
        )
        .await?
        {
            Ok(stream) => stream,
            Err(error) => {
                let (host, tls, reason) = (
                    endpoint.host.clone(),
                    tls.options.clone(),
                    error.to_string(),
                );
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
        // RFC 5929 tls-server-end-point: the TLS library hashes the server's certificate.
        let channel_binding = stream
            .get_ref()
            .tls_server_end_point()
            .ok()
            .flatten()
            .map(|hash| crate::channel_binding::application_data(&hash));
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
        authorization: Option<Secret>,
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

    /// Sends a SOAP request, logging the connection on first when it is not yet (or with every
    /// request, for a per-request mechanism).
    pub async fn post(
        &mut self,
        endpoint: &Endpoint,
        mechanism: &dyn Mechanism,
        soap: &str,
        anchor: Option<&str>,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let body = Bytes::from(soap.to_owned());
        if mechanism.per_connection() && self.authenticated {
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
        self.log_on(endpoint, mechanism, body, anchor, timeout)
            .await
    }

    /// Runs the mechanism's legs on this connection: each `More` leg goes without the body and
    /// must be answered with a challenge; the `Last` leg carries the request itself.
    async fn log_on(
        &mut self,
        endpoint: &Endpoint,
        mechanism: &dyn Mechanism,
        body: Bytes,
        anchor: Option<&str>,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let scheme = mechanism.scheme();
        let host = self.spn_host(endpoint, mechanism, timeout).await;
        let mut logon = mechanism.start(&host, self.channel_binding.as_deref());
        let mut challenge: Option<Vec<u8>> = None;
        loop {
            match logon
                .next(challenge.as_deref())
                .map_err(|e| self.logon_error(&e))?
            {
                Leg::More(value) => {
                    let answer = self
                        .send(endpoint, Bytes::new(), Some(value), anchor, timeout)
                        .await?;
                    if answer.status != StatusCode::UNAUTHORIZED {
                        // No logon required here: send the request itself.
                        self.authenticated = mechanism.per_connection();
                        return self.send(endpoint, body, None, anchor, timeout).await;
                    }
                    challenge =
                        Some(challenge_token(&answer.headers, scheme).ok_or_else(|| {
                            TransportError::SchemeNotOffered {
                                address: self.address.clone(),
                                scheme,
                                offered: offered_schemes(&answer.headers),
                            }
                        })?);
                }
                Leg::Last(value) => {
                    let response = self
                        .send(endpoint, body, Some(value), anchor, timeout)
                        .await?;
                    if response.status == StatusCode::UNAUTHORIZED {
                        return Err(self.refusal(mechanism, &response, &host));
                    }
                    self.authenticated = mechanism.per_connection();
                    log::debug!(
                        "{}: logged on as {} ({scheme})",
                        self.address,
                        mechanism.user()
                    );
                    return Ok(response);
                }
            }
        }
    }

    /// The host the logon names (the Kerberos service principal's): the URL's, or with
    /// `--spn-from-cname` the name it is an alias of (the URL's when the lookup fails).
    async fn spn_host(
        &self,
        endpoint: &Endpoint,
        mechanism: &dyn Mechanism,
        timeout: Duration,
    ) -> String {
        let Some(lookup) = mechanism.spn_from_cname() else {
            return endpoint.host.clone();
        };
        match directory::dns::canonical_name(&endpoint.host, lookup.dns_server, timeout).await {
            Ok(name) => {
                if name != endpoint.host.to_ascii_lowercase() {
                    log::info!(
                        "service principal HTTP/{name}: {} is an alias of it (--spn-from-cname)",
                        endpoint.host
                    );
                }
                name
            }
            Err(e) => {
                log::warn!(
                    "cannot look up the CNAME of {} ({e}); the service principal names it as written",
                    endpoint.host
                );
                endpoint.host.clone()
            }
        }
    }

    fn logon_error(&self, error: &AuthError) -> TransportError {
        match error {
            AuthError::Kerberos { message, hint } => TransportError::Kerberos {
                address: self.address.clone(),
                message: message.clone(),
                hint: hint.clone(),
            },
            _ => TransportError::BadChallenge {
                address: self.address.clone(),
                reason: error.to_string(),
            },
        }
    }

    /// What a 401 means: the scheme is not offered at all, or the credentials were refused.
    fn refusal(
        &self,
        mechanism: &dyn Mechanism,
        response: &HttpResponse,
        host: &str,
    ) -> TransportError {
        let scheme = mechanism.scheme();
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
        if mechanism.ticket() {
            return TransportError::TicketRefused {
                address: self.address.clone(),
                principal: mechanism.user().to_owned(),
                spn: format!("HTTP/{host}"),
            };
        }
        TransportError::Refused {
            address: self.address.clone(),
            user: mechanism.user().to_owned(),
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
