//! What went wrong connecting, in words an admin can act on: a TLS failure gets a second,
//! diagnostic handshake that says what is wrong with the certificate (untrusted issuer, wrong
//! name, expired) rather than the TLS library's text alone.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use common::net::ReachError;
use common::tls::{TlsOptions, TlsProblem};
use ldap3::LdapError;

use super::connection::ConnectOptions;
use super::{DirectoryError, Endpoint, Transport};
use crate::diagnostic::LdapFailure;

/// Turns ldap3's connection error into one an admin can act on; a TLS failure gets a second,
/// diagnostic handshake that says what is wrong with the certificate.
pub(super) async fn connect_error(
    error: LdapError,
    options: &ConnectOptions,
    peer: Option<SocketAddr>,
) -> DirectoryError {
    let endpoint = options.endpoint.clone();
    let address = endpoint.address();
    match error {
        LdapError::NativeTLS { source } => {
            let tls = options.tls.clone();
            let timeout = options.timeout;
            let problem =
                tokio::task::spawn_blocking(move || diagnose_tls(&endpoint, peer, &tls, timeout))
                    .await
                    .ok()
                    .flatten();
            DirectoryError::Reach(ReachError::Tls {
                address,
                problem,
                reason: source.to_string(),
            })
        }
        LdapError::Timeout { .. } => DirectoryError::Reach(ReachError::Timeout {
            address,
            seconds: options.timeout.as_secs(),
        }),
        LdapError::LdapResult { result } => DirectoryError::StartTlsRefused {
            address,
            failure: LdapFailure::new(result.rc, &result.text),
        },
        LdapError::Io { source } => DirectoryError::Reach(ReachError::Connect { address, source }),
        other => DirectoryError::Broken {
            address,
            operation: "connecting",
            reason: other.to_string(),
        },
    }
}

fn diagnose_tls(
    endpoint: &Endpoint,
    peer: Option<SocketAddr>,
    tls: &TlsOptions,
    timeout: Duration,
) -> Option<TlsProblem> {
    let addr = peer?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    if endpoint.transport == Transport::StartTls {
        // ExtendedRequest { requestName 1.3.6.1.4.1.1466.20037 }, message id 1 (RFC 4511 4.14).
        let mut request = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
        request.extend_from_slice(b"1.3.6.1.4.1.1466.20037");
        stream.write_all(&request).ok()?;
        let mut header = [0u8; 2];
        stream.read_exact(&mut header).ok()?;
        let len = if header[1] < 0x80 {
            usize::from(header[1])
        } else {
            let mut len_bytes = vec![0u8; usize::from(header[1] & 0x7F)];
            stream.read_exact(&mut len_bytes).ok()?;
            len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        let mut body = vec![0u8; len.min(64 * 1024)];
        stream.read_exact(&mut body).ok()?;
    }
    common::tls::diagnose_stream(&endpoint.host, stream, tls)
}
