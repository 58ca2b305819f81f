//! Which account a create-user row means, from what the directory holds under its names
//! (its DN, sAMAccountName and UPN): create it, leave it, converge it, or refuse, for every
//! `--if-exists`.

use crate::account::AccountSpec;
use crate::dn::Dn;

/// An entry found under one of the target's names (its DN, sAMAccountName or UPN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its DN.
    pub dn: Dn,
    /// Its `sAMAccountName`.
    pub sam_account_name: Option<String>,
    /// Its `userPrincipalName`.
    pub upn: Option<String>,
    /// Whether it is a user account (not a computer, group or contact).
    pub is_user: bool,
}

/// Why an account cannot be made or changed as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// Another object is at the target DN.
    DnTaken {
        /// The DN.
        dn: Dn,
        /// Its sAMAccountName, or what it is.
        holder: String,
    },
    /// The sAMAccountName belongs to an entry elsewhere (with `--if-exists fail|update`).
    SamTaken {
        /// Where it is.
        holder: Dn,
    },
    /// Another entry holds the UPN.
    UpnTaken {
        /// The UPN.
        upn: String,
        /// Who holds it.
        holder: Dn,
    },
    /// The account exists and `--if-exists fail` is in force.
    Exists {
        /// Where it is.
        dn: Dn,
    },
}

/// What to do for one account, given the entries found under its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing holds its names: create it.
    Create,
    /// It exists and `--if-exists skip` leaves it.
    Skip {
        /// Where it is.
        dn: Dn,
    },
    /// It exists and `--if-exists update` converges it (after reading it).
    Update {
        /// Where it is.
        dn: Dn,
    },
    /// It cannot be done.
    Conflict(Conflict),
}

/// Decides from what the directory holds under the target's names: its DN (`target`), its
/// sAMAccountName, its UPN.
pub fn decide(
    spec: &AccountSpec,
    target: &Dn,
    found: &[Found],
    if_exists: common::args::IfExists,
) -> Decision {
    use common::args::IfExists;
    let sam = spec.sam_account_name.as_str();
    let at_dn = found.iter().find(|f| f.dn == *target);
    let by_sam = found.iter().find(|f| {
        f.sam_account_name
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(sam))
    });
    let existing = match (at_dn, by_sam) {
        (None, None) => None,
        (Some(a), Some(b)) if a.dn == b.dn && a.is_user => Some(a.dn.clone()),
        (Some(a), _) => {
            return Decision::Conflict(Conflict::DnTaken {
                dn: a.dn.clone(),
                holder: a
                    .sam_account_name
                    .clone()
                    .unwrap_or_else(|| "another object".into()),
            });
        }
        (None, Some(b)) => match if_exists {
            IfExists::Skip => Some(b.dn.clone()),
            _ => {
                return Decision::Conflict(Conflict::SamTaken {
                    holder: b.dn.clone(),
                });
            }
        },
    };
    if let Some(upn) = &spec.upn {
        let holder = found.iter().find(|f| {
            f.upn
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(upn.as_str()))
                && existing.as_ref() != Some(&f.dn)
        });
        if let Some(holder) = holder {
            return Decision::Conflict(Conflict::UpnTaken {
                upn: upn.to_string(),
                holder: holder.dn.clone(),
            });
        }
    }
    match (existing, if_exists) {
        (None, _) => Decision::Create,
        (Some(dn), IfExists::Fail) => Decision::Conflict(Conflict::Exists { dn }),
        (Some(dn), IfExists::Skip) => Decision::Skip { dn },
        (Some(dn), IfExists::Update) => Decision::Update { dn },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountArgs;
    use common::args::IfExists;

    fn spec(extra: impl FnOnce(&mut AccountArgs)) -> AccountSpec {
        let mut args = AccountArgs {
            name: Some("SAMyTTExch".parse().unwrap()),
            upn: Some("sa-mytt-exch@corp.example".parse().unwrap()),
            display_name: Some("MyTimetable Exchange Service Account".parse().unwrap()),
            ..Default::default()
        };
        extra(&mut args);
        AccountSpec::from_args(args).unwrap()
    }

    fn found(dn: &str, sam: &str, upn: Option<&str>, is_user: bool) -> Found {
        Found {
            dn: dn.parse().unwrap(),
            sam_account_name: Some(sam.into()),
            upn: upn.map(Into::into),
            is_user,
        }
    }

    #[test]
    fn decisions_for_every_if_exists_case() {
        let target: Dn = "CN=SAMyTTExch,CN=Users,DC=corp,DC=example".parse().unwrap();
        let spec = spec(|_| {});
        let here = found(
            &target.to_string(),
            "SAMyTTExch",
            Some("sa-mytt-exch@corp.example"),
            true,
        );
        for if_exists in [IfExists::Fail, IfExists::Skip, IfExists::Update] {
            assert_eq!(decide(&spec, &target, &[], if_exists), Decision::Create);
        }
        assert_eq!(
            decide(&spec, &target, std::slice::from_ref(&here), IfExists::Fail),
            Decision::Conflict(Conflict::Exists { dn: target.clone() })
        );
        assert_eq!(
            decide(&spec, &target, std::slice::from_ref(&here), IfExists::Skip),
            Decision::Skip { dn: target.clone() }
        );
        assert_eq!(
            decide(
                &spec,
                &target,
                std::slice::from_ref(&here),
                IfExists::Update
            ),
            Decision::Update { dn: target.clone() }
        );
        // The same sAMAccountName elsewhere: skipped where it is, a conflict otherwise.
        let elsewhere = found(
            "CN=SAMyTTExch,OU=Other,DC=corp,DC=example",
            "samyttexch",
            None,
            true,
        );
        assert_eq!(
            decide(
                &spec,
                &target,
                std::slice::from_ref(&elsewhere),
                IfExists::Skip
            ),
            Decision::Skip {
                dn: elsewhere.dn.clone()
            }
        );
        assert_eq!(
            decide(
                &spec,
                &target,
                std::slice::from_ref(&elsewhere),
                IfExists::Update
            ),
            Decision::Conflict(Conflict::SamTaken {
                holder: elsewhere.dn.clone()
            })
        );
        // Another object at the DN, and another entry holding the UPN.
        let group = found(&target.to_string(), "Some Group", None, false);
        assert!(matches!(
            decide(&spec, &target, &[group], IfExists::Update),
            Decision::Conflict(Conflict::DnTaken { .. })
        ));
        let upn_holder = found(
            "CN=Other,DC=corp,DC=example",
            "other",
            Some("SA-MYTT-EXCH@corp.example"),
            true,
        );
        assert!(matches!(
            decide(&spec, &target, &[upn_holder], IfExists::Skip),
            Decision::Conflict(Conflict::UpnTaken { .. })
        ));
    }
}
