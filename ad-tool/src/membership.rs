//! Adding members to a group, one outcome per member, never removing anyone.

use std::io::{self, Write};

use common::CommandError;
use ldap3::Scope;
use serde::Serialize;

use crate::diagnostic::rc;
use ldap3::ldap_escape;

use crate::directory::{Directory, DirectoryError};
use crate::dn::Dn;
use crate::failure;
use crate::lookup::{self, Kind};
use crate::record::ErrorRecord;

common::named! {
    /// What happened to one member.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum MemberAction {
        /// Added to the group.
        Added = "added",
        /// Already a member.
        Unchanged = "unchanged",
        /// Would be added (`--dry-run`).
        WouldAdd = "would-add",
        /// Failed; see `error`.
        Failed = "failed",
    }
}

/// One member's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRecord {
    /// The group's DN.
    pub group: String,
    /// The member as named on the command line.
    pub member: String,
    /// The member's DN, when it was found.
    pub dn: Option<String>,
    /// What happened.
    pub action: MemberAction,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
}

impl MemberAction {}

impl MemberRecord {
    /// One line of human output; a failure shows its short code (its message is on stderr).
    pub fn write_line(&self, out: &mut impl Write) -> io::Result<()> {
        let action = self.action.name();
        let tail = match &self.error {
            Some(e) => e.code.to_owned(),
            None => self.dn.clone().unwrap_or_default(),
        };
        writeln!(out, "{action:<11}{:<24}{tail}", self.member)
    }
}

/// Whether `member` is a direct member of `group` (a base search on the group filtered by the
/// member, which works whatever the size of the group's `member` attribute).
pub async fn is_member(
    directory: &mut Directory,
    group: &Dn,
    member: &Dn,
) -> Result<bool, DirectoryError> {
    let filter = format!("(member={})", ldap_escape(member.to_string()));
    Ok(!directory
        .search(group, Scope::Base, &filter, &["objectClass"])
        .await?
        .is_empty())
}

/// Adds each named member to `group`; the errors of one member do not stop the others.
pub async fn add_members(
    directory: &mut Directory,
    group: &Dn,
    names: &[String],
    dry_run: bool,
) -> Vec<(MemberRecord, Option<CommandError>)> {
    let mut outcomes = Vec::with_capacity(names.len());
    for name in names {
        let result = add_member(directory, group, name, dry_run).await;
        let record = |action, dn, error: Option<&CommandError>| MemberRecord {
            group: group.to_string(),
            member: name.clone(),
            dn,
            action,
            error: error.map(ErrorRecord::from),
        };
        outcomes.push(match result {
            Ok((action, dn)) => (record(action, Some(dn.to_string()), None), None),
            Err((dn, error)) => {
                let error = error.with_item(name);
                (record(MemberAction::Failed, dn, Some(&error)), Some(error))
            }
        });
    }
    outcomes
}

async fn add_member(
    directory: &mut Directory,
    group: &Dn,
    name: &str,
    dry_run: bool,
) -> Result<(MemberAction, Dn), (Option<String>, CommandError)> {
    let entry = lookup::require(directory, Kind::Member, name, &["objectClass"])
        .await
        .map_err(|e| (None, e))?;
    let dn = entry.parsed_dn().ok_or_else(|| {
        (
            Some(entry.dn.clone()),
            CommandError::new(
                common::ExitStatus::ItemsFailed,
                "the server returned an unreadable DN",
            ),
        )
    })?;
    let failed = |e: DirectoryError| (Some(dn.to_string()), failure::explain(&e));
    if is_member(directory, group, &dn).await.map_err(failed)? {
        return Ok((MemberAction::Unchanged, dn));
    }
    if dry_run {
        return Ok((MemberAction::WouldAdd, dn));
    }
    let add = crate::plan::group::add_member(group, &dn);
    match crate::execute::run(directory, std::slice::from_ref(&add), None)
        .await
        .map_err(|f| f.error)
    {
        Ok(()) => Ok((MemberAction::Added, dn)),
        // Added by someone else between the check and the write.
        Err(DirectoryError::Operation { failure: f, .. })
            if f.rc == rc::ATTRIBUTE_OR_VALUE_EXISTS || f.rc == rc::ENTRY_ALREADY_EXISTS =>
        {
            Ok((MemberAction::Unchanged, dn))
        }
        Err(e) => Err(failed(e)),
    }
}
