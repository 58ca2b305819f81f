//! ews-tool under the faults a busy Exchange produces: another editor between read and write,
//! throttling, 503s, dropped connections, servers of other versions. Each test has a simulator
//! of its own, since faults apply to every request.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{entries, ews_to, exchange_with};

#[test]
fn a_conflicting_editor_is_retried_and_nothing_is_lost() {
    let fake = exchange_with(&json!({}));
    let mailbox = "gijs.deboer@lab.example";
    // Between each of the tool's first two reads and its write, someone else changes the list.
    fake.set_faults(&json!({"conflicts": [
        {"mailbox": mailbox, "times": 1, "user": "julia.bos@lab.example", "level": "Reviewer"},
        {"mailbox": mailbox, "times": 1, "user": "koen.vos@lab.example", "level": "Author"},
    ]}));
    let out = ews_to(&fake)
        .args([
            "-o",
            "json",
            "grant",
            "--to",
            "lotte.peters@lab.example",
            "--level",
            "Editor",
        ])
        .args(["--mailbox", mailbox])
        .run();
    out.expect_code(0);
    assert_eq!(out.json()[0]["action"], "granted");
    let after = entries(&fake, mailbox);
    let has = |user: &str, level: &str| after.iter().any(|(u, l)| u == user && l == level);
    assert!(has("julia.bos@lab.example", "Reviewer"), "{after:?}");
    assert!(has("koen.vos@lab.example", "Author"), "{after:?}");
    assert!(has("lotte.peters@lab.example", "Editor"), "{after:?}");
    assert!(
        has("Default", "FreeBusyTimeOnly") && has("Anonymous", "None"),
        "{after:?}"
    );
    let operations = &fake.stats()["operations"];
    assert_eq!(operations["GetFolder"], 3, "read, re-read, re-read");
    assert_eq!(
        operations["UpdateFolder"], 3,
        "two stale writes refused, the third lands"
    );
}

#[test]
fn an_editor_that_never_stops_ends_in_one_clear_failure() {
    let fake = exchange_with(&json!({}));
    let mailbox = "julia.bos@lab.example";
    fake.set_faults(&json!({"conflicts": [
        {"mailbox": mailbox, "times": 100, "user": "koen.vos@lab.example", "level": "Reviewer"},
    ]}));
    let out = ews_to(&fake)
        .args([
            "grant",
            "--to",
            "lotte.peters@lab.example",
            "--level",
            "Editor",
        ])
        .args(["--mailbox", mailbox])
        .run();
    out.expect_code(1);
    assert_eq!(
        crate::support::failure_lines(&out.stderr).len(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(mailbox)
            && out.stderr.contains("changed under each of 5 attempts")
            && out.stderr.contains("run again"),
        "{}",
        out.stderr
    );
    let after = entries(&fake, mailbox);
    assert!(
        !after.iter().any(|(u, _)| u == "lotte.peters@lab.example"),
        "{after:?}"
    );
    assert!(
        after.iter().any(|(u, _)| u == "koen.vos@lab.example"),
        "{after:?}"
    );
}

#[test]
fn busy_answers_are_waited_out_for_as_long_as_the_server_asks() {
    for (as_message, back_off) in [(false, 700_u64), (true, 400)] {
        let fake = exchange_with(&json!({"back_off_ms": back_off}));
        fake.set_faults(&json!({"busy": 2, "busy_as_message": as_message}));
        let started = Instant::now();
        let out = ews_to(&fake)
            .args([
                "-o",
                "json",
                "grant",
                "--to",
                "koen.vos@lab.example",
                "--level",
                "Reviewer",
            ])
            .args(["--mailbox", "milan.hendriks@lab.example"])
            .run();
        let elapsed = started.elapsed();
        out.expect_code(0);
        assert_eq!(out.json()[0]["action"], "granted");
        assert!(
            elapsed >= Duration::from_millis(2 * back_off),
            "waited {elapsed:?}, the server asked for 2 × {back_off} ms"
        );
        let stats = fake.stats();
        assert_eq!(stats["busy_answers"], 2);
        assert_eq!(
            entries(&fake, "milan.hendriks@lab.example")[2],
            ("koen.vos@lab.example".into(), "Reviewer".into())
        );
    }
}

#[test]
fn a_server_that_stays_busy_fails_the_mailbox_with_advice() {
    let fake = exchange_with(&json!({"back_off_ms": 10}));
    fake.set_faults(&json!({"busy": 1000}));
    let out = ews_to(&fake)
        .args([
            "grant",
            "--to",
            "koen.vos@lab.example",
            "--level",
            "Reviewer",
        ])
        .args(["--mailbox", "noor.vanleeuwen@lab.example"])
        .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("noor.vanleeuwen@lab.example")
            && out.stderr.contains("stayed busy (throttled)")
            && out.stderr.contains("lower --concurrency"),
        "{}",
        out.stderr
    );
}

#[test]
fn unavailable_and_dropped_connections_are_retried() {
    let fake = exchange_with(&json!({}));
    fake.set_faults(&json!({"http_503": 2, "drop_connections": 1}));
    let out = ews_to(&fake)
        .args([
            "-o",
            "jsonl",
            "grant",
            "--to",
            "koen.vos@lab.example",
            "--level",
            "Reviewer",
        ])
        .args([
            "--mailbox",
            "olaf.dekker@lab.example",
            "--mailbox",
            "puck.brouwer@lab.example",
        ])
        .args(["--concurrency", "1"])
        .run();
    out.expect_code(0);
    let actions: Vec<_> = out
        .json_lines()
        .iter()
        .map(|r| r["action"].clone())
        .collect();
    assert_eq!(actions, [json!("granted"), json!("granted")]);
    let stats = fake.stats();
    assert!(
        stats["connections"].as_u64().unwrap() >= 2,
        "a new connection after the drop: {stats}"
    );
    for mailbox in ["olaf.dekker@lab.example", "puck.brouwer@lab.example"] {
        assert!(
            entries(&fake, mailbox).contains(&("koen.vos@lab.example".into(), "Reviewer".into()))
        );
    }
}

#[test]
fn concurrency_stays_within_the_servers_throttling_limit() {
    // EWSMaxConcurrency 3: a batch at --concurrency 3 is never throttled, and the server saw
    // three requests at once.
    let fake = exchange_with(&json!({"max_concurrency": 3}));
    fake.set_faults(&json!({"latency_ms": 100}));
    let out = ews_to(&fake)
        .args(["-o", "jsonl", "list", "--concurrency", "3"])
        .args(["--mailboxes-file", "-"])
        .stdin(crate::support::amsterdam_mailboxes().join("\n"))
        .run();
    out.expect_code(0);
    assert_eq!(out.json_lines().len(), 20);
    let stats = fake.stats();
    assert_eq!(stats["busy_answers"], 0, "{stats}");
    assert_eq!(stats["max_in_flight"], 3, "{stats}");
    assert_eq!(stats["connections"], 3, "{stats}");
    assert_eq!(stats["ntlm_logons"], 3, "one logon per connection: {stats}");

    // Past the limit the server throttles; the tool pauses and still finishes every mailbox.
    let fake = exchange_with(&json!({"max_concurrency": 2, "back_off_ms": 50}));
    fake.set_faults(&json!({"latency_ms": 100}));
    let out = ews_to(&fake)
        .args(["-o", "jsonl", "list", "--concurrency", "6"])
        .args(["--mailboxes-file", "-"])
        .stdin(crate::support::amsterdam_mailboxes().join("\n"))
        .run();
    out.expect_code(0);
    assert_eq!(out.json_lines().len(), 20);
    assert!(fake.stats()["busy_answers"].as_u64().unwrap() > 0);
    // Each busy answer lowered the tool's concurrency until it fit under the server's limit.
    let settled: u32 = out
        .stderr
        .split("; ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no concurrency in the summary: {}", out.stderr));
    assert!((1..=2).contains(&settled), "{}", out.stderr);
}

#[test]
fn the_request_version_steps_down_to_what_the_server_accepts() {
    let cases = [
        ("2010", "Exchange2016", "Exchange2010_SP2", "Exchange 2010"),
        (
            "2019",
            "Exchange2019",
            "V2017_07_11",
            "Exchange 2019 or Subscription Edition",
        ),
        (
            "2016",
            "Exchange2010_SP2",
            "Exchange2010_SP2",
            "Exchange 2016",
        ),
    ];
    for (profile, asked, accepted, product) in cases {
        let fake = exchange_with(&json!({"profile": profile}));
        let out = ews_to(&fake)
            .args(["--server-version", asked, "-o", "json", "check"])
            .args(["--mailbox", "quinten.dewit@lab.example"])
            .run();
        out.expect_code(0);
        let record = out.json();
        assert_eq!(record["request_version"], accepted, "{profile}");
        assert_eq!(record["product"], product, "{profile}");
        assert_eq!(record["mailboxes"][0]["access"], true);
        // Grants work on every profile, with the version that was accepted.
        let grant = ews_to(&fake)
            .args(["--server-version", asked, "-o", "json", "grant"])
            .args(["--to", "roos.dijkstra@lab.example", "--level", "Editor"])
            .args(["--mailbox", "quinten.dewit@lab.example"])
            .run();
        grant.expect_code(0);
        assert!(
            entries(&fake, "quinten.dewit@lab.example")
                .contains(&("roos.dijkstra@lab.example".into(), "Editor".into())),
            "{profile}"
        );
    }
}

#[test]
fn a_slow_mailbox_never_holds_up_the_others_and_rows_stay_in_input_order() {
    let fake = exchange_with(&json!({}));
    let mailboxes = crate::support::amsterdam_mailboxes();
    assert!(
        mailboxes.len() >= 12,
        "enough mailboxes: {}",
        mailboxes.len()
    );
    // The second mailbox's database answers after 2 s; on 4 connections, every other mailbox
    // is read and written meanwhile.
    let slow = mailboxes[1].to_ascii_lowercase();
    fake.set_faults(&json!({ "slow_mailboxes": { slow.as_str(): 2000 } }));
    let tool = ews_to(&fake)
        .args([
            "-o",
            "jsonl",
            "grant",
            "--to",
            "lotte.peters@lab.example",
            "--level",
            "Reviewer",
            "--concurrency",
            "4",
        ])
        .mailboxes(&mailboxes);
    let out = tool.run();
    out.expect_code(0);
    let reported: Vec<String> = out
        .stdout
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            row["mailbox"].as_str().unwrap().to_ascii_lowercase()
        })
        .collect();
    let expected: Vec<String> = mailboxes.iter().map(|m| m.to_ascii_lowercase()).collect();
    assert_eq!(reported, expected, "rows in input order");
    let answered: Vec<String> = serde_json::from_value(fake.stats()["answered"].clone()).unwrap();
    let first_slow = answered.iter().position(|m| *m == slow).unwrap();
    let still_waiting: Vec<&String> = expected
        .iter()
        .filter(|m| **m != slow)
        .filter(|m| answered.iter().rposition(|a| a == *m).unwrap() > first_slow)
        .collect();
    assert!(
        still_waiting.is_empty(),
        "every other mailbox was done while the slow one was held; not: {still_waiting:?}"
    );
}
