//! `ews-bench`: ews-tool at organisation scale against the lab's Exchange simulator, beside
//! exchangelib.
//!
//! The simulator holds every SOAP request L ms (a remote server's latency) and allows C
//! requests at once per account (Exchange's EWSMaxConcurrency); ews-tool runs with
//! `--concurrency C`. No client can do R requests in less than R × L ÷ C, so that is the bound:
//! 2 × N × L ÷ C for a grant where every calendar changes (a read and a write each), N × L ÷ C
//! for a list. Targets: wall time ≤ 1.10 × the bound with the journal on, ≤ 0.3 ms of CPU per
//! mailbox.
//!
//! Memory: a grant of N and of BIG mailboxes with no latency (the same work, only more of
//! it), the list streamed through stdin; targets: peak RSS under 64 MiB at BIG and within
//! 4 MiB of the figure at N.
//!
//! Beside it, exchangelib (pinned, installed into a throwaway virtual environment) reads the
//! same N calendars' permissions with T threads; target: ews-tool's `list` at least 2× its
//! throughput.
//!
//! The mailboxes exist only in the simulator's directory (`bench000000@lab.example` on): the
//! lab DC would take most of an hour to add 100,000 accounts. Logons are checked by the DC.
//!
//! ```text
//! cargo run --release -p bench --bin ews-bench
//! cargo run --release -p bench --bin ews-bench -- --mailboxes 10000 --big 100000 \
//!     --latency-ms 20 --concurrency 10 --peer-threads 10
//! ```

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lab::fake_ews::FakeEws;
use lab::samba::SambaDc;

struct Settings {
    mailboxes: u32,
    big: u32,
    latency_ms: u64,
    concurrency: u32,
    peer_threads: u32,
}

fn settings() -> Settings {
    let number = |name, default: u32| {
        u32::try_from(bench::option(name, default as usize)).unwrap_or(default)
    };
    Settings {
        mailboxes: number("--mailboxes", 10_000),
        big: number("--big", 100_000),
        latency_ms: u64::from(number("--latency-ms", 20)),
        concurrency: number("--concurrency", 10),
        peer_threads: number("--peer-threads", 10),
    }
}

/// Runs ews-tool as the lab's calendar service account, the journal in `state`.
fn ews_tool(
    dc: &SambaDc,
    fake: &FakeEws,
    state: &Path,
    args: &[&str],
    mailboxes: &str,
) -> bench::Measured {
    let mut command = Command::new(lab::tools::binary("ews-tool"));
    command
        .env("XDG_STATE_HOME", state)
        .args(["--url", &fake.url, "--user", "LAB\\svc-calendar"])
        .arg("--ca-file")
        .arg(&dc.pki.ca_file)
        .arg("--password-file")
        .arg(&dc.user_password_file)
        .args(["-o", "jsonl"])
        .args(args)
        .args(["--mailboxes-file", "-"]);
    bench::measure(command, Some(mailboxes))
}

/// What exchangelib did: its process as measured, and its own report.
struct PeerRun {
    run: bench::Measured,
    report: serde_json::Value,
}

fn exchangelib(dc: &SambaDc, fake: &FakeEws, threads: u32, mailboxes: &str) -> PeerRun {
    let venv = tempfile::tempdir().expect("a temporary directory");
    eprintln!(
        "installing {} into a virtual environment…",
        lab::peer::EXCHANGELIB
    );
    let python = lab::peer::exchangelib_python(venv.path())
        .unwrap_or_else(|e| panic!("the comparison with exchangelib needs {e}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/exchangelib_read.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .env("PEER_EWS_URL", &fake.url)
        .env("PEER_EWS_USER", "LAB\\svc-calendar")
        .env("PEER_EWS_PASSWORD_FILE", &dc.user_password_file)
        .env("PEER_THREADS", threads.to_string())
        .env("REQUESTS_CA_BUNDLE", &dc.pki.ca_file);
    let run = bench::measure(command, Some(mailboxes));
    let report: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("exchangelib's report ({e}): {}", run.stdout));
    // A comparison with a client that failed would compare nothing.
    assert_eq!(
        report["failures"], 0,
        "exchangelib failed to read some calendars: {report}"
    );
    PeerRun { run, report }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn mib(kib: u64) -> f64 {
    // KiB counts of a process fit an f64 exactly.
    #[allow(clippy::cast_precision_loss)]
    let kib = kib as f64;
    kib / 1024.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The requests the simulator answered, per operation, and the logons, since `before`.
fn operations(fake: &FakeEws, before: &serde_json::Value) -> String {
    let now = fake.stats();
    let mut parts = Vec::new();
    if let Some(ops) = now["operations"].as_object() {
        for (op, n) in ops {
            let n = n.as_u64().unwrap_or(0) - before["operations"][op].as_u64().unwrap_or(0);
            if n > 0 {
                parts.push(format!("{n} {op}"));
            }
        }
    }
    let answers =
        now["timed_answers"].as_u64().unwrap_or(0) - before["timed_answers"].as_u64().unwrap_or(0);
    let us = now["response_us"].as_u64().unwrap_or(0) - before["response_us"].as_u64().unwrap_or(0);
    if answers > 0 {
        // Microsecond sums of a run fit an f64 exactly.
        #[allow(clippy::cast_precision_loss)]
        let mean = us as f64 / answers as f64 / 1000.0;
        parts.push(format!("mean response time at the simulator {mean:.2} ms"));
    }
    let logons =
        now["ntlm_logons"].as_u64().unwrap_or(0) - before["ntlm_logons"].as_u64().unwrap_or(0);
    parts.push(format!("{logons} NTLM logons"));
    parts.join(", ")
}

fn main() {
    let s = settings();
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("{e}"));
    let fake =
        FakeEws::start_uncaptured(&dc, &serde_json::json!({"max_concurrency": s.concurrency}))
            .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{} + {} mailboxes in the simulator's directory…",
        s.mailboxes, s.big
    );
    fake.add_synthetic_mailboxes("bench", s.mailboxes);
    fake.add_synthetic_mailboxes("big", s.big);
    let address_list = |prefix: &str, count: u32| {
        (0..count)
            .map(|i| FakeEws::synthetic_address(prefix, i))
            .collect::<Vec<_>>()
    };
    let (bench_boxes, big_boxes) = (
        address_list("bench", s.mailboxes),
        address_list("big", s.big),
    );
    let mut full_access = serde_json::Map::new();
    for mailbox in bench_boxes.iter().chain(&big_boxes) {
        full_access.insert(mailbox.clone(), serde_json::json!(["svc-calendar"]));
    }
    fake.set_access(&serde_json::json!({ "full_access": full_access }));
    let state = tempfile::tempdir().expect("a temporary directory");
    let c = s.concurrency.to_string();
    let grantee = lab::seed::TIMETABLE_GROUP_MAIL;
    let n = f64::from(s.mailboxes);
    let latency = Duration::from_millis(s.latency_ms);
    let bound = |requests: u32| latency * requests / s.concurrency.max(1);

    let grant_all = |level: &str, mailboxes: &str| {
        let args = [
            "grant",
            "--to",
            grantee,
            "--level",
            level,
            "--concurrency",
            &c,
        ];
        ews_tool(&dc, &fake, state.path(), &args, mailboxes)
    };

    // 1. Speed at the server's pace.
    fake.set_faults(&serde_json::json!({"latency_ms": s.latency_ms}));
    let list_of_bench = bench_boxes.join("\n");
    eprintln!("grant on {} mailboxes…", s.mailboxes);
    let before = fake.stats();
    let grant = grant_all("Editor", &list_of_bench);
    let grant_ops = operations(&fake, &before);
    eprintln!("list of {} mailboxes…", s.mailboxes);
    let before = fake.stats();
    let list = ews_tool(
        &dc,
        &fake,
        state.path(),
        &["list", "--concurrency", &c],
        &list_of_bench,
    );
    let list_ops = operations(&fake, &before);
    eprintln!(
        "exchangelib reading {} calendars with {} threads…",
        s.mailboxes, s.peer_threads
    );
    let before = fake.stats();
    // `--peer-threads 0` leaves exchangelib out (a quick run of ews-tool alone).
    let peer =
        (s.peer_threads > 0).then(|| exchangelib(&dc, &fake, s.peer_threads, &list_of_bench));
    let peer_ops = operations(&fake, &before);

    // 2. Memory: the same work on N and on BIG mailboxes, at no latency.
    fake.set_faults(&serde_json::json!({}));
    eprintln!("grant on {} mailboxes, no latency…", s.mailboxes);
    let small = grant_all(
        "Reviewer",
        &big_boxes[..s.mailboxes.min(s.big) as usize].join("\n"),
    );
    eprintln!("grant on {} mailboxes, no latency…", s.big);
    let large = grant_all("Editor", &big_boxes.join("\n"));

    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "Simulator latency {} ms per SOAP request, {} requests at once allowed per account, \
         ews-tool --concurrency {}, journal on; {cores} cores shared by the tool, the simulator \
         and the DC.\n",
        s.latency_ms, s.concurrency, s.concurrency
    );
    println!(
        "| benchmark | ews-tool | bound R×L÷C | ratio | target | CPU per mailbox | target | peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (what, run, requests) in [
        (
            format!("`grant`, {} mailboxes, every calendar changes", s.mailboxes),
            &grant,
            2 * s.mailboxes,
        ),
        (
            format!("`list`, {} mailboxes", s.mailboxes),
            &list,
            s.mailboxes,
        ),
    ] {
        let bound = bound(requests);
        let ratio = seconds(run.wall) / seconds(bound);
        let cpu_ms = seconds(run.cpu) * 1000.0 / n;
        println!(
            "| {what} | {:.2} s | {:.2} s | {ratio:.2} | ≤ 1.10: {} | {cpu_ms:.3} ms | ≤ 0.3 ms: {} | {:.1} MiB |",
            seconds(run.wall),
            seconds(bound),
            verdict(ratio <= 1.10),
            verdict(cpu_ms <= 0.3),
            mib(run.peak_rss_kib),
        );
    }
    println!();
    let list_rate = n / seconds(list.wall);
    println!(
        "| client reading {} calendars' permissions | wall | mailboxes/s | ews-tool ÷ it | target |",
        s.mailboxes
    );
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| ews-tool `list --concurrency {}` | {:.2} s | {list_rate:.0} | | |",
        s.concurrency,
        seconds(list.wall)
    );
    if let Some(peer) = &peer {
        let peer_rate = n / seconds(peer.run.wall);
        println!(
            "| {} with {} threads (reads alone {:.2} s) | {:.2} s | {peer_rate:.0} | {:.2} | ≥ 2: {} |",
            lab::peer::EXCHANGELIB,
            s.peer_threads,
            peer.report["seconds"].as_f64().unwrap_or(0.0),
            seconds(peer.run.wall),
            list_rate / peer_rate,
            verdict(list_rate / peer_rate >= 2.0),
        );
    }
    println!();
    let (rss_small, rss_large) = (mib(small.peak_rss_kib), mib(large.peak_rss_kib));
    println!("| `grant`, no latency, list streamed on stdin | wall | peak RSS | target |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| {} mailboxes | {:.1} s | {rss_small:.1} MiB | |",
        s.mailboxes.min(s.big),
        seconds(small.wall)
    );
    println!(
        "| {} mailboxes | {:.1} s | {rss_large:.1} MiB | < 64 MiB: {}; ≤ {} mailboxes + 4 MiB: {} |",
        s.big,
        seconds(large.wall),
        verdict(rss_large < 64.0),
        s.mailboxes.min(s.big),
        verdict(rss_large <= rss_small + 4.0),
    );
    println!();
    println!("Requests the simulator answered:\n");
    println!("- ews-tool grant: {grant_ops}");
    println!("- ews-tool list: {list_ops}");
    if peer.is_some() {
        println!("- exchangelib: {peer_ops}");
    }
    println!();
    println!("Summaries:\n");
    for (what, run) in [
        ("grant", &grant),
        ("list", &list),
        ("grant, no latency, N", &small),
        ("grant, no latency, BIG", &large),
    ] {
        println!(
            "- {what}: {}",
            run.stderr
                .lines()
                .rfind(|l| l.contains(" mailboxes: "))
                .unwrap_or("")
        );
    }
}
