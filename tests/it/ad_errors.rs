//! Every failure gives one clear line and its exit code.

use lab::tools::{RunOutput, Tool};

use crate::support::{ad, ad_as, dc, forward_to, unique};

#[track_caller]
fn one_line(out: &RunOutput, code: i32, needles: &[&str]) {
    out.expect_code(code);
    assert_eq!(
        crate::support::failure_lines(&out.stderr).len(),
        1,
        "exactly one line on stderr:\n{}",
        out.stderr
    );
    assert!(out.stderr.starts_with("ad-tool: "), "{}", out.stderr);
    for needle in needles {
        assert!(
            out.stderr.contains(needle),
            "{needle:?} missing from: {}",
            out.stderr
        );
    }
    assert!(
        !out.stderr.contains("panicked") && !out.stderr.contains("Error {"),
        "{}",
        out.stderr
    );
}

fn tool_with(server: &str, ca: bool) -> Tool {
    let dc = dc();
    let mut tool = Tool::new("ad-tool").args(["--server", server, "--user", &dc.admin_upn()]);
    tool = tool.args([
        "--password-file".into(),
        dc.admin_password_file.clone().into_os_string(),
    ]);
    if ca {
        tool = tool.args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()]);
    }
    tool
}

#[test]
fn unreachable_server() {
    // Port 1 on the DC's own address: nothing listens there.
    let out = tool_with(&format!("{}:1", dc().server()), true)
        .args(["show-user", "adevries"])
        .run();
    one_line(&out, 3, &["cannot connect to", ":1", "--server"]);
    let out = tool_with("dc1.nonexistent.invalid", true)
        .args(["show-user", "adevries"])
        .run();
    one_line(
        &out,
        3,
        &["cannot resolve the name dc1.nonexistent.invalid"],
    );
}

#[test]
fn unknown_ca_hints_at_ca_file() {
    let out = tool_with(&dc().server(), false)
        .args(["show-user", "adevries"])
        .run();
    one_line(
        &out,
        3,
        &[
            "issued by a CA this machine does not trust",
            "ad-ews-tools lab CA",
            "--ca-file",
        ],
    );
}

#[test]
fn certificate_name_mismatch_names_both_sides() {
    let forwarded = forward_to(std::net::SocketAddr::from((dc().address, 636)));
    let out = tool_with(&forwarded.to_string(), true)
        .args(["show-user", "adevries"])
        .run();
    one_line(
        &out,
        3,
        &[
            "not valid for the name 127.0.0.1",
            "dc1.lab.example",
            &dc().server(),
        ],
    );
}

#[test]
fn bad_credentials_are_refused_with_the_reason() {
    let dc = dc();
    let (_guard, wrong) = crate::support::secret_file("Not-The-Password-1!");
    let out = Tool::new("ad-tool")
        .args(["--server", &dc.server(), "--user", &dc.admin_upn()])
        .args([
            "--ca-file".into(),
            dc.pki.ca_file.clone().into_os_string(),
            "--password-file".into(),
            wrong.into_os_string(),
        ])
        .args(["show-user", "adevries"])
        .run();
    one_line(
        &out,
        4,
        &[
            "refused the logon of Administrator@lab.example",
            "user name or password is wrong",
        ],
    );
    // The reason decoded from AD's diagnostic (data 533): a disabled operator.
    let name = unique("disabled");
    ad().args([
        "create-user",
        "--name",
        &name,
        "--disabled",
        "--account-password-stdin",
    ])
    .stdin("Lab-User-2026!")
    .run()
    .expect_code(0);
    let out = ad_as(&format!("{name}@lab.example"))
        .args(["show-user", "adevries"])
        .run();
    one_line(&out, 4, &["the account is disabled"]);
}

#[test]
fn insufficient_rights() {
    let name = unique("norights");
    let out = ad_as("adevries@lab.example")
        .args(["create-user", "--name", &name, "--account-password-stdin"])
        .stdin("Svc-Pass-2026!x")
        .run();
    one_line(
        &out,
        4,
        &[&name, "not allowed to create", "insufficient access rights"],
    );
}

#[test]
fn the_entry_exists() {
    let out = ad()
        .args([
            "create-user",
            "--name",
            "Anna de Vries",
            "--sam-account-name",
            "adevries2",
            "--path",
            "OU=Amsterdam,OU=Staff,DC=lab,DC=example",
        ])
        .run();
    one_line(&out, 5, &["already exists and is adevries"]);
    let out = ad().args(["create-user", "--name", "adevries"]).run();
    one_line(
        &out,
        5,
        &[
            "sAMAccountName adevries is already used by CN=Anna de Vries,OU=Amsterdam,OU=Staff,DC=lab,DC=example",
        ],
    );
}

#[test]
fn no_such_parent_ou() {
    let out = ad()
        .args([
            "create-user",
            "--name",
            &unique("orphan"),
            "--path",
            "OU=Nowhere,DC=lab,DC=example",
            "--account-password-stdin",
        ])
        .stdin("Svc-Pass-2026!x")
        .run();
    one_line(&out, 1, &["parent container", "does not exist", "--path"]);
}

#[test]
fn invalid_names_are_refused_before_connecting() {
    // The server is unreachable: a usage error (2) proves nothing was sent.
    let out = tool_with("127.0.0.1:1", true)
        .args(["create-user", "--name", "MyTimetable Service Account 1"])
        .run();
    one_line(
        &out,
        2,
        &["not a valid sAMAccountName", "--sam-account-name"],
    );
    let out = tool_with("127.0.0.1:1", true)
        .args(["create-user", "--name", "x", "--sam-account-name", "a[b]"])
        .run();
    out.expect_code(2);
    assert!(out.stderr.contains("none of"), "{}", out.stderr);
    let out = tool_with("127.0.0.1:1", true)
        .args(["create-user", "--name", "x", "--path", "Users"])
        .run();
    out.expect_code(2);
    assert!(
        out.stderr.contains("is not a distinguished name"),
        "{}",
        out.stderr
    );
    let out = tool_with("127.0.0.1:1", true)
        .args([
            "create-user",
            "--name",
            "x",
            "--service-account",
            "--change-password-at-logon",
        ])
        .run();
    one_line(&out, 2, &["--service-account"]);
}

#[test]
fn a_password_never_goes_over_plain_ldap() {
    let dc = dc();
    let out = Tool::new("ad-tool")
        .args([
            "--uri",
            &format!("ldap://{}", dc.server()),
            "--user",
            &dc.admin_upn(),
        ])
        .args([
            "--password-file".into(),
            dc.admin_password_file.clone().into_os_string(),
        ])
        .args(["show-user", "adevries"])
        .run();
    one_line(
        &out,
        2,
        &[
            "refusing to send a password",
            "plain, unencrypted LDAP",
            "--starttls",
        ],
    );
}

#[test]
fn starttls_on_389_works() {
    let dc = dc();
    let out = Tool::new("ad-tool")
        .args([
            "--server",
            &dc.server(),
            "--starttls",
            "--user",
            &dc.admin_upn(),
        ])
        .args([
            "--password-file".into(),
            dc.admin_password_file.clone().into_os_string(),
            "--ca-file".into(),
            dc.pki.ca_file.clone().into_os_string(),
        ])
        .args(["-o", "json", "show-user", "adevries"])
        .run();
    out.expect_code(0);
    assert_eq!(out.json()["sam_account_name"], "adevries");
}

#[test]
fn no_password_source_says_how_to_pass_one() {
    let dc = dc();
    let out = Tool::new("ad-tool")
        .args(["--server", &dc.server(), "--user", &dc.admin_upn()])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
        .args(["show-user", "adevries"])
        .run();
    one_line(
        &out,
        2,
        &[
            "no password for Administrator@lab.example given",
            "--password-file",
            "AD_TOOL_PASSWORD",
        ],
    );
    // The environment variable works as a source.
    let out = Tool::new("ad-tool")
        .args(["--server", &dc.server(), "--user", &dc.admin_upn()])
        .args(["--ca-file".into(), dc.pki.ca_file.clone().into_os_string()])
        .env("AD_TOOL_PASSWORD", lab::samba::ADMIN_PASSWORD)
        .args(["show-user", "adevries"])
        .run();
    out.expect_code(0);
}
