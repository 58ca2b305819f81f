//! The lab's own certificate authority and the domain controller's certificate, issued at start
//! and never committed. Real DCs carry an AD CS certificate with their name in the
//! subjectAltName; Samba's self-generated one has the name only in the subject CN.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};

/// The lab's PKI: a CA (kept in memory to issue more certificates) and the domain
/// controller's certificate files.
pub struct LabPki {
    /// The CA certificate (PEM): what clients pass with `--ca-file`.
    pub ca_file: PathBuf,
    /// The server certificate (PEM).
    pub cert_file: PathBuf,
    /// The server's private key (PEM, mode 0600).
    pub key_file: PathBuf,
    ca_cert: X509,
    ca_key: PKey<Private>,
}

impl std::fmt::Debug for LabPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabPki")
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .finish_non_exhaustive()
    }
}

impl LabPki {
    /// A server certificate and key for `dns_name` and `address`, signed by the lab CA.
    pub fn issue_server(
        &self,
        dns_name: &str,
        address: Ipv4Addr,
    ) -> Result<(X509, PKey<Private>), ErrorStack> {
        server_certificate(&self.ca_cert, &self.ca_key, &[dns_name], address)
    }

    /// A server certificate for several names (the first is its subject) and `address`.
    pub fn issue_server_for(
        &self,
        dns_names: &[&str],
        address: Ipv4Addr,
    ) -> Result<(X509, PKey<Private>), ErrorStack> {
        server_certificate(&self.ca_cert, &self.ca_key, dns_names, address)
    }
}

fn name(common_name: &str) -> Result<openssl::x509::X509Name, ErrorStack> {
    let mut builder = X509NameBuilder::new()?;
    builder.append_entry_by_text("O", "ad-ews-tools lab")?;
    builder.append_entry_by_text("CN", common_name)?;
    Ok(builder.build())
}

fn serial() -> Result<openssl::asn1::Asn1Integer, ErrorStack> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    bn.to_asn1_integer()
}

fn base(
    subject: &openssl::x509::X509NameRef,
    issuer: &openssl::x509::X509NameRef,
    key: &PKey<Private>,
) -> Result<X509Builder, ErrorStack> {
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = serial()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(subject)?;
    builder.set_issuer_name(issuer)?;
    builder.set_pubkey(key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(30)?);
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    Ok(builder)
}

fn server_certificate(
    ca: &X509,
    ca_key: &PKey<Private>,
    dns_names: &[&str],
    address: Ipv4Addr,
) -> Result<(X509, PKey<Private>), ErrorStack> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let subject = name(dns_names.first().copied().unwrap_or("localhost"))?;
    let mut cert = base(&subject, ca.subject_name(), &key)?;
    cert.append_extension(BasicConstraints::new().build()?)?;
    cert.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    cert.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let mut san = SubjectAlternativeName::new();
    for dns_name in dns_names {
        san.dns(dns_name);
    }
    let san = san
        .ip(&address.to_string())
        .build(&cert.x509v3_context(Some(ca), None))?;
    cert.append_extension(san)?;
    cert.sign(ca_key, MessageDigest::sha256())?;
    Ok((cert.build(), key))
}

/// A CA and a certificate for `dns_name` and `address`, signed by it, written to `dir`.
pub fn issue(
    dir: &Path,
    dns_name: &str,
    address: Ipv4Addr,
) -> Result<LabPki, Box<dyn std::error::Error>> {
    let ca_key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let ca_name = name("ad-ews-tools lab CA")?;
    let mut ca = base(&ca_name, &ca_name, &ca_key)?;
    ca.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    ca.sign(&ca_key, MessageDigest::sha256())?;
    let ca: X509 = ca.build();
    let (cert, key) = server_certificate(&ca, &ca_key, &[dns_name], address)?;
    let pki = LabPki {
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
        ca_cert: ca,
        ca_key,
    };
    std::fs::write(&pki.ca_file, pki.ca_cert.to_pem()?)?;
    std::fs::write(&pki.cert_file, cert.to_pem()?)?;
    common::secret::write_private_file(&pki.key_file, key.private_key_to_pem_pkcs8()?)?;
    Ok(pki)
}
