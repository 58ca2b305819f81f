//! A simulator as a child process: started with its options, ready once it prints
//! `listening URL control http://ADDR`, driven through its JSON control API, and stopped when
//! dropped (its stdin closed, then killed if it does not end within two seconds).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// A running simulator process.
#[derive(Debug)]
pub struct Served {
    /// The URL it printed.
    pub url: String,
    /// The control API's address.
    pub control: SocketAddr,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Served {
    /// Starts `command` (a simulator named `name`) and waits for its ready line.
    pub fn spawn(command: &mut Command, name: &str) -> Result<Self, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or(format!("{name} has no stdout"))?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let mut words = line.split_whitespace();
        let (Some("listening"), Some(url), Some("control"), Some(control)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{name} did not start: {line}"));
        };
        let control: SocketAddr = control
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| format!("{control}: {e}"))?;
        Ok(Self {
            url: url.to_owned(),
            control,
            child,
            stdin,
        })
    }

    /// A control call: `method path` with a JSON body; the JSON answer of a 200.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let mut stream = TcpStream::connect_timeout(&self.control, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let body = body.map(serde_json::Value::to_string).unwrap_or_default();
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: control\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).map_err(|e| e.to_string())?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| e.to_string())?;
        let (head, payload) = response
            .split_once("\r\n\r\n")
            .ok_or("a malformed control answer")?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!(
                "control {method} {path}: {} {payload}",
                head.lines().next().unwrap_or("")
            ));
        }
        serde_json::from_str(payload).map_err(|e| format!("control answer: {e}: {payload}"))
    }
}

/// Writes a server's certificate and private key (mode 0600) into `dir` as `NAME.pem` and
/// `NAME.key`, for a simulator's `--cert` and `--key`.
pub fn write_identity(
    dir: &std::path::Path,
    name: &str,
    cert: &openssl::x509::X509,
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
) -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let (cert_file, key_file) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert_file, cert.to_pem().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    common::secret::write_private_file(
        &key_file,
        key.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    Ok((cert_file, key_file))
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..40 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
