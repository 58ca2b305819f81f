//! `ad-tool create-user`, `show-user`, `delete-user` against the lab, verified with samba-tool
//! and OpenLDAP's clients.

use lab::ldap_proxy::{Answer, Fault, LdapFaultProxy, op};

use crate::support::{
    ALLOW_EVERYONE, ALLOW_SELF, DENY_EVERYONE, DENY_SELF, ad, ad_as, can_bind, change_own_password,
    dc, samba_user, sddl, unique,
};

pub const PASSWORD: &str = "Svc-Pass-2026!x";

fn create_reference(name: &str, extra: &[&str]) -> lab::tools::RunOutput {
    ad().args(["-o", "json", "create-user", "--name", name])
        .args([
            "--upn",
            &format!("{name}@lab.example"),
            "--display-name",
            "MyTimetable Exchange Service Account",
        ])
        .args([
            "--path",
            "CN=Users,DC=lab,DC=example",
            "--service-account",
            "--account-password-stdin",
        ])
        .args(extra)
        .stdin(format!("{PASSWORD}\n"))
        .run()
}

fn usn_changed(sam: &str) -> String {
    samba_user(sam)
        .and_then(|u| u.get("uSNChanged").cloned())
        .expect("the account exists")
}

#[test]
fn the_reference_service_account_has_exactly_new_adusers_settings() {
    let name = unique("SAMyTTExch");
    let upn = format!("{name}@lab.example");
    let dn = format!("CN={name},CN=Users,DC=lab,DC=example");
    let out = create_reference(&name, &[]);
    out.expect_code(0);
    let record = out.json();
    assert_eq!(record["action"], "created");
    assert_eq!(record["dn"], dn.as_str());

    // Independent view: the DC's own database.
    let user = samba_user(&name).expect("samba-tool finds the new account");
    assert_eq!(user["userAccountControl"], "66048");
    assert!(
        ["0", "9223372036854775807"].contains(&user["accountExpires"].as_str()),
        "{}",
        user["accountExpires"]
    );
    assert_ne!(user["pwdLastSet"], "0", "no change at next logon");
    assert_eq!(user["userPrincipalName"], upn);
    assert_eq!(user["displayName"], "MyTimetable Exchange Service Account");
    assert_eq!(record["sid"].as_str(), Some(user["objectSid"].as_str()));
    let dacl = sddl(&dn);
    assert!(
        dacl.contains(DENY_EVERYONE) && dacl.contains(DENY_SELF),
        "{dacl}"
    );
    assert!(
        !dacl.contains(ALLOW_EVERYONE) && !dacl.contains(ALLOW_SELF),
        "{dacl}"
    );
    assert!(
        dacl.find(DENY_EVERYONE) < dacl.find("(A;"),
        "deny ACEs head the DACL: {dacl}"
    );

    // The account works, and cannot change its own password.
    assert!(can_bind(&upn, PASSWORD), "bind as the new account");
    assert!(
        !can_bind(&upn, "Wrong-Pass-2026!"),
        "a wrong password is refused"
    );
    let change = change_own_password(&upn, &dn, PASSWORD, "Other-Pass-2026!y");
    assert!(!change.status.success(), "own password change must fail");
    assert!(
        String::from_utf8_lossy(&change.stderr).contains("Constraint violation (19)"),
        "{}",
        String::from_utf8_lossy(&change.stderr)
    );

    // The same command again changes nothing, down to the entry's update sequence number.
    let usn = usn_changed(&name);
    let again = create_reference(&name, &["--if-exists", "update"]);
    again.expect_code(0);
    assert_eq!(again.json()["action"], "unchanged");
    assert_eq!(usn_changed(&name), usn);
}

#[test]
fn a_plain_account_can_change_its_own_password() {
    // The control for the test above: without the deny ACEs the same change succeeds.
    let name = unique("plain");
    let upn = format!("{name}@lab.example");
    ad().args([
        "create-user",
        "--name",
        &name,
        "--upn",
        &upn,
        "--path",
        "CN=Users,DC=lab,DC=example",
        "--account-password-stdin",
    ])
    .stdin(PASSWORD)
    .run()
    .expect_code(0);
    assert_eq!(samba_user(&name).unwrap()["userAccountControl"], "512");
    let change = change_own_password(
        &upn,
        &format!("CN={name},CN=Users,DC=lab,DC=example"),
        PASSWORD,
        "Other-Pass-2026!y",
    );
    assert!(
        change.status.success(),
        "{}",
        String::from_utf8_lossy(&change.stderr)
    );
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let name = unique("dryrun");
    let out = ad()
        .args([
            "create-user",
            "--name",
            &name,
            "--service-account",
            "--dry-run",
            "--account-password-stdin",
        ])
        .stdin(PASSWORD)
        .run();
    out.expect_code(0);
    assert!(
        out.stdout.contains(&format!(
            "dn: CN={name},CN=Users,DC=lab,DC=example\nchangetype: add\n"
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("unicodePwd: <redacted>"));
    assert!(out.stdout.contains("userAccountControl: 66048"));
    assert!(
        out.stdout.contains("\nnTSecurityDescriptor:: "),
        "the Add carries the DACL"
    );
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
    assert!(samba_user(&name).is_none(), "nothing was created");

    // On an existing account, the planned changes are listed and nothing changes.
    ad().args(["create-user", "--name", &name, "--account-password-stdin"])
        .stdin(PASSWORD)
        .run()
        .expect_code(0);
    let usn = usn_changed(&name);
    let out = ad()
        .args([
            "-o",
            "json",
            "create-user",
            "--name",
            &name,
            "--service-account",
            "--if-exists",
            "update",
            "--dry-run",
        ])
        .run();
    out.expect_code(0);
    let record = out.json();
    assert_eq!(record["action"], "would-update");
    let attributes: Vec<&str> = record["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["attribute"].as_str().unwrap())
        .collect();
    assert_eq!(
        attributes,
        ["userAccountControl", "nTSecurityDescriptor"],
        "{record}"
    );
    assert_eq!(usn_changed(&name), usn);
}

#[test]
fn if_exists_fail_skip_and_update() {
    let name = unique("exists");
    let dn = format!("CN={name},CN=Users,DC=lab,DC=example");
    ad().args(["create-user", "--name", &name, "--disabled"])
        .run()
        .expect_code(0);
    assert_eq!(samba_user(&name).unwrap()["userAccountControl"], "514");

    let fail = ad().args(["create-user", "--name", &name]).run();
    fail.expect_code(5);
    assert!(fail.stderr.contains("already exists"), "{}", fail.stderr);
    assert_eq!(
        crate::support::failure_lines(&fail.stderr).len(),
        1,
        "{}",
        fail.stderr
    );

    let skip = ad()
        .args([
            "-o",
            "json",
            "create-user",
            "--name",
            &name,
            "--service-account",
            "--if-exists",
            "skip",
        ])
        .run();
    skip.expect_code(0);
    assert_eq!(skip.json()["action"], "skipped");
    assert_eq!(samba_user(&name).unwrap()["userAccountControl"], "514");

    let update = ad()
        .args([
            "-o",
            "json",
            "create-user",
            "--name",
            &name,
            "--service-account",
            "--description",
            "calendar sync",
            "--if-exists",
            "update",
        ])
        .run();
    update.expect_code(0);
    let record = update.json();
    assert_eq!(record["action"], "updated");
    let changed: Vec<&str> = record["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["attribute"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        ["description", "userAccountControl", "nTSecurityDescriptor"],
        "{record}"
    );
    let user = samba_user(&name).unwrap();
    assert_eq!(user["userAccountControl"], "66048");
    assert_eq!(user["description"], "calendar sync");
    let dacl = sddl(&dn);
    assert!(
        dacl.contains(DENY_EVERYONE) && dacl.contains(DENY_SELF) && !dacl.contains(ALLOW_SELF),
        "{dacl}"
    );

    // And back: clearing "cannot change password" restores the default allow ACEs.
    let back = ad()
        .args([
            "-o",
            "json",
            "create-user",
            "--name",
            &name,
            "--cannot-change-password=false",
            "--if-exists",
            "update",
        ])
        .run();
    back.expect_code(0);
    assert_eq!(back.json()["cannot_change_password"], false);
    let dacl = sddl(&dn);
    assert!(
        dacl.contains(ALLOW_EVERYONE) && dacl.contains(ALLOW_SELF) && !dacl.contains(DENY_SELF),
        "{dacl}"
    );
}

fn via_proxy(faults: Vec<Fault>) -> (LdapFaultProxy, lab::tools::Tool) {
    let dc = dc();
    let proxy = LdapFaultProxy::start(dc, faults).expect("the fault proxy starts");
    let tool = lab::tools::Tool::new("ad-tool")
        .args([
            "--server",
            &proxy.address.to_string(),
            "--user",
            &dc.admin_upn(),
        ])
        .args([
            "--ca-file".into(),
            dc.pki.ca_file.clone().into_os_string(),
            "--password-file".into(),
            dc.admin_password_file.clone().into_os_string(),
        ]);
    (proxy, tool)
}

fn refuse(operation: u8, containing: &str) -> Fault {
    Fault::new(
        operation,
        containing.as_bytes(),
        Answer::Result(50, "00002098: injected by the lab".into()),
    )
}

#[test]
fn an_unreadable_server_answer_is_one_line_not_a_crash_dump() {
    let name = unique("garbage");
    let (proxy, tool) = via_proxy(vec![Fault::new(op::ADD, name.as_bytes(), Answer::Garbage)]);
    let out = tool
        .args(["create-user", "--name", &name, "--account-password-stdin"])
        .stdin(PASSWORD)
        .run();
    out.expect_code(1);
    assert_eq!(proxy.injected(), 1);
    assert_eq!(
        crate::support::failure_lines(&out.stderr).len(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .starts_with("ad-tool: internal error: the tool stopped unexpectedly"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("stack backtrace") && !out.stderr.contains("panicked"),
        "{}",
        out.stderr
    );
}

#[test]
fn cannot_change_password_travels_in_the_add_so_a_refused_add_leaves_nothing() {
    // The one Add carries the deny ACEs (nTSecurityDescriptor): no later step can fail and
    // leave an enabled account that can change its password.
    let name = unique("atomic");
    let (proxy, tool) = via_proxy(vec![refuse(op::ADD, "nTSecurityDescriptor")]);
    let out = tool
        .args([
            "create-user",
            "--name",
            &name,
            "--service-account",
            "--account-password-stdin",
        ])
        .stdin(PASSWORD)
        .run();
    out.expect_code(4);
    assert_eq!(proxy.injected(), 1, "the Add carried the descriptor");
    assert!(
        out.stderr.contains("not allowed to create"),
        "{}",
        out.stderr
    );
    assert_eq!(
        crate::support::failure_lines(&out.stderr).len(),
        1,
        "{}",
        out.stderr
    );
    assert!(samba_user(&name).is_none(), "nothing is left behind");

    // And a new account never gets its DACL written afterwards.
    let name = unique("atomic");
    let (proxy, tool) = via_proxy(vec![refuse(op::MODIFY, "nTSecurityDescriptor")]);
    tool.args([
        "create-user",
        "--name",
        &name,
        "--service-account",
        "--account-password-stdin",
    ])
    .stdin(PASSWORD)
    .run()
    .expect_code(0);
    assert_eq!(proxy.injected(), 0, "no DACL write after the Add");
    let dacl = sddl(&format!("CN={name},CN=Users,DC=lab,DC=example"));
    assert!(
        dacl.contains(DENY_EVERYONE) && dacl.contains(DENY_SELF),
        "{dacl}"
    );
    assert_eq!(samba_user(&name).unwrap()["userAccountControl"], "66048");
}

#[test]
fn the_dacl_made_in_the_add_is_the_one_an_edit_afterwards_would_make() {
    // One account made with the deny ACEs in its Add; one made plain and then edited the way
    // ADSI edits it. Their DACLs must be the same, ACE for ACE.
    let in_add = unique("dacl-add");
    let edited = unique("dacl-edit");
    for name in [&in_add, &edited] {
        let mut args = vec![
            "create-user",
            "--name",
            name.as_str(),
            "--account-password-stdin",
        ];
        if *name == in_add {
            args.push("--service-account");
        }
        ad().args(args).stdin(PASSWORD).run().expect_code(0);
    }
    ad().args([
        "create-user",
        "--name",
        &edited,
        "--service-account",
        "--if-exists",
        "update",
    ])
    .run()
    .expect_code(0);
    let dacl = |name: &str| {
        let text = sddl(&format!("CN={name},CN=Users,DC=lab,DC=example"));
        text[text.find("D:").unwrap()..].to_owned()
    };
    assert_eq!(dacl(&in_add), dacl(&edited));
    assert!(
        dacl(&in_add).starts_with(&format!("D:AI{DENY_EVERYONE}{DENY_SELF}")),
        "{}",
        dacl(&in_add)
    );
}

#[test]
fn a_delegated_operator_creates_service_accounts() {
    // The helpdesk operator is delegated user management on the Service Accounts OU.
    let name = unique("delegated");
    let out = ad_as("helpdesk@lab.example")
        .args([
            "-o",
            "json",
            "create-user",
            "--name",
            &name,
            "--path",
            "OU=Service Accounts,DC=lab,DC=example",
            "--service-account",
            "--account-password-stdin",
        ])
        .stdin(PASSWORD)
        .run();
    out.expect_code(0);
    assert_eq!(out.json()["cannot_change_password"], true);
    assert_eq!(samba_user(&name).unwrap()["userAccountControl"], "66048");
    // Outside the delegated OU the same operator has no rights.
    let outside = ad_as("helpdesk@lab.example")
        .args([
            "create-user",
            "--name",
            &unique("outside"),
            "--account-password-stdin",
        ])
        .stdin(PASSWORD)
        .run();
    outside.expect_code(4);
}

#[test]
fn account_expiry_dates_and_change_at_logon() {
    let name = unique("expiry");
    ad().args([
        "create-user",
        "--name",
        &name,
        "--account-expires",
        "2030-06-01",
        "--change-password-at-logon",
        "--account-password-stdin",
    ])
    .stdin(PASSWORD)
    .run()
    .expect_code(0);
    let user = samba_user(&name).unwrap();
    // 2030-06-01T00:00:00Z is 1906502400 s after 1970; FILETIME counts 100 ns from 1601.
    assert_eq!(
        user["accountExpires"],
        ((1_906_502_400_i64 + 11_644_473_600) * 10_000_000).to_string()
    );
    assert_eq!(user["pwdLastSet"], "0");
    let shown = ad().args(["-o", "json", "show-user", &name]).run();
    shown.expect_code(0);
    assert_eq!(shown.json()["account_expires"], "2030-06-01T00:00:00Z");
    assert_eq!(shown.json()["change_password_at_logon"], true);
}

#[test]
fn show_user_decodes_the_account() {
    let name = unique("show");
    create_reference(&name, &[]).expect_code(0);
    let user = samba_user(&name).unwrap();
    for who in [
        name.clone(),
        format!("{name}@lab.example"),
        format!("CN={name},CN=Users,DC=lab,DC=example"),
    ] {
        let out = ad().args(["-o", "json", "show-user", &who]).run();
        out.expect_code(0);
        let record = out.json();
        assert_eq!(record["sam_account_name"], name.as_str());
        assert_eq!(record["sid"].as_str(), Some(user["objectSid"].as_str()));
        assert_eq!(record["guid"].as_str(), Some(user["objectGUID"].as_str()));
        assert_eq!(
            record["user_account_control_flags"],
            serde_json::json!(["NORMAL_ACCOUNT", "DONT_EXPIRE_PASSWORD"])
        );
        assert_eq!(record["cannot_change_password"], true);
        assert_eq!(record["password_never_expires"], true);
        assert!(record["dacl"].as_str().unwrap().contains(DENY_SELF));
    }
    let human = ad().args(["show-user", &name]).run();
    human.expect_code(0);
    assert!(
        human
            .stdout
            .contains("66048 (NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD)"),
        "{}",
        human.stdout
    );
}

#[test]
fn delete_user_asks_deletes_and_reports_absent() {
    let name = unique("delete");
    ad().args(["create-user", "--name", &name, "--disabled"])
        .run()
        .expect_code(0);
    let unconfirmed = ad().args(["delete-user", &name]).run();
    unconfirmed.expect_code(2);
    assert!(unconfirmed.stderr.contains("--yes"));
    assert!(samba_user(&name).is_some());
    let deleted = ad()
        .args(["-o", "json", "delete-user", &name, "--yes"])
        .run();
    deleted.expect_code(0);
    assert_eq!(deleted.json()["action"], "deleted");
    assert!(samba_user(&name).is_none());
    ad().args(["delete-user", &name, "--yes"])
        .run()
        .expect_code(1);
    let absent = ad()
        .args(["-o", "json", "delete-user", &name, "--yes", "--missing-ok"])
        .run();
    absent.expect_code(0);
    assert_eq!(absent.json()["action"], "absent");
}
