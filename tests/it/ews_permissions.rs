//! `ews-tool grant`, `list` and `revoke` against the Exchange simulator, checked through the
//! simulator's own state, never through the tool.

use crate::support::{dc, entries, ews, exchange};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(u, l)| ((*u).to_owned(), (*l).to_owned()))
        .collect()
}

#[test]
fn grant_list_revoke_round_trip() {
    let mailbox = "anna.devries@lab.example";
    let fake = exchange();
    let grant = ews()
        .args([
            "-o",
            "json",
            "grant",
            "--to",
            "svc-calendar-target@lab.example",
            "--level",
            "Editor",
            "--mailbox",
            mailbox,
        ])
        .run();
    // An address Exchange does not know as a recipient is refused once, before any calendar
    // is read or written.
    grant.expect_code(2);
    assert!(
        grant
            .stderr
            .contains("Exchange does not know svc-calendar-target@lab.example as a recipient"),
        "{}",
        grant.stderr
    );
    assert_eq!(
        crate::support::failure_lines(&grant.stderr).len(),
        1,
        "one line: {}",
        grant.stderr
    );
    assert!(grant.stdout.trim().is_empty(), "{}", grant.stdout);

    let grant = ews()
        .args([
            "-o",
            "json",
            "grant",
            "--to",
            "bram.jansen@lab.example",
            "--level",
            "editor",
            "--mailbox",
            mailbox,
        ])
        .run();
    grant.expect_code(0);
    let record = &grant.json()[0];
    assert_eq!(record["action"], "granted");
    assert_eq!(record["level_after"], "Editor");
    assert_eq!(
        entries(fake, mailbox),
        pairs(&[
            ("Default", "FreeBusyTimeOnly"),
            ("Anonymous", "None"),
            ("bram.jansen@lab.example", "Editor")
        ])
    );

    let again = ews()
        .args([
            "-o",
            "json",
            "grant",
            "--to",
            "bram.jansen@lab.example",
            "--level",
            "Editor",
            "--mailbox",
            mailbox,
        ])
        .run();
    again.expect_code(0);
    assert_eq!(again.json()[0]["action"], "unchanged");
    let change_key = fake.calendar(mailbox)["change_key"].clone();

    let list = ews()
        .args(["-o", "json", "list", "--mailbox", mailbox])
        .run();
    list.expect_code(0);
    let listed = &list.json()[0]["entries"];
    assert_eq!(listed[2]["user"], "bram.jansen@lab.example");
    assert_eq!(listed[2]["display_name"], "Bram Jansen");
    assert_eq!(listed[2]["level"], "Editor");
    assert_eq!(
        fake.calendar(mailbox)["change_key"],
        change_key,
        "nothing was written by unchanged and list"
    );

    let update = ews()
        .args([
            "-o",
            "json",
            "grant",
            "--to",
            "bram.jansen@lab.example",
            "--level",
            "AvailabilityOnly",
            "--mailbox",
            mailbox,
        ])
        .run();
    update.expect_code(0);
    assert_eq!(update.json()[0]["action"], "updated");
    assert_eq!(update.json()[0]["level_before"], "Editor");
    assert_eq!(
        entries(fake, mailbox)[2],
        ("bram.jansen@lab.example".into(), "FreeBusyTimeOnly".into())
    );

    let revoke = ews()
        .args([
            "-o",
            "json",
            "revoke",
            "--from",
            "bram.jansen@lab.example",
            "--mailbox",
            mailbox,
        ])
        .run();
    revoke.expect_code(0);
    assert_eq!(revoke.json()[0]["action"], "revoked");
    assert_eq!(
        entries(fake, mailbox),
        pairs(&[("Default", "FreeBusyTimeOnly"), ("Anonymous", "None")])
    );
    let absent = ews()
        .args([
            "-o",
            "json",
            "revoke",
            "--from",
            "bram.jansen@lab.example",
            "--mailbox",
            mailbox,
        ])
        .run();
    absent.expect_code(0);
    assert_eq!(absent.json()[0]["action"], "absent");
}

#[test]
fn a_group_can_be_the_grantee() {
    let mailbox = "bram.jansen@lab.example";
    let out = ews()
        .args([
            "grant",
            "--to",
            lab::seed::TIMETABLE_GROUP_MAIL,
            "--level",
            "Reviewer",
            "--mailbox",
            mailbox,
        ])
        .run();
    out.expect_code(0);
    assert!(out.stdout.starts_with("granted"), "{}", out.stdout);
    let calendar = exchange().calendar(mailbox);
    let group = calendar["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["user"] == lab::seed::TIMETABLE_GROUP_MAIL)
        .expect("the group's entry");
    assert_eq!(group["level"], "Reviewer");
}

#[test]
fn every_other_entry_survives_grant_and_revoke() {
    let mailbox = "chloe.bakker@lab.example";
    let fake = exchange();
    let custom = serde_json::json!({"create_items": true, "create_subfolders": true, "folder_owner": false, "folder_visible": true, "folder_contact": false, "edit_items": "None", "delete_items": "Owned", "read_items": "FullDetails"});
    let before = fake.preload(
        mailbox,
        &serde_json::json!([
            {"user": "Default", "level": "FreeBusyTimeAndSubjectAndLocation"},
            {"user": "Anonymous", "level": "None"},
            {"user": "daan.visser@lab.example", "level": "Editor"},
            {"user": "eva.smit@lab.example", "rights": custom},
            {"user": lab::seed::TIMETABLE_GROUP_MAIL, "level": "Reviewer"},
        ]),
    );
    let others = before["entries"].clone();
    assert_eq!(others.as_array().unwrap().len(), 5);
    assert_eq!(others[3]["level"], "Custom");

    ews()
        .args([
            "grant",
            "--to",
            "finn.meijer@lab.example",
            "--level",
            "Author",
            "--mailbox",
            mailbox,
        ])
        .run()
        .expect_code(0);
    let after = fake.calendar(mailbox);
    let after_entries = after["entries"].as_array().unwrap();
    assert_eq!(
        &after_entries[..5],
        others.as_array().unwrap().as_slice(),
        "every other entry exactly as before, custom rights included"
    );
    assert_eq!(after_entries[5]["user"], "finn.meijer@lab.example");
    assert_eq!(after_entries[5]["level"], "Author");

    ews()
        .args([
            "revoke",
            "--from",
            "finn.meijer@lab.example",
            "--mailbox",
            mailbox,
        ])
        .run()
        .expect_code(0);
    assert_eq!(
        fake.calendar(mailbox)["entries"],
        others,
        "revoke restores the list exactly"
    );

    // Changing an existing entry keeps the others too, and the custom entry's rights stay.
    ews()
        .args([
            "grant",
            "--to",
            "daan.visser@lab.example",
            "--level",
            "Reviewer",
            "--mailbox",
            mailbox,
        ])
        .run()
        .expect_code(0);
    let changed = fake.calendar(mailbox)["entries"].clone();
    assert_eq!(changed[2]["level"], "Reviewer");
    assert_eq!(changed[3], others[3]);
    assert_eq!(changed[4], others[4]);
}

#[test]
fn dry_run_writes_nothing() {
    // A simulator of its own, so that no write at all may be counted.
    let fake = crate::support::exchange_with(&serde_json::json!({}));
    let mailbox = "daan.visser@lab.example";
    fake.preload(
        mailbox,
        &serde_json::json!([
            {"user": "Default", "level": "FreeBusyTimeOnly"},
            {"user": "Anonymous", "level": "None"},
            {"user": "finn.meijer@lab.example", "level": "Reviewer"},
        ]),
    );
    let before = fake.calendar(mailbox);
    let cases = [
        (
            ["grant", "--to", "eva.smit@lab.example", "--level", "Editor"],
            "would-grant",
        ),
        (
            [
                "grant",
                "--to",
                "finn.meijer@lab.example",
                "--level",
                "Editor",
            ],
            "would-update",
        ),
        (
            ["revoke", "--from", "finn.meijer@lab.example", "", ""],
            "would-revoke",
        ),
    ];
    for (args, action) in cases {
        let out = crate::support::ews_to(&fake)
            .args(["-o", "json"])
            .args(args.iter().filter(|a| !a.is_empty()))
            .args(["--mailbox", mailbox, "--dry-run"])
            .run();
        out.expect_code(0);
        assert_eq!(out.json()[0]["action"], action, "{args:?}");
    }
    assert_eq!(fake.calendar(mailbox), before);
    let stats = fake.stats();
    assert_eq!(stats["operations"]["GetFolder"], 3, "{stats}");
    assert!(stats["operations"]["UpdateFolder"].is_null(), "{stats}");
}

#[test]
fn unresolvable_entries_are_not_dropped_without_consent() {
    let mailbox = "eva.smit@lab.example";
    let fake = exchange();
    let orphan = "S-1-5-21-1111111111-2222222222-3333333333-4242";
    fake.preload(mailbox, &serde_json::json!([{"user": "Default", "level": "FreeBusyTimeOnly"}, {"user": "Anonymous", "level": "None"}, {"user": orphan, "level": "Editor"}]));
    assert_eq!(
        fake.calendar(mailbox)["unknown"],
        serde_json::json!([format!("NT:{orphan}")])
    );
    let refused = ews()
        .args([
            "grant",
            "--to",
            "anna.devries@lab.example",
            "--level",
            "Reviewer",
            "--mailbox",
            mailbox,
        ])
        .run();
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("1 entry Exchange cannot resolve")
            && refused.stderr.contains("--drop-unknown-entries"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        fake.calendar(mailbox)["unknown"].as_array().unwrap().len(),
        1,
        "nothing changed"
    );
    let listed = ews()
        .args(["-o", "json", "list", "--mailbox", mailbox])
        .run();
    assert_eq!(
        listed.json()[0]["unknown_entries"][0],
        format!("NT:{orphan}")
    );
    ews()
        .args([
            "grant",
            "--to",
            "anna.devries@lab.example",
            "--level",
            "Reviewer",
            "--mailbox",
            mailbox,
            "--drop-unknown-entries",
        ])
        .run()
        .expect_code(0);
    assert_eq!(fake.calendar(mailbox)["unknown"], serde_json::json!([]));
}

#[test]
fn default_gets_a_level_and_cannot_be_revoked() {
    let mailbox = "finn.meijer@lab.example";
    ews()
        .args([
            "grant",
            "--to",
            "Default",
            "--level",
            "LimitedDetails",
            "--mailbox",
            mailbox,
        ])
        .run()
        .expect_code(0);
    assert_eq!(
        entries(exchange(), mailbox)[0],
        ("Default".into(), "FreeBusyTimeAndSubjectAndLocation".into())
    );
    let out = ews()
        .args(["revoke", "--from", "Default", "--mailbox", mailbox])
        .run();
    out.expect_code(2);
    assert!(
        out.stderr.contains("grant it the level None instead"),
        "{}",
        out.stderr
    );
    // Refused while parsing the command line, before any request: the line names the option.
    assert!(out.stderr.contains("--from"), "{}", out.stderr);
}

#[test]
fn mailboxes_from_files_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("mailboxes.txt");
    std::fs::write(
        &list,
        "# two staff\nhanna.mulder@lab.example\n\nivo.degroot@lab.example\nnot-an-address\n",
    )
    .unwrap();
    let out = ews()
        .args([
            "-o",
            "jsonl",
            "grant",
            "--to",
            "bram.jansen@lab.example",
            "--level",
            "Reviewer",
            "--mailboxes-file",
        ])
        .args([list.into_os_string()])
        .run();
    out.expect_code(1);
    let actions: Vec<String> = out
        .json_lines()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["granted", "granted", "failed"]);
    let csv = dir.path().join("export.csv");
    std::fs::write(
        &csv,
        "\"DisplayName\",\"PrimarySmtpAddress\"\n\"Hanna Mulder\",\"hanna.mulder@lab.example\"\n",
    )
    .unwrap();
    let out = ews()
        .args([
            "-o",
            "jsonl",
            "grant",
            "--to",
            "bram.jansen@lab.example",
            "--level",
            "Reviewer",
            "--mailboxes-file",
        ])
        .args([csv.into_os_string()])
        .run();
    out.expect_code(0);
    assert_eq!(out.json_lines()[0]["action"], "unchanged");
}

#[test]
fn the_ad_tool_pipeline_grants_a_whole_ou() {
    // `ad-tool mailboxes | ews-tool grant --mailboxes-file -`, as the README shows it.
    let dc = dc();
    let fake = exchange();
    let folder = tempfile::tempdir().unwrap();
    let report_path = folder.path().join("grant.csv");
    let script = format!(
        "set -o pipefail; '{ad}' --server {server} --user {admin} --password-file '{admin_pw}' --ca-file '{ca}' mailboxes --base 'OU=Utrecht,OU=Staff,DC=lab,DC=example' \
         | '{ews}' --url '{url}' --user 'LAB\\svc-calendar' --password-file '{user_pw}' --ca-file '{ca}' -o jsonl grant --to {group} --level Editor --mailboxes-file - --report '{report}'",
        ad = lab::tools::binary("ad-tool").display(),
        ews = lab::tools::binary("ews-tool").display(),
        server = dc.server(),
        admin = dc.admin_upn(),
        admin_pw = dc.admin_password_file.display(),
        user_pw = dc.user_password_file.display(),
        ca = dc.pki.ca_file.display(),
        url = fake.url,
        group = lab::seed::TIMETABLE_GROUP_MAIL,
        report = report_path.display(),
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one mailbox has no FullAccess: {stderr}"
    );
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 20);
    assert_eq!(
        records.iter().filter(|r| r["action"] == "granted").count(),
        19,
        "{stdout}"
    );
    assert!(
        stderr.contains(crate::support::NO_ACCESS_MAILBOX),
        "{stderr}"
    );
    assert!(
        stderr.contains("20 mailboxes: 19 granted, 1 failed"),
        "{stderr}"
    );
    for person in dc.people.iter().filter(|p| {
        p.ou.starts_with("OU=Utrecht")
            && p.mail != crate::support::NO_ACCESS_MAILBOX
            && !p.mail.is_empty()
    }) {
        let calendar = fake.calendar(&person.mail);
        assert!(
            calendar["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["user"] == lab::seed::TIMETABLE_GROUP_MAIL && e["level"] == "Editor"),
            "{}",
            person.mail
        );
    }
    // Every request named its mailbox in X-AnchorMailbox, as multi-server sites need.
    assert_eq!(fake.stats()["anchor_mismatches"], 0);
    let report = std::fs::read_to_string(&report_path).unwrap();
    assert_eq!(report.lines().count(), 21);
    assert!(report.starts_with("mailbox,grantee,action,level_before,level_after,error\n"));
}
