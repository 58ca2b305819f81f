//! `ad-tool create-user --from-csv` and the passwords the tool handles: rows created and
//! failures reported without stopping, generated passwords shown once or added to a file, a
//! policy refusal that leaves nothing, and secrets kept out of output and logs.

use std::fmt::Write as _;

use crate::ad_accounts::PASSWORD;
use crate::support::{ad, can_bind, dc, samba_user, unique};

#[test]
fn csv_creates_each_row_and_reports_failures_without_stopping() {
    let tag = unique("csv");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("accounts.csv");
    std::fs::write(
        &csv,
        format!(
            "name,upn,display-name,path\n\
             {tag}-1,{tag}-1@lab.example,Service 1,\n\
             {tag}-2,{tag}-2@lab.example,Service 2,\n\
             {tag}-name-far-too-long-for-sam,,Too long,\n\
             {tag}-3,{tag}-3@lab.example,\"Service 3, calendar\",\n\
             {tag}-4,,Nowhere,\"OU=Missing,DC=lab,DC=example\"\n"
        ),
    )
    .unwrap();
    let passwords = dir.path().join("passwords.csv");
    let out = ad()
        .args([
            "-o",
            "jsonl",
            "create-user",
            "--service-account",
            "--path",
            "OU=Service Accounts,DC=lab,DC=example",
            "--generate-password",
        ])
        .args([
            "--generated-password-file".into(),
            passwords.clone().into_os_string(),
            "--from-csv".into(),
            csv.into_os_string(),
        ])
        .run();
    out.expect_code(1);
    let records = out.json_lines();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["created", "created", "failed", "created", "failed"],
        "{}",
        out.stdout
    );
    assert_eq!(records[2]["error"]["code"], "invalid-account");
    assert_eq!(records[4]["error"]["code"], "no-parent");
    assert_eq!(
        crate::support::failure_lines(&out.stderr).len(),
        2,
        "one line per failed row: {}",
        out.stderr
    );
    assert!(out.stderr.contains("--path"), "{}", out.stderr);

    let mode = std::fs::metadata(&passwords).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let lines: Vec<String> = std::fs::read_to_string(&passwords)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines[0], "sam_account_name,password");
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (i, line) in lines[1..].iter().enumerate() {
        let (sam, password) = line.split_once(',').unwrap();
        assert_eq!(samba_user(sam).unwrap()["userAccountControl"], "66048");
        assert!(
            can_bind(&format!("{sam}@lab.example"), password),
            "row {i}: generated password works"
        );
        assert!(
            !out.stdout.contains(password),
            "generated passwords stay out of stdout when a file is given"
        );
    }
    assert_eq!(
        samba_user(&format!("{tag}-3")).unwrap()["displayName"],
        "Service 3, calendar"
    );
}

#[test]
fn a_generated_password_is_shown_once_and_works() {
    let name = unique("gen");
    let out = ad()
        .args([
            "-o",
            "json",
            "create-user",
            "--name",
            &name,
            "--upn",
            &format!("{name}@lab.example"),
            "--generate-password",
        ])
        .run();
    out.expect_code(0);
    let password = out.json()["generated_password"]
        .as_str()
        .expect("the generated password is in the record")
        .to_owned();
    assert!(password.len() >= 24);
    assert!(can_bind(&format!("{name}@lab.example"), &password));
    assert!(!out.stderr.contains(&password));
}

#[test]
fn a_password_the_policy_refuses_names_the_rule_and_leaves_nothing() {
    let name = unique("weak");
    let short = ad()
        .args(["create-user", "--name", &name, "--account-password-stdin"])
        .stdin("Ab1!")
        .run();
    short.expect_code(1);
    assert!(
        short
            .stderr
            .contains("4 characters long and the domain requires at least 7"),
        "{}",
        short.stderr
    );
    assert!(short.stderr.contains("nothing was created"));
    assert_eq!(crate::support::failure_lines(&short.stderr).len(), 1);
    assert!(samba_user(&name).is_none());

    let simple = ad()
        .args(["create-user", "--name", &name, "--account-password-stdin"])
        .stdin("onlylowercaseletters")
        .run();
    simple.expect_code(1);
    assert!(
        simple.stderr.contains("complexity rule"),
        "{}",
        simple.stderr
    );
    assert!(
        !simple.stderr.contains("onlylowercaseletters"),
        "the password is never echoed"
    );
    assert!(samba_user(&name).is_none());
}

#[test]
fn secrets_never_reach_output_or_logs() {
    let name = unique("secret");
    let out = ad()
        .args([
            "-vv",
            "create-user",
            "--name",
            &name,
            "--service-account",
            "--account-password-stdin",
        ])
        .stdin(PASSWORD)
        .run();
    out.expect_code(0);
    let admin_password = std::fs::read_to_string(&dc().admin_password_file).unwrap();
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains(PASSWORD) && !text.contains(admin_password.trim()),
            "{text}"
        );
    }
    assert!(
        out.stderr.contains("unicodePwd"),
        "-vv shows the protocol exchange: {}",
        out.stderr
    );
}

/// The README's CSV example twice: the second run skips every row, succeeds, and leaves the
/// password file as it was; a later run with a new row adds that row's password under the
/// same header; a file others can read, or a link, is refused before anything is created.
#[test]
fn a_csv_run_twice_succeeds_and_its_password_file_is_only_added_to() {
    let dir = tempfile::tempdir().unwrap();
    let tag = unique("rerun");
    let csv = dir.path().join("accounts.csv");
    let rows = |n: usize| {
        let mut text = String::from("name,upn,display-name\n");
        for i in 1..=n {
            let _ = writeln!(text, "{tag}-{i},{tag}-{i}@lab.example,Rerun {i}");
        }
        text
    };
    std::fs::write(&csv, rows(2)).unwrap();
    let passwords = dir.path().join("passwords.csv");
    let run_with = |file: &std::path::Path| {
        ad().args(["create-user", "--from-csv"])
            .args([csv.as_os_str()])
            .args([
                "--path",
                lab::seed::SERVICE_ACCOUNTS_OU,
                "--service-account",
            ])
            .args(["--generate-password", "--generated-password-file"])
            .args([file.as_os_str()])
            .args(["--if-exists", "skip"])
            .run()
    };
    let run = || run_with(&passwords);
    run().expect_code(0);
    let first = std::fs::read_to_string(&passwords).unwrap();
    assert_eq!(first.lines().count(), 3, "{first}");
    let again = run();
    again.expect_code(0);
    assert!(
        again.stdout.lines().all(|l| l.starts_with("skipped")),
        "{}",
        again.stdout
    );
    assert_eq!(std::fs::read_to_string(&passwords).unwrap(), first);

    std::fs::write(&csv, rows(3)).unwrap();
    run().expect_code(0);
    let third = std::fs::read_to_string(&passwords).unwrap();
    assert!(third.starts_with(&first), "added to, never rewritten");
    assert_eq!(third.lines().count(), 4, "{third}");
    let password = crate::support::generated_password(&passwords, &format!("{tag}-3"));
    assert!(can_bind(&format!("{tag}-3@lab.example"), &password));
    let mode = std::fs::metadata(&passwords).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );

    // Nothing generated, nothing written: no file appears.
    let unused = dir.path().join("unused.csv");
    run_with(&unused).expect_code(0);
    assert!(!unused.exists());

    // A file others can read, or a link, stops the run before any account is made.
    std::fs::write(&csv, rows(4)).unwrap();
    std::fs::set_permissions(
        &passwords,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let refused = run();
    refused.expect_code(2);
    assert!(refused.stderr.contains("chmod 600"), "{}", refused.stderr);
    assert!(samba_user(&format!("{tag}-4")).is_none());
    std::fs::set_permissions(
        &passwords,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&passwords, &link).unwrap();
    let linked = run_with(&link);
    linked.expect_code(2);
    assert!(linked.stderr.contains("symbolic link"), "{}", linked.stderr);
    assert!(samba_user(&format!("{tag}-4")).is_none());
}
