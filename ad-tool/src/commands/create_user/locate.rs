//! Where each account goes, and what already holds its names: one subtree search per hundred
//! accounts for their DNs, sAMAccountNames and UPNs.

use std::fmt::Write as _;

use common::CommandError;
use ldap3::Scope;

use super::input::Item;
use crate::account::AccountSpec;
use ldap3::ldap_escape;

use crate::directory::{Directory, Entry};
use crate::dn::Dn;
use crate::failure;
use crate::plan::Found;

/// An account with where it goes and what already holds its names.
#[derive(Debug)]
pub struct Located {
    /// How the account is named in messages.
    pub label: String,
    /// The spec and the target DN, or why the row cannot be used.
    pub target: Result<(AccountSpec, Dn), CommandError>,
    /// The entries holding its DN, sAMAccountName or UPN.
    pub found: Vec<Found>,
}

/// Accounts per existence search.
const LOOKUP_BATCH: usize = 100;

/// The attributes [`found`] reads.
pub const FOUND_ATTRIBUTES: [&str; 3] = ["sAMAccountName", "userPrincipalName", "objectClass"];

/// The search filter matching any of the targets' DNs, sAMAccountNames and UPNs.
fn existence_filter<'a>(targets: impl Iterator<Item = &'a (AccountSpec, Dn)>) -> String {
    let mut filter = String::from("(|");
    for (spec, dn) in targets {
        let _ = write!(
            filter,
            "(sAMAccountName={})(distinguishedName={})",
            ldap_escape(spec.sam_account_name.as_str()),
            ldap_escape(dn.to_string())
        );
        if let Some(upn) = &spec.upn {
            let _ = write!(filter, "(userPrincipalName={})", ldap_escape(upn.as_str()));
        }
    }
    filter.push(')');
    filter
}

/// An entry as planning sees it.
pub fn found(entry: &Entry) -> Option<Found> {
    let classes: Vec<String> = entry
        .texts("objectClass")
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Some(Found {
        dn: entry.parsed_dn()?,
        sam_account_name: entry.text("sAMAccountName"),
        upn: entry.text("userPrincipalName"),
        is_user: classes.iter().any(|c| c == "user") && !classes.iter().any(|c| c == "computer"),
    })
}

/// Whether a found entry is about this target: at its DN, or holding its sAMAccountName or UPN.
fn concerns(entry: &Found, spec: &AccountSpec, dn: &Dn) -> bool {
    let same = |value: &Option<String>, wanted: &str| {
        value
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
    };
    entry.dn == *dn
        || same(&entry.sam_account_name, spec.sam_account_name.as_str())
        || spec
            .upn
            .as_ref()
            .is_some_and(|upn| same(&entry.upn, upn.as_str()))
}

/// What holds the names of one account now (after an Add found it taken, say).
pub async fn find_one(
    directory: &mut Directory,
    spec: &AccountSpec,
    dn: &Dn,
) -> Result<Vec<Found>, crate::directory::DirectoryError> {
    let target = (spec.clone(), dn.clone());
    let filter = existence_filter(std::iter::once(&target));
    let base = directory.naming_context.clone();
    let entries = directory
        .search(&base, Scope::Subtree, &filter, &FOUND_ATTRIBUTES)
        .await?;
    Ok(entries
        .iter()
        .filter_map(found)
        .filter(|f| concerns(f, spec, dn))
        .collect())
}

/// Resolves each account's DN (the Users container when no --path is given) and finds the
/// entries that already use their names.
pub async fn locate(
    directory: &mut Directory,
    items: Vec<Item>,
) -> Result<Vec<Located>, CommandError> {
    let default_parent = if items
        .iter()
        .any(|i| i.spec.as_ref().is_ok_and(|s| s.path.is_none()))
    {
        Some(
            directory
                .users_container()
                .await
                .map_err(|e| failure::explain(&e))?,
        )
    } else {
        None
    };
    let mut located: Vec<Located> = items
        .into_iter()
        .map(|item| {
            let target = item.spec.map(|spec| {
                let parent = spec
                    .path
                    .clone()
                    .or_else(|| default_parent.clone())
                    .unwrap_or_default();
                let dn = parent.child("CN", spec.name.as_str());
                (spec, dn)
            });
            Located {
                label: item.label,
                target,
                found: Vec::new(),
            }
        })
        .collect();
    let naming_context = directory.naming_context.clone();
    for chunk in located.chunks_mut(LOOKUP_BATCH) {
        let filter = existence_filter(chunk.iter().filter_map(|l| l.target.as_ref().ok()));
        if filter == "(|)" {
            continue;
        }
        let entries = directory
            .search(&naming_context, Scope::Subtree, &filter, &FOUND_ATTRIBUTES)
            .await
            .map_err(|e| failure::explain(&e))?;
        let entries: Vec<Found> = entries.iter().filter_map(found).collect();
        for item in chunk.iter_mut() {
            if let Ok((spec, dn)) = &item.target {
                item.found = entries
                    .iter()
                    .filter(|e| concerns(e, spec, dn))
                    .cloned()
                    .collect();
            }
        }
    }
    Ok(located)
}
