//! Logons as IIS does them for EWS: NTLM (in the `NTLM` or `Negotiate` scheme) verified by the
//! lab's domain controller through Samba's `ntlm_auth` helper, one handshake per TCP connection;
//! Extended Protection, which refuses an NTLM logon without the right TLS channel binding; and
//! Basic, checked by the same helper.

use std::path::Path;
use std::process::Stdio;

use md5::{Digest, Md5};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How helper processes reach the lab's winbindd: Samba's client library looks for the
/// winbindd socket in a compiled-in directory and only honours `SELFTEST_WINBINDD_SOCKET_DIR`
/// when Samba's nss_wrapper is preloaded (the mechanism of Samba's own test suite), so each lab
/// keeps its own winbindd.
#[derive(Debug, Clone, Default)]
pub struct HelperEnvironment {
    /// Variables to set for `ntlm_auth`.
    pub vars: Vec<(String, String)>,
}

impl HelperEnvironment {
    /// The environment for a winbindd listening in `socket_dir`.
    pub fn for_socket_dir(socket_dir: &Path) -> Result<Self, String> {
        let wrapper = crate::prerequisites::find_library("libnss_wrapper.so").ok_or(
            "libnss_wrapper.so is missing (Debian package libnss-wrapper; run tests/setup)",
        )?;
        Ok(Self {
            vars: vec![
                ("LD_PRELOAD".into(), wrapper.display().to_string()),
                ("NSS_WRAPPER_PASSWD".into(), "/etc/passwd".into()),
                ("NSS_WRAPPER_GROUP".into(), "/etc/group".into()),
                (
                    "SELFTEST_WINBINDD_SOCKET_DIR".into(),
                    socket_dir.display().to_string(),
                ),
            ],
        })
    }
}

/// One `ntlm_auth --helper-protocol=squid-2.5-ntlmssp` process: `YR <negotiate>` → `TT
/// <challenge>`, then `KK <authenticate>` → `AF DOMAIN\user` or `NA reason`.
pub struct NtlmHelper {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl NtlmHelper {
    /// Starts a helper reading the lab DC's configuration (to reach its winbindd).
    pub fn start(smb_conf: &Path, environment: &HelperEnvironment) -> std::io::Result<Self> {
        let mut child = Command::new("ntlm_auth")
            .envs(environment.vars.iter().map(|(k, v)| (k, v)))
            .arg("--helper-protocol=squid-2.5-ntlmssp")
            .arg(format!("--configfile={}", smb_conf.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| std::io::Error::other("no stdout"))?,
        );
        Ok(Self {
            _child: child,
            stdin,
            stdout,
        })
    }

    async fn exchange(&mut self, line: &str) -> Result<String, String> {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        Ok(answer.trim_end().to_owned())
    }

    /// The CHALLENGE for a NEGOTIATE message.
    pub async fn challenge(&mut self, negotiate: &[u8]) -> Result<Vec<u8>, String> {
        let answer = self
            .exchange(&format!("YR {}", common::base64::encode(negotiate)))
            .await?;
        answer
            .strip_prefix("TT ")
            .and_then(common::base64::decode)
            .ok_or(answer)
    }

    /// `DOMAIN\user` for a valid AUTHENTICATE message, or the helper's reason.
    pub async fn authenticate(&mut self, authenticate: &[u8]) -> Result<String, String> {
        let answer = self
            .exchange(&format!("KK {}", common::base64::encode(authenticate)))
            .await?;
        match answer.strip_prefix("AF ") {
            Some(user) => Ok(user.to_owned()),
            None => Err(answer.strip_prefix("NA ").unwrap_or(&answer).to_owned()),
        }
    }
}

fn rfc1738(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.@".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Checks a Basic logon with `ntlm_auth --helper-protocol=squid-2.5-basic`.
pub async fn check_basic(
    smb_conf: &Path,
    environment: &HelperEnvironment,
    user: &str,
    password: &str,
) -> bool {
    let Ok(mut child) = Command::new("ntlm_auth")
        .envs(environment.vars.iter().map(|(k, v)| (k, v)))
        .arg("--helper-protocol=squid-2.5-basic")
        .arg(format!("--configfile={}", smb_conf.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
    else {
        return false;
    };
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return false;
    };
    if stdin
        .write_all(format!("{} {}\n", rfc1738(user), rfc1738(password)).as_bytes())
        .await
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = BufReader::new(stdout).read_line(&mut answer).await;
    answer.trim() == "OK"
}

/// The NTLM message type (1, 2 or 3), if the bytes are NTLMSSP.
pub fn message_type(token: &[u8]) -> Option<u32> {
    (token.get(..8) == Some(b"NTLMSSP\0"))
        .then(|| {
            token
                .get(8..12)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        })
        .flatten()
}

/// The `MsvAvChannelBindings` an AUTHENTICATE message carries in its NTLMv2 response, if any.
pub fn channel_bindings(authenticate: &[u8]) -> Option<[u8; 16]> {
    let len = usize::from(u16::from_le_bytes(
        authenticate.get(20..22)?.try_into().ok()?,
    ));
    let offset = usize::try_from(u32::from_le_bytes(
        authenticate.get(24..28)?.try_into().ok()?,
    ))
    .ok()?;
    let response = authenticate.get(offset..offset + len)?;
    // NTProofStr (16), then the client challenge header (28) and the AV pairs.
    let mut pairs = response.get(16 + 28..)?;
    while pairs.len() >= 4 {
        let id = u16::from_le_bytes([pairs[0], pairs[1]]);
        let value_len = usize::from(u16::from_le_bytes([pairs[2], pairs[3]]));
        let value = pairs.get(4..4 + value_len)?;
        match id {
            0 => return None,
            0x0A => return value.try_into().ok(),
            _ => pairs = &pairs[4 + value_len..],
        }
    }
    None
}

/// The channel binding application data of this server certificate (RFC 5929
/// `tls-server-end-point`, SHA-256 for the lab's SHA-256 signed certificates).
pub fn binding_data(certificate_der: &[u8]) -> Vec<u8> {
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend_from_slice(&sha2::Sha256::digest(certificate_der));
    data
}

/// One Kerberos logon through the system's GSSAPI (tests/helpers/gss_accept.py, Debian's
/// python3-gssapi): `OK <principal> bound|unbound` or `NO <reason>`. `binding` is the expected
/// channel binding application data in base64, empty for none; `stale` gives it a keytab
/// without the key.
pub async fn gss_accept(token: &[u8], binding: &str, stale: bool) -> std::io::Result<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/gss_accept.py");
    // Debian's own Python, which python3-gssapi is installed for.
    let mut command = Command::new("/usr/bin/python3");
    if stale {
        // A keytab without the key: as when the name is registered on another account.
        command.env("KRB5_KTNAME", "FILE:/nonexistent/stale.keytab");
    }
    let mut child = command
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    let input = format!("{}\n{binding}\n", common::base64::encode(token));
    stdin.write_all(input.as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The binding a client must send for this server certificate (SHA-256 signed, as the lab
/// issues them): MD5 over the `gss_channel_bindings_struct` with `tls-server-end-point:` and the
/// certificate's SHA-256.
pub fn expected_bindings(certificate_der: &[u8]) -> [u8; 16] {
    let data = binding_data(certificate_der);
    let mut md5 = Md5::new();
    md5.update([0u8; 16]);
    md5.update(u32::try_from(data.len()).unwrap_or(0).to_le_bytes());
    md5.update(&data);
    md5.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_escaped_for_the_helper() {
        assert_eq!(rfc1738("LAB\\svc one"), "LAB%5Csvc%20one");
        assert_eq!(rfc1738("P@ss w%rd"), "P@ss%20w%25rd");
    }

    #[test]
    fn message_types() {
        assert_eq!(message_type(b"NTLMSSP\0\x01\0\0\0rest"), Some(1));
        assert_eq!(message_type(b"\x60\x82"), None);
    }
}
