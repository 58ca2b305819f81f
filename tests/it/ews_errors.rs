//! Every way an EWS run can fail, each ending in one clear line with the cli.md exit code and
//! nothing changed.

use lab::tools::Tool;
use serde_json::json;

use crate::support::{
    NO_ACCESS_MAILBOX, dc, entries, ews, ews_as, ews_at, ews_to, exchange, exchange_with,
    secret_file, tls_terminating_proxy,
};

/// One line on stderr that contains every one of `parts`.
fn one_line_with(stderr: &str, parts: &[&str]) {
    assert_eq!(
        crate::support::failure_lines(stderr).len(),
        1,
        "one line: {stderr}"
    );
    for part in parts {
        assert!(stderr.contains(part), "{part:?} missing from: {stderr}");
    }
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Error {"),
        "{stderr}"
    );
}

#[test]
fn a_wrong_password_is_refused_by_the_domain_controller() {
    let (_guard, wrong) = secret_file("Not-The-Password-42");
    let fake = exchange();
    let refused_before = fake.stats()["refused_logons"].as_u64().unwrap();
    let out = Tool::new("ews-tool")
        .args(["--url", &fake.url, "--user", "LAB\\svc-calendar"])
        .args([
            "--ca-file".into(),
            dc().pki.ca_file.clone().into_os_string(),
        ])
        .args(["--password-file".into(), wrong.into_os_string()])
        .args(["check"])
        .run();
    out.expect_code(4);
    one_line_with(
        &out.stderr,
        &["refused the logon of LAB\\svc-calendar", "check --user"],
    );
    assert!(!out.stderr.contains("Not-The-Password-42"));
    assert!(fake.stats()["refused_logons"].as_u64().unwrap() > refused_before);
}

#[test]
fn a_missing_mailbox_and_one_without_full_access() {
    let out = ews()
        .args([
            "grant",
            "--to",
            "bram.jansen@lab.example",
            "--level",
            "Editor",
        ])
        .args(["--mailbox", "nobody@lab.example"])
        .run();
    out.expect_code(1);
    one_line_with(
        &out.stderr,
        &["nobody@lab.example", "there is no mailbox", "SMTP address"],
    );

    let before = exchange().calendar(NO_ACCESS_MAILBOX);
    let out = ews()
        .args([
            "grant",
            "--to",
            "bram.jansen@lab.example",
            "--level",
            "Editor",
        ])
        .args(["--mailbox", NO_ACCESS_MAILBOX])
        .run();
    out.expect_code(4);
    one_line_with(
        &out.stderr,
        &[
            NO_ACCESS_MAILBOX,
            "LAB\\svc-calendar may not open the calendar",
            "Add-MailboxPermission",
        ],
    );
    assert_eq!(exchange().calendar(NO_ACCESS_MAILBOX), before);

    let check = ews()
        .args(["-o", "json", "check", "--mailbox", NO_ACCESS_MAILBOX])
        .run();
    check.expect_code(1);
    let record = check.json();
    assert_eq!(record["mailboxes"][0]["access"], false);
    assert_eq!(record["mailboxes"][0]["error"]["code"], "access-denied");
    assert_eq!(record["own_mailbox"], false, "a service account has none");
}

#[test]
fn impersonation_needs_the_role() {
    let mailbox = NO_ACCESS_MAILBOX;
    let denied = ews()
        .args(["--impersonate", "list", "--mailbox", mailbox])
        .run();
    denied.expect_code(4);
    one_line_with(
        &denied.stderr,
        &[
            "LAB\\svc-calendar may not impersonate",
            mailbox,
            "ApplicationImpersonation",
        ],
    );
    // helpdesk holds ApplicationImpersonation and no FullAccess anywhere.
    let url = &exchange().url;
    let delegate = ews_as(url, "helpdesk@lab.example")
        .args(["list", "--mailbox", mailbox])
        .run();
    delegate.expect_code(4);
    let impersonating = ews_as(url, "helpdesk@lab.example")
        .args(["--impersonate", "-o", "json", "list", "--mailbox", mailbox])
        .run();
    impersonating.expect_code(0);
    assert_eq!(impersonating.json()[0]["entries"][0]["user"], "Default");
}

#[test]
fn exchange_refusals_are_explained_and_change_nothing() {
    let fake = exchange_with(&json!({}));
    let mailbox = "sem.smits@lab.example";
    let before = fake.calendar(mailbox);
    let cases = [
        (
            "ErrorDuplicateUserIdsSpecified",
            "would hold two entries for one user",
            "Remove-MailboxFolderPermission",
        ),
        (
            "ErrorInvalidPermissionSettings",
            "Exchange refused the permission list of sem.smits@lab.example",
            "-v",
        ),
        (
            "ErrorMailboxMoveInProgress",
            "is not available right now",
            "try again later",
        ),
    ];
    for (code, message, hint) in cases {
        fake.set_faults(&json!({"errors": [
            {"operation": "UpdateFolder", "code": code, "text": "The server's own words."}
        ]}));
        let out = ews_to(&fake)
            .args([
                "grant",
                "--to",
                "tess.degraaf@lab.example",
                "--level",
                "Editor",
            ])
            .args(["--mailbox", mailbox])
            .run();
        out.expect_code(1);
        one_line_with(&out.stderr, &[mailbox, message, hint]);
        assert!(
            !out.stderr.contains("The server's own words"),
            "only with -v"
        );
        assert_eq!(fake.calendar(mailbox), before, "{code}");
    }
    // With -v the server's text follows.
    fake.set_faults(&json!({"errors": [
        {"operation": "GetFolder", "code": "ErrorInvalidPermissionSettings", "text": "The server's own words."}
    ]}));
    let out = ews_to(&fake)
        .args(["-v", "list", "--mailbox", mailbox])
        .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("The server's own words"),
        "{}",
        out.stderr
    );
}

#[test]
fn ews_disabled_for_the_account_is_forbidden() {
    let fake = exchange_with(&json!({"ews_disabled": ["svc-calendar"]}));
    let out = ews_to(&fake).args(["check"]).run();
    out.expect_code(4);
    one_line_with(
        &out.stderr,
        &["forbids EWS to LAB\\svc-calendar (HTTP 403)", "EwsEnabled"],
    );
}

#[test]
fn basic_only_where_the_server_offers_it() {
    let fake = exchange_with(&json!({}));
    let out = ews_to(&fake).args(["--auth", "basic", "check"]).run();
    out.expect_code(4);
    one_line_with(
        &out.stderr,
        &["does not offer Basic authentication", "Negotiate", "--auth"],
    );
    fake.set_settings(&json!({"basic": true}));
    let out = ews_to(&fake)
        .args(["--auth", "basic", "-o", "json", "check"])
        .run();
    out.expect_code(0);
    assert_eq!(out.json()["user"], "LAB\\svc-calendar");
    assert_eq!(fake.stats()["ntlm_logons"], 0);
}

#[test]
fn extended_protection_refuses_a_logon_through_a_tls_terminating_proxy() {
    let fake = exchange_with(&json!({}));
    let through_proxy = tls_terminating_proxy(&fake);
    // Directly, the channel binding matches the server's certificate.
    ews_to(&fake).args(["check"]).run().expect_code(0);
    assert_eq!(fake.stats()["channel_binding_refusals"], 0);
    // Through the proxy it names the proxy's certificate, and Exchange refuses the logon.
    let out = ews_at(&through_proxy).args(["check"]).run();
    out.expect_code(4);
    one_line_with(
        &out.stderr,
        &[
            "refused the logon of LAB\\svc-calendar (Negotiate)",
            "TLS-inspecting proxy",
        ],
    );
    assert_eq!(fake.stats()["channel_binding_refusals"], 1);
    // With Extended Protection off (as on servers before 2019 CU14) the same logon passes.
    fake.set_settings(&json!({"extended_protection": false}));
    ews_at(&through_proxy).args(["check"]).run().expect_code(0);
}

#[test]
fn an_untrusted_certificate_names_the_fix() {
    let fake = exchange();
    let out = Tool::new("ews-tool")
        .args(["--url", &fake.url, "--user", "LAB\\svc-calendar"])
        .args([
            "--password-file".into(),
            dc().user_password_file.clone().into_os_string(),
        ])
        .args(["check"])
        .run();
    out.expect_code(3);
    one_line_with(&out.stderr, &["TLS with", "--ca-file"]);
}

#[test]
fn wrong_urls_and_unreachable_servers() {
    let fake = exchange();
    let wrong_path = fake.url.replace("/EWS/Exchange.asmx", "/owa/");
    let out = ews_at(&wrong_path).args(["check"]).run();
    out.expect_code(2);
    one_line_with(
        &out.stderr,
        &["has no EWS at this path (HTTP 404)", "--url"],
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = ews_at(&format!("https://127.0.0.1:{port}/EWS/Exchange.asmx"))
        .args(["check"])
        .run();
    out.expect_code(3);
    one_line_with(&out.stderr, &["cannot connect to", "--url"]);

    let out = ews_at("http://127.0.0.1/EWS/Exchange.asmx")
        .args(["check"])
        .run();
    out.expect_code(2);
    assert_eq!(
        crate::support::failure_lines(&out.stderr).len(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn answers_with_a_byte_order_mark_are_read() {
    let fake = exchange_with(&json!({"byte_order_mark": true}));
    fake.preload(
        "tess.degraaf@lab.example",
        &json!([{"user": "Default", "level": "Reviewer"}, {"user": "Anonymous", "level": "None"}]),
    );
    let out = ews_to(&fake)
        .args([
            "-o",
            "json",
            "list",
            "--mailbox",
            "tess.degraaf@lab.example",
        ])
        .run();
    out.expect_code(0);
    assert_eq!(out.json()[0]["entries"][0]["level"], "Reviewer");
    ews_to(&fake)
        .args([
            "grant",
            "--to",
            "sem.smits@lab.example",
            "--level",
            "Author",
        ])
        .args(["--mailbox", "tess.degraaf@lab.example"])
        .run()
        .expect_code(0);
    assert_eq!(
        entries(&fake, "tess.degraaf@lab.example")[2],
        ("sem.smits@lab.example".into(), "Author".into())
    );
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let fake = exchange_with(&json!({}));
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "grant",
                "--to",
                "bram.jansen@lab.example",
                "--level",
                "Boss",
                "--mailbox",
                "sem.smits@lab.example",
            ],
            "Boss",
        ),
        (
            &[
                "grant",
                "--to",
                "bram.jansen@lab.example",
                "--level",
                "Editor",
            ],
            "--mailbox",
        ),
        (
            &[
                "revoke",
                "--from",
                "not an address",
                "--mailbox",
                "sem.smits@lab.example",
            ],
            "not an address",
        ),
        (
            &["list", "--mailboxes-file", "/nonexistent/list.txt"],
            "/nonexistent/list.txt",
        ),
    ];
    for (args, named) in cases {
        let out = ews_to(&fake).args(args.iter().copied()).run();
        out.expect_code(2);
        assert!(out.stderr.contains(named), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert_eq!(fake.stats()["soap_requests"], 0);
}
