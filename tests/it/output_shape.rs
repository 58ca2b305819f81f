//! One output shape for one item and for many: a failed item prints its row on stdout, its
//! failure once on stderr, and the summary follows, whether there is one item or several.

use serde_json::json;

use crate::support::{ad, ews_to, exchange_with, failure_lines, summary_line, unique};

const MISSING: &str = "nobody-here@lab.example";
const PRESENT: &str = "anna.devries@lab.example";

#[test]
fn a_failed_mailbox_prints_its_row_and_the_summary_alone_or_among_others() {
    let fake = exchange_with(&json!({}));
    let grant = |mailboxes: &[&str]| {
        let tool = ews_to(&fake)
            .args([
                "grant",
                "--to",
                lab::seed::TIMETABLE_GROUP_MAIL,
                "--level",
                "Reviewer",
            ])
            .mailboxes(mailboxes);
        tool.run()
    };

    let alone = grant(&[MISSING]);
    alone.expect_code(1);
    let rows: Vec<&str> = alone.stdout.lines().collect();
    assert_eq!(rows.len(), 1, "{}", alone.stdout);
    assert!(
        rows[0].starts_with("failed")
            && rows[0].contains(MISSING)
            && rows[0].contains("no-mailbox"),
        "{}",
        alone.stdout
    );
    let failures = failure_lines(&alone.stderr);
    assert_eq!(failures.len(), 1, "{}", alone.stderr);
    assert!(failures[0].contains(MISSING), "{}", alone.stderr);
    assert!(
        summary_line(&alone.stderr).contains("1 mailbox: 1 failed"),
        "{}",
        alone.stderr
    );

    let among = grant(&[PRESENT, MISSING]);
    among.expect_code(1);
    let rows: Vec<&str> = among.stdout.lines().collect();
    assert_eq!(rows.len(), 2, "{}", among.stdout);
    assert!(rows[0].starts_with("granted") && rows[1].starts_with("failed"));
    assert_eq!(
        rows[1],
        alone.stdout.trim_end(),
        "the same row alone and among others"
    );
    assert_eq!(
        failure_lines(&among.stderr),
        failures,
        "the same failure line"
    );
    assert!(
        summary_line(&among.stderr).contains("2 mailboxes: 1 granted, 1 failed"),
        "{}",
        among.stderr
    );
}

#[test]
fn a_failed_member_is_reported_once() {
    let group = unique("shape-group");
    ad().args([
        "create-group",
        "--name",
        &group,
        "--path",
        &format!("OU=Groups,{}", lab::seed::DOMAIN_DN),
    ])
    .run()
    .expect_code(0);
    let out = ad()
        .args([
            "add-member",
            "--group",
            &group,
            "adevries",
            "no-such-member",
        ])
        .run();
    out.expect_code(1);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert!(rows[1].starts_with("failed") && rows[1].contains("not-found"));
    let failures = failure_lines(&out.stderr);
    assert_eq!(failures.len(), 1, "{}", out.stderr);
    assert!(
        failures[0].starts_with("ad-tool: no-such-member: "),
        "{}",
        out.stderr
    );
    assert!(
        summary_line(&out.stderr).contains("2 members: 1 added, 1 failed"),
        "{}",
        out.stderr
    );
    let alone = ad()
        .args(["add-member", "--group", &group, "no-such-member"])
        .run();
    alone.expect_code(1);
    assert_eq!(alone.stdout.trim_end(), rows[1]);
    assert_eq!(failure_lines(&alone.stderr), failures);
    summary_line(&alone.stderr);
}

#[test]
fn a_single_account_that_exists_prints_its_row_the_failure_and_exits_5() {
    let out = ad()
        .args(["create-user", "--name", "adevries", "--path"])
        .args([format!("OU=Amsterdam,OU=Staff,{}", lab::seed::DOMAIN_DN)])
        .run();
    out.expect_code(5);
    assert!(out.stdout.starts_with("failed"), "{}", out.stdout);
    assert!(out.stdout.contains("exists"), "{}", out.stdout);
    assert_eq!(failure_lines(&out.stderr).len(), 1, "{}", out.stderr);
    assert!(
        summary_line(&out.stderr).contains("1 account: 1 failed"),
        "{}",
        out.stderr
    );
}
