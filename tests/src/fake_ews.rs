//! Starting the Exchange simulator for tests and talking to its control API.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use crate::samba::SambaDc;
use crate::seed;
use crate::served::Served;

/// The names a hosted simulator's certificate holds: the Exchange server, the domain's
/// Autodiscover names, and an alias (a CNAME in the lab's DNS).
pub const HOSTED_NAMES: [&str; 4] = [
    crate::kerberos::WEB_HOST,
    "autodiscover.lab.example",
    "lab.example",
    "webmail.lab.example",
];

/// A running simulator.
#[derive(Debug)]
pub struct FakeEws {
    /// `https://127.0.0.1:PORT/EWS/Exchange.asmx`, or for a hosted simulator
    /// `https://ADDRESS:443/EWS/Exchange.asmx`.
    pub url: String,
    /// The address it listens on: 127.0.0.1, or a hosted simulator's own loopback address (on
    /// ports 443 and 80, as Autodiscover's fixed URLs need).
    pub address: Ipv4Addr,
    /// Where every request and response is captured.
    pub capture_dir: PathBuf,
    dir: tempfile::TempDir,
    served: Served,
}

impl FakeEws {
    /// Starts a simulator in front of the lab's directory with the given settings (JSON of
    /// `exchange::server::Settings`; `{}` for Exchange 2016 with Extended Protection).
    pub fn start(dc: &SambaDc, settings: &serde_json::Value) -> Result<Self, String> {
        Self::launch(dc, settings, true, None)
    }

    /// [`FakeEws::start`] on a loopback address of its own, on HTTPS port 443 and HTTP port 80,
    /// with a certificate for [`HOSTED_NAMES`]: reached by name ([`FakeEws::hosts_env`]), as
    /// Autodiscover's `https://<domain>/…` and `http://autodiscover.<domain>/…` reach Exchange.
    pub fn start_hosted(dc: &SambaDc, settings: &serde_json::Value) -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..20 {
            let address = hosted_address();
            match Self::launch(dc, settings, true, Some(address)) {
                Ok(fake) => return Ok(fake),
                Err(e) if e.contains("cannot listen") => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// The environment that makes `names` resolve to this simulator for a client process
    /// (nss_wrapper, a hosts file written into `dir`); other names do not resolve.
    pub fn hosts_env(
        &self,
        dir: &std::path::Path,
        names: &[&str],
    ) -> Result<Vec<(&'static str, String)>, String> {
        crate::kerberos::hosts_env(dir, &[(self.address, names)])
    }

    /// [`FakeEws::start`] without capturing the traffic, as a real server writes none of it
    /// (benchmarks: two files per request would be the simulator's own overhead).
    pub fn start_uncaptured(dc: &SambaDc, settings: &serde_json::Value) -> Result<Self, String> {
        Self::launch(dc, settings, false, None)
    }

    fn launch(
        dc: &SambaDc,
        settings: &serde_json::Value,
        capture: bool,
        hosted: Option<Ipv4Addr>,
    ) -> Result<Self, String> {
        // Inside the lab's folder, which the lab's watchdog removes however the run ends (a
        // simulator held in a static is never dropped).
        let dir = tempfile::Builder::new()
            .prefix("fake-ews-")
            .tempdir_in(&dc.dir)
            .map_err(|e| e.to_string())?;
        let names: &[&str] = if hosted.is_some() {
            &HOSTED_NAMES
        } else {
            &HOSTED_NAMES[..1]
        };
        let address = hosted.unwrap_or(Ipv4Addr::LOCALHOST);
        let (cert, key) = dc
            .pki
            .issue_server_for(names, address)
            .map_err(|e| e.to_string())?;
        let (cert_file, key_file) = crate::served::write_identity(dir.path(), "ews", &cert, &key)?;
        let capture_dir = dir.path().join("capture");
        std::fs::create_dir_all(&capture_dir).map_err(|e| e.to_string())?;
        let mut command = Command::new(crate::tools::binary("fake-ews"));
        // Negotiate with Kerberos: the web site's keys, and the realm's configuration.
        match dc.http_keytab() {
            Ok(keytab) => {
                command
                    .env("KRB5_KTNAME", format!("FILE:{}", keytab.display()))
                    .env("KRB5_CONFIG", &dc.krb5_conf);
            }
            Err(e) => eprintln!("fake-ews: no Kerberos logons: {e}"),
        }
        if capture {
            command.arg("--capture-dir").arg(&capture_dir);
        }
        if let Some(address) = hosted {
            command
                .args(["--listen", &format!("{address}:443")])
                .args(["--http-listen", &format!("{address}:80")]);
        }
        command
            .arg("--cert")
            .arg(&cert_file)
            .arg("--key")
            .arg(&key_file)
            .args([
                "--ldap-uri",
                &dc.ldaps_uri(),
                "--ldap-user",
                &dc.admin_upn(),
                "--base",
                seed::DOMAIN_DN,
            ])
            .arg("--ldap-password-file")
            .arg(&dc.admin_password_file)
            .arg("--ca-file")
            .arg(&dc.pki.ca_file)
            .arg("--smb-conf")
            .arg(dc.dir.join("etc/smb.conf"))
            .arg("--winbind-socket-dir")
            .arg(dc.dir.join("winbindd"))
            .args(["--settings", &settings.to_string()])
            .args(["--cultures", &cultures()?.to_string()]);
        let served = Served::spawn(&mut command, "fake-ews")?;
        Ok(FakeEws {
            url: served.url.clone(),
            address,
            capture_dir,
            dir,
            served,
        })
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        self.served.call(method, path, body)
    }

    /// A calendar's entries: `{"change_key", "entries": [{"user", "level", "rights"}], "unknown"}`.
    pub fn calendar(&self, mailbox: &str) -> serde_json::Value {
        self.call("GET", &format!("/calendars/{mailbox}"), None)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Replaces a calendar's entries (`[{"user": "Default"|address|SID, "level"|"rights"}]`).
    pub fn preload(&self, mailbox: &str, entries: &serde_json::Value) -> serde_json::Value {
        self.call("PUT", &format!("/calendars/{mailbox}"), Some(entries))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sets who may open which mailbox: `{"full_access": {mailbox: [sam]}, "impersonation": [sam]}`.
    pub fn set_access(&self, access: &serde_json::Value) {
        self.call("PUT", "/access", Some(access))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Sets faults to inject.
    pub fn set_faults(&self, faults: &serde_json::Value) {
        self.call("PUT", "/faults", Some(faults))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Replaces the settings.
    pub fn set_settings(&self, settings: &serde_json::Value) {
        self.call("PUT", "/settings", Some(settings))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The counters.
    pub fn stats(&self) -> serde_json::Value {
        self.call("GET", "/stats", None)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds `count` mailbox users to the simulator's directory only (not the DC's), named
    /// `{prefix}00000@lab.example` on, for benchmarks at organisation scale: 100,000 accounts
    /// would take the lab DC most of an hour to add.
    pub fn add_synthetic_mailboxes(&self, prefix: &str, count: u32) {
        self.call("POST", &format!("/synthetic/{prefix}/{count}"), None)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The address of the `i`-th mailbox [`FakeEws::add_synthetic_mailboxes`] adds.
    pub fn synthetic_address(prefix: &str, i: u32) -> String {
        crate::exchange::directory::synthetic_address(prefix, i)
    }

    /// Makes a SID stop resolving (its account was deleted).
    pub fn forget(&self, sid: &str) {
        self.call("POST", &format!("/forget/{sid}"), None)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The captured request and response files, in order.
    pub fn captured(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.capture_dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The directory holding the simulator's files.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A loopback address for a hosted simulator: 127.88.X.Y, different for each simulator of this
/// process and, by the process id, most likely from other processes' (a taken one fails to
/// bind, and the next is tried).
fn hosted_address() -> Ipv4Addr {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = std::process::id();
    let third = u8::try_from(pid % 250).unwrap_or(0) + 1;
    let fourth = u8::try_from((pid / 250 + n) % 250).unwrap_or(0) + 1;
    Ipv4Addr::new(127, 88, third, fourth)
}

/// The lab's mailboxes' languages, from `fixtures/lab/people.csv`: what Exchange keeps in
/// each mailbox, handed to the simulator as it starts.
fn cultures() -> Result<serde_json::Value, String> {
    let people = seed::people(&crate::samba::fixtures_dir())
        .map_err(|e| format!("reading fixtures/lab/people.csv: {e}"))?;
    Ok(people
        .into_iter()
        .filter(|p| !p.mail.is_empty() && !p.culture.is_empty())
        .map(|p| (p.mail, serde_json::Value::String(p.culture)))
        .collect::<serde_json::Map<_, _>>()
        .into())
}
