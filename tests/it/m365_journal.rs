//! m365-tool's journal, as ews-tool's: a grant undone exactly (entries added since kept, an
//! entry changed by hand since reported and left, unless `--force`), an undo undone, Ctrl-C
//! and a resume that writes every calendar once, a write whose outcome was lost found made
//! and never sent again, and a full disk that stops the run before any calendar is changed
//! without its record; all checked through the simulator's own state.

use std::path::Path;
use std::time::Duration;

use lab::fake_graph::FakeGraph;
use serde_json::{Value, json};

use crate::m365::{cloud_mailboxes, role_of, start, with_certificate};
use crate::support::dc;

const SVC: &str = "svc-journal@lab.example";

/// Calendar writes the simulator has served (POST, PATCH and DELETE of an entry, batched or
/// not).
fn calendar_writes(fake: &FakeGraph) -> u64 {
    let stats = fake.stats();
    [
        "POST users/{id}/calendar/calendarPermissions",
        "PATCH users/{id}/calendar/calendarPermissions/{id}",
        "DELETE users/{id}/calendar/calendarPermissions/{id}",
    ]
    .iter()
    .map(|k| stats["operations"][k].as_u64().unwrap_or(0))
    .sum()
}

/// A calendar's entries as (who, role), as the simulator holds them.
fn entries(fake: &FakeGraph, mailbox: &str) -> Vec<(String, String)> {
    fake.calendar(mailbox)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let who = e
                .pointer("/emailAddress/address")
                .or_else(|| e.pointer("/emailAddress/name"))
                .and_then(Value::as_str)
                .unwrap()
                .to_ascii_lowercase();
            (who, e["role"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn action_of<'a>(rows: &'a [Value], mailbox: &str) -> &'a str {
    rows.iter()
        .find(|r| r["mailbox"] == mailbox)
        .and_then(|r| r["action"].as_str())
        .unwrap_or("")
}

#[test]
fn a_journaled_grant_is_undone_exactly_and_an_undo_can_be_undone() {
    let fake = start();
    let mailboxes = cloud_mailboxes(6);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("grant.jsonl");
    // Before the run the grantee already reads one calendar.
    with_certificate(&fake)
        .args(["grant", "--to", SVC, "--level", "Reviewer"])
        .args(["--mailbox", &mailboxes[1]])
        .run()
        .expect_code(0);
    let before: Vec<_> = mailboxes.iter().map(|m| entries(&fake, m)).collect();

    let grant = with_certificate(&fake)
        .args(["-o", "json", "grant", "--to", SVC, "--level", "Editor"])
        .arg("--journal")
        .arg(&journal)
        .mailboxes(&mailboxes)
        .run();
    grant.expect_code(0);
    let rows = grant.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(action_of(rows, &mailboxes[0]), "granted");
    assert_eq!(action_of(rows, &mailboxes[1]), "updated");
    let written = records(&journal);
    assert_eq!(written[0]["record"], "header");
    assert_eq!(written[0]["tool"], "m365-tool");
    assert_eq!(written[0]["level"], "write");
    assert_eq!(
        written.iter().filter(|r| r["record"] == "intent").count(),
        6
    );
    assert_eq!(written.last().unwrap()["complete"], true);

    // Since the run: someone adds an entry to one calendar and changes the grantee's entry by
    // hand on another.
    let (kept, changed) = (&mailboxes[3], &mailboxes[4]);
    for (who, mailbox) in [("late@lab.example", kept), (SVC, changed)] {
        with_certificate(&fake)
            .args([
                "grant",
                "--to",
                who,
                "--level",
                "Reviewer",
                "--mailbox",
                mailbox,
            ])
            .run()
            .expect_code(0);
    }
    let writes = calendar_writes(&fake);

    let dry = with_certificate(&fake)
        .args(["-o", "json", "undo", "--dry-run", "--journal"])
        .arg(&journal)
        .run();
    dry.expect_code(1);
    assert_eq!(calendar_writes(&fake), writes, "a dry run writes nothing");
    let rows = dry.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r["action"] == "would-restore")
            .count(),
        5,
        "{rows:?}"
    );
    assert_eq!(action_of(rows, changed), "changed-since");

    let undo_journal = dir.path().join("undo.jsonl");
    let undo = with_certificate(&fake)
        .args(["-o", "json", "undo", "--journal"])
        .arg(&journal)
        .arg("--undo-journal")
        .arg(&undo_journal)
        .run();
    undo.expect_code(1);
    assert!(undo.stderr.contains("--force"), "{}", undo.stderr);
    let rows = undo.json();
    let rows = rows.as_array().unwrap();
    for (i, mailbox) in mailboxes.iter().enumerate() {
        let mut expected = before[i].clone();
        if mailbox == kept {
            expected.push(("late@lab.example".into(), "read".into()));
        }
        if mailbox == changed {
            assert_eq!(action_of(rows, mailbox), "changed-since");
            expected.push((SVC.into(), "read".into()));
        } else {
            assert_eq!(action_of(rows, mailbox), "restored", "{mailbox}");
        }
        assert_eq!(entries(&fake, mailbox), expected, "{mailbox}");
    }

    // The undo has a journal of its own: undoing it gives the grant back where it was undone.
    let redo = with_certificate(&fake)
        .args(["-o", "json", "undo", "--journal"])
        .arg(&undo_journal)
        .run();
    redo.expect_code(0);
    for mailbox in mailboxes.iter().filter(|m| *m != changed) {
        assert_eq!(
            role_of(&fake, mailbox, SVC).as_deref(),
            Some("write"),
            "{mailbox}"
        );
    }
    // --force puts back even the entry changed by hand.
    let forced = with_certificate(&fake)
        .args(["-o", "json", "undo", "--force", "--journal"])
        .arg(&journal)
        .run();
    forced.expect_code(0);
    for (i, mailbox) in mailboxes.iter().enumerate() {
        let mut expected = before[i].clone();
        if mailbox == kept {
            expected.push(("late@lab.example".into(), "read".into()));
        }
        assert_eq!(entries(&fake, mailbox), expected, "{mailbox}");
    }

    // Each tool undoes only its own journals.
    let out = lab::tools::Tool::new("ews-tool")
        .args(["undo", "--journal"])
        .arg(&journal)
        .run();
    out.expect_code(2);
    assert!(
        out.stderr.contains("a journal of m365-tool") && out.stderr.contains("m365-tool undo"),
        "{}",
        out.stderr
    );
}

#[test]
fn ctrl_c_stops_between_batches_and_the_same_command_finishes_writing_each_calendar_once() {
    // The lab's cloud mailboxes and 40 more: three $batch chunks of 20.
    let mut all = lab::fake_graph::cloud_mailboxes(dc())
        .as_array()
        .unwrap()
        .clone();
    all.extend((0..40).map(|i| {
        json!({"upn": format!("cloud.user{i:02}@lab.example"), "displayName": format!("Cloud User {i:02}")})
    }));
    let fake = FakeGraph::start_with(dc(), &json!(all)).unwrap_or_else(|e| panic!("{e}"));
    let mailboxes: Vec<String> = all
        .iter()
        .map(|m| m["upn"].as_str().unwrap().to_owned())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("mailboxes.txt");
    std::fs::write(&list, mailboxes.join("\n") + "\n").unwrap();
    let journal = dir.path().join("grant.jsonl");
    let grant = || {
        with_certificate(&fake)
            .args(["-o", "jsonl", "grant", "--to", SVC, "--level", "Editor"])
            .args(["--concurrency", "1", "--journal"])
            .arg(&journal)
            .arg("--mailboxes-file")
            .arg(&list)
    };
    fake.set_latency(500);
    let child = grant().spawn();
    std::thread::sleep(Duration::from_millis(1500));
    crate::support::signal(child.id(), "-INT");
    let first = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("to finish, run:"), "{stderr}");
    let done_first = String::from_utf8_lossy(&first.stdout).lines().count();
    assert!(
        done_first > 0 && done_first < mailboxes.len(),
        "{done_first}"
    );
    assert_eq!(records(&journal).last().unwrap()["complete"], false);

    fake.set_latency(0);
    let again = grant().run();
    again.expect_code(0);
    assert!(again.stderr.contains("resumed"), "{}", again.stderr);
    assert_eq!(again.json_lines().len(), mailboxes.len() - done_first);
    assert_eq!(
        calendar_writes(&fake),
        mailboxes.len() as u64,
        "each calendar written once"
    );
    for mailbox in &mailboxes {
        assert_eq!(
            role_of(&fake, mailbox, SVC).as_deref(),
            Some("write"),
            "{mailbox}"
        );
    }
    let granted = records(&journal)
        .iter()
        .filter(|r| r["record"] == "outcome" && r["action"] == "granted")
        .count();
    assert_eq!(granted, mailboxes.len(), "every grant in the journal once");

    // Another journal, of a run cut off after its writes were sent and before their outcomes
    // were written: the same command finds them made and sends nothing again.
    let cut = dir.path().join("revoke.jsonl");
    with_certificate(&fake)
        .args(["revoke", "--from", SVC, "--journal"])
        .arg(&cut)
        .mailboxes(&mailboxes[..20])
        .run()
        .expect_code(0);
    let kept: Vec<String> = std::fs::read_to_string(&cut)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""record":"header""#) || l.contains(r#""record":"intent""#))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(kept.len(), 21);
    std::fs::write(&cut, kept.concat()).unwrap();
    let writes = calendar_writes(&fake);
    let resumed = with_certificate(&fake)
        .args(["-o", "json", "revoke", "--from", SVC, "--journal"])
        .arg(&cut)
        .mailboxes(&mailboxes[..20])
        .run();
    resumed.expect_code(0);
    assert_eq!(calendar_writes(&fake), writes, "nothing sent twice");
    assert!(
        resumed
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["action"] == "revoked"),
        "{}",
        resumed.stdout
    );
    // A journal resumes only its own command.
    let other = with_certificate(&fake)
        .args(["grant", "--to", SVC, "--level", "Reviewer", "--journal"])
        .arg(&cut)
        .mailboxes(&mailboxes[..2])
        .run();
    other.expect_code(2);
    assert!(
        other.stderr.contains("records another run"),
        "{}",
        other.stderr
    );
}

#[test]
fn a_full_disk_stops_the_run_before_any_calendar_is_changed_without_its_record() {
    let fake = start();
    let mailboxes = cloud_mailboxes(20);
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    let _disk = crate::support::SmallDisk::mount(&small, "4k");
    let journal = small.join("grant.jsonl");
    let header = json!({
        "record": "header", "tool": "m365-tool", "command": "grant", "grantee": SVC,
        "level": "write", "url": format!("{}/v1.0", fake.url), "user": FakeGraph::client_id(),
        "started": "2026-12-03T05:00:00.000000Z", "tool_version": "0.1.0", "resumed": false
    })
    .to_string();
    let mut text = format!("{header}\n");
    let mut i = 0;
    while text.len() < 4096 - (header.len() + 300) {
        let filler = json!({"record": "outcome", "mailbox": format!("earlier{i}@lab.example"), "action": "failed", "error": "x"});
        text.push_str(&filler.to_string());
        text.push('\n');
        i += 1;
    }
    std::fs::write(&journal, &text).unwrap();
    let grant = |journal: &Path| {
        with_certificate(&fake)
            .args(["grant", "--to", SVC, "--level", "Editor", "--journal"])
            .arg(journal)
            .mailboxes(&mailboxes)
            .run()
    };
    let out = grant(&journal);
    assert_ne!(out.code, 0, "{}", out.stderr);
    let lines = crate::support::failure_lines(&out.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cannot write the journal") && l.contains("no storage space")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(
        calendar_writes(&fake),
        0,
        "no calendar changed without its record"
    );
    // With room again (the journal moved to a roomy disk), the same command finishes the run.
    let roomy = dir.path().join("grant.jsonl");
    std::fs::copy(&journal, &roomy).unwrap();
    grant(&roomy).expect_code(0);
    assert_eq!(calendar_writes(&fake), 20);
    for mailbox in &mailboxes {
        assert_eq!(
            role_of(&fake, mailbox, SVC).as_deref(),
            Some("write"),
            "{mailbox}"
        );
    }
}
