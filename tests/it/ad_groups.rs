//! `ad-tool create-group` and `add-member`, verified with samba-tool.

use crate::support::{ad, dc, unique};

fn members(group: &str) -> Vec<String> {
    let out = dc().samba_tool(&["group", "listmembers", group]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

fn group_type(group: &str) -> String {
    let out = dc().samba_tool(&["group", "show", group]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("groupType: ").map(str::to_owned))
        .expect("groupType")
}

#[test]
fn a_universal_security_group_with_members() {
    let name = unique("MyTimetable Service Accounts ");
    let out = ad()
        .args([
            "-o",
            "json",
            "create-group",
            "--name",
            &name,
            "--path",
            "OU=Groups,DC=lab,DC=example",
        ])
        .args([
            "--member",
            "adevries",
            "--member",
            "bjansen@lab.example",
            "--member",
            "CN=Eva Smit,OU=Amsterdam,OU=Staff,DC=lab,DC=example",
        ])
        .run();
    out.expect_code(0);
    let record = out.json();
    assert_eq!(record["action"], "created");
    assert_eq!(record["group_type"], -2_147_483_640);
    assert_eq!(group_type(&name), "-2147483640");
    assert_eq!(members(&name), ["adevries", "bjansen", "esmit"]);

    let again = ad()
        .args([
            "-o",
            "json",
            "create-group",
            "--name",
            &name,
            "--path",
            "OU=Groups,DC=lab,DC=example",
            "--member",
            "adevries",
            "--if-exists",
            "update",
        ])
        .run();
    again.expect_code(0);
    assert_eq!(again.json()["action"], "unchanged");
    assert_eq!(again.json()["members"][0]["action"], "unchanged");

    let exists = ad()
        .args([
            "create-group",
            "--name",
            &name,
            "--path",
            "OU=Groups,DC=lab,DC=example",
        ])
        .run();
    exists.expect_code(5);
}

#[test]
fn scope_and_category_and_a_wrong_member_creates_nothing() {
    let name = unique("dl-");
    ad().args([
        "create-group",
        "--name",
        &name,
        "--scope",
        "domain-local",
        "--category",
        "distribution",
        "--path",
        "OU=Groups,DC=lab,DC=example",
    ])
    .run()
    .expect_code(0);
    assert_eq!(group_type(&name), "4");
    let other = unique("bad-");
    let out = ad()
        .args([
            "create-group",
            "--name",
            &other,
            "--path",
            "OU=Groups,DC=lab,DC=example",
            "--member",
            "nosuchuser",
        ])
        .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("there is no user or group nosuchuser"),
        "{}",
        out.stderr
    );
    assert!(
        !dc().samba_tool(&["group", "show", &other]).status.success(),
        "the group was not created"
    );
}

#[test]
fn add_member_adds_once_and_reports_each_member() {
    let name = unique("members-");
    ad().args([
        "create-group",
        "--name",
        &name,
        "--path",
        "OU=Groups,DC=lab,DC=example",
    ])
    .run()
    .expect_code(0);
    let first = ad()
        .args([
            "-o",
            "jsonl",
            "add-member",
            "--group",
            &name,
            "adevries",
            "Utrecht Planners",
        ])
        .run();
    first.expect_code(0);
    let actions: Vec<String> = first
        .json_lines()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["added", "added"]);
    assert_eq!(members(&name), ["Utrecht Planners", "adevries"]);

    let second = ad()
        .args([
            "-o",
            "jsonl",
            "add-member",
            "--group",
            &name,
            "adevries",
            "nosuchuser",
        ])
        .run();
    second.expect_code(1);
    let records = second.json_lines();
    assert_eq!(records[0]["action"], "unchanged");
    assert_eq!(records[1]["action"], "failed");
    assert_eq!(records[1]["error"]["code"], "not-found");
    assert_eq!(
        crate::support::failure_lines(&second.stderr).len(),
        1,
        "{}",
        second.stderr
    );

    let dry = ad()
        .args([
            "-o",
            "jsonl",
            "add-member",
            "--group",
            &name,
            "bjansen",
            "--dry-run",
        ])
        .run();
    dry.expect_code(0);
    assert_eq!(dry.json_lines()[0]["action"], "would-add");
    assert_eq!(members(&name), ["Utrecht Planners", "adevries"]);
}

#[test]
fn an_update_reports_the_sam_account_name_the_group_has() {
    let name = crate::support::unique("Renamed Group ");
    let sam = crate::support::unique("renamed-sam-");
    let path = format!("OU=Groups,{}", lab::seed::DOMAIN_DN);
    ad().args([
        "create-group",
        "--name",
        &name,
        "--path",
        &path,
        "--sam-account-name",
        &sam,
    ])
    .run()
    .expect_code(0);
    let out = ad()
        .args([
            "-o",
            "json",
            "create-group",
            "--name",
            &name,
            "--path",
            &path,
        ])
        .args(["--description", "updated", "--if-exists", "update"])
        .run();
    out.expect_code(0);
    assert_eq!(out.json()["sam_account_name"], sam.as_str());
}
