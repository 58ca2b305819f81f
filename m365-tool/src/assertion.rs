//! The client assertion of a certificate sign-in (RFC 7523, as the Microsoft identity platform
//! takes it): a JWT signed RS256 with the certificate's private key, naming the app as issuer
//! and subject and the token endpoint as audience, valid for ten minutes, with the
//! certificate's SHA-1 (`x5t`) and SHA-256 (`x5t#S256`) thumbprints in its header so the
//! platform finds the key among the app's certificates. Signing is jsonwebtoken's.

use std::path::{Path, PathBuf};

use common::secret::Secret;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::Digest as _;

/// A certificate and its private key, ready to sign assertions.
#[derive(Clone)]
pub struct Certificate {
    path: PathBuf,
    /// The base64url SHA-1 thumbprint of the certificate (DER).
    pub x5t: String,
    /// The base64url SHA-256 thumbprint.
    pub x5t_s256: String,
    key: EncodingKey,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("path", &self.path)
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

/// Why a certificate file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct CertificateError {
    path: String,
    reason: String,
}

/// base64url without padding (RFC 7515).
pub fn base64url(bytes: &[u8]) -> String {
    common::base64::encode(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// The body of the first PEM block labelled `label`, decoded.
fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    common::base64::decode(&body)
}

/// The text of the first PEM block whose label is one of `labels`, whole.
fn pem_text<'a>(text: &'a str, labels: &[&str]) -> Option<&'a str> {
    labels.iter().find_map(|label| {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let start = text.find(&begin)?;
        let stop = start + text[start..].find(&end)? + end.len();
        Some(&text[start..stop])
    })
}

impl Certificate {
    /// Reads a PEM file holding the certificate and its RSA private key (PKCS#8 or PKCS#1).
    pub fn load(path: &Path) -> Result<Self, CertificateError> {
        let error = |reason: String| CertificateError {
            path: path.display().to_string(),
            reason,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| error(format!("cannot read it: {e}")))?;
        let der = pem_block(&text, "CERTIFICATE").ok_or_else(|| {
            error("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into())
        })?;
        let key_pem = pem_text(&text, &["PRIVATE KEY", "RSA PRIVATE KEY"]).ok_or_else(|| {
            error(
                "it holds no private key (-----BEGIN PRIVATE KEY-----); put the certificate and its key in one PEM file"
                    .into(),
            )
        })?;
        let key = EncodingKey::from_rsa_pem(key_pem.as_bytes())
            .map_err(|e| error(format!("the private key is not a usable RSA key ({e})")))?;
        Ok(Self {
            path: path.to_owned(),
            x5t: base64url(&sha1::Sha1::digest(&der)),
            x5t_s256: base64url(&sha2::Sha256::digest(&der)),
            key,
        })
    }

    /// A signed assertion for `client_id` at the token endpoint `audience`, issued at `now`
    /// (Unix seconds) with the unique `id`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
        id: &str,
    ) -> Result<Secret, CertificateError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: &'a str,
            nbf: i64,
            iat: i64,
            exp: i64,
        }
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(self.x5t.clone());
        header.x5t_s256 = Some(self.x5t_s256.clone());
        let claims = Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: id,
            nbf: now,
            iat: now,
            exp: now + 600,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| CertificateError {
                path: self.path.display().to_string(),
                reason: format!("cannot sign with its key ({e})"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_has_no_padding_or_plus_or_slash() {
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(b"a"), "YQ");
    }

    #[test]
    fn pem_blocks_are_found_by_label() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nYWJj\nZGVm\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_block(text, "CERTIFICATE").unwrap(), b"abcdef");
        assert!(
            pem_text(text, &["RSA PRIVATE KEY", "PRIVATE KEY"])
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert!(pem_block(text, "PUBLIC KEY").is_none());
    }
}
