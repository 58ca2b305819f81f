//! The NTLM client side (MS-NLMP): NEGOTIATE, read the CHALLENGE, AUTHENTICATE with an NTLMv2
//! response, a MIC, and the TLS channel binding so servers with Extended Protection accept it.
//! Only authentication: no signing or sealing is negotiated (HTTP runs over TLS).

use hmac::{Hmac, KeyInit, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use zeroize::Zeroizing;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// Negotiate flags (MS-NLMP 2.2.2.5).
pub mod flags {
    /// `NTLMSSP_NEGOTIATE_UNICODE`
    pub const UNICODE: u32 = 0x0000_0001;
    /// `NTLMSSP_REQUEST_TARGET`
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// `NTLMSSP_NEGOTIATE_NTLM`
    pub const NTLM: u32 = 0x0000_0200;
    /// `NTLMSSP_NEGOTIATE_ALWAYS_SIGN`
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// `NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY`
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// `NTLMSSP_NEGOTIATE_TARGET_INFO`
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// `NTLMSSP_NEGOTIATE_VERSION`
    pub const VERSION: u32 = 0x0200_0000;
    /// `NTLMSSP_NEGOTIATE_128`
    pub const N128: u32 = 0x2000_0000;
    /// `NTLMSSP_NEGOTIATE_56`
    pub const N56: u32 = 0x8000_0000;
}

/// AV pair ids (MS-NLMP 2.2.2.1).
mod av {
    pub const EOL: u16 = 0;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
    pub const TARGET_NAME: u16 = 9;
    pub const CHANNEL_BINDINGS: u16 = 10;
}

/// `MsvAvFlags` bit: the AUTHENTICATE message carries a MIC.
const MIC_PRESENT: u32 = 0x2;

const CLIENT_FLAGS: u32 = flags::UNICODE
    | flags::REQUEST_TARGET
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSIONSECURITY
    | flags::TARGET_INFO
    | flags::VERSION
    | flags::N128
    | flags::N56;

/// Version field: Windows 10 build 19041, NTLM revision 15 (for debugging only; servers ignore it).
const VERSION: [u8; 8] = [10, 0, 0x61, 0x4a, 0, 0, 0, 15];

/// Why a CHALLENGE message cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server's NTLM challenge is malformed ({0})")]
pub struct ChallengeError(&'static str);

/// A parsed CHALLENGE message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The negotiated flags.
    pub flags: u32,
    /// `ServerChallenge`.
    pub server_challenge: [u8; 8],
    /// The target info AV pairs, raw.
    pub target_info: Vec<u8>,
}

/// The NEGOTIATE message.
pub fn negotiate() -> Vec<u8> {
    let mut m = SIGNATURE.to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&CLIENT_FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 16]); // no domain, no workstation
    m.extend_from_slice(&VERSION);
    m
}

fn field(message: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(u16::from_le_bytes([
        *message.get(at)?,
        *message.get(at + 1)?,
    ]));
    let offset = u32::from_le_bytes(message.get(at + 4..at + 8)?.try_into().ok()?);
    let offset = usize::try_from(offset).ok()?;
    message.get(offset..offset.checked_add(len)?)
}

/// Reads a CHALLENGE message.
pub fn parse_challenge(message: &[u8]) -> Result<Challenge, ChallengeError> {
    if message.get(..8) != Some(SIGNATURE.as_slice())
        || message.get(8..12) != Some(&2u32.to_le_bytes()[..])
    {
        return Err(ChallengeError("not a CHALLENGE message"));
    }
    let flags = u32::from_le_bytes(
        message
            .get(20..24)
            .ok_or(ChallengeError("truncated"))?
            .try_into()
            .map_err(|_| ChallengeError("truncated"))?,
    );
    let server_challenge: [u8; 8] = message
        .get(24..32)
        .ok_or(ChallengeError("truncated"))?
        .try_into()
        .map_err(|_| ChallengeError("truncated"))?;
    let target_info = if flags & flags::TARGET_INFO != 0 {
        field(message, 40)
            .ok_or(ChallengeError("target info out of bounds"))?
            .to_vec()
    } else {
        Vec::new()
    };
    Ok(Challenge {
        flags,
        server_challenge,
        target_info,
    })
}

/// The AV pairs of target info, as (id, value); stops at `MsvAvEOL` or malformed data.
pub fn av_pairs(info: &[u8]) -> Vec<(u16, &[u8])> {
    let mut pairs = Vec::new();
    let mut at = 0;
    while let (Some(id), Some(len)) = (info.get(at..at + 2), info.get(at + 2..at + 4)) {
        let id = u16::from_le_bytes([id[0], id[1]]);
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        if id == av::EOL {
            break;
        }
        let Some(value) = info.get(at + 4..at + 4 + len) else {
            break;
        };
        pairs.push((id, value));
        at += 4 + len;
    }
    pairs
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// `NTOWFv2` (MS-NLMP 3.3.2): HMAC-MD5 keyed with the NT hash over the upper-cased user name
/// and the domain.
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> Zeroizing<[u8; 16]> {
    let password = Zeroizing::new(utf16(password));
    let nt_hash = Zeroizing::new(<[u8; 16]>::from(Md4::digest(&*password)));
    Zeroizing::new(hmac_md5(
        &*nt_hash,
        &[&utf16(&user.to_uppercase()), &utf16(domain)],
    ))
}

/// Splits `DOMAIN\name` into its parts; a UPN (`name@corp.example`) is the user name itself
/// with an empty domain, as Windows sends it.
pub fn split_user(user: &str) -> (&str, &str) {
    match user.split_once('\\') {
        Some((domain, name)) => (domain, name),
        None => ("", user),
    }
}

/// What the AUTHENTICATE message needs besides the challenge.
pub struct Credentials<'a> {
    /// `DOMAIN\name` or a UPN.
    pub user: &'a str,
    /// The password.
    pub password: &'a str,
    /// The service principal of the server (`HTTP/mail.corp.example`), sent as `MsvAvTargetName`.
    pub target_name: &'a str,
    /// The channel binding application data, when over TLS.
    pub channel_binding: Option<&'a [u8]>,
}

/// The AUTHENTICATE message answering `challenge`. `negotiate_message` and the raw challenge
/// go into the MIC; `client_challenge` and `now` (a FILETIME) come from the caller so the
/// computation can be tested.
pub fn authenticate(
    credentials: &Credentials<'_>,
    negotiate_message: &[u8],
    challenge_message: &[u8],
    challenge: &Challenge,
    client_challenge: [u8; 8],
    now: u64,
) -> Vec<u8> {
    let (domain, user) = split_user(credentials.user);
    let response_key = ntowf_v2(credentials.password, user, domain);

    // The target info the client answers with: the server's pairs, the MIC flag, the SPN, the
    // channel binding.
    let server_pairs = av_pairs(&challenge.target_info);
    let timestamp = server_pairs
        .iter()
        .find(|(id, _)| *id == av::TIMESTAMP)
        .and_then(|(_, v)| <[u8; 8]>::try_from(*v).ok())
        .map(u64::from_le_bytes);
    let mut info = Vec::new();
    let mut push = |id: u16, value: &[u8]| {
        info.extend_from_slice(&id.to_le_bytes());
        info.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_le_bytes());
        info.extend_from_slice(value);
    };
    let mut server_flags = 0u32;
    for (id, value) in &server_pairs {
        match *id {
            av::FLAGS => {
                server_flags = <[u8; 4]>::try_from(*value).map_or(0, u32::from_le_bytes);
            }
            av::TARGET_NAME | av::CHANNEL_BINDINGS => {}
            _ => push(*id, value),
        }
    }
    let send_mic = timestamp.is_some();
    push(
        av::FLAGS,
        &(server_flags | if send_mic { MIC_PRESENT } else { 0 }).to_le_bytes(),
    );
    push(av::TARGET_NAME, &utf16(credentials.target_name));
    let bindings = credentials
        .channel_binding
        .map_or([0u8; 16], crate::channel_binding::ntlm_channel_bindings);
    push(av::CHANNEL_BINDINGS, &bindings);
    push(av::EOL, &[]);

    // NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7), then NTProofStr over it.
    let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
    temp.extend_from_slice(&timestamp.unwrap_or(now).to_le_bytes());
    temp.extend_from_slice(&client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(&info);
    temp.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(&*response_key, &[&challenge.server_challenge, &temp]);
    let mut nt_response = proof.to_vec();
    nt_response.extend_from_slice(&temp);
    // With a server timestamp the LM response is all zeros (MS-NLMP 3.1.5.1.2).
    let lm_response = if send_mic {
        vec![0u8; 24]
    } else {
        let mut lm = hmac_md5(
            &*response_key,
            &[&challenge.server_challenge, &client_challenge],
        )
        .to_vec();
        lm.extend_from_slice(&client_challenge);
        lm
    };
    // Without key exchange the exported session key is the session base key.
    let session_key = Zeroizing::new(hmac_md5(&*response_key, &[&proof]));

    let negotiated = challenge.flags & CLIENT_FLAGS;
    let (domain_bytes, user_bytes, workstation) = (utf16(domain), utf16(user), Vec::new());
    let payloads: [&[u8]; 6] = [
        &lm_response,
        &nt_response,
        &domain_bytes,
        &user_bytes,
        &workstation,
        &[],
    ];
    let header_len = 88;
    let mut message = SIGNATURE.to_vec();
    message.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = header_len;
    for payload in payloads {
        let len = u16::try_from(payload.len())
            .unwrap_or(u16::MAX)
            .to_le_bytes();
        message.extend_from_slice(&len);
        message.extend_from_slice(&len);
        message.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
        offset += payload.len();
    }
    message.extend_from_slice(&negotiated.to_le_bytes());
    message.extend_from_slice(&VERSION);
    message.extend_from_slice(&[0; 16]); // MIC, filled below
    for payload in payloads {
        message.extend_from_slice(payload);
    }
    if send_mic {
        let mic = hmac_md5(
            &*session_key,
            &[negotiate_message, challenge_message, &message],
        );
        message[72..88].copy_from_slice(&mic);
    }
    message
}

/// The current time as a Windows FILETIME.
pub fn now_filetime() -> u64 {
    u64::try_from(common::filetime::now()).unwrap_or_default()
}

/// Eight random bytes for the client challenge.
pub fn client_challenge() -> [u8; 8] {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn hashes_match_their_rfc_vectors() {
        assert_eq!(
            Md4::digest(b"abc").to_vec(),
            hex("a4 48 01 7a af 21 d8 52 5f c1 0a e8 7a a6 72 9d")
        );
        assert_eq!(
            hmac_md5(&[0x0b; 16], &[b"Hi There"]).to_vec(),
            hex("92 94 72 7a 36 38 bb 1c 13 f4 8e f8 15 8b fc 9d")
        );
    }

    /// MS-NLMP 4.2.4: user "User", domain "Domain", password "Password".
    #[test]
    fn ntlmv2_matches_the_specification_example() {
        let key = ntowf_v2("Password", "User", "Domain");
        assert_eq!(
            key.to_vec(),
            hex("0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f")
        );
        // Server challenge 0123456789abcdef, client challenge aa…, time 0, target info
        // NbDomainName "Domain" and NbComputerName "Server".
        let mut info = vec![2, 0, 12, 0];
        info.extend(utf16("Domain"));
        info.extend([1, 0, 12, 0]);
        info.extend(utf16("Server"));
        info.extend([0, 0, 0, 0]);
        let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
        temp.extend([0; 8]);
        temp.extend([0xaa; 8]);
        temp.extend([0; 4]);
        temp.extend(&info);
        temp.extend([0; 4]);
        let server = hex("01 23 45 67 89 ab cd ef");
        let proof = hmac_md5(&*key, &[&server, &temp]);
        assert_eq!(
            proof.to_vec(),
            hex("68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c")
        );
        assert_eq!(
            hmac_md5(&*key, &[&proof]).to_vec(),
            hex("8d e4 0c ca db c1 4a 82 f1 5c b0 ad 0d e9 5c a3")
        );
    }

    fn challenge_message(with_timestamp: bool) -> Vec<u8> {
        let mut info = vec![2, 0, 6, 0];
        info.extend(utf16("LAB"));
        if with_timestamp {
            info.extend([7, 0, 8, 0]);
            info.extend(0x01d9_0000_0000_0000u64.to_le_bytes());
        }
        info.extend([0, 0, 0, 0]);
        let mut m = SIGNATURE.to_vec();
        m.extend(2u32.to_le_bytes());
        m.extend([0, 0, 0, 0, 56, 0, 0, 0]); // empty target name
        m.extend((CLIENT_FLAGS | 0x0002_0000).to_le_bytes());
        m.extend(hex("01 23 45 67 89 ab cd ef"));
        m.extend([0; 8]);
        let len = u16::try_from(info.len()).unwrap().to_le_bytes();
        m.extend(len);
        m.extend(len);
        m.extend(56u32.to_le_bytes());
        m.extend(VERSION);
        m.extend(info);
        m
    }

    #[test]
    fn authenticate_carries_the_binding_the_spn_and_a_mic() {
        let raw = challenge_message(true);
        let challenge = parse_challenge(&raw).unwrap();
        assert_eq!(
            challenge.server_challenge.to_vec(),
            hex("01 23 45 67 89 ab cd ef")
        );
        let binding = b"tls-server-end-point:0123456789abcdef0123456789abcdef";
        let credentials = Credentials {
            user: "LAB\\svc",
            password: "Secret-1",
            target_name: "HTTP/mail.lab.example",
            channel_binding: Some(binding),
        };
        let negotiate = negotiate();
        let message = authenticate(&credentials, &negotiate, &raw, &challenge, [0xaa; 8], 0);
        assert_eq!(&message[..12], b"NTLMSSP\0\x03\0\0\0");
        assert_ne!(&message[72..88], &[0u8; 16], "a MIC is present");
        assert_eq!(
            field(&message, 12).unwrap(),
            &[0u8; 24],
            "zero LM response when the server sent a timestamp"
        );
        assert_eq!(field(&message, 28).unwrap(), utf16("LAB").as_slice());
        assert_eq!(field(&message, 36).unwrap(), utf16("svc").as_slice());
        let nt = field(&message, 20).unwrap();
        let pairs = av_pairs(&nt[16 + 28..]);
        let find = |id| {
            pairs
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, v)| v.to_vec())
        };
        assert_eq!(
            find(av::CHANNEL_BINDINGS).unwrap(),
            crate::channel_binding::ntlm_channel_bindings(binding).to_vec()
        );
        assert_eq!(
            find(av::TARGET_NAME).unwrap(),
            utf16("HTTP/mail.lab.example")
        );
        assert_eq!(find(av::FLAGS).unwrap(), MIC_PRESENT.to_le_bytes().to_vec());
        // The server's timestamp is echoed in the client challenge.
        assert_eq!(
            &nt[16 + 8..16 + 16],
            &0x01d9_0000_0000_0000u64.to_le_bytes()
        );
    }

    #[test]
    fn without_a_server_timestamp_there_is_an_lmv2_response_and_no_mic() {
        let raw = challenge_message(false);
        let challenge = parse_challenge(&raw).unwrap();
        let credentials = Credentials {
            user: "svc@lab.example",
            password: "Secret-1",
            target_name: "HTTP/x",
            channel_binding: None,
        };
        let message = authenticate(&credentials, &negotiate(), &raw, &challenge, [0xaa; 8], 42);
        assert_eq!(&message[72..88], &[0u8; 16]);
        assert_eq!(field(&message, 12).unwrap().len(), 24);
        assert_ne!(field(&message, 12).unwrap(), &[0u8; 24]);
        assert_eq!(
            field(&message, 28).unwrap(),
            b"",
            "a UPN goes with an empty domain"
        );
        assert_eq!(
            field(&message, 36).unwrap(),
            utf16("svc@lab.example").as_slice()
        );
    }

    #[test]
    fn malformed_challenges_are_refused() {
        assert!(parse_challenge(b"NTLMSSP\0\x01\0\0\0").is_err());
        assert!(parse_challenge(&challenge_message(true)[..30]).is_err());
        let mut bad = challenge_message(true);
        bad[44] = 0xff; // target info offset out of bounds
        assert!(parse_challenge(&bad).is_err());
        assert!(av_pairs(&[9, 0, 200, 0, 1]).is_empty());
    }
}
