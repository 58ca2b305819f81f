//! Autodiscover against the lab: the directory's service connection points read with the
//! session's ticket, the domain's POX and SOAP endpoints, the HTTP redirect method and the SRV
//! record, each found for real through a simulator on its own loopback address (ports 443 and
//! 80) reached by name; and the ways it must not go: redirects out of the domain, redirect
//! loops, a wrong password asked again and again.

use std::path::Path;

use serde_json::json;

use crate::ad_kerberos::kinit;
use crate::support::{dc, full_access_for};
use lab::fake_ews::FakeEws;
use lab::tools::Tool;

const ANNA: &str = "anna.devries@lab.example";
const MAIL_URL: &str = "https://mail.lab.example/EWS/Exchange.asmx";

/// A simulator on its own address, with the lab's Autodiscover records published.
pub(crate) fn hosted(settings: &serde_json::Value) -> FakeEws {
    let dc = dc();
    dc.autodiscover_records().unwrap_or_else(|e| panic!("{e}"));
    let fake = FakeEws::start_hosted(dc, settings).unwrap_or_else(|e| panic!("{e}"));
    fake.set_access(&full_access_for(lab::seed::operators::CALENDAR_SERVICE));
    fake
}

/// ews-tool with no `--url`, a state directory of its own (so no other test's cached answer
/// is used), the lab's DNS server, and `names` resolving to `fake`.
fn discovering(fake: &FakeEws, dir: &Path, names: &[&str]) -> Tool {
    let dc = dc();
    let mut tool = Tool::new("ews-tool")
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("KRB5_CONFIG", &dc.krb5_conf)
        .args(["--dns-server", &dc.server()])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()]);
    for (name, value) in fake.hosts_env(dir, names).unwrap() {
        tool = tool.env(name, value);
    }
    tool
}

/// [`discovering`] logged on with a password as `LAB\svc-calendar` (no UPN: no domain to find a
/// directory by, so the SCP step is skipped).
fn with_password(fake: &FakeEws, dir: &Path, names: &[&str]) -> Tool {
    discovering(fake, dir, names)
        .args(["--user", "LAB\\svc-calendar"])
        .args([
            "--password-file".into(),
            dc().user_password_file.clone().into_os_string(),
        ])
}

/// `ews-tool autodiscover ADDRESS -o json` logged on with the password, `names` resolving to
/// `fake`, with a state directory of its own; its exit code checked when `code` is given.
fn autodiscover(
    fake: &FakeEws,
    names: &[&str],
    options: &[&str],
    address: &str,
    code: Option<i32>,
) -> (lab::tools::RunOutput, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = with_password(fake, dir.path(), names)
        .args(options.iter().copied())
        .args(["-o", "json", "autodiscover", address])
        .run();
    if let Some(code) = code {
        out.expect_code(code);
    }
    let json = out.json();
    (out, json)
}

fn steps_of(out: &serde_json::Value) -> Vec<(String, String)> {
    out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["method"].as_str().unwrap().to_owned(),
                s["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_sites_scp_is_read_with_the_ticket_and_answers_first() {
    let fake = hosted(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let out = discovering(&fake, dir.path(), &[lab::kerberos::WEB_HOST])
        .env("KRB5CCNAME", &cache)
        .args(["-o", "json", "autodiscover", ANNA])
        .run();
    out.expect_code(0);
    let json = out.json();
    assert_eq!(json["url"], MAIL_URL, "{json}");
    let steps = steps_of(&json);
    assert_eq!(steps[0].0, "scp", "{steps:?}");
    assert!(
        steps[0]
            .1
            .contains("2 Autodiscover URL(s), site Default-First-Site-Name"),
        "{steps:?}"
    );
    // The site's SCP answered; the far site's was never asked.
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[1].1.starts_with("EWS URL"), "{steps:?}");
    assert!(!out.stdout.contains("far-site"), "{}", out.stdout);
    let stats = fake.stats();
    assert_eq!(stats["autodiscover_requests"], 1, "{stats}");
    assert!(stats["kerberos_logons"].as_u64().unwrap() >= 1, "{stats}");
    // For people: the URL first, how it was found, then every step.
    let out = discovering(&fake, dir.path(), &[lab::kerberos::WEB_HOST])
        .env("KRB5CCNAME", &cache)
        .args(["autodiscover", ANNA])
        .run();
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], format!("{ANNA}: {MAIL_URL}"), "{}", out.stdout);
    assert!(
        lines[1].starts_with("found by the directory's service connection point ("),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("STEP") && out.stdout.contains("RESULT"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_domain_answers_in_pox_or_else_in_soap() {
    // No directory is known (the logon is LAB\name), so the domain's own URL comes first.
    let fake = hosted(&json!({}));
    let (_, json) = autodiscover(&fake, &["lab.example"], &[], ANNA, Some(0));
    assert_eq!(json["url"], MAIL_URL, "{json}");
    let steps = steps_of(&json);
    assert!(steps[0].1.starts_with("skipped: no directory"), "{steps:?}");
    assert_eq!(steps[1].0, "domain", "{steps:?}");
    assert!(
        json["steps"][1]["target"]
            .as_str()
            .unwrap()
            .ends_with("/autodiscover/autodiscover.xml"),
        "{json}"
    );
    assert_eq!(fake.stats()["ntlm_logons"], 1);

    // A server without the POX form: the SOAP form at the same host.
    fake.set_settings(&json!({"autodiscover": {"pox": false,
        "external_url": "https://webmail.lab.example/EWS/Exchange.asmx"}}));
    let (_, json) = autodiscover(&fake, &["lab.example"], &[], ANNA, Some(0));
    let steps = steps_of(&json);
    assert!(
        steps[1].1.starts_with("no Autodiscover here (HTTP 404)"),
        "{steps:?}"
    );
    assert!(
        json["steps"][2]["target"]
            .as_str()
            .unwrap()
            .ends_with("/autodiscover/autodiscover.svc"),
        "{json}"
    );
    assert_eq!(json["url"], MAIL_URL, "{json}");
    assert_eq!(
        json["external_url"],
        "https://webmail.lab.example/EWS/Exchange.asmx"
    );
}

#[test]
fn the_autodiscover_host_then_the_http_redirect_then_srv() {
    // Only autodiscover.lab.example resolves: the domain step fails, the next one answers.
    let fake = hosted(&json!({}));
    let (_, json) = autodiscover(&fake, &["autodiscover.lab.example"], &[], ANNA, Some(0));
    let steps = steps_of(&json);
    assert_eq!(steps[1].0, "domain");
    assert!(steps[1].1.starts_with("failed: "), "{steps:?}");
    assert_eq!(steps.last().unwrap().0, "autodiscover-host", "{steps:?}");

    // The HTTPS names serve no Autodiscover (a web site); the plain-HTTP site redirects.
    fake.set_settings(&json!({"autodiscover": {"hosts": ["mail.lab.example"],
        "http_redirect": lab::publish::scp_url()}}));
    let names = ["autodiscover.lab.example", "mail.lab.example"];
    let (_, json) = autodiscover(&fake, &names, &[], ANNA, Some(0));
    let steps = steps_of(&json);
    let redirect = steps.iter().position(|s| s.0 == "http-redirect").unwrap();
    assert!(
        steps[redirect]
            .1
            .starts_with("redirect to https://mail.lab.example/"),
        "{steps:?}"
    );
    assert!(steps.last().unwrap().1.starts_with("EWS URL"), "{steps:?}");
    assert!(
        json["found_by"].as_str().unwrap().contains("HTTP redirect"),
        "{json}"
    );
    assert_eq!(fake.stats()["http_redirects"], 1);

    // A redirect to plain HTTP is never followed; nor one out of the domain.
    for (location, refusal) in [
        (
            "http://mail.lab.example/autodiscover/autodiscover.xml",
            "is not HTTPS",
        ),
        (
            "https://autodiscover.partner.example/autodiscover/autodiscover.xml",
            "pass --trust-redirect",
        ),
    ] {
        fake.set_settings(&json!({"autodiscover": {"hosts": ["mail.lab.example"],
            "http_redirect": location}}));
        let (_, json) = autodiscover(&fake, &["autodiscover.lab.example"], &[], ANNA, None);
        let steps = steps_of(&json);
        assert!(
            steps
                .iter()
                .any(|s| s.0 == "http-redirect" && s.1.contains(refusal)),
            "{steps:?}"
        );
    }

    // Nothing at the domain's names: the SRV record in the lab's DNS names mail.lab.example.
    fake.set_settings(&json!({"autodiscover": {"hosts": ["mail.lab.example"]}}));
    let (_, json) = autodiscover(&fake, &["mail.lab.example"], &[], ANNA, Some(0));
    let steps = steps_of(&json);
    assert_eq!(steps.last().unwrap().0, "srv", "{steps:?}");
    assert!(
        steps
            .iter()
            .any(|s| s.0 == "srv" && s.1 == format!("names {}", lab::publish::scp_url())),
        "{steps:?}"
    );
    assert_eq!(json["url"], MAIL_URL);
}

#[test]
fn redirects_stay_in_the_domain_are_bounded_and_follow_addresses() {
    let fake = hosted(&json!({}));
    // An address redirect: asked again for the new address.
    fake.set_settings(&json!({"autodiscover": {"redirect_addresses": {
        "anna@lab.example": ANNA}}}));
    let (_, json) = autodiscover(&fake, &["lab.example"], &[], "anna@lab.example", Some(0));
    assert_eq!(json["address"], ANNA, "{json}");
    assert_eq!(json["url"], MAIL_URL);

    // A redirect loop stops after 10 redirects, with one line.
    fake.set_settings(&json!({"autodiscover": {"redirect_urls": {
        "lab.example": "https://autodiscover.lab.example/autodiscover/autodiscover.xml",
        "autodiscover.lab.example": "https://lab.example/autodiscover/autodiscover.xml"}}}));
    let names = ["lab.example", "autodiscover.lab.example"];
    let (out, json) = autodiscover(&fake, &names, &[], ANNA, Some(3));
    let steps = steps_of(&json);
    assert!(
        steps.last().unwrap().1.contains("more than 10 redirects"),
        "{steps:?}"
    );
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.1.starts_with("redirect to"))
            .count(),
        11,
        "{steps:?}"
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("found no EWS URL for anna.devries@lab.example"),
        "{}",
        out.stderr
    );

    // A redirect out of the domain (here to an address, which is in no domain) is followed
    // only with --trust-redirect.
    let outside = format!("https://{}/autodiscover/autodiscover.xml", fake.address);
    fake.set_settings(&json!({"autodiscover": {"redirect_urls": {"lab.example": outside}}}));
    let (out, _) = autodiscover(&fake, &["lab.example"], &[], ANNA, Some(3));
    assert!(
        out.stdout.contains("pass --trust-redirect to follow it"),
        "{}",
        out.stdout
    );
    let (_, json) = autodiscover(
        &fake,
        &["lab.example"],
        &["--trust-redirect"],
        ANNA,
        Some(0),
    );
    assert_eq!(json["url"], MAIL_URL);
    assert!(
        json["found_by"].as_str().unwrap().starts_with("a redirect"),
        "{json}"
    );
}

#[test]
fn a_wrong_password_is_tried_once_not_at_every_candidate() {
    let fake = hosted(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "Not-The-Password-1!\n").unwrap();
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let names = [
        "lab.example",
        "autodiscover.lab.example",
        "mail.lab.example",
    ];
    let out = discovering(&fake, dir.path(), &names)
        .args(["--user", "LAB\\svc-calendar", "--password-file"])
        .arg(&wrong)
        .args(["list", "--mailbox", ANNA])
        .run();
    out.expect_code(4);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("refused the logon"), "{}", out.stderr);
    assert_eq!(fake.stats()["refused_logons"], 1, "{}", fake.stats());
}

#[test]
fn the_answer_is_cached_and_config_show_names_it() {
    let fake = hosted(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let run = |args: &[&str]| {
        discovering(&fake, dir.path(), &[lab::kerberos::WEB_HOST])
            .env("KRB5CCNAME", &cache)
            .args(args)
            .run()
    };
    let out = run(&["-v", "list", "--mailbox", ANNA]);
    out.expect_code(0);
    assert!(
        out.stderr.contains(&format!(
            "EWS URL {MAIL_URL} found by the directory's service connection point"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(fake.stats()["autodiscover_requests"], 1);
    let out = run(&["-v", "list", "--mailbox", "bram.jansen@lab.example"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("from the Autodiscover cache"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fake.stats()["autodiscover_requests"],
        1,
        "the cache answered"
    );
    let cache_file = dir.path().join("state/ad-ews-tools/autodiscover.json");
    let text = std::fs::read_to_string(&cache_file).unwrap();
    assert!(text.contains(MAIL_URL), "{text}");
    let out = run(&["config", "show", "-o", "jsonl"]);
    out.expect_code(0);
    let url = out
        .json_lines()
        .into_iter()
        .find(|s| s["name"] == "url")
        .unwrap();
    assert_eq!(url["value"], MAIL_URL, "{url}");
    assert!(
        url["origin"]["how"]
            .as_str()
            .unwrap()
            .starts_with("autodiscover (cached"),
        "{url}"
    );
}

#[test]
fn nothing_found_is_one_line_naming_the_address_and_what_to_do() {
    let fake = hosted(&json!({"autodiscover": {"pox": false, "soap": false}}));
    let dir = tempfile::tempdir().unwrap();
    let out = with_password(&fake, dir.path(), &[])
        .args(["list", "--mailbox", ANNA])
        .run();
    out.expect_code(3);
    let lines: Vec<&str> = out.stderr.trim().lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0]
            .starts_with("ews-tool: Autodiscover found no EWS URL for anna.devries@lab.example"),
        "{}",
        out.stderr
    );
    assert!(
        lines[0].contains("run `ews-tool autodiscover anna.devries@lab.example` to see every step"),
        "{}",
        out.stderr
    );
}

/// ad-tool on the jump host: the DC from the domain's SRV records, the logon from the ticket in
/// `cache`, nothing else but the lab's DNS server and CA.
fn ad_tool_on_the_jump_host(cache: &str) -> Tool {
    let dc = dc();
    Tool::new("ad-tool")
        .env("KRB5_CONFIG", &dc.krb5_conf)
        .env("KRB5CCNAME", cache)
        .args(["--domain", "lab.example", "--dns-server", &dc.server()])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
}

#[test]
fn the_whole_job_runs_with_tickets_only_and_no_server_names() {
    // The jump host: tickets, and nothing else but the lab's DNS server (which a domain-joined
    // host has as its resolver) and the lab's CA.
    let fake = hosted(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let dc = dc();
    // The administrator makes the service account and its mail-enabled group.
    let (_admin_dir, admin) = kinit("Administrator@LAB.EXAMPLE", lab::samba::ADMIN_PASSWORD);
    let passwords = dir.path().join("passwords.csv");
    ad_tool_on_the_jump_host(&admin)
        .args(["create-user", "--name", "svc-jh-calendar", "--upn"])
        .args([
            "svc-jh-calendar@lab.example",
            "--path",
            lab::seed::SERVICE_ACCOUNTS_OU,
        ])
        .args([
            "--service-account",
            "--generate-password",
            "--if-exists",
            "update",
        ])
        .arg("--generated-password-file")
        .arg(&passwords)
        .run()
        .expect_code(0);
    let group_dn = format!("CN=JH Timetable,{}", lab::seed::SERVICE_ACCOUNTS_OU);
    ad_tool_on_the_jump_host(&admin)
        .args(["create-group", "--name", "JH Timetable", "--path"])
        .args([
            lab::seed::SERVICE_ACCOUNTS_OU,
            "--mail",
            "jh-timetable@lab.example",
        ])
        .args(["--member", "svc-jh-calendar", "--if-exists", "update"])
        .run()
        .expect_code(0);
    let user = crate::support::samba_user("svc-jh-calendar").expect("the account exists");
    assert_eq!(user["userAccountControl"], "66048", "{user:?}");
    // Exchange's step (Enable-DistributionGroup), which ad-tool leaves to Exchange.
    lab::mail_enable::enable_distribution_group(dc, &group_dn).unwrap();
    // The calendar service lists the mailboxes and grants the group on each calendar.
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let listed = ad_tool_on_the_jump_host(&cache)
        .args([
            "mailboxes",
            "--base",
            "OU=Amsterdam,OU=Staff,DC=lab,DC=example",
        ])
        .run();
    listed.expect_code(0);
    let mailboxes = crate::support::amsterdam_mailboxes();
    assert_eq!(listed.stdout.lines().count(), mailboxes.len());
    let out = discovering(&fake, dir.path(), &[lab::kerberos::WEB_HOST])
        .env("KRB5CCNAME", &cache)
        .args(["-v", "grant", "--to", "jh-timetable@lab.example"])
        .args(["--level", "Editor", "--mailboxes-file", "-"])
        .stdin(listed.stdout.clone())
        .run();
    out.expect_code(0);
    // -v says which logon, which directory and which URL, and why.
    for said in [
        "Negotiate: Kerberos with the ticket of svc-calendar@LAB.EXAMPLE",
        "no --url: Autodiscover for",
        "autodiscover: scp dc1.lab.example: 2 Autodiscover URL(s), site Default-First-Site-Name",
        "EWS URL https://mail.lab.example/EWS/Exchange.asmx found by the directory's service connection point",
    ] {
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    for mailbox in &mailboxes {
        let entries = crate::support::entries(&fake, mailbox);
        assert!(
            entries.contains(&("jh-timetable@lab.example".to_owned(), "Editor".to_owned())),
            "{mailbox}: {entries:?}"
        );
    }
    let stats = fake.stats();
    assert_eq!(stats["ntlm_logons"], 0, "{stats}");
    assert_eq!(stats["refused_logons"], 0, "{stats}");
}

#[test]
fn the_directory_can_be_named_and_read_with_a_password_or_sealed_by_kerberos() {
    let fake = hosted(&json!({}));
    let dc = dc();
    // ldap:// with the ticket: Kerberos seals the session (no TLS), from EWS_TOOL_DIRECTORY.
    let dir = tempfile::tempdir().unwrap();
    let (_cache_dir, cache) = kinit("svc-calendar@LAB.EXAMPLE", lab::samba::USER_PASSWORD);
    let out = discovering(&fake, dir.path(), &[lab::kerberos::WEB_HOST])
        .env("KRB5CCNAME", &cache)
        .env("EWS_TOOL_DIRECTORY", format!("ldap://{}", dc.server()))
        .args(["-o", "json", "autodiscover", ANNA])
        .run();
    out.expect_code(0);
    let json = out.json();
    assert_eq!(json["steps"][0]["target"], "dc1.lab.example", "{json}");
    assert_eq!(json["url"], MAIL_URL);
    // LDAPS with the operator's password (a simple bind as LAB\svc-calendar).
    let dir = tempfile::tempdir().unwrap();
    let out = with_password(&fake, dir.path(), &[lab::kerberos::WEB_HOST])
        .args([
            "--directory",
            &dc.ldaps_uri(),
            "-o",
            "json",
            "autodiscover",
            ANNA,
        ])
        .run();
    out.expect_code(0);
    let json = out.json();
    assert_eq!(json["steps"][0]["method"], "scp", "{json}");
    assert_eq!(json["steps"][1]["method"], "scp", "{json}");
    assert_eq!(json["url"], MAIL_URL);
    // A password never goes over plain LDAP: the step fails and the others are tried.
    let dir = tempfile::tempdir().unwrap();
    let out = with_password(&fake, dir.path(), &["lab.example"])
        .args(["--directory", &format!("ldap://{}", dc.server())])
        .args(["-o", "json", "autodiscover", ANNA])
        .run();
    out.expect_code(0);
    let json = out.json();
    let first = json["steps"][0]["result"].as_str().unwrap();
    assert!(first.contains("refusing to send a password"), "{json}");
    assert_eq!(json["steps"][1]["method"], "domain", "{json}");
}
