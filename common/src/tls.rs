//! TLS trust settings (`--ca-file`, `--insecure`) and, when a handshake fails, a diagnosis in
//! admin words: unknown CA, name mismatch, expired certificate.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The trust settings both tools accept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A PEM file of CA certificates trusted in addition to the system store.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification altogether.
    pub insecure: bool,
}

/// Why the TLS settings could not be turned into a connector.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read.
    #[error("cannot read the CA file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("the CA file {} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A certificate in the CA file could not be parsed.
    #[error("the CA file {} holds a certificate that cannot be parsed: {source}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// The TLS library's error.
        #[source]
        source: native_tls::Error,
    },
    /// The TLS library refused the settings.
    #[error("cannot set up TLS: {0}")]
    Library(#[source] native_tls::Error),
}

impl TlsOptions {
    /// A `native-tls` connector with these settings.
    pub fn native_connector(&self) -> Result<native_tls::TlsConnector, TlsSetupError> {
        let mut builder = native_tls::TlsConnector::builder();
        builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
        if let Some(path) = &self.ca_file {
            for certificate in load_pem_certificates(path)? {
                builder.add_root_certificate(certificate);
            }
        }
        if self.insecure {
            builder.danger_accept_invalid_certs(true);
            builder.danger_accept_invalid_hostnames(true);
        }
        builder.build().map_err(TlsSetupError::Library)
    }

    /// Prints the `--insecure` warning (every run, whatever the log level).
    pub fn warn_if_insecure(&self, tool: &str) {
        if self.insecure {
            eprintln!(
                "{tool}: warning: --insecure is set: the server's certificate is not checked, so anyone on the \
                 network path can read the password and the traffic"
            );
        }
    }
}

/// Reads every certificate of a PEM file (a bundle may hold several).
pub fn load_pem_certificates(path: &Path) -> Result<Vec<native_tls::Certificate>, TlsSetupError> {
    let text = std::fs::read_to_string(path).map_err(|source| TlsSetupError::Read {
        path: path.to_owned(),
        source,
    })?;
    let blocks = pem_certificate_blocks(&text);
    if blocks.is_empty() {
        return Err(TlsSetupError::NoCertificate {
            path: path.to_owned(),
        });
    }
    blocks
        .into_iter()
        .map(|block| {
            native_tls::Certificate::from_pem(block.as_bytes()).map_err(|source| {
                TlsSetupError::BadCertificate {
                    path: path.to_owned(),
                    source,
                }
            })
        })
        .collect()
}

fn pem_certificate_blocks(text: &str) -> Vec<&str> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        blocks.push(&rest[start..end]);
        rest = &rest[end..];
    }
    blocks
}

/// What was wrong with a server's certificate, found by a second, diagnostic handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate chains to a CA that is not trusted here.
    UnknownCa {
        /// The issuer named in the server's certificate.
        issuer: String,
    },
    /// The certificate does not carry the name the client connected to.
    NameMismatch {
        /// The name (or address) the client connected to.
        connected_to: String,
        /// The names the certificate carries.
        certificate_names: Vec<String>,
    },
    /// The certificate is outside its validity period.
    Expired {
        /// The end of the validity period.
        not_after: String,
    },
    /// The certificate is not valid yet.
    NotYetValid {
        /// The start of the validity period.
        not_before: String,
    },
    /// The server did not complete a TLS handshake at all (a plain LDAP or HTTP port?).
    NoHandshake {
        /// The library's reason.
        reason: String,
    },
    /// Verification failed for another reason.
    Other {
        /// The library's reason.
        reason: String,
    },
}

impl TlsProblem {
    /// The problem in admin words.
    pub fn describe(&self) -> String {
        match self {
            TlsProblem::UnknownCa { issuer } => {
                format!(
                    "the server's certificate is issued by a CA this machine does not trust ({issuer})"
                )
            }
            TlsProblem::NameMismatch {
                connected_to,
                certificate_names,
            } => format!(
                "the server's certificate is not valid for the name {connected_to} (it names {})",
                if certificate_names.is_empty() {
                    "nothing".to_owned()
                } else {
                    certificate_names.join(", ")
                }
            ),
            TlsProblem::Expired { not_after } => {
                format!("the server's certificate expired on {not_after}")
            }
            TlsProblem::NotYetValid { not_before } => {
                format!(
                    "the server's certificate is not valid before {not_before} (check both clocks)"
                )
            }
            TlsProblem::NoHandshake { reason } => {
                format!(
                    "the server did not complete a TLS handshake ({reason}); is this a TLS port?"
                )
            }
            TlsProblem::Other { reason } => {
                format!("the server's certificate was refused ({reason})")
            }
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            TlsProblem::UnknownCa { .. } => {
                Some("pass the issuing CA's certificate with --ca-file FILE.pem (or add it to the system store)".into())
            }
            TlsProblem::NameMismatch { certificate_names, .. } if !certificate_names.is_empty() => {
                Some(format!("connect with a name the certificate carries, e.g. {}", certificate_names[0]))
            }
            TlsProblem::NameMismatch { .. } => {
                Some("have the server's certificate reissued with its name in the subjectAltName".into())
            }
            TlsProblem::Expired { .. } => Some("have the server's certificate renewed".into()),
            TlsProblem::NoHandshake { .. } => Some("check the port, or use the plain-text port with StartTLS".into()),
            TlsProblem::NotYetValid { .. } | TlsProblem::Other { .. } => None,
        }
    }
}

/// Runs a diagnostic handshake against `host:port` with the same trust settings and reports
/// what is wrong with the server's certificate, if anything. `None` when the handshake works or
/// the cause cannot be told on this platform.
pub fn diagnose(
    host: &str,
    port: u16,
    options: &TlsOptions,
    timeout: Duration,
) -> Option<TlsProblem> {
    use std::net::ToSocketAddrs;
    let address = (host, port).to_socket_addrs().ok()?.next()?;
    let stream = std::net::TcpStream::connect_timeout(&address, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    diagnose_stream(host, stream, options)
}

/// Like [`diagnose`], on a connection that is ready for the TLS handshake (after a protocol's
/// own StartTLS exchange, say).
pub fn diagnose_stream(
    host: &str,
    stream: std::net::TcpStream,
    options: &TlsOptions,
) -> Option<TlsProblem> {
    imp::diagnose_stream(host, stream, options)
}

#[cfg(all(unix, not(target_os = "macos")))]
mod imp {
    //! The diagnosis uses OpenSSL directly: on these platforms `native-tls` is OpenSSL, so the
    //! verification here is the one that just failed, and OpenSSL names the reason as a code.
    use std::net::TcpStream;
    use std::sync::{Arc, Mutex};

    use openssl::nid::Nid;
    use openssl::ssl::{HandshakeError, SslConnector, SslMethod, SslVerifyMode};
    use openssl::x509::X509;

    use super::{TlsOptions, TlsProblem};

    // X509_V_ERR_* values from OpenSSL's x509_vfy.h.
    const CERT_NOT_YET_VALID: i32 = 9;
    const CERT_HAS_EXPIRED: i32 = 10;
    const DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
    const SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
    const UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
    const UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
    const HOSTNAME_MISMATCH: i32 = 62;
    const IP_ADDRESS_MISMATCH: i32 = 64;

    pub(super) fn diagnose_stream(
        host: &str,
        stream: TcpStream,
        options: &TlsOptions,
    ) -> Option<TlsProblem> {
        let mut builder = SslConnector::builder(SslMethod::tls_client()).ok()?;
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path).ok()?;
            for certificate in X509::stack_from_pem(&pem).ok()? {
                builder.cert_store_mut().add_cert(certificate).ok()?;
            }
        }
        // OpenSSL forgets the peer's certificate once verification fails, so the first failure
        // and the certificate it concerns are kept here as they happen.
        let first_failure: Arc<Mutex<Option<VerifyFailure>>> = Arc::default();
        let seen = Arc::clone(&first_failure);
        builder.set_verify_callback(SslVerifyMode::PEER, move |ok, context| {
            if !ok
                && let (Ok(mut slot), Some(cert)) = (seen.lock(), context.current_cert())
                && slot.is_none()
            {
                *slot = Some((
                    context.error().as_raw(),
                    context.error().error_string(),
                    cert.to_owned(),
                ));
            }
            ok
        });
        let connector = builder.build();
        let config = connector.configure().ok()?;
        match config.connect(host, stream) {
            Ok(_) => None,
            Err(HandshakeError::Failure(mid)) => {
                let captured = first_failure.lock().ok().and_then(|mut slot| slot.take());
                Some(match captured {
                    Some((code, reason, cert)) => classify(host, code, reason, &cert),
                    None => TlsProblem::NoHandshake {
                        reason: mid.error().to_string(),
                    },
                })
            }
            Err(HandshakeError::SetupFailure(e)) => Some(TlsProblem::Other {
                reason: e.to_string(),
            }),
            Err(HandshakeError::WouldBlock(_)) => Some(TlsProblem::NoHandshake {
                reason: "the server did not answer in time".into(),
            }),
        }
    }

    /// OpenSSL's verify error code, its text, and the certificate it concerns.
    type VerifyFailure = (i32, &'static str, X509);

    fn classify(host: &str, code: i32, reason: &str, peer: &X509) -> TlsProblem {
        match code {
            DEPTH_ZERO_SELF_SIGNED_CERT
            | SELF_SIGNED_CERT_IN_CHAIN
            | UNABLE_TO_GET_ISSUER_CERT_LOCALLY
            | UNABLE_TO_VERIFY_LEAF_SIGNATURE => TlsProblem::UnknownCa {
                issuer: name_text(peer.issuer_name()),
            },
            HOSTNAME_MISMATCH | IP_ADDRESS_MISMATCH => TlsProblem::NameMismatch {
                connected_to: host.to_owned(),
                certificate_names: certificate_names(peer),
            },
            CERT_HAS_EXPIRED => TlsProblem::Expired {
                not_after: peer.not_after().to_string(),
            },
            CERT_NOT_YET_VALID => TlsProblem::NotYetValid {
                not_before: peer.not_before().to_string(),
            },
            _ => TlsProblem::Other {
                reason: reason.to_owned(),
            },
        }
    }

    fn name_text(name: &openssl::x509::X509NameRef) -> String {
        name.entries()
            .filter_map(|e| {
                Some(format!(
                    "{}={}",
                    e.object().nid().short_name().ok()?,
                    e.data().to_string().ok()?
                ))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn certificate_names(certificate: &X509) -> Vec<String> {
        let mut names: Vec<String> = certificate
            .subject_alt_names()
            .map(|sans| {
                sans.iter()
                    .filter_map(|n| {
                        n.dnsname()
                            .map(str::to_owned)
                            .or_else(|| n.ipaddress().and_then(ip_text))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if names.is_empty() {
            names.extend(
                certificate
                    .subject_name()
                    .entries_by_nid(Nid::COMMONNAME)
                    .filter_map(|e| {
                        e.data()
                            .to_string()
                            .ok()
                            .map(|s| format!("{s} (subject CN only)"))
                    }),
            );
        }
        names
    }

    fn ip_text(bytes: &[u8]) -> Option<String> {
        match bytes.len() {
            4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
            16 => <[u8; 16]>::try_from(bytes)
                .ok()
                .map(|b| std::net::Ipv6Addr::from(b).to_string()),
            _ => None,
        }
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
mod imp {
    use super::{TlsOptions, TlsProblem};

    pub(super) fn diagnose_stream(
        _: &str,
        _: std::net::TcpStream,
        _: &TlsOptions,
    ) -> Option<TlsProblem> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_bundle_yields_every_block() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\
                    -----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\ntrailer";
        let blocks = pem_certificate_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[1].contains("BBB"));
    }

    #[test]
    fn ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = TlsOptions {
            ca_file: Some(path),
            insecure: false,
        }
        .native_connector()
        .unwrap_err();
        assert!(matches!(err, TlsSetupError::NoCertificate { .. }), "{err}");
    }

    #[test]
    fn unknown_ca_hints_at_ca_file() {
        let problem = TlsProblem::UnknownCa {
            issuer: "CN=Lab CA".into(),
        };
        assert!(problem.describe().contains("CN=Lab CA"));
        assert!(problem.hint().unwrap().contains("--ca-file"));
    }
}
