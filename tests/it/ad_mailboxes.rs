//! `ad-tool mailboxes`: the right addresses, every page gathered.

use std::collections::BTreeSet;

use crate::support::{ad, dc};

fn addresses(stdout: &str) -> BTreeSet<String> {
    stdout.lines().map(str::to_owned).collect()
}

fn seeded(filter: impl Fn(&lab::seed::Person) -> bool) -> BTreeSet<String> {
    dc().people
        .iter()
        .filter(|p| filter(p))
        .map(|p| p.mail.clone())
        .collect()
}

/// The same question asked with OpenLDAP's ldapsearch, as the independent answer.
fn ldapsearch_mail(base: &str, filter: &str) -> BTreeSet<String> {
    let out = dc().ldapsearch_as_admin(&["-E", "pr=1000/noprompt", "-b", base, filter, "mail"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("mail: ").map(str::to_owned))
        .collect()
}

#[test]
fn user_mailboxes_of_the_domain_one_per_line() {
    let out = ad().args(["mailboxes"]).run();
    out.expect_code(0);
    let got = addresses(&out.stdout);
    assert_eq!(got, seeded(|p| p.mailbox_type == "user"));
    assert_eq!(got.len(), 40);
    assert_eq!(
        got,
        ldapsearch_mail(
            "DC=lab,DC=example",
            "(&(objectClass=user)(msExchRecipientTypeDetails=1))"
        )
    );
    assert!(
        out.stdout
            .lines()
            .all(|l| l.contains('@') && !l.contains(' ')),
        "nothing but addresses: {}",
        out.stdout
    );
}

#[test]
fn a_small_page_size_gathers_every_page() {
    let out = ad().args(["-vv", "mailboxes", "--page-size", "7"]).run();
    out.expect_code(0);
    assert_eq!(addresses(&out.stdout).len(), 40);
    // 40 entries in pages of 7: six pages, each logged as it arrives.
    assert!(
        out.stderr.contains("40 mailboxes in 6 pages of up to 7"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches(": 7 entries").count(),
        5,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("page 6: 5 entries, last page"),
        "{}",
        out.stderr
    );
}

#[test]
fn by_ou_group_and_type() {
    let amsterdam = ad()
        .args([
            "mailboxes",
            "--base",
            "OU=Amsterdam,OU=Staff,DC=lab,DC=example",
        ])
        .run();
    amsterdam.expect_code(0);
    assert_eq!(
        addresses(&amsterdam.stdout),
        seeded(|p| p.ou.starts_with("OU=Amsterdam") && p.mailbox_type == "user")
    );

    // Members of Timetable Users: the Amsterdam mailboxes, and through the nested Utrecht Planners three more.
    let group = ad().args(["mailboxes", "--group", "Timetable Users"]).run();
    group.expect_code(0);
    let got = addresses(&group.stdout);
    assert_eq!(got.len(), 23, "{got:?}");
    assert!(got.is_superset(&addresses(&amsterdam.stdout)));

    let rooms = ad()
        .args([
            "-o",
            "jsonl",
            "mailboxes",
            "--recipient-type",
            "room",
            "--recipient-type",
            "equipment",
        ])
        .run();
    rooms.expect_code(0);
    let records = rooms.json_lines();
    assert_eq!(records.len(), 6);
    assert!(
        records
            .iter()
            .all(|r| ["room", "equipment"].contains(&r["recipient_type"].as_str().unwrap()))
    );
    assert!(records.iter().all(|r| {
        r["dn"]
            .as_str()
            .unwrap()
            .ends_with("OU=Resources,DC=lab,DC=example")
    }));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // `ad-tool mailboxes | head -1`: the reader goes away after one line.
    let dc = dc();
    let script = format!(
        "'{}' --server {} --user {} --password-file '{}' --ca-file '{}' mailboxes --page-size 5 | head -1; echo \"status=${{PIPESTATUS[0]}}\"",
        lab::tools::binary("ad-tool").display(),
        dc.server(),
        dc.admin_upn(),
        dc.admin_password_file.display(),
        dc.pki.ca_file.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.ends_with("status=0\n"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The addresses in the order the tool printed them.
fn in_order(stdout: &str) -> Vec<String> {
    stdout.lines().map(str::to_owned).collect()
}

/// Sorted by address, case aside.
fn sorted(list: &[String]) -> Vec<String> {
    let mut sorted = list.to_vec();
    sorted.sort_by_key(|a| a.to_lowercase());
    sorted
}

#[test]
fn the_list_is_in_address_order_every_run_across_pages() {
    let first = ad().args(["mailboxes", "--page-size", "7"]).run();
    first.expect_code(0);
    let list = in_order(&first.stdout);
    assert_eq!(list.len(), 40);
    assert_eq!(list, sorted(&list), "sorted by address across pages");
    let second = ad().args(["mailboxes", "--page-size", "3"]).run();
    assert_eq!(in_order(&second.stdout), list, "the same order every run");
}

#[test]
fn a_server_that_cannot_sort_gets_the_list_sorted_by_the_tool() {
    use lab::ldap_proxy::{Answer, Fault, LdapFaultProxy, op};
    let dc = dc();
    let proxy = LdapFaultProxy::start(
        dc,
        // The server-side sort control's OID, as the request carries it.
        vec![Fault::new(
            op::SEARCH,
            b"1.2.840.113556.1.4.473".as_slice(),
            Answer::Result(12, "00000057: unavailable critical extension".into()),
        )],
    )
    .expect("the fault proxy starts");
    let out = lab::tools::Tool::new("ad-tool")
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
        ])
        .args(["mailboxes", "--page-size", "7"])
        .run();
    out.expect_code(0);
    assert_eq!(proxy.injected(), 1, "the sorted search was refused once");
    let list = in_order(&out.stdout);
    assert_eq!(list.len(), 40);
    assert_eq!(list, sorted(&list));
}
