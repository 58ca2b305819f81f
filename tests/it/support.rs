//! What the tests share: the lab (started once, failing loudly when it cannot start), the tools
//! pre-wired to it, and independent views of the directory.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use lab::samba::SambaDc;
use lab::tools::Tool;

/// Whether this run is CI (`CI=true`): there, nothing may be left unchecked.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The lab's domain controller, started on first use. A lab that cannot start fails the test:
/// these tests are never skipped.
pub fn dc() -> &'static SambaDc {
    static DC: OnceLock<Result<SambaDc, String>> = OnceLock::new();
    match DC.get_or_init(|| SambaDc::start().map_err(|e| e.to_string())) {
        Ok(dc) => dc,
        Err(e) => panic!(
            "{e}\nThe lab tests need Samba's packages and root: run tests/setup (CI={:?})",
            std::env::var("CI").ok()
        ),
    }
}

/// `ad-tool` connected to the lab as its administrator.
pub fn ad() -> Tool {
    let dc = dc();
    Tool::new("ad-tool")
        .args(["--server", &dc.server(), "--user", &dc.admin_upn()])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
        .args([
            "--password-file".into(),
            dc.admin_password_file.clone().into_os_string(),
        ])
}

/// `ad-tool` connected to the lab as `user` with the seed's user password.
pub fn ad_as(user: &str) -> Tool {
    let dc = dc();
    Tool::new("ad-tool")
        .args(["--server", &dc.server(), "--user", user])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
        .args([
            "--password-file".into(),
            dc.user_password_file.clone().into_os_string(),
        ])
}

/// `samba-tool user show NAME` as attribute → value (first value), or `None` if there is no
/// such user.
pub fn samba_user(sam: &str) -> Option<HashMap<String, String>> {
    let output = dc().samba_tool(&["user", "show", sam]);
    if !output.status.success() {
        return None;
    }
    let mut attrs = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some((name, value)) = line.split_once(": ") {
            attrs
                .entry(name.to_owned())
                .or_insert_with(|| value.to_owned());
        }
    }
    Some(attrs)
}

/// The DACL of `dn` in SDDL, from `samba-tool dsacl get`.
pub fn sddl(dn: &str) -> String {
    let output = dc().samba_tool(&["dsacl", "get", &format!("--objectdn={dn}")]);
    assert!(
        output.status.success(),
        "dsacl get {dn}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// The two deny ACEs of "User cannot change password", in samba-tool's SDDL.
pub const DENY_EVERYONE: &str = "(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)";
/// See [`DENY_EVERYONE`].
pub const DENY_SELF: &str = "(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)";
/// The default allow ACEs they replace.
pub const ALLOW_EVERYONE: &str = "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)";
/// See [`ALLOW_EVERYONE`].
pub const ALLOW_SELF: &str = "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)";

/// A 0600 file holding `text`, removed with the returned guard.
pub fn secret_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secret");
    let mut file = std::fs::File::create(&path).expect("secret file");
    file.write_all(text.as_bytes()).expect("write secret");
    drop(file);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    (dir, path)
}

/// Whether `user` can bind over LDAPS with `password` (OpenLDAP's client, not the tool).
pub fn can_bind(user: &str, password: &str) -> bool {
    let (_guard, file) = secret_file(password);
    dc().ldapsearch(
        user,
        &file,
        &["-b", "", "-s", "base", "defaultNamingContext"],
    )
    .status
    .success()
}

/// The account changes its own password over LDAP (delete old + add new in one modify, as
/// MS-ADTS 3.1.1.3.1.5.1 describes the user's own change). Returns ldapmodify's output.
pub fn change_own_password(user: &str, dn: &str, old: &str, new: &str) -> std::process::Output {
    let (_guard, file) = secret_file(old);
    let ldif = format!(
        "dn: {dn}\nchangetype: modify\ndelete: unicodePwd\nunicodePwd:: {}\n-\nadd: unicodePwd\nunicodePwd:: {}\n-\n",
        lab::seed::unicode_pwd_base64(old),
        lab::seed::unicode_pwd_base64(new)
    );
    dc().ldapmodify(user, &file, &ldif)
}

/// A name unique to this test run, for accounts tests create (tests run in parallel).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Forwards TCP connections from an ephemeral port on 127.0.0.1 to `target`: the lab DC reached
/// under an address its certificate does not name.
pub fn forward_to(target: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the forwarder");
    let local = listener.local_addr().expect("forwarder address");
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            let (Ok(mut client_read), Ok(mut server_write)) =
                (client.try_clone(), server.try_clone())
            else {
                continue;
            };
            let (mut server_read, mut client_write) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_read, &mut server_write);
                let _ = server_write.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server_read, &mut client_write);
                let _ = client_write.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    local
}

/// The mailbox the service account has no FullAccess on (in the shared simulator).
pub const NO_ACCESS_MAILBOX: &str = "xander.prins@lab.example";

/// FullAccess for `account` on every seeded mailbox but [`NO_ACCESS_MAILBOX`].
pub fn full_access_for(account: &str) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for person in &dc().people {
        if !person.mail.is_empty() && person.mail != NO_ACCESS_MAILBOX {
            map.insert(person.mail.clone(), serde_json::json!([account]));
        }
    }
    serde_json::json!({ "full_access": map, "impersonation": ["helpdesk"] })
}

/// A simulator of its own (for tests that change settings or inject faults).
pub fn exchange_with(settings: &serde_json::Value) -> lab::fake_ews::FakeEws {
    let fake = lab::fake_ews::FakeEws::start(dc(), settings).unwrap_or_else(|e| panic!("{e}"));
    fake.set_access(&full_access_for(lab::seed::operators::CALENDAR_SERVICE));
    fake
}

/// The shared simulator: Exchange 2016 with Extended Protection.
pub fn exchange() -> &'static lab::fake_ews::FakeEws {
    static EXCHANGE: OnceLock<lab::fake_ews::FakeEws> = OnceLock::new();
    EXCHANGE.get_or_init(|| exchange_with(&serde_json::json!({})))
}

/// `ews-tool` logged on as the calendar service account to `fake`.
pub fn ews_to(fake: &lab::fake_ews::FakeEws) -> Tool {
    ews_at(&fake.url)
}

/// `ews-tool` logged on as the calendar service account to the EWS at `url`.
pub fn ews_at(url: &str) -> Tool {
    ews_as(url, "LAB\\svc-calendar")
}

/// `ews-tool` logged on as `user` (with the seed's user password) to the EWS at `url`.
pub fn ews_as(url: &str, user: &str) -> Tool {
    let dc = dc();
    Tool::new("ews-tool")
        .args(["--url", url, "--user", user])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
        .args([
            "--password-file".into(),
            dc.user_password_file.clone().into_os_string(),
        ])
}

/// `ews-tool` to the shared simulator.
pub fn ews() -> Tool {
    ews_to(exchange())
}

/// A calendar's entries as (user, level), from the simulator's own state.
pub fn entries(fake: &lab::fake_ews::FakeEws, mailbox: &str) -> Vec<(String, String)> {
    fake.calendar(mailbox)["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["user"].as_str().unwrap_or("").to_owned(),
                        e["level"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The 20 mailboxes of `OU=Amsterdam,OU=Staff`.
pub fn amsterdam_mailboxes() -> Vec<String> {
    dc().people
        .iter()
        .filter(|p| p.ou.starts_with("OU=Amsterdam") && !p.mail.is_empty())
        .map(|p| p.mail.clone())
        .collect()
}

/// A TLS-terminating proxy in front of `fake`, as a TLS-inspecting firewall or load balancer
/// is: clients see a certificate of its own (also from the lab CA), so the channel binding
/// they compute names the proxy's certificate, not the server's. Returns the EWS URL through
/// it.
pub fn tls_terminating_proxy(fake: &lab::fake_ews::FakeEws) -> String {
    let dc = dc();
    let (cert, key) = dc
        .pki
        .issue_server("proxy.lab.example", std::net::Ipv4Addr::LOCALHOST)
        .expect("proxy certificate");
    let identity = native_tls::Identity::from_pkcs8(
        &cert.to_pem().expect("pem"),
        &key.private_key_to_pem_pkcs8().expect("key pem"),
    )
    .expect("proxy identity");
    let acceptor = native_tls::TlsAcceptor::new(identity).expect("acceptor");
    let ca = std::fs::read(&dc.pki.ca_file).expect("lab CA");
    let connector = native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&ca).expect("CA"))
        .build()
        .expect("connector");
    let upstream: std::net::SocketAddr = fake
        .url
        .trim_start_matches("https://")
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("the simulator's address");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("proxy address").port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let acceptor = tokio_native_tls::TlsAcceptor::from(acceptor);
            let connector = tokio_native_tls::TlsConnector::from(connector);
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, connector) = (acceptor.clone(), connector.clone());
                tokio::spawn(async move {
                    let Ok(mut client) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(tcp) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let Ok(mut server) = connector.connect("127.0.0.1", tcp).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
    });
    format!("https://127.0.0.1:{port}/EWS/Exchange.asmx")
}

/// Whether a stderr line is a command's closing summary ("ews-tool: 3 mailboxes: 2 granted,
/// 1 failed in 0.4 s (…)").
pub fn is_summary(line: &str) -> bool {
    let Some((_, rest)) = line.split_once(": ") else {
        return false;
    };
    let mut words = rest.split_whitespace();
    words.next().is_some_and(|n| n.parse::<u64>().is_ok())
        && words.next().is_some_and(|noun| {
            matches!(
                noun.trim_end_matches(':'),
                "account" | "accounts" | "mailbox" | "mailboxes" | "member" | "members"
            ) && noun.ends_with(':')
        })
}

/// Whether a stderr line is the notice of a run's journal ("ews-tool: journal: PATH").
pub fn is_journal_notice(line: &str) -> bool {
    line.starts_with("ews-tool: journal: ")
}

/// The lines of stderr that are not the closing summary or the journal notice: the failures
/// and warnings.
pub fn failure_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !is_summary(l) && !is_journal_notice(l))
        .collect()
}

/// The closing summary line; exactly one must be there.
#[track_caller]
pub fn summary_line(stderr: &str) -> &str {
    let summaries: Vec<&str> = stderr.lines().filter(|l| is_summary(l)).collect();
    assert_eq!(summaries.len(), 1, "one summary line: {stderr}");
    summaries[0]
}

/// The password ad-tool generated for `sam`, from its generated-password file.
#[track_caller]
pub fn generated_password(file: &std::path::Path, sam: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{sam},")))
        .unwrap_or_else(|| panic!("no password for {sam} in {}", file.display()))
        .to_owned()
}

/// A second domain controller for tests that freeze, cut or fill what the tools talk to, so
/// the other tests, which share [`dc`], never feel it. Started on first use.
pub fn fault_dc() -> &'static SambaDc {
    static DC: OnceLock<Result<SambaDc, String>> = OnceLock::new();
    match DC.get_or_init(|| SambaDc::start().map_err(|e| e.to_string())) {
        Ok(dc) => dc,
        Err(e) => panic!("{e}\nThe lab tests need Samba's packages and root: run tests/setup"),
    }
}

/// `ad-tool` connected to `dc` (or `server`, a proxy in front of it) as its administrator.
pub fn ad_on(dc: &SambaDc, server: &str) -> Tool {
    Tool::new("ad-tool")
        .args(["--server", server, "--user", &dc.admin_upn()])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
        .args([
            "--password-file".into(),
            dc.admin_password_file.clone().into_os_string(),
        ])
}

/// Which of `accounts` (sAMAccountName, password) can bind to `dc` over LDAPS: the DC's own
/// verdict on each password, asked many at a time.
pub fn binding(dc: &SambaDc, accounts: &[(String, String)]) -> Vec<bool> {
    use ad_tool::directory::{ConnectOptions, Credentials, Directory, Endpoint};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let endpoint = Endpoint::from_server(&dc.server(), false).expect("endpoint");
    let options = ConnectOptions {
        endpoint,
        tls: common::tls::TlsOptions {
            ca_file: Some(dc.pki.ca_file.clone()),
            insecure: false,
        },
        timeout: std::time::Duration::from_secs(30),
    };
    runtime.block_on(async {
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let tasks: Vec<_> = accounts
            .iter()
            .map(|(sam, password)| {
                let (options, limit) = (options.clone(), std::sync::Arc::clone(&limit));
                let credentials = Credentials::Simple {
                    user: format!("{sam}@{}", lab::seed::DNS_DOMAIN),
                    password: common::secret::Secret::new(password.clone()),
                };
                tokio::spawn(async move {
                    let _permit = limit.acquire().await;
                    match Directory::connect(&options, &credentials).await {
                        Ok(directory) => {
                            directory.unbind().await;
                            true
                        }
                        Err(_) => false,
                    }
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap_or(false));
        }
        results
    })
}

/// The EWS schemas: `EWS_SCHEMA_DIR`, or `ews-schema` in the `shared` folder beside the
/// checkout. They are Microsoft's, not the project's to ship. Under CI, missing schemas fail
/// the test; elsewhere (a clone on its own) the test says loudly what it did not check and
/// passes.
pub fn schema_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("EWS_SCHEMA_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/ews-schema"),
        PathBuf::from,
    );
    if dir.join("envelope-exchange2016.xsd").is_file()
        && dir.join("envelope-exchange2010sp2.xsd").is_file()
    {
        return Some(dir);
    }
    let missing = format!(
        "the EWS schemas are missing from {}: set EWS_SCHEMA_DIR to the folder holding \
         envelope-exchange2016.xsd and envelope-exchange2010sp2.xsd around Microsoft's \
         messages.xsd and types.xsd (every Exchange server serves those at \
         https://HOST/EWS/messages.xsd and /EWS/types.xsd)",
        dir.display()
    );
    assert!(!crate::support::in_ci(), "{missing}");
    // Straight to stderr, past the test harness's capture, so a passing run still shows it.
    let _ = writeln!(
        std::io::stderr(),
        "\nNOT CHECKED: EWS schema conformance; {missing}\n"
    );
    None
}

/// Files that fail `schema`, with xmllint's reasons.
pub fn invalid(schema: &Path, files: &[PathBuf]) -> Vec<String> {
    if files.is_empty() {
        return Vec::new();
    }
    let output = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schema)
        .args(files)
        .output()
        .expect("xmllint (Debian package libxml2-utils; run tests/setup)");
    let report = String::from_utf8_lossy(&output.stderr);
    let failures: Vec<String> = report
        .lines()
        .filter(|l| !l.ends_with(" validates"))
        .map(str::to_owned)
        .collect();
    assert!(
        output.status.success() || !failures.is_empty(),
        "xmllint failed: {report}"
    );
    failures
}

/// A tmpfs of a few kilobytes mounted on a folder, unmounted when dropped however the test
/// ends: a disk that fills after a few lines.
pub struct SmallDisk(pub std::path::PathBuf);

impl SmallDisk {
    /// Mounts one of `size` (`4k`, `8k`) on `at` (the lab runs as root).
    #[track_caller]
    pub fn mount(at: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs (the lab runs as root)");
        Self(at.to_owned())
    }

    /// Gives it room again.
    #[track_caller]
    pub fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount the tmpfs");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Sends `signal` (`-INT`, `-TERM`) to the process `pid`.
#[track_caller]
pub fn signal(pid: u32, signal: &str) {
    signal_group(&pid.to_string(), signal);
}

/// Sends `signal` to `target`: a process id, or `-PGID` for a process group.
#[track_caller]
pub fn signal_group(target: &str, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, "--", target])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {target}");
}
