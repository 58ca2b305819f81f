//! The whole chain: a service account ad-tool creates (with a generated password) logs on to
//! Exchange for real, its NTLM logon checked by the lab's domain controller, once per
//! connection, with no secret in the most verbose log.

use lab::tools::Tool;
use serde_json::json;

use crate::support::{ad, dc, exchange_with, unique};

fn ews_as_account(url: &str, user: &str, password_file: &std::path::Path) -> Tool {
    Tool::new("ews-tool")
        .args(["--url", url, "--user", user])
        .args([
            "--ca-file".into(),
            dc().pki.ca_file.clone().into_os_string(),
        ])
        .args([
            "--password-file".into(),
            password_file.as_os_str().to_owned(),
        ])
}

/// A service account made by ad-tool with a generated password: its name, and a file holding
/// that password alone, for ews-tool's --password-file (removed with the directory).
fn new_service_account(prefix: &str) -> (String, tempfile::TempDir, std::path::PathBuf) {
    let sam = unique(prefix);
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("generated.csv");
    ad().args(["create-user", "--name", &sam, "--sam-account-name", &sam])
        .args([
            "--service-account",
            "--path",
            lab::seed::SERVICE_ACCOUNTS_OU,
        ])
        .args(["--generate-password", "--generated-password-file"])
        .args([generated.as_os_str()])
        .run()
        .expect_code(0);
    let password_file = dir.path().join("password");
    common::secret::write_private_file(
        &password_file,
        crate::support::generated_password(&generated, &sam),
    )
    .unwrap();
    (sam, dir, password_file)
}

#[test]
fn a_service_account_from_ad_tool_grants_over_one_ntlm_logon() {
    let (sam, _dir, password_file) = new_service_account("sa-ews-");
    let password = std::fs::read_to_string(&password_file).unwrap();
    assert!(password.len() >= 20);

    let fake = exchange_with(&json!({}));
    let mailboxes = [
        "gijs.deboer@lab.example",
        "julia.bos@lab.example",
        "koen.vos@lab.example",
    ];
    let full_access: serde_json::Map<String, serde_json::Value> = mailboxes
        .iter()
        .map(|m| ((*m).to_owned(), json!([sam])))
        .collect();
    fake.set_access(&json!({ "full_access": full_access }));

    let user = format!("LAB\\{sam}");
    let mut args = vec![
        "-vv",
        "-o",
        "jsonl",
        "grant",
        "--to",
        lab::seed::TIMETABLE_GROUP_MAIL,
    ];
    args.extend(["--level", "Editor", "--concurrency", "1"]);
    for mailbox in &mailboxes {
        args.extend(["--mailbox", mailbox]);
    }
    let out = ews_as_account(&fake.url, &user, &password_file)
        .args(args)
        .run();
    out.expect_code(0);
    assert_eq!(out.json_lines().len(), 3);
    for mailbox in mailboxes {
        let calendar = fake.calendar(mailbox);
        assert!(
            calendar["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["user"] == lab::seed::TIMETABLE_GROUP_MAIL && e["level"] == "Editor"),
            "{mailbox}: {calendar}"
        );
    }
    // Seven SOAP requests (the grantee checked once with ResolveNames, then a read and a
    // write per mailbox) on one connection, one logon.
    let stats = fake.stats();
    assert_eq!(stats["soap_requests"], 7, "{stats}");
    assert_eq!(stats["operations"]["ResolveNames"], 1, "{stats}");
    assert_eq!(stats["connections"], 1, "{stats}");
    assert_eq!(stats["ntlm_logons"], 1, "{stats}");
    // The most verbose log shows the SOAP traffic but no password and no NTLM token.
    assert!(out.stderr.contains("UpdateFolder"), "-vv logs the requests");
    assert!(!out.stderr.contains(&password));
    assert!(!out.stderr.contains("TlRMTVNT"), "an NTLM token in the log");

    // The same account by UPN; it has no mailbox of its own, as a service account should.
    let check = ews_as_account(&fake.url, &format!("{sam}@lab.example"), &password_file)
        .args(["-o", "json", "check", "--mailbox", mailboxes[0]])
        .run();
    check.expect_code(0);
    let record = check.json();
    assert_eq!(record["own_mailbox"], false);
    assert_eq!(record["mailboxes"][0]["access"], true);
    // Mailboxes it has no FullAccess on are refused.
    let refused = ews_as_account(&fake.url, &user, &password_file)
        .args(["list", "--mailbox", "lotte.peters@lab.example"])
        .run();
    refused.expect_code(4);
    assert!(
        refused
            .stderr
            .contains(&format!("{user} may not open the calendar")),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_disabled_account_cannot_log_on() {
    let (sam, _dir, password_file) = new_service_account("sa-off-");
    let fake = exchange_with(&json!({}));
    let user = format!("LAB\\{sam}");
    ews_as_account(&fake.url, &user, &password_file)
        .args(["check"])
        .run()
        .expect_code(0);
    // Disabled on the DC (with samba-tool, not the tools under test): the next logon fails.
    let disabled = dc().samba_tool(&["user", "disable", &sam]);
    assert!(
        disabled.status.success(),
        "{}",
        String::from_utf8_lossy(&disabled.stderr)
    );
    let out = ews_as_account(&fake.url, &user, &password_file)
        .args(["check"])
        .run();
    out.expect_code(4);
    assert!(
        out.stderr.contains(&format!("refused the logon of {user}")),
        "{}",
        out.stderr
    );
}
