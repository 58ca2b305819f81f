//! What to do to make the directory match an [`AccountSpec`]: a pure function of the spec and
//! the entry as read, tested without a server.

use std::fmt::Write as _;

use crate::account::AccountSpec;
use crate::dn::Dn;
use crate::filetime::AccountExpires;
use crate::ldif;
use crate::security_descriptor::{AceEdit, SecurityDescriptor, set_cannot_change_password};
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
    vec![
        (
            "userPrincipalName",
            spec.upn.as_ref().map(ToString::to_string),
        ),
        ("displayName", spec.display_name.clone()),
        ("givenName", spec.given_name.clone()),
        ("sn", spec.surname.clone()),
        ("description", spec.description.clone()),
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

/// `pwdLastSet` values LDAP accepts: 0 (must change at next logon) and -1 (set to now).
pub const PWD_MUST_CHANGE: i64 = 0;
/// See [`PWD_MUST_CHANGE`].
pub const PWD_SET_NOW: i64 = -1;

/// A new account: one Add, then the DACL edit if asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePlan {
    /// The new entry.
    pub dn: Dn,
    /// Attributes of the Add besides the password, in order.
    pub attributes: Vec<(&'static str, String)>,
    /// The final `userAccountControl`, carried by the Add with the password.
    pub uac: Uac,
    /// Whether the Add carries `unicodePwd`.
    pub with_password: bool,
    /// Whether the deny ACEs are to be written after the Add.
    pub cannot_change_password: bool,
}

/// One change to an existing account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A plain attribute.
    Attribute {
        /// LDAP name.
        name: &'static str,
        /// Value before.
        from: Option<String>,
        /// Value after.
        to: String,
    },
    /// `userAccountControl`.
    UserAccountControl {
        /// Before.
        from: Uac,
        /// After.
        to: Uac,
    },
    /// `accountExpires`.
    AccountExpires {
        /// Before (stored value).
        from: i64,
        /// After.
        to: AccountExpires,
    },
    /// `pwdLastSet`.
    PwdLastSet {
        /// Before.
        from: i64,
        /// After: 0 or -1.
        to: i64,
    },
    /// The "cannot change password" ACEs.
    CannotChangePassword {
        /// The new setting.
        to: bool,
        /// The ACEs added and removed.
        edits: Vec<AceEdit>,
    },
    /// The password is reset (only with `--reset-password`).
    ResetPassword,
}

impl Change {
    /// The attribute a change is about, as reported.
    pub fn attribute(&self) -> &'static str {
        match self {
            Change::Attribute { name, .. } => name,
            Change::UserAccountControl { .. } => "userAccountControl",
            Change::AccountExpires { .. } => "accountExpires",
            Change::PwdLastSet { .. } => "pwdLastSet",
            Change::CannotChangePassword { .. } => "nTSecurityDescriptor",
            Change::ResetPassword => "unicodePwd",
        }
    }

    /// The value before, as reported.
    pub fn from_text(&self) -> Option<String> {
        match self {
            Change::Attribute { from, .. } => from.clone(),
            Change::UserAccountControl { from, .. } => Some(from.to_string()),
            Change::AccountExpires { from, .. } => {
                Some(AccountExpires::from_stored(*from).to_string())
            }
            Change::PwdLastSet { from, .. } => Some(crate::filetime::describe_pwd_last_set(*from)),
            Change::CannotChangePassword { to, .. } => {
                Some(format!("cannot change password: {}", !to))
            }
            Change::ResetPassword => None,
        }
    }

    /// The value after, as reported (never a password).
    pub fn to_text(&self) -> String {
        match self {
            Change::Attribute { to, .. } => to.clone(),
            Change::UserAccountControl { to, .. } => to.to_string(),
            Change::AccountExpires { to, .. } => to.to_string(),
            Change::PwdLastSet { to, .. } => {
                if *to == PWD_MUST_CHANGE {
                    "must change at next logon".into()
                } else {
                    "set to now".into()
                }
            }
            Change::CannotChangePassword { to, edits } => format!(
                "cannot change password: {to} ({})",
                edits
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Change::ResetPassword => "<reset>".into(),
        }
    }
}

/// Changes to an existing account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    /// The entry.
    pub dn: Dn,
    /// What changes, in the order it is applied.
    pub changes: Vec<Change>,
    /// The descriptor to write, when the ACEs change.
    pub new_descriptor: Option<Box<SecurityDescriptor>>,
}

/// What to do for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Create it.
    Create(CreatePlan),
    /// Change it.
    Update(UpdatePlan),
    /// It already is as asked.
    Unchanged,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The entry's DACL is needed but was not readable.
    #[error(
        "the account's permissions (DACL) could not be read, so \"cannot change password\" cannot be checked"
    )]
    NoDacl,
}

/// A new account with New-ADUser's defaults for what the spec leaves open.
pub fn plan_create(spec: &AccountSpec, parent: &Dn, with_password: bool) -> CreatePlan {
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
    CreatePlan {
        dn,
        attributes,
        uac,
        with_password,
        cannot_change_password: spec.cannot_change_password == Some(true),
    }
}

/// Converges an existing account to the spec: only what the spec states is compared.
pub fn plan_update(
    spec: &AccountSpec,
    existing: &ExistingAccount,
    reset_password: bool,
) -> Result<Plan, PlanError> {
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
    let mut new_descriptor = None;
    if let Some(on) = spec.cannot_change_password {
        let mut descriptor = existing.descriptor.clone().ok_or(PlanError::NoDacl)?;
        let dacl = descriptor.dacl.as_mut().ok_or(PlanError::NoDacl)?;
        let edits = set_cannot_change_password(dacl, on);
        if !edits.is_empty() {
            changes.push(Change::CannotChangePassword { to: on, edits });
            new_descriptor = Some(Box::new(descriptor));
        }
    }
    if changes.is_empty() {
        return Ok(Plan::Unchanged);
    }
    Ok(Plan::Update(UpdatePlan {
        dn: existing.dn.clone(),
        changes,
        new_descriptor,
    }))
}

impl Plan {
    /// The plan as LDIF-like text for `--dry-run`; the password is shown as `<redacted>`.
    pub fn to_ldif(&self) -> String {
        let mut out = String::new();
        match self {
            Plan::Unchanged => {}
            Plan::Create(create) => {
                let _ = writeln!(out, "{}", ldif::line("dn", &create.dn.to_string()));
                out.push_str("changetype: add\n");
                for (name, value) in &create.attributes {
                    let _ = writeln!(out, "{}", ldif::line(name, value));
                }
                if create.with_password {
                    out.push_str("unicodePwd: <redacted>\n");
                }
                let _ = writeln!(
                    out,
                    "userAccountControl: {}\n# {}",
                    create.uac.0,
                    create.uac.names().join(" | ")
                );
                if create.cannot_change_password {
                    out.push('\n');
                    let _ = writeln!(out, "{}", ldif::line("dn", &create.dn.to_string()));
                    out.push_str(
                        "changetype: modify\n# control 1.2.840.113556.1.4.801 (SD flags: DACL only)\nreplace: nTSecurityDescriptor\n\
                         # the default allow ACEs become (OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD) and (…;;PS)\n-\n",
                    );
                }
            }
            Plan::Update(update) => {
                let _ = writeln!(out, "{}", ldif::line("dn", &update.dn.to_string()));
                out.push_str("changetype: modify\n");
                for change in &update.changes {
                    match change {
                        Change::Attribute { name, to, .. } => {
                            let _ = writeln!(out, "replace: {name}\n{}\n-", ldif::line(name, to));
                        }
                        Change::UserAccountControl { to, .. } => {
                            let _ = writeln!(
                                out,
                                "replace: userAccountControl\nuserAccountControl: {}\n# {}\n-",
                                to.0,
                                to.names().join(" | ")
                            );
                        }
                        Change::AccountExpires { to, .. } => {
                            let _ = writeln!(
                                out,
                                "replace: accountExpires\naccountExpires: {}\n# {to}\n-",
                                to.stored()
                            );
                        }
                        Change::PwdLastSet { to, .. } => {
                            let _ = writeln!(out, "replace: pwdLastSet\npwdLastSet: {to}\n-");
                        }
                        Change::ResetPassword => {
                            out.push_str("replace: unicodePwd\nunicodePwd: <redacted>\n-\n");
                        }
                        Change::CannotChangePassword { edits, .. } => {
                            out.push_str("# control 1.2.840.113556.1.4.801 (SD flags: DACL only)\nreplace: nTSecurityDescriptor\n");
                            for edit in edits {
                                let _ = writeln!(out, "# {edit}");
                            }
                            out.push_str("-\n");
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountArgs, AccountSpec};
    use crate::security_descriptor::{
        ACL_REVISION_DS, Ace, Acl, SE_DACL_PRESENT, SE_SELF_RELATIVE,
    };
    use common::sid::Sid;

    fn spec(extra: impl FnOnce(&mut AccountArgs)) -> AccountSpec {
        let mut args = AccountArgs {
            name: Some("SAMyTTExch".parse().unwrap()),
            upn: Some("sa-mytt-exch@corp.example".parse().unwrap()),
            display_name: Some("MyTimetable Exchange Service Account".into()),
            ..Default::default()
        };
        extra(&mut args);
        AccountSpec::from_args(args).unwrap()
    }

    fn default_dacl_descriptor() -> SecurityDescriptor {
        let mut bytes = vec![
            1, 0, 0x04, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0,
        ];
        let mut acl = Acl::new(ACL_REVISION_DS);
        acl.aces = vec![
            Ace::change_password(true, Sid::principal_self()),
            Ace::change_password(true, Sid::everyone()),
        ];
        let sd = SecurityDescriptor::parse(&bytes).map(|_| ()).err();
        assert!(sd.is_some(), "a DACL offset without a DACL is refused");
        // Build through the public surface: parse an empty DACL-only descriptor, then set the DACL.
        bytes.extend_from_slice(&[4, 0, 8, 0, 0, 0, 0, 0]);
        let mut parsed = SecurityDescriptor::parse(&bytes).unwrap();
        parsed.dacl = Some(acl);
        assert_eq!(
            parsed.control & (SE_SELF_RELATIVE | SE_DACL_PRESENT),
            SE_SELF_RELATIVE | SE_DACL_PRESENT
        );
        parsed
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
            descriptor: Some(default_dacl_descriptor()),
        }
    }

    #[test]
    fn the_reference_service_account_is_one_add_with_66048_and_the_ace_step() {
        let plan = plan_create(
            &spec(|a| a.service_account = Some(true)),
            &"CN=Users,DC=corp,DC=example".parse().unwrap(),
            true,
        );
        assert_eq!(
            plan.dn.to_string(),
            "CN=SAMyTTExch,CN=Users,DC=corp,DC=example"
        );
        assert_eq!(plan.uac.0, 66048);
        assert!(plan.with_password && plan.cannot_change_password);
        assert!(plan.attributes.contains(&("pwdLastSet", "-1".into())));
        assert!(
            plan.attributes
                .contains(&("accountExpires", i64::MAX.to_string()))
        );
        assert!(
            plan.attributes
                .contains(&("sAMAccountName", "SAMyTTExch".into()))
        );
    }

    #[test]
    fn a_plain_new_user_is_512_and_can_be_disabled() {
        let parent: Dn = "OU=x,DC=y".parse().unwrap();
        assert_eq!(plan_create(&spec(|_| {}), &parent, true).uac.0, 512);
        assert_eq!(
            plan_create(&spec(|a| a.disabled = true), &parent, false)
                .uac
                .0,
            514
        );
        let must_change = plan_create(
            &spec(|a| a.change_password_at_logon = Some(true)),
            &parent,
            true,
        );
        assert!(must_change.attributes.contains(&("pwdLastSet", "0".into())));
        assert!(!must_change.cannot_change_password);
    }

    #[test]
    fn an_account_already_as_asked_is_unchanged() {
        let mut account = existing(66048);
        let descriptor = account.descriptor.as_mut().unwrap();
        set_cannot_change_password(descriptor.dacl.as_mut().unwrap(), true);
        assert_eq!(
            plan_update(&spec(|a| a.service_account = Some(true)), &account, false),
            Ok(Plan::Unchanged)
        );
        // accountExpires 0 means never too.
        account.account_expires = 0;
        assert_eq!(
            plan_update(&spec(|a| a.service_account = Some(true)), &account, false),
            Ok(Plan::Unchanged)
        );
        // Computed bits read back from the server are no difference.
        account.uac = Uac(Uac::NORMAL_ACCOUNT | Uac::DONT_EXPIRE_PASSWORD | Uac::LOCKOUT);
        assert_eq!(
            plan_update(&spec(|a| a.service_account = Some(true)), &account, false),
            Ok(Plan::Unchanged)
        );
    }

    #[test]
    fn update_converges_flags_attributes_and_aces_and_names_each_change() {
        let mut account = existing(512 | Uac::ACCOUNTDISABLE);
        account.pwd_last_set = 0;
        let Ok(Plan::Update(update)) = plan_update(
            &spec(|a| {
                a.service_account = Some(true);
                a.description = Some("calendar sync".into());
            }),
            &account,
            false,
        ) else {
            panic!("expected an update")
        };
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
        let new_dacl = update.new_descriptor.unwrap().dacl.unwrap();
        assert_eq!(
            new_dacl.aces[0],
            Ace::change_password(false, Sid::everyone())
        );
    }

    #[test]
    fn unstated_settings_are_left_alone() {
        let account = existing(512 | Uac::DONT_EXPIRE_PASSWORD | Uac::ACCOUNTDISABLE);
        assert_eq!(
            plan_update(&spec(|_| {}), &account, false),
            Ok(Plan::Unchanged)
        );
    }

    #[test]
    fn a_missing_dacl_is_an_error_only_when_the_aces_matter() {
        let mut account = existing(66048);
        account.descriptor = None;
        assert_eq!(
            plan_update(&spec(|a| a.service_account = Some(true)), &account, false),
            Err(PlanError::NoDacl)
        );
        assert_eq!(
            plan_update(&spec(|_| {}), &account, false),
            Ok(Plan::Unchanged)
        );
    }

    #[test]
    fn dry_run_text_redacts_the_password() {
        let plan = Plan::Create(plan_create(
            &spec(|a| a.service_account = Some(true)),
            &"CN=Users,DC=corp,DC=example".parse().unwrap(),
            true,
        ));
        let text = plan.to_ldif();
        assert!(text.starts_with("dn: CN=SAMyTTExch,CN=Users,DC=corp,DC=example\nchangetype: add\nobjectClass: user\n"), "{text}");
        assert!(text.contains("unicodePwd: <redacted>\n"));
        assert!(
            text.contains("userAccountControl: 66048\n# NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD\n")
        );
        assert!(text.contains("replace: nTSecurityDescriptor"));
    }
}
