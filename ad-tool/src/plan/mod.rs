//! What to do to make the directory match what is asked: pure functions of the request and of
//! what the directory holds, returning the operations to run, tested without a server.
//! [`crate::execute`] runs them against the DC; [`crate::ldif::render`] prints them for
//! `--dry-run`.
//!
//! - [`decision`] and [`account`]: user accounts (create-user): which account a row means,
//!   and its writes.
//! - [`group`]: groups and their members (create-group, add-member).
//!
//! This file holds the operations themselves.

pub mod account;
pub mod decision;
pub mod group;

pub use account::*;
pub use decision::*;

use crate::dn::Dn;
use crate::filetime::AccountExpires;
use crate::security_descriptor::{AceEdit, SecurityDescriptor};
use crate::uac::UserAccountControl as Uac;

/// `pwdLastSet` values LDAP accepts: 0 (must change at next logon) and -1 (set to now).
pub const PWD_MUST_CHANGE: i64 = 0;
/// See [`PWD_MUST_CHANGE`].
pub const PWD_SET_NOW: i64 = -1;

/// One write to the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create the entry in one Add: its attributes and, for an account, the password, the final
    /// `userAccountControl` and, when "cannot change password" is asked, its DACL. The Add is
    /// atomic, so the account never exists without any of them: a password the policy refuses,
    /// an interruption, a lost connection all leave either nothing or the whole account.
    Add {
        /// The new entry.
        dn: Dn,
        /// Attributes besides the password, the flags and the descriptor, in order; a name
        /// given more than once is one attribute with several values (a group's members).
        attributes: Vec<(&'static str, String)>,
        /// The final `userAccountControl` (accounts).
        uac: Option<Uac>,
        /// Whether the Add carries `unicodePwd`.
        with_password: bool,
        /// The DACL (under the SD-flags control), when the default one is not what is asked.
        descriptor: Option<Box<SecurityDescriptor>>,
    },
    /// Change attributes of an existing entry in one Modify.
    Modify {
        /// The entry.
        dn: Dn,
        /// What changes, in order (never [`Change::CannotChangePassword`]).
        changes: Vec<Change>,
    },
    /// Replace an entry's DACL (under the SD-flags control).
    WriteDacl {
        /// The entry.
        dn: Dn,
        /// The descriptor to write.
        descriptor: Box<SecurityDescriptor>,
        /// What changes in it, for the report and the dry run.
        edits: Vec<AceEdit>,
    },
    /// Delete an entry.
    Delete {
        /// The entry.
        dn: Dn,
    },
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
    /// A value added to a multi-valued attribute, the others left (a group's new member).
    AddValue {
        /// LDAP name.
        name: &'static str,
        /// The value.
        value: String,
    },
}

impl Change {
    /// The attribute a change is about, as reported.
    pub fn attribute(&self) -> &'static str {
        match self {
            Change::Attribute { name, .. } | Change::AddValue { name, .. } => name,
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
            Change::ResetPassword | Change::AddValue { .. } => None,
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
            Change::AddValue { value, .. } => value.clone(),
        }
    }
}
