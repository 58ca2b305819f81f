//! Provisioning the lab's DC: `samba-tool domain provision` into the lab folder, its
//! configuration (the lab's certificate, the loopback address, no other interfaces), the seed
//! data and delegation, then starting samba and waiting until LDAPS answers.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::certs::{self, LabPki};
use crate::seed::{self, DNS_DOMAIN, DOMAIN_DN, NETBIOS_DOMAIN, REALM};

/// The lab's administrator password (a lab-only value, written to a 0600 file for the tools).
use super::host::{run_logged, start_watchdog};
use super::*;

impl SambaDc {
    pub(super) fn provision_and_start(
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
            http_keytab: std::sync::OnceLock::new(),
            autodiscover_records: std::sync::OnceLock::new(),
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

    pub(super) fn wait_ready(&self, samba: &mut Child) -> Result<(), LabError> {
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

    pub(super) fn log_tail(&self) -> String {
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
}

pub(super) fn configure(dir: &Path, pki: &LabPki) -> Result<(), LabError> {
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
pub(super) fn delegate_service_accounts_ou(sam: &str) -> Result<(), LabError> {
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
