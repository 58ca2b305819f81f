//! `ews-bench`: ews-tool against the lab's Exchange simulator with a fixed latency per SOAP
//! request, as a remote Exchange server adds it.
//!
//! With every request taking at least the latency L and C connections, no client can finish
//! R requests faster than ceil(R / C) × L: that floor is the reference, and the ratio says how
//! much the tool adds to it (process start, TLS, NTLM logons through the DC, XML, waiting).
//!
//! N mailbox users are added to the lab's directory first (`OU=Bench`, with ldapadd).
//!
//! 1. `list` of N/10 mailboxes on one connection, and of all N at `--concurrency` C.
//! 2. `grant`, then `revoke`, on all N (a read and a write each) at `--concurrency` C.
//!
//! Prints a Markdown table. The issue names no bound; the ratio to the floor is the figure.
//!
//!     cargo run --release -p bench --bin ews-bench [-- --mailboxes 1000 --latency-ms 20 --concurrency 8]

use std::process::Command;
use std::time::Duration;

use lab::fake_ews::FakeEws;
use lab::samba::SambaDc;

struct Settings {
    mailboxes: usize,
    latency_ms: u64,
    concurrency: usize,
}

fn settings() -> Settings {
    Settings {
        mailboxes: bench::option("--mailboxes", 1000),
        latency_ms: u64::try_from(bench::option("--latency-ms", 20)).unwrap_or(20),
        concurrency: bench::option("--concurrency", 8),
    }
}

/// Runs ews-tool as the lab's calendar service account; returns the wall time, the CPU time
/// and the summary line it printed.
fn ews_tool(
    dc: &SambaDc,
    fake: &FakeEws,
    args: &[String],
    stdin: &str,
) -> (Duration, Duration, String) {
    let mut command = Command::new(lab::tools::binary("ews-tool"));
    command
        .args(["--url", &fake.url, "--user", "LAB\\svc-calendar"])
        .arg("--ca-file")
        .arg(&dc.pki.ca_file)
        .arg("--password-file")
        .arg(&dc.user_password_file)
        .args(["-o", "jsonl"])
        .args(args);
    let (elapsed, cpu, stderr) = bench::timed_with_cpu(command, Some(stdin));
    (elapsed, cpu, stderr.lines().last().unwrap_or("").to_owned())
}

/// Adds `count` users with a mailbox in `OU=Bench`; returns their addresses.
fn add_mailboxes(dc: &SambaDc, count: usize) -> Vec<String> {
    use std::fmt::Write as _;
    let ou = format!("OU=Bench,{}", lab::seed::DOMAIN_DN);
    let mut ldif = format!("dn: {ou}\nchangetype: add\nobjectClass: organizationalUnit\n\n");
    let mut addresses = Vec::with_capacity(count);
    for i in 0..count {
        let address = format!("bench{i:05}@{}", lab::seed::DNS_DOMAIN);
        let _ = write!(
            ldif,
            "dn: CN=bench{i:05},{ou}\nchangetype: add\nobjectClass: user\nsAMAccountName: bench{i:05}\n\
             mail: {address}\ndisplayName: Bench Mailbox {i}\nmsExchRecipientTypeDetails: 1\n\n"
        );
        addresses.push(address);
    }
    let output = dc.ldapmodify(&dc.admin_upn(), &dc.admin_password_file, &ldif);
    assert!(
        output.status.success(),
        "adding the bench mailboxes failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    addresses
}

struct Row {
    what: String,
    mailboxes: usize,
    requests: usize,
    connections: usize,
    took: Duration,
    cpu: Duration,
    floor: Duration,
    summary: String,
}

fn main() {
    let settings = settings();
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "adding {} mailbox users to the directory…",
        settings.mailboxes
    );
    let mailboxes = add_mailboxes(&dc, settings.mailboxes);
    let fake = FakeEws::start(&dc, &serde_json::json!({"max_concurrency": 1000}))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut full_access = serde_json::Map::new();
    for mailbox in &mailboxes {
        full_access.insert(mailbox.clone(), serde_json::json!(["svc-calendar"]));
    }
    fake.set_access(&serde_json::json!({ "full_access": full_access }));
    fake.set_faults(&serde_json::json!({"latency_ms": settings.latency_ms}));
    let latency = Duration::from_millis(settings.latency_ms);
    let floor = |requests: usize, connections: usize| {
        latency * u32::try_from(requests.div_ceil(connections)).unwrap_or(u32::MAX)
    };
    let c = settings.concurrency.to_string();
    let mut rows = Vec::new();

    for (connections, count) in [
        (1, settings.mailboxes / 10),
        (settings.concurrency, settings.mailboxes),
    ] {
        let n = connections.to_string();
        eprintln!("list of {count} mailboxes on {connections} connection(s)…");
        let args = ["list", "--mailboxes-file", "-", "--concurrency", &n].map(str::to_owned);
        let (took, cpu, summary) = ews_tool(&dc, &fake, &args, &mailboxes[..count].join("\n"));
        rows.push(Row {
            what: format!("`list`, {count} mailboxes"),
            mailboxes: count,
            requests: count,
            connections,
            took,
            cpu,
            floor: floor(count, connections),
            summary,
        });
    }
    for (verb, to) in [("grant", "--to"), ("revoke", "--from")] {
        eprintln!("{verb} on {} mailboxes…", mailboxes.len());
        let mut args = vec![verb, to, lab::seed::TIMETABLE_GROUP_MAIL];
        if verb == "grant" {
            args.extend(["--level", "Editor"]);
        }
        args.extend(["--mailboxes-file", "-", "--concurrency", &c]);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let (took, cpu, summary) = ews_tool(&dc, &fake, &args, &mailboxes.join("\n"));
        let requests = 2 * mailboxes.len();
        rows.push(Row {
            what: format!(
                "`{verb}`, {} mailboxes (read + write each)",
                mailboxes.len()
            ),
            mailboxes: mailboxes.len(),
            requests,
            connections: settings.concurrency,
            took,
            cpu,
            floor: floor(requests, settings.concurrency),
            summary,
        });
    }

    println!(
        "Simulator latency {} ms per SOAP request; NTLM logons checked by the lab DC; {} cores.\n",
        settings.latency_ms,
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    println!(
        "| benchmark | requests | connections | ews-tool | floor ceil(R/C)×L | ratio | mailboxes/s | CPU per mailbox | bound |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in &rows {
        let mailboxes = row.mailboxes;
        println!(
            "| {} | {} | {} | {:.3} s | {:.3} s | {:.2} | {:.0} | {:.2} ms | {} |",
            row.what,
            row.requests,
            row.connections,
            row.took.as_secs_f64(),
            row.floor.as_secs_f64(),
            row.took.as_secs_f64() / row.floor.as_secs_f64(),
            f64::from(u32::try_from(mailboxes).unwrap_or(u32::MAX)) / row.took.as_secs_f64(),
            row.cpu.as_secs_f64() * 1000.0 / f64::from(u32::try_from(mailboxes).unwrap_or(1)),
            if row.connections > 1 {
                "CPU ≤ 0.3 ms, wall ≤ 1.25× floor"
            } else {
                "none named"
            }
        );
    }
    println!();
    for row in &rows {
        println!("- {}: {}", row.what, row.summary);
    }
}
