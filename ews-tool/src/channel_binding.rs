//! The `tls-server-end-point` channel binding (RFC 5929 section 4) as NTLM carries it: the MD5
//! digest of the GSS channel bindings (MS-NLMP `MsvAvChannelBindings`), which is what a server
//! with Extended Protection checks. The certificate's hash comes from the TLS library.

use md5::{Digest, Md5};

/// The channel binding's application data: `tls-server-end-point:` and the hash of the
/// server's certificate, which the TLS library computes (with the certificate's signature
/// hash, MD5 and SHA-1 upgraded to SHA-256, as RFC 5929 says).
pub fn application_data(certificate_hash: &[u8]) -> Vec<u8> {
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend_from_slice(certificate_hash);
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

    #[test]
    fn the_application_data_is_the_label_and_the_hash() {
        let data = application_data(&[0xAB; 32]);
        assert_eq!(data.len(), 21 + 32);
        assert!(data.starts_with(b"tls-server-end-point:"));
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
