//! ews-tool at organisation scale: the journal, resume after Ctrl-C, exact undo, a journal cut
//! by a crash, mailbox lists as people really write them, and throttling storms and dropped
//! connections, all checked through the simulator's own state.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{amsterdam_mailboxes, entries, ews_to, exchange_with};

const GRANTEE: &str = lab::seed::TIMETABLE_GROUP_MAIL;

fn writes(fake: &lab::fake_ews::FakeEws, mailbox: &str) -> u64 {
    fake.stats()["calendar_writes"][mailbox]
        .as_u64()
        .unwrap_or(0)
}

/// Sets `user`'s entry on `mailbox` by hand (as Outlook would), keeping the others.
fn edit_by_hand(fake: &lab::fake_ews::FakeEws, mailbox: &str, user: &str, level: &str) {
    let mut list: Vec<Value> = fake.calendar(mailbox)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["user"] != user)
        .map(|e| json!({"user": e["user"], "rights": e["rights"]}))
        .collect();
    list.push(json!({"user": user, "level": level}));
    fake.preload(mailbox, &Value::Array(list));
}

fn journal_records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn an_interrupted_grant_resumes_from_its_journal_and_undo_puts_every_calendar_back() {
    let fake = exchange_with(&json!({}));
    fake.set_faults(&json!({ "latency_ms": 150 }));
    let mailboxes = amsterdam_mailboxes();
    let before: Vec<Vec<(String, String)>> = mailboxes.iter().map(|m| entries(&fake, m)).collect();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("grant.jsonl");
    let grant = || {
        ews_to(&fake)
            .args(["-o", "jsonl", "grant", "--to", GRANTEE, "--level", "Author"])
            .args(["--concurrency", "2", "--journal"])
            .arg(&journal)
            .mailboxes(&mailboxes)
    };
    let child = grant().spawn();
    std::thread::sleep(Duration::from_millis(1500));
    crate::support::signal(child.id(), "-INT");
    let first = child.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(130), "{first:?}");
    let done_first = String::from_utf8_lossy(&first.stdout).lines().count();
    assert!(
        done_first > 0 && done_first < mailboxes.len(),
        "{done_first}"
    );
    // The journal is valid as the interrupted run left it.
    let records = journal_records(&journal);
    assert_eq!(records[0]["record"], "header");
    assert_eq!(records.last().unwrap()["complete"], false);

    let again = grant().run();
    again.expect_code(0);
    assert!(again.stderr.contains("resumed"), "{}", again.stderr);
    for mailbox in &mailboxes {
        assert_eq!(writes(&fake, mailbox), 1, "{mailbox} written once");
    }
    let records = journal_records(&journal);
    assert_eq!(records.last().unwrap()["record"], "end");
    assert_eq!(records.last().unwrap()["complete"], true);
    let outcomes = records
        .iter()
        .filter(|r| r["record"] == "outcome" && r["action"] == "granted")
        .count();
    assert_eq!(outcomes, mailboxes.len(), "every grant in the journal once");

    // Since the run: someone adds an entry to one calendar and changes the grantee's entry by
    // hand on another.
    let (kept, changed) = (&mailboxes[0], &mailboxes[1]);
    edit_by_hand(&fake, kept, "koen.vos@lab.example", "Reviewer");
    edit_by_hand(&fake, changed, GRANTEE, "Editor");
    let writes_before: u64 = mailboxes.iter().map(|m| writes(&fake, m)).sum();

    let dry = ews_to(&fake)
        .args(["-o", "jsonl", "undo", "--dry-run", "--journal"])
        .arg(&journal)
        .run();
    dry.expect_code(1);
    assert_eq!(
        mailboxes.iter().map(|m| writes(&fake, m)).sum::<u64>(),
        writes_before,
        "a dry run writes nothing"
    );
    let rows = dry.json_lines();
    assert_eq!(
        rows.iter()
            .filter(|r| r["action"] == "would-restore")
            .count(),
        mailboxes.len() - 1
    );

    let undo = ews_to(&fake)
        .args(["-o", "jsonl", "undo", "--journal"])
        .arg(&journal)
        .run();
    undo.expect_code(1);
    let rows = undo.json_lines();
    let action = |mailbox: &str| {
        rows.iter()
            .find(|r| r["mailbox"] == mailbox)
            .map(|r| r["action"].as_str().unwrap().to_owned())
    };
    assert_eq!(action(changed).as_deref(), Some("changed-since"));
    assert!(undo.stderr.contains("--force"), "{}", undo.stderr);
    for (i, mailbox) in mailboxes.iter().enumerate() {
        let mut expected = before[i].clone();
        if mailbox == kept {
            expected.push(("koen.vos@lab.example".into(), "Reviewer".into()));
        }
        if mailbox == changed {
            expected.push((GRANTEE.into(), "Editor".into()));
        } else {
            assert_eq!(action(mailbox).as_deref(), Some("restored"), "{mailbox}");
        }
        assert_eq!(entries(&fake, mailbox), expected, "{mailbox}");
    }
    // The same undo again changes nothing.
    let twice = ews_to(&fake)
        .args(["-o", "jsonl", "undo", "--journal"])
        .arg(&journal)
        .run();
    assert!(
        twice
            .json_lines()
            .iter()
            .filter(|r| r["mailbox"] != changed.as_str())
            .all(|r| r["action"] == "unchanged"),
        "{}",
        twice.stdout
    );
}

#[test]
fn an_undo_can_be_undone_and_force_restores_a_changed_entry() {
    let fake = exchange_with(&json!({}));
    let mailbox = "hanna.mulder@lab.example";
    let dir = tempfile::tempdir().unwrap();
    let (grant_journal, undo_journal) = (dir.path().join("g.jsonl"), dir.path().join("u.jsonl"));
    ews_to(&fake)
        .args([
            "grant",
            "--to",
            GRANTEE,
            "--level",
            "Editor",
            "--mailbox",
            mailbox,
        ])
        .arg("--journal")
        .arg(&grant_journal)
        .run()
        .expect_code(0);
    edit_by_hand(&fake, mailbox, GRANTEE, "Reviewer");
    ews_to(&fake)
        .args(["undo", "--force", "--journal"])
        .arg(&grant_journal)
        .arg("--undo-journal")
        .arg(&undo_journal)
        .run()
        .expect_code(0);
    assert!(!entries(&fake, mailbox).iter().any(|(u, _)| u == GRANTEE));
    // Undoing the undo puts back what the undo removed: the hand-made Reviewer.
    ews_to(&fake)
        .args(["undo", "--journal"])
        .arg(&undo_journal)
        .run()
        .expect_code(0);
    assert!(
        entries(&fake, mailbox)
            .iter()
            .any(|(u, l)| u == GRANTEE && l == "Reviewer"),
        "{:?}",
        entries(&fake, mailbox)
    );
}

#[test]
fn a_journal_cut_in_the_middle_of_a_line_is_still_undone_and_resumed() {
    let fake = exchange_with(&json!({}));
    let mailboxes = ["ivo.degroot@lab.example", "julia.bos@lab.example"];
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("grant.jsonl");
    let grant = || {
        ews_to(&fake)
            .args(["grant", "--to", GRANTEE, "--level", "Reviewer", "--journal"])
            .arg(&journal)
            .args(["--mailbox", mailboxes[0], "--mailbox", mailboxes[1]])
    };
    grant().run().expect_code(0);
    // A crash in the middle of writing the last line.
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, &text[..text.len() - 7]).unwrap();
    let dry = ews_to(&fake)
        .args(["-o", "jsonl", "undo", "--dry-run", "--journal"])
        .arg(&journal)
        .run();
    dry.expect_code(0);
    assert_eq!(dry.json_lines().len(), 2);
    let resumed = grant().run();
    resumed.expect_code(0);
    assert!(
        resumed.stdout.trim().is_empty(),
        "both were done: {}",
        resumed.stdout
    );
    // The journal is whole again: every line a record.
    assert!(
        journal_records(&journal)
            .iter()
            .all(|r| r["record"].is_string())
    );
}

#[test]
fn a_mailbox_list_as_people_write_it_gets_one_outcome_per_line() {
    let fake = exchange_with(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(
        &list,
        "# Amsterdam\nkoen.vos@lab.example\n\n  lotte.peters@lab.example\nnot a mailbox\nKOEN.VOS@lab.example\nnobody@lab.example\n",
    )
    .unwrap();
    let out = ews_to(&fake)
        .args([
            "-o", "jsonl", "grant", "--to", GRANTEE, "--level", "Reviewer",
        ])
        .arg("--mailboxes-file")
        .arg(&list)
        .run();
    out.expect_code(1);
    let rows = out.json_lines();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["mailbox"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("koen.vos@lab.example", "granted"),
            ("lotte.peters@lab.example", "granted"),
            ("not a mailbox", "failed"),
            ("nobody@lab.example", "failed"),
        ]
    );
    assert!(out.stderr.contains("line 5"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("line 6: KOEN.VOS@lab.example is listed more than once"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("there is no mailbox nobody@lab.example"),
        "{}",
        out.stderr
    );
    assert_eq!(writes(&fake, "koen.vos@lab.example"), 1);
}

#[test]
fn an_unresolvable_grantee_stops_the_run_before_any_calendar() {
    let fake = exchange_with(&json!({}));
    let out = ews_to(&fake)
        .args(["grant", "--to", "nobody@lab.example", "--level", "Reviewer"])
        .args([
            "--mailbox",
            "koen.vos@lab.example",
            "--mailbox",
            "julia.bos@lab.example",
        ])
        .run();
    out.expect_code(2);
    assert_eq!(
        crate::support::failure_lines(&out.stderr).len(),
        1,
        "{}",
        out.stderr
    );
    assert!(fake.stats()["operations"].get("GetFolder").is_none());
}

#[test]
fn a_throttling_storm_and_dropped_connections_end_with_everything_done_once() {
    let fake = exchange_with(&json!({"back_off_ms": 500}));
    fake.set_faults(&json!({"busy_percent": 30, "drop_connections": 3}));
    let mailboxes = amsterdam_mailboxes();
    let tool = ews_to(&fake)
        .args([
            "-o", "jsonl", "grant", "--to", GRANTEE, "--level", "Reviewer",
        ])
        .args(["--concurrency", "4"])
        .mailboxes(&mailboxes);
    let out = tool.run();
    out.expect_code(0);
    assert!(
        out.json_lines().iter().all(|r| r["action"] == "granted"),
        "{}",
        out.stdout
    );
    let stats = fake.stats();
    assert!(stats["busy_answers"].as_u64().unwrap() > 5, "{stats}");
    assert_eq!(
        stats["inside_backoff"], 0,
        "no request was sent while the server asked to wait: {stats}"
    );
    for mailbox in &mailboxes {
        assert_eq!(writes(&fake, mailbox), 1, "{mailbox}");
    }
}

/// The records of a journal up to its last complete line (what a crash leaves).
fn complete_records(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_second_signal_exits_at_once_and_the_journal_still_resumes() {
    let fake = exchange_with(&json!({}));
    fake.set_faults(&json!({ "latency_ms": 400 }));
    let mailboxes = amsterdam_mailboxes();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("grant.jsonl");
    let grant = || {
        ews_to(&fake)
            .args(["grant", "--to", GRANTEE, "--level", "Editor"])
            .args(["--concurrency", "3", "--journal"])
            .arg(&journal)
            .mailboxes(&mailboxes)
    };
    let child = grant().spawn();
    std::thread::sleep(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    for _ in 0..2 {
        crate::support::signal(child.id(), "-TERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stopped = child.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(130), "{stopped:?}");
    // At once: not after the requests in flight (400 ms each) were answered.
    assert!(
        started.elapsed() < Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
    let records = complete_records(&journal);
    assert_eq!(records[0]["record"], "header");
    assert_ne!(records.last().unwrap()["record"], "end");

    fake.set_faults(&json!({}));
    let again = grant().run();
    again.expect_code(0);
    for mailbox in &mailboxes {
        assert_eq!(writes(&fake, mailbox), 1, "{mailbox} written once");
        assert!(
            entries(&fake, mailbox).contains(&(GRANTEE.into(), "Editor".into())),
            "{mailbox}"
        );
    }
}

#[test]
fn a_full_disk_stops_the_run_with_no_calendar_written_without_its_record() {
    let fake = exchange_with(&json!({}));
    fake.set_faults(&json!({ "latency_ms": 50 }));
    let mailboxes = amsterdam_mailboxes();
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    let _disk = crate::support::SmallDisk::mount(&small, "4k");
    let journal = small.join("grant.jsonl");
    let tool = ews_to(&fake)
        .args(["-o", "jsonl", "grant", "--to", GRANTEE, "--level", "Author"])
        .args(["--concurrency", "2", "--journal"])
        .arg(&journal)
        .mailboxes(&mailboxes);
    let out = tool.run();
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
    // Every calendar written has its intent in the journal, which is valid to its last line.
    let records = complete_records(&journal);
    let intended: Vec<&str> = records
        .iter()
        .filter(|r| r["record"] == "intent")
        .map(|r| r["mailbox"].as_str().unwrap())
        .collect();
    let written: Vec<&String> = mailboxes.iter().filter(|m| writes(&fake, m) > 0).collect();
    assert!(
        !written.is_empty() && written.len() < mailboxes.len(),
        "{written:?}"
    );
    for mailbox in &written {
        assert!(
            intended.contains(&mailbox.as_str()),
            "{mailbox} written without its intent"
        );
    }

    // With room again (the journal moved to a roomy disk), the same command finishes the run.
    let roomy = dir.path().join("grant.jsonl");
    std::fs::copy(&journal, &roomy).unwrap();
    let tool = ews_to(&fake)
        .args(["grant", "--to", GRANTEE, "--level", "Author"])
        .arg("--journal")
        .arg(&roomy)
        .mailboxes(&mailboxes);
    tool.run().expect_code(0);
    for mailbox in &mailboxes {
        assert_eq!(writes(&fake, mailbox), 1, "{mailbox} written once");
    }
}

#[test]
fn a_journal_that_is_no_file_is_refused_before_anything_is_read() {
    let fake = exchange_with(&json!({}));
    let out = ews_to(&fake)
        .args(["grant", "--to", GRANTEE, "--level", "Author"])
        .args([
            "--mailbox",
            "anna.devries@lab.example",
            "--journal",
            "/dev/full",
        ])
        .run();
    out.expect_code(2);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    assert!(fake.stats()["operations"].get("GetFolder").is_none());
}
