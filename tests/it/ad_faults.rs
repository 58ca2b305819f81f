//! No half-made accounts, no lost passwords: a 300-account batch with generated passwords is
//! interrupted by Ctrl-C, a connection cut after an Add reached the DC, a frozen DC and a full
//! disk, and each time the same command is run again. At no point may an account exist enabled
//! without "cannot change password" (a watcher reads the DC's database all along), every
//! account that exists must be reported as created, and after the second run all 300 exist as
//! asked and each binds with the password its file holds.
//!
//! These run against a second DC of their own ([`fault_dc`]): they freeze and cut it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lab::ldap_proxy::{Answer, Fault, LdapFaultProxy, op};
use lab::samba::SambaDc;

use crate::support::{
    DENY_EVERYONE, DENY_SELF, SmallDisk, ad_on, binding, failure_lines, fault_dc, signal,
    signal_group,
};

const ACCOUNTS: usize = 300;

/// One batch: its CSV of `ACCOUNTS` rows named `<tag>-001`…, and its password file.
struct Batch {
    tag: &'static str,
    dir: tempfile::TempDir,
    csv: PathBuf,
    passwords: PathBuf,
}

impl Batch {
    fn new(tag: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("accounts.csv");
        let mut rows = String::from("name,display-name\n");
        for i in 1..=ACCOUNTS {
            let _ = writeln!(rows, "{tag}-{i:03},Batch {tag} {i}");
        }
        std::fs::write(&csv, rows).unwrap();
        let passwords = dir.path().join("passwords.csv");
        Batch {
            tag,
            dir,
            csv,
            passwords,
        }
    }

    /// The batch's command against `server` (the DC, or a proxy in front of it).
    fn command(&self, dc: &SambaDc, server: &str, extra: &[&str]) -> lab::tools::Tool {
        ad_on(dc, server)
            .args(["-o", "jsonl", "--timeout", "3", "create-user", "--from-csv"])
            .args([self.csv.as_os_str()])
            .args([
                "--path",
                lab::seed::SERVICE_ACCOUNTS_OU,
                "--service-account",
            ])
            .args(["--generate-password", "--generated-password-file"])
            .args([self.passwords.as_os_str()])
            .args(["--if-exists", "skip", "--concurrency", "4"])
            .args(extra.iter().copied())
    }

    /// The same, as a process the test can signal.
    fn spawn(&self, dc: &SambaDc, server: &str) -> Child {
        self.command(dc, server, &[]).spawn()
    }

    /// The batch's accounts in the DC's own database.
    fn in_directory(&self, dc: &SambaDc) -> BTreeMap<String, (u32, String)> {
        accounts_in_directory(dc, self.tag)
    }

    /// Rows of the password file: the last row of each account is its password.
    fn passwords(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(&self.passwords).unwrap_or_default();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "the file ends in a whole row"
        );
        text.lines()
            .skip(1)
            .filter_map(|l| l.split_once(','))
            .map(|(sam, password)| (sam.to_owned(), password.to_owned()))
            .collect()
    }
}

/// Accounts named `<tag>-…` in the DC's own database (not through the tool): sAMAccountName →
/// (userAccountControl, DACL in SDDL).
fn accounts_in_directory(dc: &SambaDc, tag: &str) -> BTreeMap<String, (u32, String)> {
    let out = Command::new("ldbsearch")
        .args([
            "-H",
            &format!("tdb://{}", dc.dir.join("private/sam.ldb").display()),
            "-b",
            lab::seed::SERVICE_ACCOUNTS_OU,
            &format!("(sAMAccountName={tag}-*)"),
            "sAMAccountName",
            "userAccountControl",
            "nTSecurityDescriptor",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace("\n ", "");
    let mut accounts = BTreeMap::new();
    for record in text.split("# record") {
        let value = |name: &str| {
            record
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .map(str::to_owned)
        };
        if let (Some(sam), Some(uac)) = (value("sAMAccountName"), value("userAccountControl")) {
            accounts.insert(
                sam,
                (
                    uac.parse().unwrap_or(0),
                    value("nTSecurityDescriptor").unwrap_or_default(),
                ),
            );
        }
    }
    accounts
}

/// The NT hashes the DC stores for the accounts named `<tag>-…` (its own database, read as
/// root): `unicodePwd` holds MD4 of the password in UTF-16LE.
fn nt_hashes(dc: &SambaDc, tag: &str) -> BTreeMap<String, Vec<u8>> {
    let out = Command::new("ldbsearch")
        .args([
            "-H",
            &format!("tdb://{}", dc.dir.join("private/sam.ldb").display()),
            "-b",
            lab::seed::SERVICE_ACCOUNTS_OU,
            &format!("(sAMAccountName={tag}-*)"),
            "sAMAccountName",
            "unicodePwd",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace("\n ", "");
    text.split("# record")
        .filter_map(|record| {
            let sam = record
                .lines()
                .find_map(|l| l.strip_prefix("sAMAccountName: "))?;
            let hash = record
                .lines()
                .find_map(|l| l.strip_prefix("unicodePwd:: "))?;
            Some((sam.to_owned(), common::base64::decode(hash)?))
        })
        .collect()
}

fn nt_hash(password: &str) -> Vec<u8> {
    use md4::Digest;
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    md4::Md4::digest(&utf16).to_vec()
}

/// An account is half-made when it is enabled without the two deny ACEs.
fn half_made(accounts: &BTreeMap<String, (u32, String)>) -> Vec<String> {
    accounts
        .iter()
        .filter(|(_, (uac, dacl))| {
            uac & 2 == 0 && !(dacl.contains(DENY_EVERYONE) && dacl.contains(DENY_SELF))
        })
        .map(|(sam, (uac, _))| format!("{sam} ({uac})"))
        .collect()
}

/// Reads the DC's database every 200 ms while a run goes on, and keeps every half-made
/// account it ever sees.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Watcher {
    fn start(dc: &'static SambaDc, batch: &Batch) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let tag = batch.tag;
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                seen.extend(half_made(&accounts_in_directory(dc, tag)));
                std::thread::sleep(Duration::from_millis(200));
            }
            seen
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .map(|t| t.join().unwrap())
            .unwrap_or_default()
    }
}

/// Waits until `batch` has at least `n` accounts in the directory.
fn wait_for_accounts(dc: &SambaDc, batch: &Batch, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while batch.in_directory(dc).len() < n {
        assert!(
            Instant::now() < deadline,
            "the batch did not get to {n} accounts"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The state after an interrupted run: nothing half-made, some but not all accounts there,
/// every one of them with its password in the file.
fn after_the_fault(dc: &SambaDc, batch: &Batch) -> usize {
    let accounts = batch.in_directory(dc);
    assert!(
        half_made(&accounts).is_empty(),
        "{:?}",
        half_made(&accounts)
    );
    assert!(
        !accounts.is_empty() && accounts.len() < ACCOUNTS,
        "the fault came mid-batch: {} accounts",
        accounts.len()
    );
    let passwords = batch.passwords();
    for sam in accounts.keys() {
        assert!(
            passwords.contains_key(sam),
            "{sam} exists without its password on file"
        );
    }
    accounts.len()
}

/// The same command again finishes the job: all accounts, as asked, each binding with its
/// password.
fn rerun_completes(dc: &SambaDc, batch: &Batch, server: &str) {
    let out = batch.command(dc, server, &[]).run();
    out.expect_code(0);
    let accounts = batch.in_directory(dc);
    assert_eq!(accounts.len(), ACCOUNTS);
    assert!(half_made(&accounts).is_empty());
    assert!(
        accounts.values().all(|(uac, _)| *uac == 66048),
        "all service accounts"
    );
    let passwords: Vec<(String, String)> = batch.passwords().into_iter().collect();
    assert_eq!(passwords.len(), ACCOUNTS, "one password per account");
    // Each password on file is the account's: its NT hash is the one the DC stores...
    let stored = nt_hashes(dc, batch.tag);
    let wrong: Vec<&String> = passwords
        .iter()
        .filter(|(sam, password)| stored.get(sam) != Some(&nt_hash(password)))
        .map(|(sam, _)| sam)
        .collect();
    assert!(
        wrong.is_empty(),
        "passwords on file that are not the account's: {wrong:?}"
    );
    // ...and, for a sample, the DC lets the account bind with it.
    let sample: Vec<(String, String)> = passwords.iter().step_by(60).cloned().collect();
    assert!(binding(dc, &sample).iter().all(|ok| *ok), "{sample:?} bind");
}

fn ctrl_c(dc: &'static SambaDc) {
    let batch = Batch::new("ctrlc");
    let watcher = Watcher::start(dc, &batch);
    let child = batch.spawn(dc, &dc.server());
    wait_for_accounts(dc, &batch, 40);
    signal(child.id(), "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(watcher.finish().is_empty(), "a half-made account was seen");
    after_the_fault(dc, &batch);
    rerun_completes(dc, &batch, &dc.server());
}

fn cut_connection(dc: &'static SambaDc) {
    let batch = Batch::new("cut");
    // The 41st Add reaches the DC and is carried out; its answer never comes back.
    let proxy = LdapFaultProxy::start(
        dc,
        vec![
            Fault::new(op::ADD, batch.tag.as_bytes(), Answer::CutAfterForward)
                .after(40)
                .once(),
        ],
    )
    .unwrap();
    let server = proxy.address.to_string();
    let watcher = Watcher::start(dc, &batch);
    let out = batch.command(dc, &server, &[]).run();
    assert_eq!(proxy.injected(), 1);
    out.expect_code(3);
    assert!(
        out.stderr.contains("run the same command again"),
        "{}",
        out.stderr
    );
    assert!(watcher.finish().is_empty());
    after_the_fault(dc, &batch);
    // Every account that exists was reported created, the cut one included.
    let created: Vec<String> = out
        .json_lines()
        .iter()
        .filter(|r| r["action"] == "created")
        .filter_map(|r| r["sam_account_name"].as_str().map(str::to_owned))
        .collect();
    let existing: Vec<String> = batch.in_directory(dc).into_keys().collect();
    let mut reported = created.clone();
    reported.sort();
    assert_eq!(
        reported, existing,
        "what exists is what was reported created"
    );
    rerun_completes(dc, &batch, &server);
}

fn frozen_dc(dc: &'static SambaDc) {
    let batch = Batch::new("frozen");
    let child = batch.spawn(dc, &dc.server());
    wait_for_accounts(dc, &batch, 40);
    // SIGSTOP the DC's whole process group: it stops answering mid-batch, as a hung DC does.
    let group = format!("-{}", dc.pid());
    signal_group(&group, "-STOP");
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    signal_group(&group, "-CONT");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the tool gave up in time"
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not answer within 3 s"), "{stderr}");
    assert_eq!(
        failure_lines(&stderr)
            .iter()
            .filter(|l| l.contains("panicked"))
            .count(),
        0
    );
    after_the_fault(dc, &batch);
    rerun_completes(dc, &batch, &dc.server());
}

fn full_disk(dc: &'static SambaDc) {
    let mut batch = Batch::new("full");
    // 8 KiB hold the header and about 170 rows; then the disk is full.
    let disk = SmallDisk::mount(&batch.dir.path().join("small"), "8k");
    batch.passwords = disk.0.join("passwords.csv");
    let out = batch.command(dc, &dc.server(), &[]).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("No space left on device"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not started"), "{}", out.stderr);
    let created = after_the_fault(dc, &batch);
    assert_eq!(
        batch.passwords().len(),
        created,
        "one row per account made, none for the one that could not be recorded"
    );
    disk.grow("1m");
    rerun_completes(dc, &batch, &dc.server());
}

#[test]
fn an_interrupted_batch_leaves_no_half_made_account_and_no_lost_password() {
    let dc = fault_dc();
    ctrl_c(dc);
    cut_connection(dc);
    frozen_dc(dc);
    full_disk(dc);
}
