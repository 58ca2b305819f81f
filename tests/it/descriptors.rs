//! The security descriptor code round-trips real descriptors from the lab byte for byte.

use ad_tool::security_descriptor::{SecurityDescriptor, denies_change_password};

use crate::support::{ad, dc, sddl, unique};

/// SD-flags control values: DACL only (4), and owner, group, DACL and SACL (15).
const DACL_ONLY: &str = "MAMCAQQ=";
const EVERYTHING: &str = "MAMCAQ8=";

fn read_descriptor(dn: &str, flags: &str) -> Vec<u8> {
    let out = dc().ldapsearch_as_admin(&[
        "-E",
        &format!("!1.2.840.113556.1.4.801=::{flags}"),
        "-b",
        dn,
        "-s",
        "base",
        "(objectClass=*)",
        "nTSecurityDescriptor",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("nTSecurityDescriptor:: "))
        .unwrap_or_else(|| panic!("no descriptor for {dn}: {text}"));
    ad_tool::ldif::base64_decode(value).expect("ldapsearch writes base64")
}

#[test]
fn real_descriptors_round_trip_unchanged() {
    let name = unique("sdrt");
    ad().args([
        "create-user",
        "--name",
        &name,
        "--service-account",
        "--account-password-stdin",
    ])
    .stdin("Svc-Pass-2026!x")
    .run()
    .expect_code(0);
    let objects = [
        "DC=lab,DC=example".to_owned(),
        "CN=Users,DC=lab,DC=example".to_owned(),
        "OU=Service Accounts,DC=lab,DC=example".to_owned(),
        "CN=Administrator,CN=Users,DC=lab,DC=example".to_owned(),
        "CN=Anna de Vries,OU=Amsterdam,OU=Staff,DC=lab,DC=example".to_owned(),
        "CN=Timetable Users,OU=Groups,DC=lab,DC=example".to_owned(),
        format!("CN={name},CN=Users,DC=lab,DC=example"),
    ];
    let mut checked = 0;
    for dn in &objects {
        for flags in [DACL_ONLY, EVERYTHING] {
            let bytes = read_descriptor(dn, flags);
            let parsed = SecurityDescriptor::parse(&bytes).unwrap_or_else(|e| panic!("{dn}: {e}"));
            assert_eq!(
                parsed.to_bytes(),
                bytes,
                "{dn} (flags {flags}) round-trips byte for byte"
            );
            if flags == EVERYTHING {
                assert!(
                    parsed.owner.is_some() && parsed.group.is_some() && parsed.sacl.is_some(),
                    "{dn}: the full descriptor has every part"
                );
            } else {
                assert!(
                    parsed.owner.is_none() && parsed.sacl.is_none(),
                    "{dn}: DACL only"
                );
            }
            // Our reading of "cannot change password" agrees with samba-tool's SDDL.
            let text = sddl(dn);
            let samba_says = text.contains(crate::support::DENY_EVERYONE)
                && text.contains(crate::support::DENY_SELF);
            assert_eq!(
                parsed.dacl.as_ref().is_some_and(denies_change_password),
                samba_says,
                "{dn}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 14);
}
