//! A real Samba AD domain controller from Debian's packages, provisioned on a loopback address
//! into a temporary directory, with the lab's own TLS certificate, seeded, and stopped when the
//! harness goes away, even if the test process is killed.
//!
//! - [`provision`]: provisioning, configuring, seeding and starting the DC.
//! - [`host`]: the host around it: commands and their logs, the loopback address, the watchdog.
//!
//! This file holds the running DC and the tools that talk to it.

pub mod host;
pub mod provision;

use host::{claim_address, ensure_on_loopback, is_root, run, write_private};

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use crate::certs::LabPki;
use crate::seed::{self, DNS_DOMAIN};

/// The lab's administrator password (a lab-only value, written to a 0600 file for the tools).
pub const ADMIN_PASSWORD: &str = "Lab-Admin-2026!";
/// The password of every seeded account.
pub const USER_PASSWORD: &str = "Lab-User-2026!";
/// The DC's host name.
pub const HOST_NAME: &str = "dc1";

/// Why the lab could not start: one line, with the log of the step that failed.
#[derive(Debug, thiserror::Error)]
#[error("the lab's domain controller cannot start: {message}{}", log.as_ref().map(|l| format!("; the full log is in {}", l.display())).unwrap_or_default())]
pub struct LabError {
    message: String,
    log: Option<PathBuf>,
}

fn lab_error(message: impl Into<String>) -> LabError {
    LabError {
        message: message.into(),
        log: None,
    }
}

/// Prints one line of the lab's progress on stderr.
pub fn progress(line: &str) {
    eprintln!("lab: {line}");
}

/// A running domain controller.
#[derive(Debug)]
pub struct SambaDc {
    /// The lab's directory (configuration, databases, logs, certificates).
    pub dir: PathBuf,
    /// The loopback address it listens on.
    pub address: Ipv4Addr,
    /// Its DNS name (in the certificate, not in any resolver).
    pub fqdn: String,
    /// Its certificates.
    pub pki: LabPki,
    /// A 0600 file holding [`ADMIN_PASSWORD`].
    pub admin_password_file: PathBuf,
    /// A 0600 file holding [`USER_PASSWORD`].
    pub user_password_file: PathBuf,
    /// A `krb5.conf` for the lab's realm and KDC (use it with `KRB5_CONFIG`).
    pub krb5_conf: PathBuf,
    /// The accounts of the seed.
    pub people: Vec<seed::Person>,
    samba_pid: u32,
    /// The keytab of the Exchange web site's service principal, made on first use.
    http_keytab: std::sync::OnceLock<Result<PathBuf, String>>,
    /// Whether Exchange's Autodiscover records are in the directory and DNS, made on first use.
    autodiscover_records: std::sync::OnceLock<Result<(), String>>,
    /// The watchdog's stdin: closing it (or this process ending) stops the DC and removes `dir`.
    guard: Mutex<Option<(ChildStdin, Child)>>,
}

/// The workspace's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

use crate::prerequisites::find_program;

static STATE_HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Where the tools keep their state (`XDG_STATE_HOME`) in this process: inside the first lab's
/// folder, so journals go when the lab does.
pub fn state_home() -> Option<&'static Path> {
    STATE_HOME.get().map(PathBuf::as_path)
}

impl SambaDc {
    /// Provisions, seeds and starts a domain controller; returns once LDAPS answers.
    pub fn start() -> Result<Self, LabError> {
        let started = Instant::now();
        crate::prerequisites::check(crate::prerequisites::REQUIREMENTS).map_err(lab_error)?;
        if !is_root() {
            return Err(lab_error(
                "it needs root (Samba binds ports 88, 389 and 636 and adds a loopback address)",
            ));
        }
        let (address, lock) = claim_address()?;
        let dir = tempfile::Builder::new()
            .prefix("ad-ews-lab-")
            .tempdir()
            .map_err(|e| lab_error(format!("no temporary directory: {e}")))?
            .keep();
        let result = Self::build(&dir, address, &lock, started);
        match result {
            Ok(dc) => {
                // The tools' state (journals) lives in the lab's folder and goes with it.
                let _ = STATE_HOME.set(dc.dir.join("state"));
                Ok(dc)
            }
            Err(mut error) => {
                // The failed step's log outlives the lab's folder, which goes.
                if let Some(log) = error.log.take() {
                    let kept = std::env::temp_dir().join(format!(
                        "ad-ews-lab-{}-{}",
                        std::process::id(),
                        log.file_name()
                            .and_then(|n| n.to_str())
                            .unwrap_or("step.log")
                    ));
                    error.log = std::fs::copy(&log, &kept).ok().map(|_| kept);
                }
                let _ = std::fs::remove_dir_all(&dir);
                let _ = std::fs::remove_file(&lock);
                Err(error)
            }
        }
    }

    fn build(
        dir: &Path,
        address: Ipv4Addr,
        lock: &Path,
        started: Instant,
    ) -> Result<Self, LabError> {
        let added_address = ensure_on_loopback(address)?;
        let release_address = || {
            if added_address {
                let _ = Command::new("ip")
                    .args(["addr", "del", &format!("{address}/32"), "dev", "lo"])
                    .output();
            }
        };
        match Self::provision_and_start(dir, address, lock, started, added_address) {
            Ok(dc) => Ok(dc),
            Err(e) => {
                release_address();
                Err(e)
            }
        }
    }

    /// `host` for the tools' `--server`.
    pub fn server(&self) -> String {
        self.address.to_string()
    }

    /// `ldaps://address`.
    pub fn ldaps_uri(&self) -> String {
        format!("ldaps://{}", self.address)
    }

    /// The administrator's UPN.
    pub fn admin_upn(&self) -> String {
        format!("Administrator@{DNS_DOMAIN}")
    }

    /// `samba-tool` on the DC's own database: a view of the directory independent of the tools.
    pub fn samba_tool(&self, args: &[&str]) -> Output {
        let sam = format!("tdb://{}", self.dir.join("private/sam.ldb").display());
        let mut command = Command::new("samba-tool");
        command.args(args).args(["-H", &sam]);
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run samba-tool: {e}"))
    }

    /// The keytab of `HTTP/mail.lab.example` ([`crate::kerberos::WEB_HOST`]), registered on an
    /// account of its own as on the account an Exchange web site runs as, exported once.
    pub fn http_keytab(&self) -> Result<PathBuf, String> {
        self.http_keytab
            .get_or_init(|| crate::kerberos::register_web_service(self))
            .clone()
    }

    /// Exchange's Autodiscover records in the directory and DNS ([`crate::publish`]), added
    /// once.
    pub fn autodiscover_records(&self) -> Result<(), String> {
        self.autodiscover_records
            .get_or_init(|| crate::publish::publish(self))
            .clone()
    }

    /// `samba-tool` talking to the running DC over RPC as Administrator (for what needs the
    /// live server, such as DNS records); the password goes through the environment.
    pub fn samba_tool_remote(&self, args: &[&str]) -> Output {
        Command::new("samba-tool")
            .env("PASSWD", ADMIN_PASSWORD)
            .args(args)
            .args(["-U", "Administrator"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run samba-tool: {e}"))
    }

    /// OpenLDAP's `ldapsearch` over LDAPS bound as `user` with the password in `password_file`.
    pub fn ldapsearch(&self, user: &str, password_file: &Path, args: &[&str]) -> Output {
        Command::new("ldapsearch")
            .env("LDAPTLS_CACERT", &self.pki.ca_file)
            .args([
                "-H",
                &self.ldaps_uri(),
                "-x",
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-D",
                user,
                "-y",
            ])
            .arg(password_file)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ldapsearch: {e}"))
    }

    /// [`SambaDc::ldapsearch`] as the administrator.
    pub fn ldapsearch_as_admin(&self, args: &[&str]) -> Output {
        self.ldapsearch(&self.admin_upn(), &self.admin_password_file, args)
    }

    /// OpenLDAP's `ldapmodify` over LDAPS as `user`, with LDIF on stdin.
    pub fn ldapmodify(&self, user: &str, password_file: &Path, ldif: &str) -> Output {
        let mut child = Command::new("ldapmodify")
            .env("LDAPTLS_CACERT", &self.pki.ca_file)
            .args(["-H", &self.ldaps_uri(), "-x", "-D", user, "-y"])
            .arg(password_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run ldapmodify: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(ldif.as_bytes());
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("ldapmodify: {e}"))
    }

    /// Stops the DC, removes its directory and the loopback address it added.
    pub fn stop(&self) {
        if let Some((stdin, mut watchdog)) = self.guard.lock().ok().and_then(|mut g| g.take()) {
            let started = Instant::now();
            progress("stopping the domain controller");
            drop(stdin);
            let _ = watchdog.wait();
            progress(&format!(
                "stopped and cleaned up in {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
    }

    /// The PID of the `samba` root process.
    pub fn pid(&self) -> u32 {
        self.samba_pid
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        self.stop();
    }
}
