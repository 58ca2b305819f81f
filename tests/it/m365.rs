//! m365-tool against the Microsoft 365 simulator: the app's sign-in with a certificate or a
//! secret and each way it is refused, the cloud service account created and converged, the
//! Exchange-only licence from live SKU data, throttling honoured for the whole client, missing
//! permissions named; and every JSON body either side wrote held to Graph's v1.0 metadata.

use std::path::{Path, PathBuf};

use lab::fake_graph::FakeGraph;
use lab::tools::Tool;
use serde_json::{Value, json};

use crate::support::dc;

pub(crate) fn start() -> FakeGraph {
    FakeGraph::start(dc()).unwrap_or_else(|e| panic!("{e}"))
}

/// m365-tool pointed at `fake` (authority and Graph), trusting the lab's CA, no credential.
fn m365(fake: &FakeGraph) -> Tool {
    m365_as(fake, FakeGraph::tenant_id(), FakeGraph::client_id())
}

/// … naming this tenant and app.
fn m365_as(fake: &FakeGraph, tenant: &str, client_id: &str) -> Tool {
    Tool::new("m365-tool")
        .args(["--tenant", tenant, "--client-id", client_id])
        .args(["--authority", &fake.url, "--graph-url", &fake.url])
        .args([
            "--ca-file".into(),
            dc().pki.ca_file.clone().into_os_string(),
        ])
}

/// … signing in with the app's certificate.
pub(crate) fn with_certificate(fake: &FakeGraph) -> Tool {
    m365(fake).arg("--certificate").arg(&fake.certificate)
}

/// … signing in with the app's client secret.
fn with_secret(fake: &FakeGraph) -> Tool {
    m365(fake).arg("--password-file").arg(&fake.secret_file)
}

fn create(fake: &FakeGraph, upn: &str, extra: &[&str]) -> lab::tools::RunOutput {
    with_certificate(fake)
        .args(["-o", "json", "create-user", "--upn", upn])
        .args(extra.iter().copied())
        .run()
}

#[test]
fn the_service_account_is_created_as_the_setup_guide_asks_and_converged() {
    let fake = start();
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("m365-passwords.csv");
    let upn = "svc-mytt@labexample.onmicrosoft.com";
    let out = create(
        &fake,
        upn,
        &[
            "--display-name",
            "MyTimetable Service Account",
            "--usage-location",
            "NL",
            "--generate-password",
            "--generated-password-file",
            passwords.to_str().unwrap(),
        ],
    );
    out.expect_code(0);
    let json = out.json();
    assert_eq!(json["action"], "created", "{json}");
    // Read back from the simulator, not from the tool.
    let user = fake.user(upn).expect("the account exists");
    assert_eq!(user["accountEnabled"], true);
    assert_eq!(user["passwordPolicies"], "DisablePasswordExpiration");
    assert_eq!(user["usageLocation"], "NL");
    assert_eq!(user["mailNickname"], "svc-mytt");
    let file = std::fs::read_to_string(&passwords).unwrap();
    let row = file.lines().nth(1).unwrap();
    assert!(row.starts_with(&format!("{upn},")), "{file}");
    let password = row.split_once(',').unwrap().1;
    assert!(!out.stdout.contains(password) && !out.stderr.contains(password));
    // Again: it exists.
    create(&fake, upn, &["--usage-location", "NL"]).expect_code(5);
    let skipped = create(&fake, upn, &["--if-exists", "skip"]);
    skipped.expect_code(0);
    assert_eq!(skipped.json()["action"], "skipped");
    let same = create(
        &fake,
        upn,
        &[
            "--display-name",
            "MyTimetable Service Account",
            "--usage-location",
            "NL",
            "--if-exists",
            "update",
        ],
    );
    same.expect_code(0);
    assert_eq!(same.json()["action"], "unchanged", "{}", same.stdout);
    // Drift, shown by a dry run and then converged.
    let dry = create(
        &fake,
        upn,
        &[
            "--display-name",
            "MyTimetable (cloud)",
            "--usage-location",
            "BE",
            "--if-exists",
            "update",
            "--dry-run",
        ],
    );
    dry.expect_code(0);
    assert_eq!(dry.json()["action"], "would-update");
    assert_eq!(
        dry.json()["request"]["body"],
        json!({"displayName": "MyTimetable (cloud)", "usageLocation": "BE"})
    );
    assert_eq!(
        fake.user(upn).unwrap()["usageLocation"],
        "NL",
        "a dry run changes nothing"
    );
    let updated = create(
        &fake,
        upn,
        &[
            "--display-name",
            "MyTimetable (cloud)",
            "--usage-location",
            "BE",
            "--if-exists",
            "update",
        ],
    );
    updated.expect_code(0);
    assert_eq!(
        updated.json()["changed"],
        json!(["displayName", "usageLocation"])
    );
    assert_eq!(fake.user(upn).unwrap()["usageLocation"], "BE");
    // A creation's dry run shows the request, never a password.
    let dry = create(
        &fake,
        "svc-other@lab.example",
        &["--generate-password", "--dry-run"],
    );
    dry.expect_code(0);
    assert_eq!(
        dry.json()["request"]["body"]["passwordProfile"]["password"],
        "(not shown)"
    );
    assert!(fake.user("svc-other@lab.example").is_none());
}

#[test]
fn bad_accounts_are_refused_with_the_reason() {
    let fake = start();
    for (upn, extra, said) in [
        (
            "svc@contoso.example",
            vec!["--generate-password"],
            "not a verified domain of the tenant",
        ),
        ("svc-weak@lab.example", vec![], "password"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let weak = dir.path().join("weak");
        common::secret::write_private_file(&weak, "short\n").unwrap();
        let mut tool = with_certificate(&fake)
            .args(["create-user", "--upn", upn])
            .args(extra);
        if upn.starts_with("svc-weak") {
            tool = tool.arg("--account-password-file").arg(&weak);
        }
        let out = tool.run();
        out.expect_code(1);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    let out = with_certificate(&fake)
        .args(["create-user", "--upn", "not-a-upn"])
        .run();
    out.expect_code(2);
}

#[test]
fn the_app_signs_in_with_a_secret_or_a_certificate_and_refusals_say_why() {
    let fake = start();
    let check = |tool: Tool| {
        tool.args([
            "create-user",
            "--upn",
            "svc-x@lab.example",
            "--if-exists",
            "skip",
            "--generate-password",
            "--dry-run",
        ])
        .run()
    };
    check(with_secret(&fake)).expect_code(0);
    check(with_certificate(&fake)).expect_code(0);
    // The secret from the environment works the same, and never appears anywhere.
    let secret = std::fs::read_to_string(&fake.secret_file)
        .unwrap()
        .trim()
        .to_owned();
    let out = check(
        m365(&fake)
            .env("M365_TOOL_CLIENT_SECRET", &secret)
            .arg("-vv"),
    );
    out.expect_code(0);
    assert!(
        !out.stderr.contains(&secret) && !out.stdout.contains(&secret),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("signed in as app"), "{}", out.stderr);
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong");
    common::secret::write_private_file(&wrong, "not-the-secret\n").unwrap();
    for (tool, said) in [
        (
            m365(&fake).arg("--password-file").arg(&wrong),
            "AADSTS7000215",
        ),
        (
            m365(&fake)
                .arg("--certificate")
                .arg(&fake.stranger_certificate),
            "AADSTS700027",
        ),
        (
            m365_as(&fake, "contoso.example", FakeGraph::client_id())
                .arg("--password-file")
                .arg(&fake.secret_file),
            "AADSTS90002",
        ),
        (
            m365_as(&fake, "lab.example", "11111111-2222-3333-4444-555555555555")
                .arg("--password-file")
                .arg(&fake.secret_file),
            "AADSTS700016",
        ),
    ] {
        let out = check(tool);
        out.expect_code(4);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
        assert!(!out.stderr.contains("Trace ID"), "{}", out.stderr);
    }
    assert_eq!(fake.stats()["refused_sign_ins"], 4);
    // No credential at all: one line naming both ways.
    let out = check(m365(&fake));
    out.expect_code(2);
    assert!(out.stderr.contains("--certificate"), "{}", out.stderr);
}

fn licensed(fake: &FakeGraph, upn: &str) -> Vec<Value> {
    fake.user(upn).unwrap()["assignedLicenses"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_licence_has_only_the_exchange_plan_and_converges_from_live_data() {
    let fake = start();
    let upn = "svc-lic@lab.example";
    create(
        &fake,
        upn,
        &["--usage-location", "NL", "--generate-password"],
    )
    .expect_code(0);
    let assign = |extra: &[&str]| {
        with_certificate(&fake)
            .args([
                "-o",
                "json",
                "assign-license",
                upn,
                "--sku",
                "ENTERPRISEPACK",
                "--only",
                "EXCHANGE_S_ENTERPRISE",
            ])
            .args(extra.iter().copied())
            .run()
    };
    let dry = assign(&["--dry-run"]);
    dry.expect_code(0);
    assert_eq!(dry.json()["action"], "would-assign");
    assert!(licensed(&fake, upn).is_empty());
    let out = assign(&[]);
    out.expect_code(0);
    let json = out.json();
    assert_eq!(json["action"], "assigned");
    assert_eq!(json["enabled_plans"], json!(["EXCHANGE_S_ENTERPRISE"]));
    assert_eq!(
        json["disabled_plans"].as_array().unwrap().len(),
        11,
        "{json}"
    );
    let assigned = licensed(&fake, upn);
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0]["skuId"], lab::graph::tenant::E3_SKU);
    let disabled = assigned[0]["disabledPlans"].as_array().unwrap();
    assert_eq!(disabled.len(), 11);
    assert!(!disabled.contains(&json!("efb87545-963c-4e0d-99df-69c6916d9eb0")));
    assert_eq!(assign(&[]).json()["action"], "unchanged");
    // Microsoft adds a plan to the SKU: the next run disables it too.
    let mut skus = lab::graph::tenant::default_skus();
    skus[0]["servicePlans"].as_array_mut().unwrap().push(json!({
        "servicePlanId": "3fb82609-8c27-4f7b-bd51-30634711ee67", "servicePlanName": "BPOS_S_TODO_3",
        "provisioningStatus": "Success", "appliesTo": "User"}));
    skus[0]["consumedUnits"] = json!(4);
    fake.set_skus(&json!(skus));
    let out = assign(&[]);
    out.expect_code(0);
    assert_eq!(out.json()["action"], "updated");
    assert_eq!(
        licensed(&fake, upn)[0]["disabledPlans"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
}

#[test]
fn a_licence_is_refused_clearly_without_a_unit_a_location_or_a_permission() {
    let fake = start();
    create(&fake, "svc-noloc@lab.example", &["--generate-password"]).expect_code(0);
    create(
        &fake,
        "svc-std@lab.example",
        &["--generate-password", "--usage-location", "NL"],
    )
    .expect_code(0);
    let assign = |upn: &str, sku: &str, plan: &str| {
        with_certificate(&fake)
            .args(["assign-license", upn, "--sku", sku, "--only", plan])
            .args(["--wait-for-account", "1s"])
            .run()
    };
    for (upn, sku, plan, code, said) in [
        (
            "svc-noloc@lab.example",
            "ENTERPRISEPACK",
            "EXCHANGE_S_ENTERPRISE",
            1,
            "no usage location",
        ),
        (
            "svc-std@lab.example",
            "EXCHANGESTANDARD",
            "EXCHANGE_S_STANDARD",
            1,
            "no free licence: 2 of 2",
        ),
        (
            "svc-std@lab.example",
            "SPE_E5",
            "EXCHANGE_S_ENTERPRISE",
            2,
            "it has: ENTERPRISEPACK, EXCHANGESTANDARD",
        ),
        (
            "svc-std@lab.example",
            "ENTERPRISEPACK",
            "EXCHANGE",
            2,
            "no service plan EXCHANGE",
        ),
        (
            "svc-nobody@lab.example",
            "ENTERPRISEPACK",
            "EXCHANGE_S_ENTERPRISE",
            1,
            "no such account",
        ),
    ] {
        let out = assign(upn, sku, plan);
        out.expect_code(code);
        // One line for the failure (an unknown account is first waited for, which is said).
        let errors = out.stderr.lines().filter(|l| !l.contains(": warning: "));
        assert_eq!(errors.count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    fake.set_roles(&["User.Read.All", "Organization.Read.All"]);
    let out = assign(
        "svc-std@lab.example",
        "ENTERPRISEPACK",
        "EXCHANGE_S_ENTERPRISE",
    );
    out.expect_code(4);
    assert!(
        out.stderr.contains("LicenseAssignment.ReadWrite.All")
            && out.stderr.contains("admin consent"),
        "{}",
        out.stderr
    );
    fake.set_roles(&["Organization.Read.All"]);
    let out = create(&fake, "svc-denied@lab.example", &["--generate-password"]);
    out.expect_code(4);
    assert!(out.stderr.contains("User.Read"), "{}", out.stderr);
}

#[test]
fn throttling_holds_back_the_whole_client_for_its_retry_after() {
    let fake = start();
    fake.throttle(2, 429, 1);
    create(
        &fake,
        "svc-throttled@lab.example",
        &["--generate-password", "--usage-location", "NL"],
    )
    .expect_code(0);
    let stats = fake.stats();
    assert_eq!(stats["throttled"], 2, "{stats}");
    assert_eq!(
        stats["inside_retry_after"], 0,
        "no request came before its Retry-After: {stats}"
    );
    assert!(fake.user("svc-throttled@lab.example").is_some());
    fake.throttle(1, 503, 1);
    create(&fake, "svc-busy@lab.example", &["--generate-password"]).expect_code(0);
    // Inside a $batch, the throttled requests are sent again after their Retry-After.
    let mailboxes = cloud_mailboxes(8);
    fake.throttle(3, 429, 1);
    let mut grant = with_certificate(&fake).args([
        "-o",
        "json",
        "grant",
        "--to",
        "svc-t@lab.example",
        "--level",
        "Reviewer",
    ]);
    for mailbox in &mailboxes {
        grant = grant.args(["--mailbox", mailbox]);
    }
    let out = grant.run();
    out.expect_code(0);
    assert!(
        out.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "granted"),
        "{}",
        out.stdout
    );
    let stats = fake.stats();
    assert_eq!(stats["throttled"], 6, "{stats}");
    assert_eq!(stats["inside_retry_after"], 0, "{stats}");
    // A wait longer than --max-backoff ends the run at once, in one line.
    fake.throttle(1, 429, 3600);
    let out = with_certificate(&fake)
        .args([
            "--max-backoff",
            "10s",
            "create-user",
            "--upn",
            "svc-late@lab.example",
            "--generate-password",
        ])
        .run();
    out.expect_code(3);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("3600 s"), "{}", out.stderr);
}

/// The first `n` of the lab's cloud mailboxes.
pub(crate) fn cloud_mailboxes(n: usize) -> Vec<String> {
    lab::fake_graph::cloud_mailboxes(dc())
        .as_array()
        .unwrap()
        .iter()
        .take(n)
        .map(|m| m["upn"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn role_of(fake: &FakeGraph, mailbox: &str, who: &str) -> Option<String> {
    fake.calendar(mailbox)
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e.pointer("/emailAddress/address")
                .and_then(Value::as_str)
                .or_else(|| e.pointer("/emailAddress/name").and_then(Value::as_str))
                .is_some_and(|a| a.eq_ignore_ascii_case(who))
        })
        .map(|e| e["role"].as_str().unwrap().to_owned())
}

#[test]
fn calendar_permissions_are_granted_revoked_and_listed_keeping_everyone_elses() {
    let fake = start();
    let mailboxes = cloud_mailboxes(6);
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("utrecht.txt");
    std::fs::write(&list, mailboxes.join("\n") + "\n").unwrap();
    let report = dir.path().join("grant.csv");
    let svc = "svc-cal@lab.example";
    let batch = |command: &str, extra: &[&str]| {
        with_certificate(&fake)
            .args(["-o", "json", command])
            .args(extra.iter().copied())
            .arg("--mailboxes-file")
            .arg(&list)
            .run()
    };
    // Someone else's entry, which must survive everything below.
    with_certificate(&fake)
        .args([
            "grant",
            "--to",
            "planner@lab.example",
            "--level",
            "Reviewer",
            "--mailbox",
            &mailboxes[0],
        ])
        .run()
        .expect_code(0);
    let dry = batch("grant", &["--to", svc, "--level", "Editor", "--dry-run"]);
    dry.expect_code(0);
    assert!(
        dry.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "would-grant")
    );
    assert_eq!(role_of(&fake, &mailboxes[1], svc), None);
    let out = with_certificate(&fake)
        .args([
            "-o", "json", "grant", "--to", svc, "--level", "Editor", "--report",
        ])
        .arg(&report)
        .arg("--mailboxes-file")
        .arg(&list)
        .run();
    out.expect_code(0);
    for (mailbox, outcome) in mailboxes.iter().zip(out.json().as_array().unwrap()) {
        assert_eq!(outcome["mailbox"], mailbox.as_str(), "input order");
        assert_eq!(outcome["action"], "granted");
        assert_eq!(outcome["level_after"], "write");
        assert_eq!(role_of(&fake, mailbox, svc).as_deref(), Some("write"));
    }
    assert_eq!(
        role_of(&fake, &mailboxes[0], "planner@lab.example").as_deref(),
        Some("read")
    );
    assert_eq!(
        role_of(&fake, &mailboxes[0], "My Organization").as_deref(),
        Some("freeBusyRead")
    );
    // Six mailboxes: their reads in one $batch and their writes in another.
    let stats = fake.stats();
    assert!(stats["batches"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["batched_requests"].as_u64().unwrap() >= 12, "{stats}");
    let csv = std::fs::read_to_string(&report).unwrap();
    assert!(
        csv.starts_with("mailbox,grantee,action,level_before,level_after,error\n"),
        "{csv}"
    );
    assert_eq!(
        csv.lines()
            .filter(|l| l.contains(",granted,,write,"))
            .count(),
        6,
        "{csv}"
    );
    // Again: unchanged; another level: a PATCH of the role.
    let again = batch("grant", &["--to", svc, "--level", "Editor"]);
    assert!(
        again
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "unchanged")
    );
    let reviewer = batch("grant", &["--to", svc, "--level", "Reviewer"]);
    assert!(
        reviewer
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "updated" && o["level_before"] == "write")
    );
    // Default is the My Organization entry: given a role, never removed.
    with_certificate(&fake)
        .args([
            "grant",
            "--to",
            "Default",
            "--level",
            "LimitedDetails",
            "--mailbox",
            &mailboxes[2],
        ])
        .run()
        .expect_code(0);
    assert_eq!(
        role_of(&fake, &mailboxes[2], "My Organization").as_deref(),
        Some("limitedRead")
    );
    let out = with_certificate(&fake)
        .args(["revoke", "--from", "Default", "--mailbox", &mailboxes[2]])
        .run();
    out.expect_code(1);
    assert!(out.stderr.contains("cannot be removed"), "{}", out.stderr);
    // A level Graph has no role for is refused before anything is sent.
    let out = batch("grant", &["--to", svc, "--level", "Author"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("write (Editor) or read (Reviewer)"),
        "{}",
        out.stderr
    );
    // Revoke, and revoke again.
    let revoked = batch("revoke", &["--from", svc]);
    revoked.expect_code(0);
    assert!(
        revoked
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "revoked")
    );
    assert_eq!(role_of(&fake, &mailboxes[3], svc), None);
    let absent = batch("revoke", &["--from", svc]);
    assert!(
        absent
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "absent")
    );
    assert_eq!(
        role_of(&fake, &mailboxes[0], "planner@lab.example").as_deref(),
        Some("read")
    );
    // list shows what there is.
    let listed = with_certificate(&fake)
        .args(["-o", "json", "list", "--mailbox", &mailboxes[0]])
        .run();
    listed.expect_code(0);
    let entries = &listed.json()[0]["entries"];
    assert_eq!(entries[0]["user"], "My Organization");
    assert_eq!(entries[1]["user"], "planner@lab.example");
    // A mailbox Graph does not know fails alone.
    let out = with_certificate(&fake)
        .args([
            "-o",
            "json",
            "grant",
            "--to",
            svc,
            "--level",
            "Editor",
            "--wait-for-mailbox",
            "1s",
        ])
        .args([
            "--mailbox",
            &mailboxes[0],
            "--mailbox",
            "nobody@lab.example",
        ])
        .run();
    out.expect_code(1);
    assert_eq!(out.json()[0]["action"], "granted");
    assert_eq!(out.json()[1]["error"]["code"], "no-mailbox");
}

#[test]
fn a_new_accounts_mailbox_is_waited_for_not_failed() {
    let fake = start();
    let upn = "svc-new@lab.example";
    fake.set_delays(1500, 1500);
    create(
        &fake,
        upn,
        &["--usage-location", "NL", "--generate-password"],
    )
    .expect_code(0);
    // Right after its creation Graph does not find the account: assign-license waits for it.
    let out = with_certificate(&fake)
        .args([
            "assign-license",
            upn,
            "--sku",
            "ENTERPRISEPACK",
            "--only",
            "EXCHANGE_S_ENTERPRISE",
        ])
        .run();
    out.expect_code(0);
    assert!(
        out.stderr.contains("Request_ResourceNotFound"),
        "{}",
        out.stderr
    );
    let out = with_certificate(&fake)
        .args([
            "grant",
            "--to",
            "planner@lab.example",
            "--level",
            "Editor",
            "--mailbox",
            upn,
        ])
        .run();
    out.expect_code(0);
    assert!(
        out.stderr.contains("waiting for it"),
        "said once: {}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("waiting for it").count(),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(
        role_of(&fake, upn, "planner@lab.example").as_deref(),
        Some("write")
    );
    // A mailbox that takes longer than --wait-for-mailbox is a failure that says so.
    fake.set_delays(0, 600_000);
    create(
        &fake,
        "svc-slow@lab.example",
        &["--usage-location", "NL", "--generate-password"],
    )
    .expect_code(0);
    with_certificate(&fake)
        .args([
            "assign-license",
            "svc-slow@lab.example",
            "--sku",
            "ENTERPRISEPACK",
            "--only",
            "EXCHANGE_S_ENTERPRISE",
        ])
        .run()
        .expect_code(0);
    let out = with_certificate(&fake)
        .args([
            "grant",
            "--to",
            "planner@lab.example",
            "--level",
            "Editor",
            "--wait-for-mailbox",
            "2s",
        ])
        .args(["--mailbox", "svc-slow@lab.example"])
        .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("MailboxNotEnabledForRESTAPI")
            && out.stderr.contains("--wait-for-mailbox"),
        "{}",
        out.stderr
    );
}

/// The Graph metadata: `GRAPH_SCHEMA_DIR`, or `graph-schema` in the `shared` folder beside the
/// checkout; under CI it must be there.
fn csdl_path() -> Option<PathBuf> {
    let dir = std::env::var_os("GRAPH_SCHEMA_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/graph-schema"),
        PathBuf::from,
    );
    let file = dir.join("v1.0-Prod.csdl");
    if file.is_file() {
        return Some(file);
    }
    let missing = format!(
        "the Graph v1.0 metadata is missing from {}: set GRAPH_SCHEMA_DIR to a folder holding \
         v1.0-Prod.csdl (Graph serves it at https://graph.microsoft.com/v1.0/$metadata)",
        dir.display()
    );
    assert!(!crate::support::in_ci(), "{missing}");
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("\nNOT CHECKED: Graph metadata conformance; {missing}\n"),
    );
    None
}

#[test]
fn every_body_either_side_writes_matches_graphs_metadata() {
    let Some(path) = csdl_path() else { return };
    let csdl = lab::graph::schema::Csdl::load(&path).unwrap();
    // The checker refuses what Graph would: a property the type lacks, a wrong type.
    assert!(
        !csdl
            .check(&json!({"passwordNeverExpires": true}), "graph.user")
            .is_empty()
    );
    assert!(
        !csdl
            .check(&json!({"accountEnabled": "true"}), "graph.user")
            .is_empty()
    );
    let fake = start();
    let upn = "svc-schema@lab.example";
    create(
        &fake,
        upn,
        &[
            "--display-name",
            "Schema",
            "--usage-location",
            "NL",
            "--generate-password",
        ],
    )
    .expect_code(0);
    create(
        &fake,
        upn,
        &["--display-name", "Schema 2", "--if-exists", "update"],
    )
    .expect_code(0);
    with_certificate(&fake)
        .args([
            "assign-license",
            upn,
            "--sku",
            "ENTERPRISEPACK",
            "--only",
            "EXCHANGE_S_ENTERPRISE",
        ])
        .run()
        .expect_code(0);
    let captured = fake.captured();
    let kinds: Vec<&str> = captured.iter().map(|(k, _)| k.as_str()).collect();
    for kind in [
        "request-graph.user",
        "response-graph.user",
        "response-collection.graph.subscribedSku",
        "request-action.assignLicense",
    ] {
        assert!(kinds.contains(&kind), "{kind} not captured: {kinds:?}");
    }
    let mut problems = Vec::new();
    for (kind, file) in &captured {
        let graph_type = kind.split_once('-').map_or(kind.as_str(), |(_, t)| t);
        let value: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        for problem in csdl.check_capture(graph_type, &value) {
            problems.push(format!("{}: {problem}", file.display()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn accounts_from_a_csv_file_are_created_row_by_row_and_a_broken_file_creates_nothing() {
    let fake = start();
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("cloud-passwords.csv");
    std::fs::write(dir.path().join("strong.pw"), "Str0ng!Passw0rd-4-lab\n").unwrap();
    std::fs::write(dir.path().join("weak.pw"), "weak\n").unwrap();
    // An account that exists already, which the run skips.
    create(
        &fake,
        "svc-b@lab.example",
        &["--usage-location", "BE", "--generate-password"],
    )
    .expect_code(0);
    let csv = dir.path().join("accounts.csv");
    std::fs::write(
        &csv,
        "upn,display-name,usage-location,account-password-file\n\
         svc-a@lab.example,Service A,,\n\
         svc-b@lab.example,,,\n\
         \n\
         not an upn,,,\n\
         svc-c@lab.example,Service C,DE,strong.pw\n\
         svc-d@lab.example,,,weak.pw\n\
         SVC-A@lab.example,Again,,\n",
    )
    .unwrap();
    let out = with_certificate(&fake)
        .args(["-o", "json", "create-user", "--from-csv"])
        .arg(&csv)
        .args(["--usage-location", "NL", "--generate-password"])
        .arg("--generated-password-file")
        .arg(&passwords)
        .args(["--if-exists", "skip"])
        .run();
    out.expect_code(1);
    let rows = out.json();
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "created", "skipped", "failed", "created", "failed", "failed"
        ],
        "{}",
        out.stdout
    );
    let lines = crate::support::failure_lines(&out.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("line 5") && l.contains("not a user principal name")),
        "{}",
        out.stderr
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("svc-d@lab.example") && l.contains("password rules")),
        "{}",
        out.stderr
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("line 8") && l.contains("the same account as line 2")),
        "{}",
        out.stderr
    );
    // Read back from the simulator: the options filled the empty cells, the cells won.
    let a = fake.user("svc-a@lab.example").unwrap();
    assert_eq!(a["usageLocation"], "NL");
    assert_eq!(a["displayName"], "Service A");
    assert_eq!(a["passwordPolicies"], "DisablePasswordExpiration");
    assert_eq!(
        fake.user("svc-b@lab.example").unwrap()["usageLocation"],
        "BE"
    );
    assert_eq!(
        fake.user("svc-c@lab.example").unwrap()["usageLocation"],
        "DE"
    );
    assert!(fake.user("svc-d@lab.example").is_none());
    // Only generated passwords go to the file, under the cloud tool's header; the one the
    // refused creation had generated was taken back.
    let file = std::fs::read_to_string(&passwords).unwrap();
    let rows: Vec<&str> = file.lines().collect();
    assert_eq!(rows[0], "upn,password");
    assert_eq!(rows.len(), 2, "{file}");
    assert!(rows[1].starts_with("svc-a@lab.example,"), "{file}");

    // A file broken somewhere creates nothing at all.
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, "upn,dispaly-name\nsvc-e@lab.example,E\n").unwrap();
    let out = with_certificate(&fake)
        .args(["create-user", "--generate-password", "--from-csv"])
        .arg(&broken)
        .run();
    out.expect_code(2);
    assert!(
        out.stderr.contains("needs --generated-password-file"),
        "{}",
        out.stderr
    );
    let out = with_certificate(&fake)
        .args(["create-user", "--generate-password", "--from-csv"])
        .arg(&broken)
        .arg("--generated-password-file")
        .arg(&passwords)
        .run();
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("there is no column \"dispaly-name\"; did you mean \"display-name\"?"),
        "{}",
        out.stderr
    );
    assert!(fake.user("svc-e@lab.example").is_none());
}

/// Runs `tool` and, as the administrator at the browser, answers the device code it shows
/// (`None`: never enters it).
fn with_device_code(fake: &FakeGraph, tool: &Tool, approve: Option<bool>) -> std::process::Output {
    let child = tool.spawn();
    if let Some(approve) = approve {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let code = loop {
            let pending = fake
                .device_codes()
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["status"] == "pending")
                .map(|c| c["user_code"].as_str().unwrap().to_owned());
            if let Some(code) = pending {
                break code;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no device code asked for"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        fake.answer_device_code(&code, approve);
    }
    child.wait_with_output().unwrap()
}

#[test]
fn an_administrator_signs_in_with_a_device_code_and_refusals_say_why() {
    let fake = start();
    let mailboxes = cloud_mailboxes(3);
    // Tokens that last two seconds: every renewal goes through the refresh token, never a
    // second code.
    fake.set_faults(&json!({"token_lifetime_s": 2}));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("grant.jsonl");
    let grant = m365(&fake)
        .args(["--device-code", "-o", "json", "grant"])
        .args([
            "--to",
            "svc-dc@lab.example",
            "--level",
            "Reviewer",
            "--journal",
        ])
        .arg(&journal)
        .mailboxes(&mailboxes);
    let out = with_device_code(&fake, &grant, Some(true));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let code = fake.device_codes()[0]["user_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        stderr.contains("open https://microsoft.com/devicelogin in a browser")
            && stderr.contains(&code),
        "{stderr}"
    );
    for mailbox in &mailboxes {
        assert_eq!(
            role_of(&fake, mailbox, "svc-dc@lab.example").as_deref(),
            Some("read")
        );
    }
    let stats = fake.stats();
    assert_eq!(stats["device_codes"], 1, "{stats}");
    assert!(stats["refresh_grants"].as_u64().unwrap() >= 1, "{stats}");
    // The journal names the administrator who signed in, not only the app.
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(&journal)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header["user"],
        format!(
            "admin@labexample.onmicrosoft.com (through app {})",
            FakeGraph::client_id()
        )
    );
    // No secret or certificate was needed, and neither the device code nor a refresh token
    // shows.
    assert!(
        !stderr.contains("dc.") && !stderr.contains("rt."),
        "{stderr}"
    );

    // Declined in the browser.
    let list = m365(&fake).args(["--device-code", "list", "--mailbox", &mailboxes[0]]);
    let out = with_device_code(&fake, &list, Some(false));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("the sign-in was declined"), "{stderr}");

    // Never entered: the code expires, said in one line.
    fake.set_faults(&json!({"device_code_lifetime_s": 3}));
    let out = with_device_code(&fake, &list, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("expired before the sign-in was completed"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_creation_whose_answer_is_lost_is_learnt_from_graph_and_an_unreachable_graph_is_one_line() {
    let fake = start();
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("cloud-passwords.csv");
    let upn = "svc-lost@lab.example";
    // Graph makes the account but answers after the tool has given up waiting.
    fake.set_faults(&json!({"slow_creations_ms": 3000}));
    let out = with_certificate(&fake)
        .args(["--timeout", "1", "-o", "json", "create-user", "--upn", upn])
        .args(["--usage-location", "NL", "--generate-password"])
        .arg("--generated-password-file")
        .arg(&passwords)
        .run();
    out.expect_code(0);
    assert_eq!(out.json()["action"], "created", "{}", out.stderr);
    assert!(fake.user(upn).is_some());
    assert_eq!(
        fake.stats()["operations"]["POST users"],
        1,
        "the creation is never sent twice"
    );
    // Its password was on file before the request went out, and stays there.
    let file = std::fs::read_to_string(&passwords).unwrap();
    assert!(
        file.lines().nth(1).unwrap().starts_with(&format!("{upn},")),
        "{file}"
    );

    // Nothing listening: one line, exit 3, nothing written.
    let url = fake.url.clone();
    drop(fake);
    let secret = dir.path().join("client-secret");
    common::secret::write_private_file(&secret, "Lab~secret\n").unwrap();
    let out = Tool::new("m365-tool")
        .args([
            "--tenant",
            FakeGraph::tenant_id(),
            "--client-id",
            FakeGraph::client_id(),
        ])
        .args(["--authority", &url, "--graph-url", &url, "--timeout", "2"])
        .arg("--ca-file")
        .arg(&dc().pki.ca_file)
        .arg("--password-file")
        .arg(dir.path().join("cloud-passwords.csv"))
        .args([
            "create-user",
            "--upn",
            "svc-never@lab.example",
            "--generate-password",
        ])
        .run();
    out.expect_code(3);
    let lines = crate::support::failure_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
