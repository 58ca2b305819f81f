//! Starting the Microsoft 365 simulator for tests, with the lab's app registration: a client
//! secret and a certificate (its public part registered, the whole in a PEM file for the tool),
//! and talking to its control API.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::graph::tenant::{self, App};
use crate::samba::SambaDc;
use crate::served::Served;

/// A running simulator and the app's credentials.
#[derive(Debug)]
pub struct FakeGraph {
    /// `https://127.0.0.1:PORT`: the authority and Graph's address.
    pub url: String,
    /// The app's certificate and private key, one PEM file (mode 0600), for `--certificate`.
    pub certificate: PathBuf,
    /// A file holding the app's client secret (mode 0600), for `--password-file`.
    pub secret_file: PathBuf,
    /// A certificate of the same CA that is not registered on the app.
    pub stranger_certificate: PathBuf,
    /// Where every JSON body is captured, named by its Graph type.
    pub capture_dir: PathBuf,
    dir: tempfile::TempDir,
    served: Served,
}

fn pem_file(
    path: &Path,
    cert: &openssl::x509::X509,
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
) -> Result<(), String> {
    let mut text = cert.to_pem().map_err(|e| e.to_string())?;
    text.extend(key.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?);
    common::secret::write_private_file(path, text).map_err(|e| e.to_string())
}

impl FakeGraph {
    /// Starts a simulator with the lab's app registered (secret and certificate) and every
    /// permission the tool needs granted.
    pub fn start(dc: &SambaDc) -> Result<Self, String> {
        Self::start_with(dc, &cloud_mailboxes(dc))
    }

    /// … with these mailboxes (`[{"upn": …, "displayName": …}]`) instead of the lab's cloud
    /// mailboxes.
    pub fn start_with(dc: &SambaDc, mailboxes: &Value) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("fake-graph-")
            .tempdir_in(&dc.dir)
            .map_err(|e| e.to_string())?;
        let (cert, key) = dc
            .pki
            .issue_server("graph.lab.example", Ipv4Addr::LOCALHOST)
            .map_err(|e| e.to_string())?;
        let (cert_file, key_file) =
            crate::served::write_identity(dir.path(), "graph", &cert, &key)?;
        // The app's certificate (any RSA certificate will do: the platform checks the key).
        let (app_cert, app_key) = dc
            .pki
            .issue_server_for(&["m365-tool lab app"], Ipv4Addr::LOCALHOST)
            .map_err(|e| e.to_string())?;
        let certificate = dir.path().join("app.pem");
        pem_file(&certificate, &app_cert, &app_key)?;
        let (stranger_cert, stranger_key) = dc
            .pki
            .issue_server_for(&["someone else's app"], Ipv4Addr::LOCALHOST)
            .map_err(|e| e.to_string())?;
        let stranger_certificate = dir.path().join("stranger.pem");
        pem_file(&stranger_certificate, &stranger_cert, &stranger_key)?;
        let secret = format!("Lab~{}", crate::graph::guid().replace('-', ""));
        let secret_file = dir.path().join("client-secret");
        common::secret::write_private_file(&secret_file, format!("{secret}\n"))
            .map_err(|e| e.to_string())?;
        let der = app_cert.to_der().map_err(|e| e.to_string())?;
        let app = App {
            secret,
            x5t: base64url(&openssl::sha::sha1(&der)),
            public_key_pem: String::from_utf8_lossy(
                &app_cert
                    .public_key()
                    .and_then(|k| k.public_key_to_pem())
                    .map_err(|e| e.to_string())?,
            )
            .into_owned(),
            ..App::default()
        };
        let capture_dir = dir.path().join("capture");
        std::fs::create_dir_all(&capture_dir).map_err(|e| e.to_string())?;
        let mut command = Command::new(crate::tools::binary("fake-graph"));
        command
            .arg("--cert")
            .arg(&cert_file)
            .arg("--key")
            .arg(&key_file)
            .args([
                "--app",
                &serde_json::to_string(&app).map_err(|e| e.to_string())?,
            ])
            .arg("--capture-dir")
            .arg(&capture_dir)
            .args(["--mailboxes", &mailboxes.to_string()]);
        let served = Served::spawn(&mut command, "fake-graph")?;
        Ok(Self {
            url: served.url.clone(),
            certificate,
            secret_file,
            stranger_certificate,
            capture_dir,
            dir,
            served,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.served
            .call(method, path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The counters.
    pub fn stats(&self) -> Value {
        self.call("GET", "/stats", None)
    }

    /// Throttles the next `count` Graph requests with `status` (429 or 503) and `Retry-After`.
    pub fn throttle(&self, count: u32, status: u16, retry_after: u64) {
        self.call(
            "PUT",
            "/faults",
            Some(&json!({"throttle_count": count, "throttle_status": status, "retry_after": retry_after})),
        );
    }

    /// Sets the faults (`{"token_lifetime_s": 2, "device_code_lifetime_s": 3, …}`), replacing
    /// the earlier ones.
    pub fn set_faults(&self, faults: &Value) {
        self.call("PUT", "/faults", Some(faults));
    }

    /// The device codes handed out: `[{"user_code": …, "status": …}]`.
    pub fn device_codes(&self) -> Value {
        self.call("GET", "/device-codes", None)
    }

    /// The administrator enters `user_code` in the browser and accepts (or declines).
    pub fn answer_device_code(&self, user_code: &str, approve: bool) {
        self.call(
            "PUT",
            &format!("/device-codes/{user_code}"),
            Some(&json!({"approve": approve})),
        );
    }

    /// Makes every Graph request (a `$batch` as a whole) take this long.
    pub fn set_latency(&self, ms: u64) {
        self.call("PUT", "/faults", Some(&json!({"latency_ms": ms})));
    }

    /// Grants the app exactly these application permissions.
    pub fn set_roles(&self, roles: &[&str]) {
        self.call("PUT", "/roles", Some(&json!(roles)));
    }

    /// Sets the eventual-consistency windows of new accounts (milliseconds).
    pub fn set_delays(&self, visible_after_ms: u64, mailbox_after_ms: u64) {
        self.call(
            "PUT",
            "/delays",
            Some(&json!({"visible_after_ms": visible_after_ms, "mailbox_after_ms": mailbox_after_ms})),
        );
    }

    /// A calendar's entries as the simulator holds them.
    pub fn calendar(&self, mailbox: &str) -> Value {
        self.call("GET", &format!("/calendars/{mailbox}"), None)
    }

    /// Replaces the tenant's SKUs.
    pub fn set_skus(&self, skus: &Value) {
        self.call("PUT", "/skus", Some(skus));
    }

    /// A user as the simulator holds it (by UPN or id).
    pub fn user(&self, key: &str) -> Option<Value> {
        self.served.call("GET", &format!("/users/{key}"), None).ok()
    }

    /// The captured bodies, in order, with their kind (`request-graph.user`: the direction
    /// and the Graph type, from the file name).
    pub fn captured(&self) -> Vec<(String, PathBuf)> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.capture_dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter_map(|path| {
                let name = path.file_stem()?.to_str()?.to_owned();
                let kind = name.split_once('-')?.1.to_owned();
                Some((kind, path))
            })
            .collect()
    }

    /// The folder holding the simulator's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The tenant's id.
    pub fn tenant_id() -> &'static str {
        tenant::TENANT_ID
    }

    /// The app's client id.
    pub fn client_id() -> &'static str {
        tenant::CLIENT_ID
    }
}

/// The lab's cloud mailboxes: the Utrecht office, moved to Exchange Online in this hybrid
/// organisation.
pub fn cloud_mailboxes(dc: &SambaDc) -> Value {
    json!(
        dc.people
            .iter()
            .filter(|p| p.ou.starts_with("OU=Utrecht") && !p.mail.is_empty())
            .map(|p| json!({"upn": p.mail, "displayName": p.cn}))
            .collect::<Vec<_>>()
    )
}

fn base64url(bytes: &[u8]) -> String {
    common::base64::encode(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}
