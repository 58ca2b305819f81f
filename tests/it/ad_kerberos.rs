//! `--auth kerberos`: a real ticket from the lab's KDC, over LDAPS with channel binding and over
//! plain LDAP sealed by Kerberos.

use std::io::Write;
use std::process::{Command, Stdio};

use lab::tools::Tool;

use crate::support::{dc, samba_user, unique};

/// A credential cache holding a ticket for `principal`, got with MIT kinit (password on stdin).
pub(crate) fn kinit(principal: &str, password: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let cache = format!("FILE:{}", dir.path().join("ccache").display());
    let mut child = Command::new("kinit")
        .arg(principal)
        .env("KRB5_CONFIG", &dc().krb5_conf)
        .env("KRB5CCNAME", &cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kinit runs (package krb5-user)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kinit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, cache)
}

fn with_ticket(cache: &str) -> Tool {
    let dc = dc();
    Tool::new("ad-tool")
        .env("KRB5_CONFIG", &dc.krb5_conf)
        .env("KRB5CCNAME", cache)
        .args(["--auth", "kerberos"])
}

#[test]
fn kerberos_over_ldaps_with_channel_binding() {
    let dc = dc();
    let (_dir, cache) = kinit("Administrator@LAB.EXAMPLE", lab::samba::ADMIN_PASSWORD);
    let out = with_ticket(&cache)
        .args(["--server", &dc.server(), "--ca-file"])
        .args([dc.pki.ca_file.clone().into_os_string()])
        .args(["-v", "-o", "json", "show-user", "adevries"])
        .run();
    out.expect_code(0);
    assert_eq!(out.json()["sam_account_name"], "adevries");
    assert!(
        out.stderr
            .contains("Kerberos bind for ldap/dc1.lab.example"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("(LDAPS)"), "{}", out.stderr);
}

#[test]
fn a_ticket_and_no_password_bind_with_kerberos_by_default() {
    let dc = dc();
    let (_dir, cache) = kinit("Administrator@LAB.EXAMPLE", lab::samba::ADMIN_PASSWORD);
    let out = Tool::new("ad-tool")
        .env("KRB5_CONFIG", &dc.krb5_conf)
        .env("KRB5CCNAME", &cache)
        .args(["--server", &dc.server(), "--ca-file"])
        .args([dc.pki.ca_file.clone().into_os_string()])
        .args(["-v", "-o", "json", "show-user", "adevries"])
        .run();
    out.expect_code(0);
    assert!(
        out.stderr
            .contains("binding with Kerberos: no password given, and the session has the ticket of Administrator@LAB.EXAMPLE"),
        "{}",
        out.stderr
    );
    // A password given wins: a simple bind, as before.
    let simple = Tool::new("ad-tool")
        .env("KRB5_CONFIG", &dc.krb5_conf)
        .env("KRB5CCNAME", &cache)
        .args([
            "--server",
            &dc.server(),
            "--user",
            &dc.admin_upn(),
            "--ca-file",
        ])
        .args([dc.pki.ca_file.clone().into_os_string()])
        .args([
            "--password-file".into(),
            dc.admin_password_file.clone().into_os_string(),
        ])
        .args(["-v", "show-user", "adevries"])
        .run();
    simple.expect_code(0);
    assert!(
        !simple.stderr.contains("binding with Kerberos"),
        "{}",
        simple.stderr
    );
}

#[test]
fn kerberos_seals_plain_ldap_and_creates_accounts() {
    let dc = dc();
    let (_dir, cache) = kinit("Administrator@LAB.EXAMPLE", lab::samba::ADMIN_PASSWORD);
    let name = unique("krb");
    let out = with_ticket(&cache)
        .args(["--uri", &format!("ldap://{}", dc.server())])
        .args([
            "-v",
            "create-user",
            "--name",
            &name,
            "--service-account",
            "--account-password-stdin",
        ])
        .stdin("Svc-Pass-2026!x")
        .run();
    out.expect_code(0);
    assert!(out.stderr.contains("sealed by Kerberos"), "{}", out.stderr);
    assert_eq!(samba_user(&name).unwrap()["userAccountControl"], "66048");
}

#[test]
fn no_ticket_is_refused_with_a_hint() {
    let dc = dc();
    let dir = tempfile::tempdir().unwrap();
    let empty = format!("FILE:{}", dir.path().join("none").display());
    let out = with_ticket(&empty)
        .args(["--server", &dc.server(), "--ca-file"])
        .args([dc.pki.ca_file.clone().into_os_string()])
        .args(["show-user", "adevries"])
        .run();
    out.expect_code(4);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("Kerberos logon to") && out.stderr.contains("klist"),
        "{}",
        out.stderr
    );
}

#[test]
fn on_a_jump_host_the_domain_and_a_ticket_are_all_ad_tool_needs() {
    let dc = dc();
    let (_dir, cache) = kinit("Administrator@LAB.EXAMPLE", lab::samba::ADMIN_PASSWORD);
    // No server, no user, no password: the domain controller from the domain's SRV records
    // (the lab's DNS stands in for the jump host's resolver), the logon from the ticket.
    let out = Tool::new("ad-tool")
        .env("KRB5_CONFIG", &dc.krb5_conf)
        .env("KRB5CCNAME", &cache)
        .args(["--domain", "lab.example", "--dns-server", &dc.server()])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
        .args(["-v", "-o", "json", "show-user", "adevries"])
        .run();
    out.expect_code(0);
    assert_eq!(out.json()["sam_account_name"], "adevries");
    for said in [
        "domain controllers of lab.example: dc1.lab.example",
        "binding with Kerberos",
        "Kerberos bind for ldap/dc1.lab.example",
    ] {
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
}
