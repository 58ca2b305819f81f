//! Hostile and broken input against the lab: CSV files that are broken somewhere are refused
//! whole before anything is created, invisible characters never reach the directory, a CSV
//! cannot make a new account's password the operator's own, privileged accounts are left
//! alone, and runs of one CSV at the same time converge instead of racing.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::{ad, dc, generated_password, samba_user, secret_file, unique};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn from_csv(csv: &Path) -> lab::tools::Tool {
    ad().args(["create-user", "--from-csv"])
        .args([csv.as_os_str()])
        .args(["--path", lab::seed::SERVICE_ACCOUNTS_OU])
}

#[test]
fn a_broken_csv_is_refused_whole_with_its_real_line() {
    let dir = tempfile::tempdir().unwrap();
    let tag = unique("brk");
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "quote",
            format!(
                "name,display-name\n{tag}-a,Alpha\n{tag}-b,\"Bravo\n{tag}-c,Charlie\n{tag}-d,Delta\n"
            )
            .into_bytes(),
            "line 3: a quoted value starts here and is never closed",
        ),
        (
            "fields",
            format!("name,display-name\n{tag}-a,Alpha\n\n\n{tag}-b,Bravo,extra\n").into_bytes(),
            "line 5: 3 fields where the header has 2",
        ),
        (
            "utf8",
            [
                format!("name,display-name\n{tag}-a,Alpha\n{tag}-b,Br").as_bytes(),
                b"\xe9vo\n".as_slice(),
            ]
            .concat(),
            "line 3 is not UTF-8",
        ),
    ];
    for (name, bytes, message) in cases {
        let csv = write(dir.path(), &format!("{name}.csv"), &bytes);
        let out = from_csv(&csv)
            .args(["--account-password-stdin"])
            .stdin("Lab-Row-2026!x")
            .run();
        out.expect_code(2);
        assert!(out.stderr.contains(message), "{name}: {}", out.stderr);
        assert!(out.stderr.contains("nothing was created"), "{}", out.stderr);
        for row in ["a", "b", "c", "d"] {
            assert!(
                samba_user(&format!("{tag}-{row}")).is_none(),
                "{name}: {row}"
            );
        }
    }
}

#[test]
fn a_failed_row_names_its_real_line_and_a_repeated_row_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let tag = unique("ln");
    let csv = write(
        dir.path(),
        "accounts.csv",
        format!(
            "name,upn\n\n{tag}-a,{tag}-a@lab.example\n\n\n{tag}-b,bad address\n{tag}-c,\n{tag}-a,\n"
        )
        .as_bytes(),
    );
    let out = from_csv(&csv)
        .args(["-o", "jsonl", "--account-password-stdin"])
        .stdin("Lab-Row-2026!x")
        .run();
    out.expect_code(1);
    let records = out.json_lines();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["created", "failed", "created", "failed"],
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("line 6: \"bad address\""),
        "{}",
        out.stderr
    );
    assert_eq!(records[3]["error"]["code"], "duplicate");
    assert!(
        out.stderr.contains("line 8: the same account as line 3"),
        "{}",
        out.stderr
    );
}

#[test]
fn invisible_characters_and_padded_names_never_reach_the_directory() {
    let name = unique("inv");
    for (option, value, why) in [
        ("--display-name", "Service\u{200B}Account", "U+200B"),
        ("--description", "calendar\u{202E}sync", "U+202E"),
        ("--description", "line\nbreak", "U+000A"),
        (
            "--sam-account-name",
            " padded",
            "starts or ends with a space",
        ),
        ("--upn", "svc\u{feff}@lab.example", "U+FEFF"),
    ] {
        let out = ad()
            .args(["create-user", "--name", &name, option, value])
            .args(["--account-password-stdin"])
            .stdin("Lab-Row-2026!x")
            .run();
        out.expect_code(2);
        assert!(out.stderr.contains(why), "{option}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    }
    assert!(samba_user(&name).is_none());
    // The same in a CSV cell (a NUL and a DEL included): that row fails, nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "accounts.csv",
        format!("name,description\n{name},nul\u{0}here\n{name}x,del\u{7f}here\n").as_bytes(),
    );
    let out = from_csv(&csv)
        .args(["--account-password-stdin"])
        .stdin("Lab-Row-2026!x")
        .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("U+0000") && out.stderr.contains("U+007F"),
        "{}",
        out.stderr
    );
    assert!(samba_user(&name).is_none() && samba_user(&format!("{name}x")).is_none());
}

#[test]
fn password_files_in_a_csv_stay_beside_it_and_are_never_described() {
    let dir = tempfile::tempdir().unwrap();
    let tag = unique("pwf");
    write(dir.path(), "good.pw", b"Lab-Beside-2026!x\n");
    write(dir.path(), "short.pw", b"abc\n");
    let outside = secret_file("Lab-Outside-2026!x");
    let admin = &dc().admin_password_file;
    let csv = write(
        dir.path(),
        "accounts.csv",
        format!(
            "name,account-password-file\n{tag}-good,good.pw\n{tag}-admin,{}\n{tag}-out,{}\n{tag}-up,../{}\n{tag}-short,short.pw\n",
            admin.display(),
            outside.1.display(),
            dir.path().file_name().unwrap().to_string_lossy()
        )
        .as_bytes(),
    );
    let out = ad()
        .args(["-o", "jsonl", "create-user", "--from-csv"])
        .args([csv.as_os_str()])
        .args(["--path", lab::seed::SERVICE_ACCOUNTS_OU])
        .run();
    out.expect_code(1);
    let actions: Vec<String> = out
        .json_lines()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        ["created", "failed", "failed", "failed", "failed"],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("operator's own password file"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("outside the CSV file's folder"),
        "{}",
        out.stderr
    );
    // The short password: refused by the DC, and nothing of the file's content told.
    let short_line = out
        .stderr
        .lines()
        .find(|l| l.contains(&format!("{tag}-short")))
        .unwrap();
    assert!(
        short_line.contains("the password read from"),
        "{short_line}"
    );
    for leak in ["characters", "too short", "minimum", "length", "categor"] {
        assert!(!short_line.contains(leak), "{leak}: {short_line}");
    }
    assert!(crate::support::can_bind(
        &format!("{tag}-good@lab.example"),
        "Lab-Beside-2026!x"
    ));
    assert!(samba_user(&format!("{tag}-admin")).is_none());

    // With --generate-password, a row's own file still gives that row's password; only the
    // other rows get generated ones.
    let generated = dir.path().join("generated.csv");
    let csv = write(
        dir.path(),
        "mixed.csv",
        format!(
            "name,account-password-file
{tag}-own,good.pw
{tag}-gen,
"
        )
        .as_bytes(),
    );
    let out = ad()
        .args(["-o", "jsonl", "create-user", "--from-csv"])
        .args([csv.as_os_str()])
        .args([
            "--path",
            lab::seed::SERVICE_ACCOUNTS_OU,
            "--generate-password",
        ])
        .arg("--generated-password-file")
        .arg(&generated)
        .run();
    out.expect_code(0);
    assert!(crate::support::can_bind(
        &format!("{tag}-own@lab.example"),
        "Lab-Beside-2026!x"
    ));
    let rows = std::fs::read_to_string(&generated).unwrap();
    assert_eq!(rows.lines().count(), 2, "{rows}");
    assert!(rows.contains(&format!("{tag}-gen,")), "{rows}");
}

#[test]
fn privileged_accounts_and_groups_are_left_alone_unless_allowed() {
    // krbtgt and Administrator, in a dry run: refused with the reason, nothing planned.
    for (name, reason) in [
        (
            "krbtgt",
            "krbtgt, the key of the domain's Kerberos (RID 502)",
        ),
        ("Administrator", "the built-in Administrator (RID 500)"),
    ] {
        let out = ad()
            .args(["create-user", "--name", name, "--path"])
            .args([format!("CN=Users,{}", lab::seed::DOMAIN_DN)])
            .args([
                "--if-exists",
                "update",
                "--service-account",
                "--reset-password",
            ])
            .args(["--generate-password", "--dry-run"])
            .run();
        out.expect_code(2);
        assert!(out.stderr.contains(reason), "{name}: {}", out.stderr);
        assert!(out.stderr.contains("--allow-privileged"), "{}", out.stderr);
    }
    // A lab account marked adminCount=1, for real.
    let name = unique("priv");
    ad().args(["create-user", "--name", &name, "--account-password-stdin"])
        .stdin("Lab-Priv-2026!x")
        .run()
        .expect_code(0);
    let dn = format!("CN={name},CN=Users,{}", lab::seed::DOMAIN_DN);
    let marked = dc().ldapmodify(
        &dc().admin_upn(),
        &dc().admin_password_file,
        &format!("dn: {dn}\nchangetype: modify\nreplace: adminCount\nadminCount: 1\n-\n"),
    );
    assert!(marked.status.success(), "{marked:?}");
    let update = |extra: &[&str]| {
        ad().args(["create-user", "--name", &name, "--if-exists", "update"])
            .args(["--description", "changed"])
            .args(extra.iter().copied())
            .run()
    };
    let refused = update(&[]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("adminCount=1"),
        "{}",
        refused.stderr
    );
    assert!(!samba_user(&name).unwrap().contains_key("description"));
    let delete = ad().args(["delete-user", &name, "--yes"]).run();
    delete.expect_code(2);
    assert!(samba_user(&name).is_some());
    update(&["--allow-privileged"]).expect_code(0);
    assert_eq!(samba_user(&name).unwrap()["description"], "changed");
    // A protected group takes no new member without the option.
    let out = ad()
        .args(["add-member", "--group", "Domain Admins", &name])
        .run();
    out.expect_code(2);
    assert!(out.stderr.contains("Domain Admins"), "{}", out.stderr);
    ad().args(["delete-user", &name, "--yes", "--allow-privileged"])
        .run()
        .expect_code(0);
}

#[test]
fn runs_of_one_csv_at_the_same_time_converge() {
    let dir = tempfile::tempdir().unwrap();
    let tag = unique("race");
    let mut rows = String::from("name\n");
    for i in 0..20 {
        let _ = writeln!(rows, "{tag}-{i:02}");
    }
    let csv = write(dir.path(), "accounts.csv", rows.as_bytes());
    let passwords = dir.path().join("passwords.csv");
    let runs: Vec<_> = (0..3)
        .map(|_| {
            from_csv(&csv)
                .args(["--service-account", "--generate-password"])
                .args(["--generated-password-file".as_ref(), passwords.as_os_str()])
                .args(["--if-exists", "skip", "-o", "jsonl"])
                .spawn()
        })
        .collect();
    let mut created = 0;
    for run in runs {
        let out = run.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        created += stdout.matches("\"action\":\"created\"").count();
    }
    assert_eq!(created, 20, "each account created by exactly one run");
    let rows = std::fs::read_to_string(&passwords).unwrap();
    assert_eq!(rows.lines().count(), 21, "one row per account: {rows}");
    for i in [0, 7, 19] {
        let sam = format!("{tag}-{i:02}");
        assert!(crate::support::can_bind(
            &format!("{sam}@lab.example"),
            &generated_password(&passwords, &sam)
        ));
    }
}
