//! A real Samba AD domain controller from Debian's packages, provisioned on a loopback address
//! into a temporary directory, with the lab's own TLS certificate, seeded, and stopped when the
//! harness goes away, even if the test process is killed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::certs::{self, LabPki};
use crate::seed::{self, DNS_DOMAIN, DOMAIN_DN, NETBIOS_DOMAIN, REALM};

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
    /// The watchdog's stdin: closing it (or this process ending) stops the DC and removes `dir`.
    guard: Mutex<Option<(ChildStdin, Child)>>,
}

/// The workspace's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn run(command: &mut Command, what: &str) -> Result<Output, LabError> {
    let output = command.output().map_err(|e| {
        lab_error(format!(
            "{what}: cannot run {}: {e}",
            command.get_program().to_string_lossy()
        ))
    })?;
    if !output.status.success() {
        return Err(lab_error(format!(
            "{what} failed ({}): {}",
            output.status,
            last_words(&output)
        )));
    }
    Ok(output)
}

/// Runs a long step with its output in `log` (the log is named in the error if it fails).
fn run_logged(command: &mut Command, what: &str, log: &Path) -> Result<Output, LabError> {
    let output = command.output().map_err(|e| {
        lab_error(format!(
            "{what}: cannot run {}: {e}",
            command.get_program().to_string_lossy()
        ))
    })?;
    let mut text = output.stdout.clone();
    text.extend_from_slice(&output.stderr);
    let _ = std::fs::write(log, &text);
    if !output.status.success() {
        return Err(LabError {
            message: format!("{what} failed ({}): {}", output.status, last_words(&output)),
            log: Some(log.to_owned()),
        });
    }
    Ok(output)
}

/// The line of a failed command's output that says why: the last line of stderr (Python
/// tracebacks end with the exception), else of stdout.
fn last_words(output: &Output) -> String {
    let last = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_owned)
    };
    last(&output.stderr)
        .or_else(|| last(&output.stdout))
        .unwrap_or_else(|| "no output".into())
}

use crate::prerequisites::find_program;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Picks a free loopback address (ports 53, 88, 389 and 636 unbound) and claims it with a lock file
/// naming this process, so labs started at the same time do not collide.
fn claim_address() -> Result<(Ipv4Addr, PathBuf), LabError> {
    let lock_dir = std::env::temp_dir().join("ad-ews-lab-locks");
    std::fs::create_dir_all(&lock_dir)
        .map_err(|e| lab_error(format!("cannot create {}: {e}", lock_dir.display())))?;
    for last in 2..=250u8 {
        let address = Ipv4Addr::new(127, 0, 0, last);
        let lock = lock_dir.join(address.to_string());
        if let Ok(pid) = std::fs::read_to_string(&lock) {
            if Path::new("/proc").join(pid.trim()).exists() {
                continue;
            }
            let _ = std::fs::remove_file(&lock);
        }
        let free = [53u16, 88, 389, 636]
            .iter()
            .all(|port| TcpListener::bind((address, *port)).is_ok());
        if !free {
            continue;
        }
        // Fails when another lab claimed the address between the check and now.
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            let _ = write!(file, "{}", std::process::id());
            return Ok((address, lock));
        }
    }
    Err(lab_error("no free loopback address in 127.0.0.2-250"))
}

/// Samba only binds to addresses an interface holds. Returns whether the lab added it (and
/// so removes it again when it stops).
fn ensure_on_loopback(address: Ipv4Addr) -> Result<bool, LabError> {
    let shown = run(
        Command::new("ip").args(["-4", "addr", "show", "dev", "lo"]),
        "listing loopback addresses",
    )?;
    if String::from_utf8_lossy(&shown.stdout).contains(&format!("inet {address}/")) {
        return Ok(false);
    }
    run(
        Command::new("ip").args(["addr", "add", &format!("{address}/32"), "dev", "lo"]),
        "adding the lab's loopback address",
    )
    .map(|_| true)
}

fn write_private(path: &Path, text: &str) -> Result<(), LabError> {
    common::secret::write_private_file(path, text)
        .map_err(|e| lab_error(format!("cannot write {}: {e}", path.display())))
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
            Ok(dc) => Ok(dc),
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

    fn provision_and_start(
        dir: &Path,
        address: Ipv4Addr,
        lock: &Path,
        started: Instant,
        added_address: bool,
    ) -> Result<Self, LabError> {
        progress(&format!(
            "provisioning a Samba AD domain controller on {address} (about 6 s)"
        ));
        for sub in ["run", "log", "tls", "ncalrpc", "winbindd"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| lab_error(format!("cannot create {sub}: {e}")))?;
        }
        let fqdn = format!("{HOST_NAME}.{DNS_DOMAIN}");
        run_logged(
            Command::new("samba-tool").args([
                "domain",
                "provision",
                &format!("--realm={REALM}"),
                &format!("--domain={NETBIOS_DOMAIN}"),
                "--server-role=dc",
                "--dns-backend=SAMBA_INTERNAL",
                &format!("--targetdir={}", dir.display()),
                &format!("--host-name={HOST_NAME}"),
                &format!("--host-ip={address}"),
                &format!("--option=interfaces={address}"),
                "--option=bind interfaces only=yes",
                &format!("--option=pid directory={}", dir.join("run").display()),
            ]),
            "provisioning the domain",
            &dir.join("log/provision.log"),
        )?;
        let pki = certs::issue(&dir.join("tls"), &fqdn, address)
            .map_err(|e| lab_error(format!("issuing the lab certificates: {e}")))?;
        configure(dir, &pki)?;
        let sam = format!("tdb://{}", dir.join("private/sam.ldb").display());
        // Complexity stays on, as on a real domain; a minimum age of 0 lets tests change passwords.
        run(
            Command::new("samba-tool").args([
                "domain",
                "passwordsettings",
                "set",
                "--min-pwd-age=0",
                "-H",
                &sam,
            ]),
            "setting the password policy",
        )?;
        let fixtures = fixtures_dir();
        for (file, tool) in [
            ("schema-exchange.ldif", "ldbadd"),
            ("schema-mail-recipient.ldif", "ldbmodify"),
        ] {
            run(
                Command::new(tool)
                    .args(["-H", &sam, "--option=dsdb:schema update allowed=true"])
                    .arg(fixtures.join("lab").join(file)),
                &format!("extending the schema ({file})"),
            )?;
        }
        let people = seed::people(&fixtures)
            .map_err(|e| lab_error(format!("reading fixtures/lab/people.csv: {e}")))?;
        let seed_file = dir.join("seed.ldif");
        let mut seed_text = seed::seed_ldif(&people, USER_PASSWORD);
        // The administrator's password goes in through the same file, never through argv.
        let admin_pw = seed::unicode_pwd_base64(ADMIN_PASSWORD);
        let _ = write!(
            seed_text,
            "dn: CN=Administrator,CN=Users,{DOMAIN_DN}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {admin_pw}\n-\n\n"
        );
        // The LDAP service principals a DC carries (Samba's dnsupdate service, off in the lab,
        // would add them), so Kerberos clients find ldap/<DC name>.
        let _ = write!(
            seed_text,
            "dn: CN={host},OU=Domain Controllers,{DOMAIN_DN}\nchangetype: modify\nadd: servicePrincipalName\n\
             servicePrincipalName: ldap/{fqdn}\nservicePrincipalName: ldap/{fqdn}/{DNS_DOMAIN}\n\
             servicePrincipalName: ldap/{fqdn}/{NETBIOS_DOMAIN}\nservicePrincipalName: ldap/{host}\n-\n\n",
            host = HOST_NAME.to_uppercase()
        );
        let (adds, modifies) = seed_text.split_at(
            seed_text
                .find("dn: CN=Administrator,CN=Users")
                .unwrap_or(seed_text.len()),
        );
        write_private(&seed_file, adds)?;
        run(
            Command::new("ldbadd").args(["-H", &sam]).arg(&seed_file),
            "loading the seed",
        )?;
        let admin_file = dir.join("admin-password.ldif");
        write_private(&admin_file, modifies)?;
        run(
            Command::new("ldbmodify")
                .args(["-H", &sam])
                .arg(&admin_file),
            "setting the administrator password",
        )?;
        delegate_service_accounts_ou(&sam)?;

        let admin_password_file = dir.join("admin.password");
        write_private(&admin_password_file, ADMIN_PASSWORD)?;
        let user_password_file = dir.join("user.password");
        write_private(&user_password_file, USER_PASSWORD)?;
        let krb5_conf = dir.join("krb5.conf");
        std::fs::write(
            &krb5_conf,
            format!(
                "[libdefaults]\n\tdefault_realm = {REALM}\n\tdns_lookup_realm = false\n\tdns_lookup_kdc = false\n\
                 \trdns = false\n\tdns_canonicalize_hostname = false\n\n[realms]\n\t{REALM} = {{\n\t\tkdc = {address}\n\t}}\n\n\
                 [domain_realm]\n\t.{DNS_DOMAIN} = {REALM}\n\t{DNS_DOMAIN} = {REALM}\n"
            ),
        )
        .map_err(|e| lab_error(format!("writing krb5.conf: {e}")))?;

        let log = std::fs::File::create(dir.join("log/samba.out"))
            .map_err(|e| lab_error(format!("cannot create the log: {e}")))?;
        let log_err = log.try_clone().map_err(|e| lab_error(e.to_string()))?;
        let mut samba = Command::new(find_program("samba").unwrap_or_else(|| "samba".into()));
        samba
            .args(["--foreground", "--no-process-group", "-s"])
            .arg(dir.join("etc/smb.conf"));
        // Its own process group: Ctrl-C on the tests reaches the watchdog's cleanup, not Samba.
        std::os::unix::process::CommandExt::process_group(&mut samba, 0);
        let mut samba = samba
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| lab_error(format!("cannot start samba: {e}")))?;
        let samba_pid = samba.id();
        let guard = start_watchdog(samba_pid, dir, lock, added_address.then_some(address))?;
        let dc = SambaDc {
            dir: dir.to_owned(),
            address,
            fqdn,
            pki,
            admin_password_file,
            user_password_file,
            krb5_conf,
            people,
            samba_pid,
            guard: Mutex::new(Some(guard)),
        };
        dc.wait_ready(&mut samba)?;
        progress(&format!(
            "domain controller {} ({}) ready in {:.1} s",
            dc.address,
            dc.fqdn,
            started.elapsed().as_secs_f64()
        ));
        Ok(dc)
    }

    fn wait_ready(&self, samba: &mut Child) -> Result<(), LabError> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(Some(status)) = samba.try_wait() {
                return Err(lab_error(format!(
                    "samba exited ({status}): {}",
                    self.log_tail()
                )));
            }
            if TcpStream::connect_timeout(
                &SocketAddr::from((self.address, 636)),
                Duration::from_millis(500),
            )
            .is_ok()
            {
                let probe =
                    self.ldapsearch_as_admin(&["-b", "", "-s", "base", "defaultNamingContext"]);
                if probe.status.success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(lab_error(format!(
                    "LDAPS did not answer within 90 s: {}",
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("log/samba.out")).unwrap_or_default();
        text.lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ")
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

fn configure(dir: &Path, pki: &LabPki) -> Result<(), LabError> {
    let path = dir.join("etc/smb.conf");
    let text =
        std::fs::read_to_string(&path).map_err(|e| lab_error(format!("reading smb.conf: {e}")))?;
    let d = |sub: &str| dir.join(sub).display().to_string();
    let ours = [
        // Only what the lab uses: LDAP, the KDC, DNS (SRV records for DC discovery), RPC and
        // winbind (for NTLM checks).
        "server services = rpc, ldap, kdc, dns, winbindd".to_owned(),
        "tls enabled = yes".to_owned(),
        // As Windows DCs (and Samba from 4.20) do: Kerberos binds over TLS need no SASL layer
        // of their own; simple binds still need TLS.
        "ldap server require strong auth = allow_sasl_over_tls".to_owned(),
        format!("tls keyfile = {}", pki.key_file.display()),
        format!("tls certfile = {}", pki.cert_file.display()),
        format!("tls cafile = {}", pki.ca_file.display()),
        format!("log file = {}/%m.log", d("log")),
        "log level = 1".to_owned(),
        format!("ncalrpc dir = {}", d("ncalrpc")),
        format!("winbindd socket directory = {}", d("winbindd")),
        format!("ntp signd socket directory = {}", d("run")),
        "load printers = no".to_owned(),
        "printing = bsd".to_owned(),
        "printcap name = /dev/null".to_owned(),
        "disable spoolss = yes".to_owned(),
    ];
    let mut out = String::new();
    for line in text.lines() {
        let key = line
            .trim()
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if ["server services", "log file"].contains(&key.as_str()) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[global]" {
            for setting in &ours {
                let _ = writeln!(out, "\t{setting}");
            }
        }
    }
    std::fs::write(&path, out).map_err(|e| lab_error(format!("writing smb.conf: {e}")))
}

/// The helpdesk operator may create, manage and delete users in the Service Accounts OU, and
/// nothing else: the usual delegation for service-account administration.
fn delegate_service_accounts_ou(sam: &str) -> Result<(), LabError> {
    const USER_CLASS: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
    let found = run(
        Command::new("ldbsearch").args([
            "-H",
            sam,
            &format!("(sAMAccountName={})", seed::operators::HELPDESK),
            "objectSid",
        ]),
        "finding the helpdesk operator",
    )?;
    let text = String::from_utf8_lossy(&found.stdout);
    let sid = text
        .lines()
        .find_map(|l| l.strip_prefix("objectSid: "))
        .ok_or_else(|| lab_error("the helpdesk operator has no SID"))?
        .trim()
        .to_owned();
    let sddl =
        format!("(OA;;CCDC;{USER_CLASS};;{sid})(OA;CIIO;RPWPCRLCLORCSDWD;;{USER_CLASS};{sid})");
    run(
        Command::new("samba-tool").args([
            "dsacl",
            "set",
            &format!("--objectdn={}", seed::SERVICE_ACCOUNTS_OU),
            &format!("--sddl={sddl}"),
            "-H",
            sam,
        ]),
        "delegating the Service Accounts OU",
    )
    .map(|_| ())
}

/// A shell that waits for its stdin to close (this process ending closes it too, however it
/// ends), then stops Samba, kills what is left of its process group and winbindd, removes the
/// lab directory and its lock, and takes away the loopback address the lab added.
fn start_watchdog(
    samba_pid: u32,
    dir: &Path,
    lock: &Path,
    added_address: Option<Ipv4Addr>,
) -> Result<(ChildStdin, Child), LabError> {
    const SCRIPT: &str = r#"
read -r _
kill -TERM "$1" 2>/dev/null
# Until it has exited: gone, or a zombie its parent has not reaped (kill -0 still succeeds).
running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
i=0
while running "$1" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL -- "-$1" 2>/dev/null
if [ -f "$2/run/winbindd.pid" ]; then kill -KILL "$(cat "$2/run/winbindd.pid")" 2>/dev/null; fi
rm -rf "$2"
rm -f "$3"
rmdir "$(dirname "$3")" 2>/dev/null
if [ -n "$4" ]; then ip addr del "$4/32" dev lo 2>/dev/null; fi
"#;
    let mut command = Command::new("sh");
    command
        .args(["-c", SCRIPT, "lab-watchdog", &samba_pid.to_string()])
        .arg(dir)
        .arg(lock)
        .arg(added_address.map(|a| a.to_string()).unwrap_or_default());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| lab_error(format!("cannot start the watchdog: {e}")))?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| lab_error("the watchdog has no stdin"))?;
    Ok((stdin, child))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_step_is_one_line_naming_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("provision.log");
        let error = run_logged(
            Command::new("sh").args([
                "-c",
                "echo 'Traceback (most recent call last):' >&2; echo '  File x, line 1' >&2; \
                 echo 'Exception: File [x.ldf] not found. Please install samba-ad-provision package' >&2; exit 1",
            ]),
            "provisioning the domain",
            &log,
        )
        .unwrap_err()
        .to_string();
        assert!(!error.contains('\n'), "{error}");
        assert!(!error.contains("Traceback"), "{error}");
        assert!(
            error.contains("Please install samba-ad-provision package"),
            "{error}"
        );
        assert!(
            error.ends_with(&format!("; the full log is in {}", log.display())),
            "{error}"
        );
        assert!(std::fs::read_to_string(&log).unwrap().contains("Traceback"));
    }
}
