//! Finding the domain controller through DNS SRV records served by the lab DC's own DNS.

use lab::tools::Tool;

use crate::support::dc;

fn discovering() -> Tool {
    let dc = dc();
    Tool::new("ad-tool")
        .args(["--dns-server", &dc.server(), "--user", &dc.admin_upn()])
        .args([
            "--ca-file".into(),
            dc.pki.ca_file.clone().into_os_string(),
            "--password-file".into(),
            dc.admin_password_file.clone().into_os_string(),
        ])
}

#[test]
fn domain_finds_the_dc_through_srv_records() {
    let out = discovering()
        .args([
            "--domain",
            "lab.example",
            "-v",
            "-o",
            "json",
            "show-user",
            "adevries",
        ])
        .run();
    out.expect_code(0);
    assert_eq!(out.json()["sam_account_name"], "adevries");
    assert!(
        out.stderr
            .contains("domain controllers of lab.example: dc1.lab.example"),
        "{}",
        out.stderr
    );
    // Reached by the name from DNS: the certificate's DNS name is what is verified.
    assert!(
        out.stderr
            .contains("connected to dc1.lab.example:636 (LDAPS)"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_a_server_the_domain_of_the_user_is_used() {
    let out = discovering()
        .env("AD_TOOL_DNS_SERVER", dc().server())
        .args(["-v", "show-user", "adevries"])
        .run();
    out.expect_code(0);
    assert!(
        out.stderr
            .contains("looking for a domain controller of lab.example, the domain of --user"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreachable_dc_is_skipped_for_the_next() {
    // A zone whose SRV records name a dead DC first (priority 0) and the lab DC second.
    let dc = dc();
    let server = dc.server();
    let zone = "failover.example";
    let steps: [&[&str]; 4] = [
        &["dns", "zonecreate", &server, zone],
        &["dns", "add", &server, zone, "dead", "A", "127.0.0.1"],
        &[
            "dns",
            "add",
            &server,
            zone,
            "_ldap._tcp.dc._msdcs",
            "SRV",
            "dead.failover.example 389 0 100",
        ],
        &[
            "dns",
            "add",
            &server,
            zone,
            "_ldap._tcp.dc._msdcs",
            "SRV",
            "dc1.lab.example 389 10 100",
        ],
    ];
    for step in steps {
        let out = dc.samba_tool_remote(step);
        assert!(
            out.status.success(),
            "{step:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = discovering()
        .args(["--domain", zone, "-v", "show-user", "adevries"])
        .run();
    out.expect_code(0);
    assert!(
        out.stderr
            .contains("dead.failover.example:636 cannot be reached"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("trying the next domain controller"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("connected to dc1.lab.example:636"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_domain_says_so_in_one_line() {
    let out = discovering()
        .args(["--domain", "nosuch.lab.example", "show-user", "adevries"])
        .run();
    out.expect_code(3);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot find a domain controller of nosuch.lab.example through DNS"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--server"), "{}", out.stderr);
}
