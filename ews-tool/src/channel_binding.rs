//! The `tls-server-end-point` channel binding (RFC 5929 section 4): a hash of the server's
//! certificate, with the hash of the certificate's signature algorithm, MD5 and SHA-1 upgraded
//! to SHA-256. NTLM carries its MD5 digest (MS-NLMP `MsvAvChannelBindings`), which is what a
//! server with Extended Protection checks.

use md5::{Digest, Md5};
use sha2::{Sha256, Sha384, Sha512};

/// The signature algorithm OID of a DER certificate, as its content bytes.
fn signature_algorithm_oid(der: &[u8]) -> Option<&[u8]> {
    fn header(bytes: &[u8]) -> Option<(u8, usize, usize)> {
        let tag = *bytes.first()?;
        let first = *bytes.get(1)?;
        if first < 0x80 {
            return Some((tag, 2, usize::from(first)));
        }
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let len = bytes
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        Some((tag, 2 + n, len))
    }
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    let (0x30, h, len) = header(der)? else {
        return None;
    };
    let body = der.get(h..h + len)?;
    let (0x30, tbs_h, tbs_len) = header(body)? else {
        return None;
    };
    let rest = body.get(tbs_h + tbs_len..)?;
    let (0x30, alg_h, alg_len) = header(rest)? else {
        return None;
    };
    let algorithm = rest.get(alg_h..alg_h + alg_len)?;
    let (0x06, oid_h, oid_len) = header(algorithm)? else {
        return None;
    };
    algorithm.get(oid_h..oid_h + oid_len)
}

const SHA384_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const SHA512_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const ECDSA_WITH_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const ECDSA_WITH_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];

/// The channel binding's application data: `tls-server-end-point:` and the certificate's hash.
pub fn application_data(certificate_der: &[u8]) -> Vec<u8> {
    let hash: Vec<u8> = match signature_algorithm_oid(certificate_der) {
        Some(SHA384_WITH_RSA | ECDSA_WITH_SHA384) => Sha384::digest(certificate_der).to_vec(),
        Some(SHA512_WITH_RSA | ECDSA_WITH_SHA512) => Sha512::digest(certificate_der).to_vec(),
        // SHA-256 signatures, and MD5 or SHA-1 ones (upgraded), and anything unknown.
        _ => Sha256::digest(certificate_der).to_vec(),
    };
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend_from_slice(&hash);
    data
}

/// The MD5 of the `gss_channel_bindings_struct` (RFC 2744) holding `application_data`, with no
/// addresses: the value of NTLM's `MsvAvChannelBindings`.
pub fn ntlm_channel_bindings(application_data: &[u8]) -> [u8; 16] {
    let mut hasher = Md5::new();
    // initiator_addrtype, initiator_address length, acceptor_addrtype, acceptor_address length
    hasher.update([0u8; 16]);
    hasher.update(
        u32::try_from(application_data.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    hasher.update(application_data);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal DER certificate skeleton with the given signature algorithm OID.
    fn skeleton(oid: &[u8]) -> Vec<u8> {
        let tbs = [0x30, 0x03, 0x02, 0x01, 0x01];
        let mut algorithm = vec![
            0x30,
            u8::try_from(oid.len() + 4).unwrap(),
            0x06,
            u8::try_from(oid.len()).unwrap(),
        ];
        algorithm.extend_from_slice(oid);
        algorithm.extend_from_slice(&[0x05, 0x00]);
        let signature = [0x03, 0x02, 0x00, 0xff];
        let mut body = tbs.to_vec();
        body.extend(algorithm);
        body.extend_from_slice(&signature);
        let mut der = vec![0x30, u8::try_from(body.len()).unwrap()];
        der.extend(body);
        der
    }

    #[test]
    fn the_hash_follows_the_signature_algorithm() {
        let sha256_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        let sha1_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
        assert_eq!(
            signature_algorithm_oid(&skeleton(&sha256_rsa)),
            Some(&sha256_rsa[..])
        );
        assert_eq!(application_data(&skeleton(&sha256_rsa)).len(), 21 + 32);
        assert_eq!(
            application_data(&skeleton(&sha1_rsa)).len(),
            21 + 32,
            "SHA-1 is upgraded to SHA-256"
        );
        assert_eq!(application_data(&skeleton(SHA384_WITH_RSA)).len(), 21 + 48);
        assert_eq!(
            application_data(&skeleton(ECDSA_WITH_SHA512)).len(),
            21 + 64
        );
        assert!(application_data(&skeleton(&sha256_rsa)).starts_with(b"tls-server-end-point:"));
        assert_eq!(signature_algorithm_oid(&[0x30, 0x80]), None);
        assert_eq!(signature_algorithm_oid(&[]), None);
    }

    #[test]
    fn the_ntlm_digest_covers_the_whole_structure() {
        let data = b"tls-server-end-point:abc";
        let mut manual = Md5::new();
        manual.update([0u8; 16]);
        manual.update(24u32.to_le_bytes());
        manual.update(data);
        let expected: [u8; 16] = manual.finalize().into();
        assert_eq!(ntlm_channel_bindings(data), expected);
        assert_ne!(ntlm_channel_bindings(b"tls-server-end-point:abd"), expected);
    }
}
