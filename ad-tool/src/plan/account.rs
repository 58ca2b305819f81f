//! User accounts: the one Add that creates an account (with its password, flags and, when asked,
//! its DACL) and the Modify and DACL write that converge an existing one.

use super::{Change, Op, PWD_MUST_CHANGE, PWD_SET_NOW};
use crate::account::AccountSpec;
use crate::dn::Dn;
use crate::filetime::AccountExpires;
use crate::sddl;
use crate::security_descriptor::{Acl, SecurityDescriptor, set_cannot_change_password};
use crate::uac::UserAccountControl as Uac;

/// An account entry as read from the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingAccount {
    /// Its DN.
    pub dn: Dn,
    /// `sAMAccountName`.
    pub sam_account_name: String,
    /// The plain attributes this tool manages, by LDAP name.
    pub attributes: Vec<(&'static str, Option<String>)>,
    /// `userAccountControl`.
    pub uac: Uac,
    /// `accountExpires` as stored.
    pub account_expires: i64,
    /// `pwdLastSet` as stored.
    pub pwd_last_set: i64,
    /// `nTSecurityDescriptor`, DACL only, when it could be read.
    pub descriptor: Option<SecurityDescriptor>,
}

impl ExistingAccount {
    /// The value of a managed attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
    }
}

/// The plain attributes the spec sets, by LDAP name, in the order they are written.
pub fn managed_attributes(spec: &AccountSpec) -> Vec<(&'static str, Option<String>)> {
    let text = |t: &Option<crate::account::Text>| t.as_ref().map(ToString::to_string);
    vec![
        (
            "userPrincipalName",
            spec.upn.as_ref().map(ToString::to_string),
        ),
        ("displayName", text(&spec.display_name)),
        ("givenName", text(&spec.given_name)),
        ("sn", text(&spec.surname)),
        ("description", text(&spec.description)),
        ("mail", spec.mail.as_ref().map(ToString::to_string)),
    ]
}

/// The LDAP names of the managed attributes, for reading an entry.
pub const MANAGED_ATTRIBUTE_NAMES: [&str; 6] = [
    "userPrincipalName",
    "displayName",
    "givenName",
    "sn",
    "description",
    "mail",
];

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The entry's DACL is needed but was not readable.
    #[error(
        "the account's permissions (DACL) could not be read, so \"cannot change password\" cannot be checked"
    )]
    NoDacl,
    /// A new account's DACL is needed and the schema's default for users is unknown.
    #[error(
        "the schema's default permissions for user accounts could not be read, so a new account cannot carry \"cannot change password\" from the start"
    )]
    NoDefaultDacl,
}

/// A new account with New-ADUser's defaults for what the spec leaves open: one Add. When
/// "cannot change password" is asked, the Add carries `default_dacl` (the schema's default for
/// users) with its two allow ACEs replaced by the deny ACEs, as ADSI would edit it afterwards.
pub fn plan_create(
    spec: &AccountSpec,
    parent: &Dn,
    with_password: bool,
    default_dacl: Option<&Acl>,
) -> Result<Op, PlanError> {
    let dn = parent.child("CN", spec.name.as_str());
    let mut attributes = vec![
        ("objectClass", "user".to_owned()),
        ("sAMAccountName", spec.sam_account_name.to_string()),
    ];
    attributes.extend(
        managed_attributes(spec)
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v))),
    );
    let must_change = spec.change_password_at_logon == Some(true);
    attributes.push((
        "pwdLastSet",
        if must_change {
            PWD_MUST_CHANGE
        } else {
            PWD_SET_NOW
        }
        .to_string(),
    ));
    if let Some(expires) = spec.account_expires {
        attributes.push(("accountExpires", expires.stored().to_string()));
    }
    let uac = Uac(Uac::NORMAL_ACCOUNT)
        .with(
            Uac::DONT_EXPIRE_PASSWORD,
            spec.password_never_expires == Some(true),
        )
        .with(Uac::ACCOUNTDISABLE, !spec.enabled_when_created());
    let descriptor = if spec.cannot_change_password == Some(true) {
        let mut dacl = default_dacl.cloned().ok_or(PlanError::NoDefaultDacl)?;
        set_cannot_change_password(&mut dacl, true);
        Some(Box::new(sddl::dacl_only(dacl)))
    } else {
        None
    };
    Ok(Op::Add {
        dn,
        attributes,
        uac: Some(uac),
        with_password,
        descriptor,
    })
}

/// What converging an existing account takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    /// The entry.
    pub dn: Dn,
    /// What changes, as reported.
    pub changes: Vec<Change>,
    /// The writes: one Modify for the attributes, then the DACL if it changes.
    pub ops: Vec<Op>,
}

/// Converges an existing account to the spec: only what the spec states is compared. `None`
/// when it already is as asked.
pub fn plan_update(
    spec: &AccountSpec,
    existing: &ExistingAccount,
    reset_password: bool,
) -> Result<Option<UpdatePlan>, PlanError> {
    let mut changes = Vec::new();
    for (name, wanted) in managed_attributes(spec) {
        let Some(wanted) = wanted else { continue };
        let current = existing.attribute(name);
        if current != Some(wanted.as_str()) {
            changes.push(Change::Attribute {
                name,
                from: current.map(str::to_owned),
                to: wanted,
            });
        }
    }
    let current_uac = existing.uac.for_write();
    let mut wanted_uac = current_uac;
    if let Some(never) = spec.password_never_expires {
        wanted_uac = wanted_uac.with(Uac::DONT_EXPIRE_PASSWORD, never);
    }
    if let Some(enabled) = spec.enabled {
        wanted_uac = wanted_uac.with(Uac::ACCOUNTDISABLE, !enabled);
    }
    if wanted_uac != current_uac {
        changes.push(Change::UserAccountControl {
            from: existing.uac,
            to: wanted_uac,
        });
    }
    if let Some(wanted) = spec.account_expires
        && AccountExpires::from_stored(existing.account_expires) != wanted
    {
        changes.push(Change::AccountExpires {
            from: existing.account_expires,
            to: wanted,
        });
    }
    if reset_password {
        changes.push(Change::ResetPassword);
    }
    match spec.change_password_at_logon {
        Some(true) if existing.pwd_last_set != PWD_MUST_CHANGE => {
            changes.push(Change::PwdLastSet {
                from: existing.pwd_last_set,
                to: PWD_MUST_CHANGE,
            });
        }
        Some(false) if existing.pwd_last_set == PWD_MUST_CHANGE => {
            changes.push(Change::PwdLastSet {
                from: existing.pwd_last_set,
                to: PWD_SET_NOW,
            });
        }
        _ => {}
    }
    let mut ops = Vec::new();
    let modify: Vec<Change> = changes.clone();
    if !modify.is_empty() {
        ops.push(Op::Modify {
            dn: existing.dn.clone(),
            changes: modify,
        });
    }
    if let Some(on) = spec.cannot_change_password {
        let mut descriptor = existing.descriptor.clone().ok_or(PlanError::NoDacl)?;
        let dacl = descriptor.dacl.as_mut().ok_or(PlanError::NoDacl)?;
        let edits = set_cannot_change_password(dacl, on);
        if !edits.is_empty() {
            changes.push(Change::CannotChangePassword {
                to: on,
                edits: edits.clone(),
            });
            ops.push(Op::WriteDacl {
                dn: existing.dn.clone(),
                descriptor: Box::new(descriptor),
                edits,
            });
        }
    }
    if changes.is_empty() {
        return Ok(None);
    }
    Ok(Some(UpdatePlan {
        dn: existing.dn.clone(),
        changes,
        ops,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountArgs, AccountSpec};
    use crate::security_descriptor::{ACL_REVISION_DS, Ace, SE_DACL_PRESENT, SE_SELF_RELATIVE};
    use common::sid::Sid;

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

    /// A user's default DACL, reduced to what matters here: the two allow ACEs of User-Change-
    /// Password and one other ACE that must survive every edit.
    fn default_dacl() -> Acl {
        let mut acl = Acl::new(ACL_REVISION_DS);
        acl.aces = vec![
            Ace::change_password(true, Sid::principal_self()),
            Ace::change_password(true, Sid::everyone()),
        ];
        acl
    }

    fn existing(uac: u32) -> ExistingAccount {
        ExistingAccount {
            dn: "CN=SAMyTTExch,CN=Users,DC=corp,DC=example".parse().unwrap(),
            sam_account_name: "SAMyTTExch".into(),
            attributes: vec![
                (
                    "userPrincipalName",
                    Some("sa-mytt-exch@corp.example".into()),
                ),
                (
                    "displayName",
                    Some("MyTimetable Exchange Service Account".into()),
                ),
            ],
            uac: Uac(uac),
            account_expires: i64::MAX,
            pwd_last_set: 134_404_596_427_443_870,
            descriptor: Some(sddl::dacl_only(default_dacl())),
        }
    }

    fn users() -> Dn {
        "CN=Users,DC=corp,DC=example".parse().unwrap()
    }

    #[test]
    fn the_reference_service_account_is_one_add_carrying_66048_the_password_and_the_deny_aces() {
        let op = plan_create(
            &spec(|a| a.service_account = Some(true)),
            &users(),
            true,
            Some(&default_dacl()),
        )
        .unwrap();
        let Op::Add {
            dn,
            attributes,
            uac,
            with_password,
            descriptor,
        } = op
        else {
            panic!("one Add")
        };
        assert_eq!(dn.to_string(), "CN=SAMyTTExch,CN=Users,DC=corp,DC=example");
        assert_eq!(uac.map(|u| u.0), Some(66048));
        assert!(with_password);
        assert!(attributes.contains(&("pwdLastSet", "-1".into())));
        assert!(attributes.contains(&("accountExpires", i64::MAX.to_string())));
        assert!(attributes.contains(&("sAMAccountName", "SAMyTTExch".into())));
        let descriptor = descriptor.expect("the DACL travels in the Add");
        assert_eq!(
            descriptor.control & (SE_SELF_RELATIVE | SE_DACL_PRESENT),
            SE_SELF_RELATIVE | SE_DACL_PRESENT
        );
        assert!(descriptor.owner.is_none() && descriptor.group.is_none());
        let dacl = descriptor.dacl.expect("a DACL");
        assert_eq!(
            dacl.aces,
            [
                Ace::change_password(false, Sid::everyone()),
                Ace::change_password(false, Sid::principal_self()),
            ],
            "the allow ACEs are replaced by the deny ACEs, at the head"
        );
    }

    #[test]
    fn without_cannot_change_password_the_add_leaves_the_dacl_to_the_dc() {
        let parent: Dn = "OU=x,DC=y".parse().unwrap();
        let add = |args: fn(&mut AccountArgs), with_password| {
            let Op::Add {
                uac,
                descriptor,
                attributes,
                ..
            } = plan_create(&spec(args), &parent, with_password, None).unwrap()
            else {
                panic!("one Add")
            };
            (uac.map_or(0, |u| u.0), descriptor.is_some(), attributes)
        };
        assert_eq!(add(|_| {}, true).0, 512);
        assert!(!add(|_| {}, true).1);
        assert_eq!(add(|a| a.disabled = true, false).0, 514);
        let (_, with_descriptor, attributes) =
            add(|a| a.change_password_at_logon = Some(true), true);
        assert!(attributes.contains(&("pwdLastSet", "0".into())));
        assert!(!with_descriptor);
    }

    #[test]
    fn cannot_change_password_without_the_schema_default_is_an_error_not_a_guess() {
        assert_eq!(
            plan_create(
                &spec(|a| a.cannot_change_password = Some(true)),
                &users(),
                true,
                None
            ),
            Err(PlanError::NoDefaultDacl)
        );
    }

    #[test]
    fn an_account_already_as_asked_is_unchanged() {
        let mut account = existing(66048);
        let descriptor = account.descriptor.as_mut().unwrap();
        set_cannot_change_password(descriptor.dacl.as_mut().unwrap(), true);
        let service = spec(|a| a.service_account = Some(true));
        assert_eq!(plan_update(&service, &account, false), Ok(None));
        // accountExpires 0 means never too.
        account.account_expires = 0;
        assert_eq!(plan_update(&service, &account, false), Ok(None));
        // Computed bits read back from the server are no difference.
        account.uac = Uac(Uac::NORMAL_ACCOUNT | Uac::DONT_EXPIRE_PASSWORD | Uac::LOCKOUT);
        assert_eq!(plan_update(&service, &account, false), Ok(None));
    }

    #[test]
    fn update_is_one_modify_then_the_dacl_and_names_each_change() {
        let mut account = existing(512 | Uac::ACCOUNTDISABLE);
        account.pwd_last_set = 0;
        let update = plan_update(
            &spec(|a| {
                a.service_account = Some(true);
                a.description = Some("calendar sync".parse().unwrap());
            }),
            &account,
            false,
        )
        .unwrap()
        .expect("an update");
        let attributes: Vec<_> = update.changes.iter().map(Change::attribute).collect();
        assert_eq!(
            attributes,
            [
                "description",
                "userAccountControl",
                "pwdLastSet",
                "nTSecurityDescriptor"
            ]
        );
        assert!(matches!(
            update.changes[1],
            Change::UserAccountControl { to: Uac(66048), .. }
        ));
        let [Op::Modify { changes, .. }, Op::WriteDacl { descriptor, .. }] = update.ops.as_slice()
        else {
            panic!("a Modify and a DACL write: {:?}", update.ops)
        };
        assert_eq!(changes.len(), 3, "the DACL is not part of the Modify");
        assert_eq!(
            descriptor.dacl.as_ref().unwrap().aces[0],
            Ace::change_password(false, Sid::everyone())
        );
    }

    #[test]
    fn unstated_settings_are_left_alone() {
        let account = existing(512 | Uac::DONT_EXPIRE_PASSWORD | Uac::ACCOUNTDISABLE);
        assert_eq!(plan_update(&spec(|_| {}), &account, false), Ok(None));
    }

    #[test]
    fn a_missing_dacl_is_an_error_only_when_the_aces_matter() {
        let mut account = existing(66048);
        account.descriptor = None;
        assert_eq!(
            plan_update(&spec(|a| a.service_account = Some(true)), &account, false),
            Err(PlanError::NoDacl)
        );
        assert_eq!(plan_update(&spec(|_| {}), &account, false), Ok(None));
    }
}
