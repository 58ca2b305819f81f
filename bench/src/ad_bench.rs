//! `ad-bench`: ad-tool against the lab's Samba DC, beside the reference clients.
//!
//! 1. One `create-user --service-account` end to end (process start to exit), beside
//!    `samba-tool user create` + `samba-tool user setexpiry --noexpiry` making the same account
//!    (without the ACE, which samba-tool cannot set): median of several runs each.
//! 2. 500 accounts from a CSV file beside `ldapadd` (OpenLDAP's C client) adding the equivalent
//!    LDIF (same attributes, password and flags, no ACE step): median of three rounds each.
//!    Bound: ad-tool within 1.3× of ldapadd's wall time.
//!
//! Runs are interleaved so both sides see the same directory size. Prints a Markdown table.
//!
//!     cargo run --release -p bench --bin ad-bench [-- --accounts 500 --rounds 3 --singles 15]

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use lab::samba::SambaDc;
use lab::seed::SERVICE_ACCOUNTS_OU;
use lab::tools::Tool;

const PASSWORD: &str = "Bench-Pass-2026!";

struct Settings {
    accounts: usize,
    rounds: usize,
    singles: usize,
}

fn settings() -> Settings {
    Settings {
        accounts: bench::option("--accounts", 500),
        rounds: bench::option("--rounds", 3),
        singles: bench::option("--singles", 15),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn timed(command: Command, stdin: Option<&str>) -> Duration {
    bench::timed(command, stdin).0
}

fn ad_tool(dc: &SambaDc) -> Command {
    let mut command = Command::new(lab::tools::binary("ad-tool"));
    command.args(["-q", "--server", &dc.server(), "--user", &dc.admin_upn()]);
    command
        .arg("--ca-file")
        .arg(&dc.pki.ca_file)
        .arg("--password-file")
        .arg(&dc.admin_password_file);
    command
}

fn samba_tool(dc: &SambaDc, args: &[&str]) -> Command {
    let mut command = Command::new("samba-tool");
    // Samba's client reads the password from PASSWD, keeping it out of argv.
    command.env("PASSWD", lab::samba::ADMIN_PASSWORD);
    command.args(args).args([
        "-H",
        &format!("ldap://{}", dc.server()),
        "-U",
        "Administrator",
    ]);
    command
}

fn single_account(dc: &SambaDc, runs: usize) -> (Duration, Duration) {
    let (mut ours, mut reference) = (Vec::new(), Vec::new());
    for i in 0..=runs {
        let mut command = ad_tool(dc);
        let name = format!("one-ad-{i}");
        command.args([
            "create-user",
            "--name",
            &name,
            "--upn",
            &format!("{name}@lab.example"),
            "--display-name",
            "Bench service account",
        ]);
        command.args([
            "--path",
            SERVICE_ACCOUNTS_OU,
            "--service-account",
            "--account-password-stdin",
        ]);
        let a = timed(command, Some(PASSWORD));
        let name = format!("one-st-{i}");
        let start = Instant::now();
        timed(
            samba_tool(
                dc,
                &[
                    "user",
                    "create",
                    &name,
                    "--random-password",
                    "--userou=OU=Service Accounts",
                    &format!("--mail-address={name}@lab.example"),
                ],
            ),
            None,
        );
        timed(
            samba_tool(dc, &["user", "setexpiry", &name, "--noexpiry"]),
            None,
        );
        let b = start.elapsed();
        // The first run of each warms caches and is not counted.
        if i > 0 {
            ours.push(a);
            reference.push(b);
        }
    }
    (median(ours), median(reference))
}

fn batch(dc: &SambaDc, accounts: usize, rounds: usize) -> (Duration, Duration) {
    let dir = tempfile_dir();
    let (mut ours, mut reference) = (Vec::new(), Vec::new());
    let password = lab::seed::unicode_pwd_base64(PASSWORD);
    for round in 0..rounds {
        let csv = dir.join(format!("accounts-{round}.csv"));
        let mut text = String::from("name,upn,display-name\n");
        for i in 0..accounts {
            let _ = writeln!(
                text,
                "csv{round}-{i},csv{round}-{i}@lab.example,Bench service account {i}"
            );
        }
        std::fs::write(&csv, text).expect("write the CSV");
        let ldif = dir.join(format!("accounts-{round}.ldif"));
        let mut text = String::new();
        for i in 0..accounts {
            let _ = write!(
                text,
                "dn: CN=ldif{round}-{i},{SERVICE_ACCOUNTS_OU}\nobjectClass: user\nsAMAccountName: ldif{round}-{i}\n\
                 userPrincipalName: ldif{round}-{i}@lab.example\ndisplayName: Bench service account {i}\n\
                 unicodePwd:: {password}\nuserAccountControl: 66048\npwdLastSet: -1\naccountExpires: 9223372036854775807\n\n"
            );
        }
        std::fs::write(&ldif, text).expect("write the LDIF");

        let mut command = ad_tool(dc);
        command.args(["create-user", "--from-csv"]).arg(&csv).args([
            "--path",
            SERVICE_ACCOUNTS_OU,
            "--service-account",
            "--account-password-stdin",
        ]);
        let a = timed(command, Some(PASSWORD));
        let mut command = Command::new("ldapadd");
        command.env("LDAPTLS_CACERT", &dc.pki.ca_file).args([
            "-H",
            &dc.ldaps_uri(),
            "-x",
            "-D",
            &dc.admin_upn(),
            "-y",
        ]);
        command.arg(&dc.admin_password_file).arg("-f").arg(&ldif);
        let b = timed(command, None);
        eprintln!(
            "  round {}: ad-tool {:.2} s, ldapadd {:.2} s",
            round + 1,
            a.as_secs_f64(),
            b.as_secs_f64()
        );
        ours.push(a);
        reference.push(b);
    }
    (median(ours), median(reference))
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ad-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}

fn version(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

fn main() {
    let settings = settings();
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("{e}"));
    // Build (or find) the tool before timing anything.
    let _ = Tool::new("ad-tool");
    eprintln!("one service account, {} runs each…", settings.singles);
    let (one_ours, one_ref) = single_account(&dc, settings.singles);
    eprintln!(
        "{} accounts from CSV, {} rounds…",
        settings.accounts, settings.rounds
    );
    let (many_ours, many_ref) = batch(&dc, settings.accounts, settings.rounds);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let secs = |d: Duration| format!("{:.3} s", d.as_secs_f64());
    let batch_ratio = ratio(many_ours, many_ref);
    println!(
        "Samba {} on {} cores, {} accounts per batch; medians.\n",
        version("samba", &["--version"]),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        settings.accounts
    );
    println!("| benchmark | ad-tool | reference | reference time | ratio | bound |");
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| one `create-user --service-account`, end to end (median of {}) | {} | `samba-tool user create` + `user setexpiry --noexpiry` (no ACE) | {} | {:.2} | none named |",
        settings.singles,
        secs(one_ours),
        secs(one_ref),
        ratio(one_ours, one_ref)
    );
    println!(
        "| {} accounts from CSV, `--service-account` (median of {}) | {} | `ldapadd` of the equivalent LDIF (no ACE) | {} | {:.2} | ≤ 1.30: {} |",
        settings.accounts,
        settings.rounds,
        secs(many_ours),
        secs(many_ref),
        batch_ratio,
        if batch_ratio <= 1.3 { "met" } else { "NOT met" }
    );
    let _ = std::fs::remove_dir_all(tempfile_dir());
}
