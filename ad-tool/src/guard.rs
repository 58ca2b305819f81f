//! Guard rails: accounts and groups that hold the domain's keys are never changed or deleted
//! unless the operator says so with `--allow-privileged`. What makes one privileged is what AD
//! itself protects (MS-ADTS 3.1.1.6.1.1, AdminSDHolder): critical system objects, anything
//! `adminCount` marks, the built-in accounts (RID 500 Administrator, 501 Guest, 502 krbtgt),
//! and members, however nested, of the protected groups.

use std::fmt;

use common::sid::Sid;

use crate::directory::Entry;

/// The attributes [`protection`] reads; `tokenGroups` (every group the entry is in, nested
/// ones included) is constructed, and only returned by a base-scope read of the entry itself.
pub const GUARD_ATTRIBUTES: [&str; 4] = [
    "isCriticalSystemObject",
    "adminCount",
    "objectSid",
    "tokenGroups",
];

/// Why an entry is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// `isCriticalSystemObject` is TRUE.
    Critical,
    /// A built-in account, by its relative ID.
    BuiltIn(u32),
    /// `adminCount` is 1: AD's SDProp protects it as a (former) member of a protected group.
    AdminCount,
    /// A member (directly or through nested groups) of a protected group.
    MemberOf(&'static str),
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protection::Critical => f.write_str("it is a critical system object"),
            Protection::BuiltIn(500) => f.write_str("it is the built-in Administrator (RID 500)"),
            Protection::BuiltIn(501) => f.write_str("it is the built-in Guest (RID 501)"),
            Protection::BuiltIn(502) => {
                f.write_str("it is krbtgt, the key of the domain's Kerberos (RID 502)")
            }
            Protection::BuiltIn(rid) => write!(f, "it is a built-in account (RID {rid})"),
            Protection::AdminCount => {
                f.write_str("AD protects it (adminCount=1): it is, or was, in a privileged group")
            }
            Protection::MemberOf(group) => write!(f, "it is a member of {group}"),
        }
    }
}

/// The groups AD protects (AdminSDHolder), by relative ID in the domain or in BUILTIN.
const DOMAIN_GROUPS: [(u32, &str); 7] = [
    (512, "Domain Admins"),
    (516, "Domain Controllers"),
    (518, "Schema Admins"),
    (519, "Enterprise Admins"),
    (521, "Read-only Domain Controllers"),
    (526, "Key Admins"),
    (527, "Enterprise Key Admins"),
];
const BUILTIN_GROUPS: [(u32, &str); 6] = [
    (544, "Administrators"),
    (548, "Account Operators"),
    (549, "Server Operators"),
    (550, "Print Operators"),
    (551, "Backup Operators"),
    (552, "Replicator"),
];

fn protected_group(sid: &Sid) -> Option<&'static str> {
    let text = sid.to_string();
    let rid = sid.rid()?;
    if text.starts_with("S-1-5-32-") {
        BUILTIN_GROUPS
            .iter()
            .find(|(r, _)| *r == rid)
            .map(|(_, n)| *n)
    } else if text.starts_with("S-1-5-21-") {
        DOMAIN_GROUPS
            .iter()
            .find(|(r, _)| *r == rid)
            .map(|(_, n)| *n)
    } else {
        None
    }
}

/// Why `entry` (read with [`GUARD_ATTRIBUTES`]) must not be touched without
/// `--allow-privileged`, or `None` for an ordinary entry.
pub fn protection(entry: &Entry) -> Option<Protection> {
    let own = entry
        .bytes("objectSid")
        .and_then(|b| Sid::from_bytes(b).ok())
        .map(|(sid, _)| sid);
    if let Some(rid) = own
        .as_ref()
        .filter(|s| s.to_string().starts_with("S-1-5-21-"))
        .and_then(Sid::rid)
        .filter(|rid| (500..=502).contains(rid))
    {
        return Some(Protection::BuiltIn(rid));
    }
    if entry
        .text("isCriticalSystemObject")
        .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"))
    {
        return Some(Protection::Critical);
    }
    if entry.int("adminCount").is_some_and(|n| n != 0) {
        return Some(Protection::AdminCount);
    }
    // A protected group itself, and anything inside one.
    let mut groups = own.iter().cloned().chain(
        entry
            .all_bytes("tokenGroups")
            .iter()
            .filter_map(|b| Sid::from_bytes(b).ok().map(|(sid, _)| sid)),
    );
    groups
        .find_map(|sid| protected_group(&sid))
        .map(Protection::MemberOf)
}

/// Refuses to touch `dn` when it is protected and `allow` (`--allow-privileged`) is not given:
/// reads what makes an entry privileged and names the reason.
pub async fn refuse_privileged(
    directory: &mut crate::directory::Directory,
    dn: &crate::dn::Dn,
    allow: bool,
    doing: &str,
) -> Result<(), common::CommandError> {
    if allow {
        return Ok(());
    }
    let entry = directory
        .read(dn, &GUARD_ATTRIBUTES)
        .await
        .map_err(|e| crate::failure::explain(&e))?;
    match entry.as_ref().and_then(protection) {
        None => Ok(()),
        Some(protection) => Err(common::CommandError::usage(format!(
            "not {doing} {dn}: {protection}"
        ))
        .with_hint("add --allow-privileged if that is really meant")
        .with_code("privileged")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "S-1-5-21-3231802682-4273849364-2482963525";

    fn entry(values: &[(&str, Vec<Vec<u8>>)]) -> Entry {
        Entry::from_values("CN=x,DC=lab,DC=example", values)
    }

    fn sid(text: &str) -> Vec<u8> {
        text.parse::<Sid>().unwrap().to_bytes()
    }

    #[test]
    fn an_ordinary_account_is_not_protected() {
        let plain = entry(&[
            ("objectSid", vec![sid(&format!("{DOMAIN}-1234"))]),
            (
                "tokenGroups",
                vec![sid(&format!("{DOMAIN}-513")), sid("S-1-5-32-545")],
            ),
        ]);
        assert_eq!(protection(&plain), None);
    }

    #[test]
    fn each_kind_of_protection_is_found_and_named() {
        let critical = entry(&[("isCriticalSystemObject", vec![b"TRUE".to_vec()])]);
        assert_eq!(protection(&critical), Some(Protection::Critical));
        let krbtgt = entry(&[("objectSid", vec![sid(&format!("{DOMAIN}-502"))])]);
        assert_eq!(protection(&krbtgt), Some(Protection::BuiltIn(502)));
        assert!(protection(&krbtgt).unwrap().to_string().contains("krbtgt"));
        let marked = entry(&[("adminCount", vec![b"1".to_vec()])]);
        assert_eq!(protection(&marked), Some(Protection::AdminCount));
        let nested_admin = entry(&[
            ("objectSid", vec![sid(&format!("{DOMAIN}-1300"))]),
            (
                "tokenGroups",
                vec![sid(&format!("{DOMAIN}-1400")), sid("S-1-5-32-551")],
            ),
        ]);
        assert_eq!(
            protection(&nested_admin),
            Some(Protection::MemberOf("Backup Operators"))
        );
        let domain_admins = entry(&[("objectSid", vec![sid(&format!("{DOMAIN}-512"))])]);
        assert_eq!(
            protection(&domain_admins),
            Some(Protection::MemberOf("Domain Admins"))
        );
    }
}
