//! A client written elsewhere against the simulator: exchangelib (pinned below), installed
//! from the package registry into a throwaway virtual environment, runs
//! `tests/peer/exchangelib_check.py` against a simulator: version detection, the folder tree
//! below `account.root`, `account.calendar` on Dutch and German mailboxes, permission sets
//! read (and compared with `ews-tool list`), name resolution, and exchangelib's own permission
//! write, whose answer must be what `xmllint` says of its request against the schemas. Under
//! CI a missing Python or an unreachable registry fails the test; elsewhere it says so and
//! passes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::support::{dc, ews_to, exchange_with, in_ci, invalid, schema_dir};

/// Why the peer client could not be set up, said once and loudly; under CI, a failure.
fn not_checked(reason: &str) -> Option<PathBuf> {
    let message = format!("the exchangelib peer test needs {reason}");
    assert!(!in_ci(), "{message}");
    let _ = writeln!(std::io::stderr(), "\nNOT CHECKED: {message}\n");
    None
}

/// The virtual environment's Python with exchangelib installed, made once per test run.
fn peer_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let dir = tempfile::tempdir().ok()?;
            match lab::peer::exchangelib_python(dir.path()) {
                Ok(python) => Some((dir, python)),
                Err(reason) => {
                    not_checked(&reason);
                    None
                }
            }
        })
        .as_ref()
        .map(|(_, python)| python.clone())
}

/// `(user, level)` pairs of a permission list, sorted: Default, Anonymous, an address or a SID.
fn pairs(entries: &Value, user: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = entries
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e[user].as_str().unwrap_or("").to_ascii_lowercase(),
                        e["level"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer/exchangelib_check.py")
}

#[test]
fn exchangelib_reads_what_ews_tool_reads_and_its_write_is_judged_as_the_schema_judges_it() {
    let Some(python) = peer_python() else {
        return;
    };
    let fake = exchange_with(&json!({}));
    let (dutch, german, english) = (
        "lotte.peters@lab.example",
        "jurgen.muller@lab.example",
        "boardroom@lab.example",
    );
    let custom = json!({"create_items": true, "create_subfolders": false, "folder_owner": false,
        "folder_visible": true, "folder_contact": false, "edit_items": "Owned",
        "delete_items": "None", "read_items": "FullDetails"});
    fake.preload(
        dutch,
        &json!([
            {"user": "Default", "level": "FreeBusyTimeOnly"},
            {"user": "Anonymous", "level": "None"},
            {"user": lab::seed::TIMETABLE_GROUP_MAIL, "level": "Reviewer"},
            {"user": "milan.hendriks@lab.example", "rights": custom},
            {"user": "S-1-5-21-1111111111-2222222222-3333333333-4343", "level": "Editor"},
        ]),
    );
    // exchangelib refuses free/busy-only entries before sending a write: this calendar has none.
    let writable = "sem.smits@lab.example";
    fake.preload(
        writable,
        &json!([
            {"user": "Default", "level": "None"},
            {"user": "Anonymous", "level": "None"},
            {"user": "julia.bos@lab.example", "level": "Author"},
        ]),
    );
    let before_write = fake.calendar(writable);
    let output = Command::new(&python)
        .arg(script())
        .env("PEER_EWS_URL", &fake.url)
        .env("PEER_EWS_USER", "LAB\\svc-calendar")
        .env("PEER_EWS_PASSWORD_FILE", &dc().user_password_file)
        .env("PEER_MAILBOXES", format!("{dutch},{german},{english}"))
        .env("PEER_GROUP_MAIL", lab::seed::TIMETABLE_GROUP_MAIL)
        .env("PEER_WRITE_MAILBOX", writable)
        .env("PEER_GRANTEE", "noor.vanleeuwen@lab.example")
        .env("REQUESTS_CA_BUNDLE", &dc().pki.ca_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    // The server version, and the whole tree below the root in the mailbox's language.
    assert_eq!(report["version"]["api"], "Exchange2016", "{report}");
    assert!(
        report["version"]["build"]
            .as_str()
            .unwrap()
            .starts_with("15.1.")
    );
    let tree: Vec<&str> = report["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(tree.len(), 12, "{tree:?}");
    for name in ["Agenda", "Postvak IN", "Verwijderde items", "Taken"] {
        assert!(tree.contains(&name), "{name}: {tree:?}");
    }
    for (mailbox, calendar, inbox) in [
        (dutch, "Agenda", "Postvak IN"),
        (german, "Kalender", "Posteingang"),
        (english, "Calendar", "Inbox"),
    ] {
        let seen = &report["mailboxes"][mailbox];
        assert_eq!(seen["calendar"], calendar, "{mailbox}: {seen}");
        assert_eq!(seen["inbox"], inbox, "{mailbox}: {seen}");
        // exchangelib and ews-tool read the same entries.
        let listed = ews_to(&fake)
            .args(["-o", "json", "list", "--mailbox", mailbox])
            .run();
        listed.expect_code(0);
        let ours = &listed.json()[0];
        assert_eq!(
            pairs(&seen["entries"], "user"),
            pairs(&ours["entries"], "user"),
            "{mailbox}"
        );
        if mailbox == dutch {
            // The deleted account's entry comes as t:UnknownEntry, which ews-tool reads;
            // exchangelib 5.6 looks for t:String there and sees none (its defect).
            assert_eq!(
                ours["unknown_entries"],
                json!(["NT:S-1-5-21-1111111111-2222222222-3333333333-4343"])
            );
            assert_eq!(seen["unknown"], json!([]), "{seen}");
        }
    }

    // Names resolve through the address book.
    let resolved = &report["resolved"];
    assert_eq!(resolved["lotte"], json!([dutch]), "{resolved}");
    assert!(resolved["j"].as_array().unwrap().len() > 1, "{resolved}");
    assert_eq!(
        resolved["nobody-at-all"]["error"], "ErrorNameResolutionNoResults",
        "{resolved}"
    );
    assert_eq!(
        resolved[lab::seed::TIMETABLE_GROUP_MAIL],
        json!([lab::seed::TIMETABLE_GROUP_MAIL])
    );

    // exchangelib's own write: the simulator answers as the schemas judge the request.
    let write = &report["write"];
    let captured = fake.captured();
    let request = captured
        .iter()
        .find(|p| {
            p.to_string_lossy().ends_with("-request.xml")
                && std::fs::read_to_string(p).is_ok_and(|x| {
                    x.contains("UpdateFolder") && x.contains("noor.vanleeuwen@lab.example")
                })
        })
        .unwrap_or_else(|| panic!("exchangelib's write reached the server: {write}"));
    let answered_schema_error = std::fs::read_to_string(
        request
            .to_string_lossy()
            .replace("-request.xml", "-fault.xml"),
    )
    .is_ok_and(|fault| fault.contains("ErrorSchemaValidation"));
    if let Some(schemas) = schema_dir() {
        let verdict = invalid(
            &schemas.join("envelope-exchange2016.xsd"),
            std::slice::from_ref(request),
        );
        assert_eq!(
            !verdict.is_empty(),
            answered_schema_error,
            "xmllint: {verdict:?}; the simulator: {write}"
        );
    }
    // Today exchangelib writes the set as schema-invalid XML (t:Folder for a calendar, UserId
    // after the rights, CanCreateSubfolders): refused, and nobody's entry was lost.
    assert!(answered_schema_error, "{write}");
    assert_eq!(write["ok"], false, "{write}");
    assert_eq!(fake.calendar(writable), before_write);
}
