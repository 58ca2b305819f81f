//! What the account commands report: one record per account, the same for human, `json` and
//! `jsonl` output (see the README's "JSON for an account").

use std::io::{self, Write};

use common::CommandError;
pub use common::report::ErrorRecord;
use common::sid::Sid;
use serde::Serialize;

use crate::directory::Entry;
use crate::filetime::{AccountExpires, describe_pwd_last_set};
use crate::guid::Guid;
use crate::plan::Change;
use crate::security_descriptor::{SecurityDescriptor, denies_change_password};
use crate::uac::UserAccountControl as Uac;

/// Attributes read for an account record; they include every attribute `create-user` manages
/// ([`crate::plan::MANAGED_ATTRIBUTE_NAMES`]), so one read serves both.
pub const ACCOUNT_ATTRIBUTES: [&str; 17] = [
    "sAMAccountName",
    "userPrincipalName",
    "objectSid",
    "objectGUID",
    "userAccountControl",
    "accountExpires",
    "pwdLastSet",
    "displayName",
    "givenName",
    "sn",
    "description",
    "mail",
    "whenCreated",
    "memberOf",
    "lockoutTime",
    "objectClass",
    "msExchRecipientTypeDetails",
];

common::named! {
    /// What happened to an account.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Action {
        /// Created.
        Created = "created",
        /// Changed to match.
        Updated = "updated",
        /// Already as asked.
        Unchanged = "unchanged",
        /// Exists and `--if-exists skip` was in force.
        Skipped = "skipped",
        /// Would be created (`--dry-run`).
        WouldCreate = "would-create",
        /// Would be changed (`--dry-run`).
        WouldUpdate = "would-update",
        /// Deleted.
        Deleted = "deleted",
        /// Was not there.
        Absent = "absent",
        /// Would be deleted (`--dry-run`).
        WouldDelete = "would-delete",
        /// Failed; see `error`.
        Failed = "failed",
    }
}

impl Action {}

/// One reported change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRecord {
    /// The LDAP attribute.
    pub attribute: &'static str,
    /// Before.
    pub from: Option<String>,
    /// After.
    pub to: String,
}

impl From<&Change> for ChangeRecord {
    fn from(change: &Change) -> Self {
        ChangeRecord {
            attribute: change.attribute(),
            from: change.from_text(),
            to: change.to_text(),
        }
    }
}

/// Details `show-user` adds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccountDetails {
    /// `displayName`.
    pub display_name: Option<String>,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `sn`.
    pub surname: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// `msExchRecipientTypeDetails`.
    pub recipient_type_details: Option<i64>,
    /// The named bits of `userAccountControl`.
    pub user_account_control_flags: Vec<String>,
    /// `pwdLastSet` as a date, or "must change at next logon".
    pub password_last_set: Option<String>,
    /// `whenCreated`.
    pub when_created: Option<String>,
    /// Whether the account is locked out.
    pub locked_out: bool,
    /// `memberOf`.
    pub member_of: Vec<String>,
    /// The DACL in SDDL, when it could be read.
    pub dacl: Option<String>,
}

/// One account as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccountRecord {
    /// The entry's DN.
    pub dn: Option<String>,
    /// `sAMAccountName`.
    pub sam_account_name: String,
    /// `userPrincipalName`.
    pub upn: Option<String>,
    /// `objectSid`.
    pub sid: Option<String>,
    /// `objectGUID`.
    pub guid: Option<String>,
    /// Not disabled.
    pub enabled: Option<bool>,
    /// `DONT_EXPIRE_PASSWORD`.
    pub password_never_expires: Option<bool>,
    /// Both deny ACEs present.
    pub cannot_change_password: Option<bool>,
    /// `pwdLastSet` is 0.
    pub change_password_at_logon: Option<bool>,
    /// "never" or a UTC timestamp.
    pub account_expires: Option<String>,
    /// The raw value.
    pub user_account_control: Option<u32>,
    /// What happened (absent for `show-user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// What changed (update).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeRecord>,
    /// A generated password, shown this once (only when not written to a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
    /// Where the generated password was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password_file: Option<String>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
    /// The planned LDAP changes as LDIF (`--dry-run`), password redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// `show-user`'s details.
    #[serde(flatten)]
    pub details: Option<AccountDetails>,
}

impl AccountRecord {
    /// A record of an account as read, with its DACL when it was read.
    pub fn from_entry(entry: &Entry, descriptor: Option<&SecurityDescriptor>) -> Self {
        let uac = entry
            .int("userAccountControl")
            .and_then(|v| u32::try_from(v).ok())
            .map(Uac);
        AccountRecord {
            dn: Some(entry.dn.clone()),
            sam_account_name: entry.text("sAMAccountName").unwrap_or_default(),
            upn: entry.text("userPrincipalName"),
            sid: entry
                .bytes("objectSid")
                .and_then(|b| Sid::from_bytes(b).ok())
                .map(|(sid, _)| sid.to_string()),
            guid: entry
                .bytes("objectGUID")
                .and_then(Guid::from_slice)
                .map(|g| g.to_string()),
            enabled: uac.map(Uac::enabled),
            password_never_expires: uac.map(|u| u.has(Uac::DONT_EXPIRE_PASSWORD)),
            cannot_change_password: descriptor
                .and_then(|d| d.dacl.as_ref())
                .map(denies_change_password),
            change_password_at_logon: entry.int("pwdLastSet").map(|v| v == 0),
            account_expires: entry
                .int("accountExpires")
                .map(|v| AccountExpires::from_stored(v).to_string()),
            user_account_control: uac.map(|u| u.0),
            ..Default::default()
        }
    }

    /// Adds `show-user`'s details.
    #[must_use]
    pub fn with_details(mut self, entry: &Entry, descriptor: Option<&SecurityDescriptor>) -> Self {
        let uac = entry
            .int("userAccountControl")
            .and_then(|v| u32::try_from(v).ok())
            .map(Uac);
        self.details = Some(AccountDetails {
            display_name: entry.text("displayName"),
            given_name: entry.text("givenName"),
            surname: entry.text("sn"),
            description: entry.text("description"),
            mail: entry.text("mail"),
            recipient_type_details: entry.int("msExchRecipientTypeDetails"),
            user_account_control_flags: uac.map(Uac::names).unwrap_or_default(),
            password_last_set: entry.int("pwdLastSet").map(describe_pwd_last_set),
            when_created: entry.text("whenCreated").map(|t| generalized_time(&t)),
            locked_out: entry.int("lockoutTime").is_some_and(|t| t > 0),
            member_of: entry.texts("memberOf"),
            dacl: descriptor.map(SecurityDescriptor::to_sddl),
        });
        self
    }

    /// A failed account.
    pub fn failed(sam_account_name: &str, dn: Option<String>, error: &CommandError) -> Self {
        AccountRecord {
            dn,
            sam_account_name: sam_account_name.to_owned(),
            action: Some(Action::Failed),
            error: Some(error.into()),
            ..Default::default()
        }
    }

    /// Human output for one account: a headline and the settings that matter.
    pub fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        let action = self.action.map_or("", Action::name);
        writeln!(
            out,
            "{action}{}{}  {}",
            if action.is_empty() { "" } else { "  " },
            self.sam_account_name,
            self.dn.as_deref().unwrap_or("-")
        )?;
        if let Some(error) = &self.error {
            return writeln!(out, "  error: {}", error.message);
        }
        if let Some(plan) = &self.plan {
            return write!(out, "{plan}");
        }
        let yes_no = |v: Option<bool>| v.map_or("?", |b| if b { "yes" } else { "no" });
        let mut rows: Vec<(&str, String)> = vec![
            (
                "userPrincipalName",
                self.upn.clone().unwrap_or_else(|| "-".into()),
            ),
            ("SID", self.sid.clone().unwrap_or_else(|| "-".into())),
            ("GUID", self.guid.clone().unwrap_or_else(|| "-".into())),
            (
                "userAccountControl",
                self.user_account_control
                    .map_or_else(|| "-".into(), |u| Uac(u).to_string()),
            ),
            ("enabled", yes_no(self.enabled).into()),
            (
                "password never expires",
                yes_no(self.password_never_expires).into(),
            ),
            (
                "cannot change password",
                yes_no(self.cannot_change_password).into(),
            ),
            (
                "change password at logon",
                yes_no(self.change_password_at_logon).into(),
            ),
            (
                "account expires",
                self.account_expires.clone().unwrap_or_else(|| "-".into()),
            ),
        ];
        if let Some(details) = &self.details {
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            rows.push(("displayName", opt(&details.display_name)));
            rows.push(("mail", opt(&details.mail)));
            rows.push(("description", opt(&details.description)));
            rows.push(("password last set", opt(&details.password_last_set)));
            rows.push(("created", opt(&details.when_created)));
            rows.push(("locked out", yes_no(Some(details.locked_out)).into()));
            for group in &details.member_of {
                rows.push(("member of", group.clone()));
            }
        }
        for (name, value) in rows {
            writeln!(out, "  {name:<26}{value}")?;
        }
        for change in &self.changes {
            writeln!(
                out,
                "  changed {}: {} -> {}",
                change.attribute,
                change.from.as_deref().unwrap_or("(none)"),
                change.to
            )?;
        }
        if let Some(password) = &self.generated_password {
            writeln!(out, "  generated password        {password}")?;
            writeln!(out, "  (shown once: store it now)")?;
        }
        if let Some(file) = &self.generated_password_file {
            writeln!(out, "  generated password in     {file}")?;
        }
        Ok(())
    }

    /// Human output for a batch: one line per account.
    pub fn write_line(&self, out: &mut impl Write) -> io::Result<()> {
        let action = self.action.map_or("", Action::name);
        // A failure's message is on stderr; the line carries its short code.
        let tail = match &self.error {
            Some(error) => error.code.to_owned(),
            None => self.dn.clone().unwrap_or_default(),
        };
        writeln!(out, "{action:<13}{:<21}{tail}", self.sam_account_name)?;
        if let Some(plan) = &self.plan {
            write!(out, "{plan}")?;
        }
        if let Some(password) = &self.generated_password {
            writeln!(out, "{:<13}{:<21}generated password: {password}", "", "")?;
        }
        Ok(())
    }
}

/// `whenCreated` (GeneralizedTime, `20261129210042.0Z`) as `2026-11-29T21:00:42Z`; text that
/// is not one as it is.
fn generalized_time(text: &str) -> String {
    let seconds = text.split(['.', ',', 'Z']).next().unwrap_or(text);
    jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", seconds).map_or_else(
        |_| text.to_owned(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_attributes_cover_the_managed_ones() {
        for name in crate::plan::MANAGED_ATTRIBUTE_NAMES {
            assert!(ACCOUNT_ATTRIBUTES.contains(&name), "{name}");
        }
    }

    #[test]
    fn json_has_the_documented_keys() {
        let record = AccountRecord {
            sam_account_name: "svc".into(),
            action: Some(Action::WouldCreate),
            ..Default::default()
        };
        let value = serde_json::to_value(&record).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "dn",
            "sam_account_name",
            "upn",
            "sid",
            "guid",
            "enabled",
            "password_never_expires",
            "cannot_change_password",
            "change_password_at_logon",
            "account_expires",
            "user_account_control",
            "action",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert_eq!(value["action"], "would-create");
        assert!(value.get("error").is_none());
    }

    #[test]
    fn generalized_time_reads() {
        assert_eq!(
            generalized_time("20261129210042.0Z"),
            "2026-11-29T21:00:42Z"
        );
        assert_eq!(generalized_time("junk"), "junk");
    }
}
