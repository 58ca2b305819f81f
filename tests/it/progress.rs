//! Progress as an operator sees it: a live line on a terminal (done / total, rate, time left,
//! outcomes, the server's back-off), nothing in a pipe, with `-q` or `NO_COLOR`, and a plain
//! line every 10 s under `-v` for the logs of scheduled runs.

use serde_json::json;

use crate::support::{ad, amsterdam_mailboxes, ews_to, exchange_with, unique};

const GRANTEE: &str = lab::seed::TIMETABLE_GROUP_MAIL;

/// A grant of every Amsterdam mailbox, named on the command line.
fn grant_all(fake: &lab::fake_ews::FakeEws, extra: &[&str]) -> lab::tools::Tool {
    ews_to(fake)
        .args(extra.iter().copied())
        .args(["grant", "--to", GRANTEE, "--level", "Reviewer"])
        .args(["--concurrency", "2"])
        .mailboxes(amsterdam_mailboxes())
}

/// Whether `text` holds cursor movement or a carriage return: a live line was drawn.
fn drew_live_line(text: &str) -> bool {
    text.contains('\r') || text.contains("\x1b[")
}

#[test]
fn a_terminal_shows_done_of_total_the_rate_the_outcomes_and_the_back_off() {
    let fake = exchange_with(&json!({ "back_off_ms": 2500 }));
    // Every 20th request answered busy: a back-off or two in the middle of the run.
    fake.set_faults(&json!({ "latency_ms": 100, "busy_percent": 5 }));
    let out = grant_all(&fake, &[]).run_in_terminal();
    out.expect_code(0);
    let shown = &out.stderr;
    assert!(drew_live_line(shown), "{shown:?}");
    assert!(shown.contains("/20 mailboxes ["), "{shown:?}");
    assert!(shown.contains(" granted"), "{shown:?}");
    assert!(shown.contains("/s"), "{shown:?}");
    assert!(shown.contains(" left"), "{shown:?}");
    assert!(shown.contains("server busy: waiting 2."), "{shown:?}");
    // The summary stays; the live line is gone from the last screen line.
    assert!(
        shown.contains("20 mailboxes: 20 granted"),
        "the summary: {shown:?}"
    );
}

#[test]
fn a_list_from_a_pipe_is_counted_while_it_streams() {
    let fake = exchange_with(&json!({}));
    fake.set_faults(&json!({ "latency_ms": 60 }));
    let list = amsterdam_mailboxes().join("\n");
    let out = ews_to(&fake)
        .args(["grant", "--to", GRANTEE, "--level", "Reviewer"])
        .args(["--mailboxes-file", "-"])
        .stdin(list)
        .run_in_terminal();
    out.expect_code(0);
    assert!(drew_live_line(&out.stderr), "{:?}", out.stderr);
    // Once the pipe has ended the total is known.
    assert!(out.stderr.contains("/20 mailboxes"), "{:?}", out.stderr);
}

#[test]
fn nothing_of_it_in_a_pipe_with_quiet_without_colours_or_for_one_mailbox() {
    let fake = exchange_with(&json!({}));
    fake.set_faults(&json!({ "latency_ms": 30 }));
    let piped = grant_all(&fake, &[]).run();
    piped.expect_code(0);
    assert!(!drew_live_line(&piped.stderr), "{:?}", piped.stderr);
    assert!(!piped.stderr.contains("/20"), "{:?}", piped.stderr);

    let quiet = grant_all(&fake, &["-q"]).run_in_terminal();
    quiet.expect_code(0);
    assert!(!quiet.stderr.contains("mailboxes"), "{:?}", quiet.stderr);

    // One mailbox: its row is the progress.
    let one = ews_to(&fake)
        .args(["grant", "--to", GRANTEE, "--level", "Reviewer"])
        .args(["--mailbox", "anna.devries@lab.example"])
        .run_in_terminal();
    one.expect_code(0);
    assert!(!one.stderr.contains(" mailboxes ["), "{:?}", one.stderr);

    for (var, value) in [("NO_COLOR", "1"), ("TERM", "dumb")] {
        let plain = grant_all(&fake, &[]).env(var, value).run_in_terminal();
        plain.expect_code(0);
        assert!(!plain.stderr.contains("/20"), "{var}: {:?}", plain.stderr);
        assert!(
            plain.stderr.contains("20 mailboxes: 20 unchanged"),
            "{var}: the summary still comes: {:?}",
            plain.stderr
        );
    }
}

#[test]
fn under_verbose_a_pipe_gets_a_plain_line_every_ten_seconds() {
    let fake = exchange_with(&json!({}));
    // 20 mailboxes, 2 requests each, 2 at once, 600 ms each: about 12 s, past the first
    // plain line and short of the second.
    fake.set_faults(&json!({ "latency_ms": 600 }));
    let out = grant_all(&fake, &["-v"]).run();
    out.expect_code(0);
    assert!(!drew_live_line(&out.stderr), "{:?}", out.stderr);
    let plain: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("ews-tool: ") && l.contains("/20 mailboxes · "))
        .collect();
    assert_eq!(plain.len(), 1, "{}", out.stderr);
    assert!(plain[0].contains(" granted"), "{}", plain[0]);
    assert!(plain[0].contains("/s · about "), "{}", plain[0]);
}

#[test]
fn ad_tool_shows_progress_for_a_csv_and_a_count_for_mailboxes() {
    let tag = unique("prog");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("accounts.csv");
    let rows = (1..=3)
        .map(|i| format!("{tag}-{i},{tag}-{i}@lab.example,Service {i},"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&csv, format!("name,upn,display-name,path\n{rows}\n")).unwrap();
    let created = ad()
        .args(["create-user", "--service-account", "--generate-password"])
        .args(["--path", "OU=Service Accounts,DC=lab,DC=example"])
        .arg("--generated-password-file")
        .arg(dir.path().join("passwords.csv"))
        .arg("--from-csv")
        .arg(&csv)
        .run_in_terminal();
    created.expect_code(0);
    assert!(
        created.stderr.contains("/3 accounts ["),
        "{:?}",
        created.stderr
    );
    assert!(created.stderr.contains("created"), "{:?}", created.stderr);

    let listed = ad().args(["mailboxes"]).run_in_terminal();
    listed.expect_code(0);
    assert!(drew_live_line(&listed.stderr), "{:?}", listed.stderr);
    assert!(listed.stderr.contains(" mailboxes "), "{:?}", listed.stderr);
    assert!(
        !listed.stderr.contains(" mailboxes ["),
        "no total, no bar: {:?}",
        listed.stderr
    );
}
