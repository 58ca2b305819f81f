//! Grantees as Exchange resolves them: only mail-enabled recipients can hold calendar
//! permissions. A group ad-tool gave a `mail` attribute is not one until Exchange's
//! Enable-DistributionGroup has run (the lab stands in for it with `lab::mail_enable`); until
//! then ad-tool says which cmdlet to run and ews-tool refuses the grantee once, before any
//! calendar is read. Entries of users outside the organisation, which carry no SID or
//! address, survive every edit.

use serde_json::json;

use crate::support::{ad, dc, entries, ews_to, exchange_with, unique};

#[test]
fn a_group_that_is_not_mail_enabled_is_refused_once_with_the_cmdlet_that_fixes_it() {
    let name = unique("Grantees");
    let mail = format!("{}@lab.example", name.to_lowercase());
    let dn = format!("CN={name},OU=Groups,DC=lab,DC=example");
    let created = ad()
        .args(["-o", "json", "create-group", "--name", &name])
        .args(["--path", "OU=Groups,DC=lab,DC=example", "--mail", &mail])
        .run();
    created.expect_code(0);
    assert_eq!(created.json()["mail_enabled"], false);
    let cmdlet = format!("Enable-DistributionGroup -Identity \"{dn}\" -PrimarySmtpAddress {mail}");
    assert!(created.stderr.contains(&cmdlet), "{}", created.stderr);

    let fake = exchange_with(&json!({}));
    let mailbox = "gijs.deboer@lab.example";
    let before = entries(&fake, mailbox);
    let grant = || {
        ews_to(&fake)
            .args(["grant", "--to", &mail, "--level", "Reviewer"])
            .args(["--mailbox", mailbox, "--mailbox", "julia.bos@lab.example"])
            .run()
    };
    let refused = grant();
    refused.expect_code(2);
    let lines = crate::support::failure_lines(&refused.stderr);
    assert_eq!(lines.len(), 1, "once: {}", refused.stderr);
    assert!(
        lines[0].contains("as a recipient") && lines[0].contains("Enable-DistributionGroup"),
        "{}",
        refused.stderr
    );
    let stats = fake.stats();
    assert!(
        stats["operations"].get("GetFolder").is_none(),
        "no calendar was read: {stats}"
    );
    assert_eq!(entries(&fake, mailbox), before);

    // Exchange's step, as the cmdlet leaves it; then the grant goes through.
    lab::mail_enable::enable_distribution_group(dc(), &dn).unwrap();
    grant().expect_code(0);
    assert!(
        entries(&fake, mailbox)
            .iter()
            .any(|(user, level)| user == &mail && level == "Reviewer"),
        "{:?}",
        entries(&fake, mailbox)
    );
    // ad-tool now sees a recipient and has nothing more to say.
    let again = ad()
        .args(["-o", "json", "create-group", "--name", &name])
        .args(["--path", "OU=Groups,DC=lab,DC=example", "--mail", &mail])
        .args(["--if-exists", "update"])
        .run();
    again.expect_code(0);
    assert_eq!(again.json()["mail_enabled"], true);
    assert!(
        !again.stderr.contains("Enable-DistributionGroup"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_mail_user_can_hold_permissions_and_a_mail_contact_cannot() {
    let fake = exchange_with(&json!({}));
    let mailbox = "koen.vos@lab.example";
    ews_to(&fake)
        .args([
            "grant",
            "--to",
            lab::seed::MAIL_USER_MAIL,
            "--level",
            "Reviewer",
        ])
        .args(["--mailbox", mailbox])
        .run()
        .expect_code(0);
    assert!(
        entries(&fake, mailbox)
            .iter()
            .any(|(u, l)| u == lab::seed::MAIL_USER_MAIL && l == "Reviewer")
    );
    // A contact is in the address book but is no security principal.
    let contact = ews_to(&fake)
        .args([
            "grant",
            "--to",
            lab::seed::CONTACT_MAIL,
            "--level",
            "Reviewer",
        ])
        .args(["--mailbox", mailbox])
        .run();
    contact.expect_code(2);
    assert!(
        contact.stderr.contains("is a mail contact"),
        "{}",
        contact.stderr
    );
    assert!(
        !entries(&fake, mailbox)
            .iter()
            .any(|(u, _)| u == lab::seed::CONTACT_MAIL)
    );
}

#[test]
fn an_outside_users_entry_without_sid_or_address_survives_every_edit() {
    let fake = exchange_with(&json!({}));
    let mailbox = "lotte.peters@lab.example";
    fake.preload(
        mailbox,
        &json!([
            {"user": "Default", "level": "FreeBusyTimeOnly"},
            {"user": "Anonymous", "level": "None"},
            {"user": "external:ExchangePublishedUser.partner@partner.example", "level": "FreeBusyTimeAndSubjectAndLocation"},
        ]),
    );
    let listed = ews_to(&fake)
        .args(["-o", "json", "list", "--mailbox", mailbox])
        .run();
    listed.expect_code(0);
    assert!(
        listed
            .stdout
            .contains("ExchangePublishedUser.partner@partner.example"),
        "{}",
        listed.stdout
    );
    for args in [
        [
            "grant",
            "--to",
            "noor.vanleeuwen@lab.example",
            "--level",
            "Editor",
        ]
        .as_slice(),
        ["revoke", "--from", "noor.vanleeuwen@lab.example"].as_slice(),
    ] {
        ews_to(&fake)
            .args(args.iter().copied())
            .args(["--mailbox", mailbox])
            .run()
            .expect_code(0);
        assert!(
            entries(&fake, mailbox).iter().any(|(u, l)| {
                u == "external:ExchangePublishedUser.partner@partner.example"
                    && l == "FreeBusyTimeAndSubjectAndLocation"
            }),
            "{:?}",
            entries(&fake, mailbox)
        );
    }
}
