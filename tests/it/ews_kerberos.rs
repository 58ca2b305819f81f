//! ews-tool with Kerberos: a lab user's ticket from the lab's KDC, a service ticket for the
//! simulator's `HTTP/mail.lab.example`, accepted against its keytab; no password anywhere. And
//! each way it can fail, produced for real, in one line.

use std::process::Command;

use serde_json::json;

use crate::ad_kerberos::kinit;
use crate::support::{dc, exchange_with};

/// ews-tool with the session's ticket in `cache`, reaching the simulator by name.
fn with_ticket(
    fake: &lab::fake_ews::FakeEws,
    dir: &std::path::Path,
    cache: &str,
    host: &str,
) -> lab::tools::Tool {
    let dc = dc();
    let mut tool = lab::tools::Tool::new("ews-tool")
        .env("KRB5_CONFIG", &dc.krb5_conf)
        .env("KRB5CCNAME", cache);
    for (name, value) in lab::kerberos::resolving_env(dir, &[]).unwrap() {
        tool = tool.env(name, value);
    }
    let url = fake.url.replace("127.0.0.1", host);
    tool.args(["--url", &url])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
}

#[test]
fn a_ticket_and_no_password_log_on_with_kerberos() {
    let fake = exchange_with(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let out = with_ticket(&fake, dir.path(), &cache, lab::kerberos::WEB_HOST)
        .args([
            "-v",
            "-o",
            "json",
            "list",
            "--mailbox",
            "anna.devries@lab.example",
        ])
        .run();
    out.expect_code(0);
    assert!(
        out.stderr
            .contains("Kerberos with the ticket of svc-calendar@LAB.EXAMPLE"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()[0]["mailbox"], "anna.devries@lab.example");
    let stats = fake.stats();
    assert!(stats["kerberos_logons"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["ntlm_logons"], 0, "{stats}");
    // `--auth kerberos` insists, and works the same.
    with_ticket(&fake, dir.path(), &cache, lab::kerberos::WEB_HOST)
        .args(["--auth", "kerberos", "check"])
        .run()
        .expect_code(0);
    // A journal names the ticket's principal as the logon.
    let journal = dir.path().join("grant.jsonl");
    with_ticket(&fake, dir.path(), &cache, lab::kerberos::WEB_HOST)
        .args([
            "grant",
            "--to",
            lab::seed::TIMETABLE_GROUP_MAIL,
            "--level",
            "Reviewer",
        ])
        .args(["--mailbox", "anna.devries@lab.example", "--journal"])
        .arg(&journal)
        .run()
        .expect_code(0);
    let header: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&journal)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["user"], "svc-calendar@LAB.EXAMPLE", "{header}");
}

#[test]
fn kerberos_failures_each_say_what_to_do_in_one_line() {
    let fake = exchange_with(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let one_line = |out: &lab::tools::RunOutput, wanted: &[&str]| {
        out.expect_code(4);
        let lines = crate::support::failure_lines(&out.stderr);
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        for text in wanted {
            assert!(lines[0].contains(text), "{text}: {}", lines[0]);
        }
    };
    // No ticket at all.
    let missing = format!("FILE:{}", dir.path().join("no-such-cache").display());
    let out = with_ticket(&fake, dir.path(), &missing, lab::kerberos::WEB_HOST)
        .args(["--auth", "kerberos", "check"])
        .run();
    one_line(&out, &["no Kerberos ticket", "kinit"]);

    // A host with no service principal: the KDC says so, and the line names the setspn.
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let out = with_ticket(&fake, dir.path(), &cache, "127.0.0.1")
        .args(["--auth", "kerberos", "check"])
        .run();
    one_line(
        &out,
        &[
            "no service principal HTTP/127.0.0.1",
            "setspn -S HTTP/127.0.0.1",
        ],
    );

    // An expired ticket (a five-second lifetime, waited out).
    let short_dir = tempfile::tempdir().unwrap();
    let short = format!("FILE:{}", short_dir.path().join("ccache").display());
    let mut child = Command::new("kinit")
        .args(["-l", "5s", "svc-calendar@LAB.EXAMPLE"])
        .env("KRB5_CONFIG", &dc().krb5_conf)
        .env("KRB5CCNAME", &short)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{}\n", lab::samba::USER_PASSWORD).as_bytes(),
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    std::thread::sleep(std::time::Duration::from_secs(6));
    let out = with_ticket(&fake, dir.path(), &short, lab::kerberos::WEB_HOST)
        .args(["--auth", "kerberos", "check"])
        .run();
    one_line(&out, &["expired", "kinit"]);
    assert_eq!(fake.stats()["kerberos_logons"], 0);
}

#[test]
fn a_clock_far_from_the_domains_is_named_as_such() {
    let fake = exchange_with(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let faketime = lab::prerequisites::find_library("faketime/libfaketime.so.1")
        .expect("libfaketime (Debian package libfaketime; run tests/setup)");
    let resolving = lab::kerberos::resolving_env(dir.path(), &[]).unwrap();
    let wrapper = &resolving
        .iter()
        .find(|(n, _)| *n == "LD_PRELOAD")
        .unwrap()
        .1;
    // This machine's clock 15 minutes ahead of the domain's (Kerberos allows 5).
    let out = with_ticket(&fake, dir.path(), &cache, lab::kerberos::WEB_HOST)
        .env("LD_PRELOAD", format!("{wrapper} {}", faketime.display()))
        .env("FAKETIME", "+15m")
        .args(["--auth", "kerberos", "check"])
        .run();
    out.expect_code(4);
    let lines = crate::support::failure_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("clock and the domain controller's differ"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("synchronise the clock"), "{}", lines[0]);
}

/// curl's Negotiate: Kerberos without a channel binding (curl sends none).
fn curl_negotiate(fake: &lab::fake_ews::FakeEws, dir: &std::path::Path, cache: &str) -> String {
    let url = fake.url.replace("127.0.0.1", lab::kerberos::WEB_HOST);
    let mut command = Command::new("curl");
    command
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--negotiate",
            "-u",
            ":",
        ])
        .arg("--cacert")
        .arg(&dc().pki.ca_file)
        .args(["-H", "Content-Type: text/xml", "--data", "<x/>", &url])
        .env("KRB5_CONFIG", &dc().krb5_conf)
        .env("KRB5CCNAME", cache);
    for (name, value) in lab::kerberos::resolving_env(dir, &[]).unwrap() {
        command.env(name, value);
    }
    let out = command.output().expect("curl runs (package curl)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn extended_protection_refuses_a_kerberos_logon_without_the_channel_binding() {
    let dir = tempfile::tempdir().unwrap();
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    // The simulator's default: Extended Protection on. ews-tool binds its ticket to the TLS
    // channel and gets in; curl's ticket carries no binding and does not.
    let guarded = exchange_with(&json!({}));
    with_ticket(&guarded, dir.path(), &cache, lab::kerberos::WEB_HOST)
        .args(["check"])
        .run()
        .expect_code(0);
    assert_eq!(curl_negotiate(&guarded, dir.path(), &cache), "401");
    let stats = guarded.stats();
    assert_eq!(stats["channel_binding_refusals"], 1, "{stats}");
    assert_eq!(stats["kerberos_logons"], 1, "{stats}");
    // Without Extended Protection the same curl logon is accepted (the request itself is not
    // SOAP, so Exchange's answer is a 500 fault, past the logon).
    let open = exchange_with(&json!({ "extended_protection": false }));
    assert_eq!(curl_negotiate(&open, dir.path(), &cache), "500");
    assert_eq!(open.stats()["kerberos_logons"], 1);
}

#[test]
fn a_ticket_the_web_site_cannot_read_is_refused_once_with_the_setspn_to_check() {
    let fake = exchange_with(&json!({}));
    fake.set_faults(&json!({ "stale_keytab": true }));
    let dir = tempfile::tempdir().unwrap();
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let tool = with_ticket(&fake, dir.path(), &cache, lab::kerberos::WEB_HOST)
        .args([
            "grant",
            "--to",
            lab::seed::TIMETABLE_GROUP_MAIL,
            "--level",
            "Reviewer",
        ])
        .args(["--concurrency", "4"])
        .mailboxes(crate::support::amsterdam_mailboxes());
    let out = tool.run();
    out.expect_code(4);
    let lines = crate::support::failure_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains(
            "refused the Kerberos ticket of svc-calendar@LAB.EXAMPLE for HTTP/mail.lab.example"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("setspn -Q HTTP/mail.lab.example"),
        "{}",
        lines[0]
    );
    // One refused logon for the whole run, not one per mailbox or connection.
    assert_eq!(fake.stats()["refused_logons"], 1);
}

#[test]
fn the_service_principal_follows_a_cname_only_when_asked() {
    // webmail.lab.example is a CNAME of mail.lab.example in the lab's DNS; only the latter has
    // a service principal.
    let fake = crate::ews_autodiscover::hosted(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let dc = dc();
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let tool = || {
        let mut tool = lab::tools::Tool::new("ews-tool")
            .env("KRB5_CONFIG", &dc.krb5_conf)
            .env("KRB5CCNAME", &cache)
            .args(["--url", "https://webmail.lab.example/EWS/Exchange.asmx"])
            .args(["--dns-server", &dc.server()])
            .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()]);
        for (name, value) in fake.hosts_env(dir.path(), &[lab::publish::ALIAS]).unwrap() {
            tool = tool.env(name, value);
        }
        tool
    };
    // As browsers do by default: the name as written, which no account holds.
    let out = tool().arg("check").run();
    out.expect_code(4);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("HTTP/webmail.lab.example") && out.stderr.contains("setspn"),
        "{}",
        out.stderr
    );
    // --spn-from-cname: the ticket is for the host the alias names.
    let out = tool().args(["--spn-from-cname", "-v", "check"]).run();
    out.expect_code(0);
    assert!(
        out.stderr.contains(
            "service principal HTTP/mail.lab.example: webmail.lab.example is an alias of it"
        ),
        "{}",
        out.stderr
    );
    assert!(fake.stats()["kerberos_logons"].as_u64().unwrap() >= 1);
}
