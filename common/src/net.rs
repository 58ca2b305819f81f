//! Reaching a server, before any protocol: name resolution, TCP with a deadline, and the TLS
//! handshake's failure. Both tools fail here the same way; only the option an admin should
//! check differs, which [`ReachHints`] carries.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::tls::{TlsProblem, TlsSetupError};
use crate::{CommandError, ExitStatus};

/// Why a server could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// The host name does not resolve.
    #[error("cannot resolve the name {host}: {reason}")]
    Resolve {
        /// The name.
        host: String,
        /// The resolver's reason.
        reason: String,
    },
    /// No TCP connection.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// Where.
        address: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// No answer in time.
    #[error("{address} did not answer within {seconds} s")]
    Timeout {
        /// Where.
        address: String,
        /// The limit.
        seconds: u64,
    },
    /// The TLS handshake failed.
    #[error("TLS with {address} failed: {}", problem.as_ref().map_or_else(|| reason.clone(), TlsProblem::describe))]
    Tls {
        /// Where.
        address: String,
        /// What is wrong with the certificate, when a diagnosis could tell.
        problem: Option<TlsProblem>,
        /// The TLS library's reason.
        reason: String,
    },
    /// The TLS settings are unusable.
    #[error(transparent)]
    TlsSetup(#[from] TlsSetupError),
}

/// What to tell the admin to check, in the tool's own option names.
#[derive(Debug, Clone, Copy)]
pub struct ReachHints {
    /// When the name does not resolve.
    pub resolve: &'static str,
    /// When TCP fails.
    pub connect: &'static str,
    /// When the server does not answer in time.
    pub timeout: &'static str,
}

impl ReachError {
    /// Whether another server of the same service might do better (failover).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ReachError::Resolve { .. } | ReachError::Connect { .. } | ReachError::Timeout { .. }
        )
    }

    /// The operator's line: exit 3 (cannot connect), or 2 for unusable TLS settings.
    pub fn explain(&self, hints: &ReachHints) -> CommandError {
        match self {
            ReachError::Resolve { host, reason } => CommandError::new(
                ExitStatus::Connect,
                format!("cannot resolve the name {host} ({reason})"),
            )
            .with_hint(hints.resolve)
            .with_code("resolve"),
            ReachError::Connect { address, source } => CommandError::new(
                ExitStatus::Connect,
                format!("cannot connect to {address} ({source})"),
            )
            .with_hint(hints.connect)
            .with_code("connect"),
            ReachError::Timeout { address, seconds } => CommandError::new(
                ExitStatus::Connect,
                format!("{address} did not answer within {seconds} s"),
            )
            .with_hint(hints.timeout)
            .with_code("timeout"),
            ReachError::Tls {
                address,
                problem,
                reason,
            } => {
                let message = match problem {
                    Some(problem) => format!("TLS with {address} failed: {}", problem.describe()),
                    None => format!("TLS with {address} failed ({reason})"),
                };
                let error = CommandError::new(ExitStatus::Connect, message)
                    .with_code("tls")
                    .with_detail(reason.clone());
                match problem.as_ref().and_then(TlsProblem::hint) {
                    Some(hint) => error.with_hint(hint),
                    None => error,
                }
            }
            ReachError::TlsSetup(e) => CommandError::usage(e.to_string()).with_code("tls-setup"),
        }
    }
}

/// `fut`, or [`ReachError::Timeout`] naming `address` when it takes longer than `timeout`.
pub async fn within<T>(
    address: &str,
    timeout: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, ReachError> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| ReachError::Timeout {
            address: address.to_owned(),
            seconds: timeout.as_secs(),
        })
}

/// A TCP connection to `host:port`: to the `known` addresses if there are any, else to each
/// address the name resolves to in turn, each attempt bounded by `timeout`.
pub async fn connect_tcp(
    host: &str,
    port: u16,
    known: &[IpAddr],
    timeout: Duration,
) -> Result<tokio::net::TcpStream, ReachError> {
    let address = format!("{host}:{port}");
    let addrs: Vec<SocketAddr> = if known.is_empty() {
        within(&address, timeout, tokio::net::lookup_host((host, port)))
            .await?
            .map_err(|e| ReachError::Resolve {
                host: host.to_owned(),
                reason: e.to_string(),
            })?
            .collect()
    } else {
        known.iter().map(|ip| SocketAddr::new(*ip, port)).collect()
    };
    let mut last = None;
    for addr in addrs {
        match within(&address, timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                log::debug!("TCP connection to {addr}");
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(source)) => {
                last = Some(ReachError::Connect {
                    address: address.clone(),
                    source,
                });
            }
            Err(timeout) => last = Some(timeout),
        }
    }
    Err(last.unwrap_or(ReachError::Resolve {
        host: host.to_owned(),
        reason: "no addresses".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HINTS: ReachHints = ReachHints {
        resolve: "check --server",
        connect: "check the port",
        timeout: "raise --timeout",
    };

    #[test]
    fn each_failure_names_its_fix_and_exit_code() {
        let refused = ReachError::Connect {
            address: "dc1:636".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let error = refused.explain(&HINTS);
        assert_eq!(error.status, ExitStatus::Connect);
        assert!(error.to_string().contains("check the port"), "{error}");
        assert!(refused.is_unreachable());
        let tls = ReachError::Tls {
            address: "dc1:636".into(),
            problem: Some(TlsProblem::UnknownCa {
                issuer: "CN=Lab CA".into(),
            }),
            reason: "certificate verify failed".into(),
        };
        assert!(!tls.is_unreachable());
        assert!(tls.explain(&HINTS).to_string().contains("--ca-file"));
    }

    #[test]
    fn a_closed_port_is_a_connect_failure() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let result = runtime.block_on(connect_tcp("127.0.0.1", port, &[], Duration::from_secs(5)));
        assert!(
            matches!(result, Err(ReachError::Connect { .. })),
            "{result:?}"
        );
    }
}
