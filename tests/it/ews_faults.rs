//! ews-tool's failure paths against the lab: a wrong password never locks the account out, a
//! server that asks to wait too long ends the run with a clear line, a write whose answer was
//! lost is learnt from the calendar, and a report that cannot be written stops the run before
//! anything is changed.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    ad, dc, ews_to, exchange_with, failure_lines, generated_password, secret_file, unique,
};

/// A service account of its own, under a fine-grained password policy that locks it out after
/// five wrong passwords (the lockout threshold of many real domains), with FullAccess on
/// `mailboxes` in a simulator of its own. Returns its name, password and the simulator.
fn lockable_account(mailboxes: &[String]) -> (String, String, lab::fake_ews::FakeEws) {
    let dc = dc();
    let sam = unique("lock");
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("p.csv");
    ad().args([
        "create-user",
        "--name",
        &sam,
        "--path",
        lab::seed::SERVICE_ACCOUNTS_OU,
    ])
    .args([
        "--service-account",
        "--generate-password",
        "--generated-password-file",
    ])
    .args([passwords.as_os_str()])
    .run()
    .expect_code(0);
    let password = generated_password(&passwords, &sam);
    let sam_ldb = format!("tdb://{}", dc.dir.join("private/sam.ldb").display());
    // One policy for the lab run (creating it twice fails harmlessly), applied to this account.
    let _ = dc.samba_tool(&[
        "domain",
        "passwordsettings",
        "pso",
        "create",
        "lab-lockout-5",
        "1",
        "--account-lockout-threshold=5",
        "--account-lockout-duration=30",
        "--reset-account-lockout-after=30",
    ]);
    let applied = Command::new("samba-tool")
        .args([
            "domain",
            "passwordsettings",
            "pso",
            "apply",
            "lab-lockout-5",
            &sam,
        ])
        .args(["-H", &sam_ldb])
        .output()
        .unwrap();
    assert!(applied.status.success(), "{applied:?}");
    let fake = exchange_with(&json!({}));
    let access: serde_json::Map<String, serde_json::Value> = mailboxes
        .iter()
        .map(|m| (m.clone(), json!([sam])))
        .collect();
    fake.set_access(&json!({ "full_access": access }));
    (sam, password, fake)
}

/// `badPwdCount` and `lockoutTime` of `sam`, from the DC's own database.
fn lockout_state(sam: &str) -> (u64, u64) {
    let out = Command::new("ldbsearch")
        .args([
            "-H",
            &format!("tdb://{}", dc().dir.join("private/sam.ldb").display()),
            &format!("(sAMAccountName={sam})"),
            "badPwdCount",
            "lockoutTime",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (value("badPwdCount"), value("lockoutTime"))
}

fn ews_with_password(
    fake: &lab::fake_ews::FakeEws,
    sam: &str,
    password: &str,
) -> (lab::tools::Tool, tempfile::TempDir) {
    let (guard, file) = secret_file(password);
    let tool = lab::tools::Tool::new("ews-tool")
        .args(["--url", &fake.url, "--user", &format!("LAB\\{sam}")])
        .args([
            "--ca-file".into(),
            dc().pki.ca_file.clone().into_os_string(),
        ])
        .args(["--password-file".into(), file.into_os_string()]);
    (tool, guard)
}

#[test]
fn a_wrong_password_over_forty_mailboxes_is_one_failed_logon_and_never_a_lockout() {
    let mailboxes: Vec<String> = dc()
        .people
        .iter()
        .filter(|p| !p.mail.is_empty())
        .take(40)
        .map(|p| p.mail.clone())
        .collect();
    assert_eq!(mailboxes.len(), 40);
    let (sam, password, fake) = lockable_account(&mailboxes);
    let refused_before = fake.stats()["refused_logons"].as_u64().unwrap();
    let (wrong, _guard) = ews_with_password(&fake, &sam, "Not-The-Password-42!");
    let mut grant = wrong.args([
        "grant",
        "--to",
        lab::seed::TIMETABLE_GROUP_MAIL,
        "--level",
        "Reviewer",
        "--concurrency",
        "8",
    ]);
    for mailbox in &mailboxes {
        grant = grant.args(["--mailbox", mailbox]);
    }
    let out = grant.run();
    out.expect_code(4);
    assert_eq!(
        fake.stats()["refused_logons"].as_u64().unwrap() - refused_before,
        1,
        "one bad logon reached the DC"
    );
    let failures = failure_lines(&out.stderr);
    assert_eq!(failures.len(), 1, "one line: {}", out.stderr);
    assert!(failures[0].contains("locked out"), "{}", out.stderr);
    assert!(
        failures[0].contains("at most one failed logon"),
        "{}",
        out.stderr
    );
    assert_eq!(
        lockout_state(&sam),
        (1, 0),
        "one bad password counted, not locked"
    );
    // The right password still works: the account was not locked.
    let (right, _guard) = ews_with_password(&fake, &sam, &password);
    right
        .args(["list", "--mailbox", &mailboxes[0]])
        .run()
        .expect_code(0);
    // ad-tool binds once per run too.
    let (_g, wrong_file) = secret_file("Not-The-Password-42!");
    let before = lockout_state(&sam).0;
    lab::tools::Tool::new("ad-tool")
        .args([
            "--server",
            &dc().server(),
            "--user",
            &format!("{sam}@lab.example"),
        ])
        .args([
            "--ca-file".into(),
            dc().pki.ca_file.clone().into_os_string(),
        ])
        .args(["--password-file".into(), wrong_file.into_os_string()])
        .args(["mailboxes"])
        .run()
        .expect_code(4);
    assert_eq!(lockout_state(&sam).0, before + 1);
}

#[test]
fn a_back_off_longer_than_allowed_ends_the_run_and_a_long_one_is_announced() {
    let fake = exchange_with(&json!({ "back_off_ms": 3_600_000 }));
    fake.set_faults(&json!({ "busy": 1 }));
    let started = Instant::now();
    let out = ews_to(&fake)
        .args([
            "list",
            "--mailbox",
            "anna.devries@lab.example",
            "--mailbox",
            "bram.jansen@lab.example",
        ])
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it did not sit for an hour"
    );
    out.expect_code(3);
    let failures = failure_lines(&out.stderr);
    assert_eq!(failures.len(), 1, "{}", out.stderr);
    assert!(
        failures[0].contains("asks to wait 1 h, longer than --max-backoff (5 min)"),
        "{}",
        out.stderr
    );
    // Six seconds is within the limit, and said on stderr at default verbosity.
    fake.set_settings(&json!({ "back_off_ms": 6000 }));
    fake.set_faults(&json!({ "busy": 1 }));
    let out = ews_to(&fake)
        .args(["list", "--mailbox", "anna.devries@lab.example"])
        .run();
    out.expect_code(0);
    assert!(
        out.stderr.contains("server busy: waiting 6.0 s"),
        "{}",
        out.stderr
    );
}

/// `grant --to <the Timetable group> --level Editor` on one mailbox, as JSON lines.
fn grant_editor(fake: &lab::fake_ews::FakeEws, mailbox: &str) -> lab::tools::RunOutput {
    ews_to(fake)
        .args([
            "-o",
            "jsonl",
            "grant",
            "--to",
            lab::seed::TIMETABLE_GROUP_MAIL,
        ])
        .args(["--level", "Editor", "--mailbox", mailbox])
        .run()
}

#[test]
fn a_lost_answer_to_a_write_is_learnt_from_the_calendar_and_never_resent_blindly() {
    let fake = exchange_with(&json!({}));
    let mailbox = "chloe.bakker@lab.example";
    fake.set_faults(&json!({ "drop_after_update": 1 }));
    let out = grant_editor(&fake, mailbox);
    out.expect_code(0);
    assert_eq!(out.json_lines()[0]["action"], "granted", "{}", out.stderr);
    assert_eq!(fake.stats()["calendar_writes"][mailbox], 1, "written once");
}

#[test]
fn a_calendar_without_its_change_key_is_not_written() {
    let fake = exchange_with(&json!({}));
    let mailbox = "daan.visser@lab.example";
    fake.set_faults(&json!({ "omit_change_key": 1 }));
    let out = grant_editor(&fake, mailbox);
    out.expect_code(1);
    assert!(out.stderr.contains("change key"), "{}", out.stderr);
    assert!(fake.stats()["calendar_writes"].get(mailbox).is_none());
}

#[test]
fn an_answer_that_is_not_an_ntlm_challenge_is_a_logon_problem() {
    let fake = exchange_with(&json!({ "garbage_challenge": true }));
    let out = ews_to(&fake).args(["check"]).run();
    out.expect_code(4);
    assert!(
        out.stderr.contains("not an NTLM challenge"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("connection"), "{}", out.stderr);
}

#[test]
fn the_report_is_checked_first_added_to_and_never_followed_through_a_link() {
    let fake = exchange_with(&json!({}));
    let dir = tempfile::tempdir().unwrap();
    let grant = |report: &std::path::Path| {
        ews_to(&fake)
            .args([
                "grant",
                "--to",
                lab::seed::TIMETABLE_GROUP_MAIL,
                "--level",
                "Reviewer",
            ])
            .args(["--mailbox", "eva.smit@lab.example", "--report"])
            .args([report.as_os_str()])
            .run()
    };
    // A report that cannot be written stops the run before any calendar is read.
    let before = fake.stats()["soap_requests"].as_u64().unwrap();
    let out = grant(&dir.path().join("missing/report.csv"));
    out.expect_code(2);
    assert!(
        out.stderr.contains("cannot write the report"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.stats()["soap_requests"].as_u64().unwrap(), before);
    // An existing report is added to.
    let report = dir.path().join("report.csv");
    grant(&report).expect_code(0);
    grant(&report).expect_code(0);
    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text.lines().count(), 3, "one header, two rows: {text}");
    // A link is refused, and its target left as it was.
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&report, &link).unwrap();
    let out = grant(&link);
    out.expect_code(2);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&report).unwrap(), text);
}

#[test]
fn ctrl_c_finishes_what_is_in_flight_and_the_same_command_finishes_the_rest() {
    let fake = exchange_with(&json!({}));
    fake.set_faults(&json!({ "latency_ms": 150 }));
    let mailboxes = crate::support::amsterdam_mailboxes();
    let grant = || {
        ews_to(&fake)
            .args([
                "-o",
                "jsonl",
                "grant",
                "--to",
                lab::seed::TIMETABLE_GROUP_MAIL,
                "--level",
                "Author",
                "--concurrency",
                "2",
            ])
            .mailboxes(&mailboxes)
    };
    let child = grant().spawn();
    std::thread::sleep(Duration::from_millis(1500));
    crate::support::signal(child.id(), "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    // The line names the journal and the command that finishes the run.
    let journal = stderr
        .lines()
        .find_map(|l| l.strip_prefix("ews-tool: journal: "))
        .expect("the journal's path at the start")
        .to_owned();
    assert!(
        stderr.contains("to finish, run:") && stderr.contains(&format!("--journal {journal}")),
        "{stderr}"
    );
    let done = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(
        done > 0 && done < mailboxes.len(),
        "stopped mid-run: {done}"
    );
    let again = grant().args(["--journal", &journal]).run();
    again.expect_code(0);
    assert_eq!(
        again.stdout.lines().count(),
        mailboxes.len() - done,
        "the resumed run skips what was done: {}",
        again.stderr
    );
    let writes = fake.stats()["calendar_writes"].clone();
    for mailbox in &mailboxes {
        assert_eq!(writes[mailbox.as_str()], 1, "{mailbox} written once");
    }
}
