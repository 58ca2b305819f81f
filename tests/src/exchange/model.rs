//! Exchange's calendar permission model as the simulator keeps it: entries stored as members
//! (Default, Anonymous, or a SID) with their rights, levels derived from rights, and the
//! validation Exchange applies to a `SetFolderField` of the permission set. Written apart from
//! ews-tool's own tables, so the simulator does not inherit the tool's mistakes.

use serde::{Deserialize, Serialize};

/// Who an entry is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Member {
    /// The Default entry.
    Default,
    /// The Anonymous entry.
    Anonymous,
    /// A user or group by SID (it may no longer resolve).
    Sid(String),
    /// A user outside the organisation, shared with through federation: Exchange keeps and
    /// shows such an entry by its external identity, with no SID or address (the entries
    /// public reports describe as a `UserId` without SID, address or distinguished user), and
    /// takes it back by that identity.
    External(String),
}

/// `None`, `Owned` or `All`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// None.
    None,
    /// Own items.
    Owned,
    /// All items.
    All,
}

/// What of an item may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Read {
    /// Nothing.
    None,
    /// Free/busy.
    TimeOnly,
    /// Free/busy, subject, location.
    TimeAndSubjectAndLocation,
    /// Everything.
    FullDetails,
}

/// The stored rights of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rights {
    /// `CanCreateItems`.
    pub create_items: bool,
    /// `CanCreateSubFolders`.
    pub create_subfolders: bool,
    /// `IsFolderOwner`.
    pub folder_owner: bool,
    /// `IsFolderVisible`.
    pub folder_visible: bool,
    /// `IsFolderContact`.
    pub folder_contact: bool,
    /// `EditItems`.
    pub edit_items: Scope,
    /// `DeleteItems`.
    pub delete_items: Scope,
    /// `ReadItems`.
    pub read_items: Read,
}

/// The calendar levels and their rights, as Exchange defines them.
pub const LEVELS: [(&str, Rights); 11] = {
    const fn r(flags: [bool; 5], edit: Scope, delete: Scope, read: Read) -> Rights {
        Rights {
            create_items: flags[0],
            create_subfolders: flags[1],
            folder_owner: flags[2],
            folder_visible: flags[3],
            folder_contact: flags[4],
            edit_items: edit,
            delete_items: delete,
            read_items: read,
        }
    }
    use Read::{FullDetails, TimeAndSubjectAndLocation, TimeOnly};
    use Scope::{All, Owned};
    [
        ("None", r([false; 5], Scope::None, Scope::None, Read::None)),
        ("Owner", r([true; 5], All, All, FullDetails)),
        (
            "PublishingEditor",
            r([true, true, false, true, false], All, All, FullDetails),
        ),
        (
            "Editor",
            r([true, false, false, true, false], All, All, FullDetails),
        ),
        (
            "PublishingAuthor",
            r([true, true, false, true, false], Owned, Owned, FullDetails),
        ),
        (
            "Author",
            r([true, false, false, true, false], Owned, Owned, FullDetails),
        ),
        (
            "NoneditingAuthor",
            r(
                [true, false, false, true, false],
                Scope::None,
                Owned,
                FullDetails,
            ),
        ),
        (
            "Reviewer",
            r(
                [false, false, false, true, false],
                Scope::None,
                Scope::None,
                FullDetails,
            ),
        ),
        (
            "Contributor",
            r(
                [true, false, false, true, false],
                Scope::None,
                Scope::None,
                Read::None,
            ),
        ),
        (
            "FreeBusyTimeOnly",
            r([false; 5], Scope::None, Scope::None, TimeOnly),
        ),
        (
            "FreeBusyTimeAndSubjectAndLocation",
            r(
                [false; 5],
                Scope::None,
                Scope::None,
                TimeAndSubjectAndLocation,
            ),
        ),
    ]
};

/// The rights of a named level.
pub fn level_rights(name: &str) -> Option<Rights> {
    LEVELS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The level name of rights: a named level or `Custom`.
pub fn level_name(rights: &Rights) -> &'static str {
    LEVELS
        .iter()
        .find(|(_, r)| r == rights)
        .map_or("Custom", |(n, _)| n)
}

/// A calendar folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// The folder id.
    pub folder_id: String,
    /// Bumped on every change; the change key is derived from it.
    pub change: u64,
    /// The entries, in order.
    pub entries: Vec<(Member, Rights)>,
}

impl Calendar {
    /// A new calendar with Exchange's defaults: Default free/busy, Anonymous none.
    pub fn new(folder_id: String) -> Self {
        Calendar {
            folder_id,
            change: 1,
            entries: vec![
                (
                    Member::Default,
                    level_rights("FreeBusyTimeOnly").unwrap_or(LEVELS[0].1),
                ),
                (Member::Anonymous, LEVELS[0].1),
            ],
        }
    }

    /// The change key for the current state.
    pub fn change_key(&self) -> String {
        format!("CQAAABYAAAB{:010}", self.change)
    }
}

/// An entry as a request states it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedEntry {
    /// `SID`.
    pub sid: Option<String>,
    /// `PrimarySmtpAddress`.
    pub address: Option<String>,
    /// `ExternalUserIdentity`.
    pub external: Option<String>,
    /// `DistinguishedUser`.
    pub distinguished: Option<String>,
    /// The individual rights given, by element name.
    pub rights: Vec<(String, String)>,
    /// `CalendarPermissionLevel`.
    pub level: Option<String>,
}

/// Exchange's answer codes for a refused permission set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `ResponseCode`.
    pub code: &'static str,
    /// `MessageText`.
    pub text: String,
}

fn refuse(code: &'static str, text: impl Into<String>) -> Refusal {
    Refusal {
        code,
        text: text.into(),
    }
}

fn apply_right(rights: &mut Rights, name: &str, value: &str) -> Result<(), Refusal> {
    let flag = || match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(refuse(
            "ErrorSchemaValidation",
            format!("The value '{value}' of {name} is not a boolean."),
        )),
    };
    let scope = || match value {
        "None" => Ok(Scope::None),
        "Owned" => Ok(Scope::Owned),
        "All" => Ok(Scope::All),
        _ => Err(refuse(
            "ErrorSchemaValidation",
            format!("The value '{value}' of {name} is invalid."),
        )),
    };
    match name {
        "CanCreateItems" => rights.create_items = flag()?,
        "CanCreateSubFolders" => rights.create_subfolders = flag()?,
        "IsFolderOwner" => rights.folder_owner = flag()?,
        "IsFolderVisible" => rights.folder_visible = flag()?,
        "IsFolderContact" => rights.folder_contact = flag()?,
        "EditItems" => rights.edit_items = scope()?,
        "DeleteItems" => rights.delete_items = scope()?,
        "ReadItems" => {
            rights.read_items = match value {
                "None" => Read::None,
                "TimeOnly" => Read::TimeOnly,
                "TimeAndSubjectAndLocation" => Read::TimeAndSubjectAndLocation,
                "FullDetails" => Read::FullDetails,
                _ => {
                    return Err(refuse(
                        "ErrorSchemaValidation",
                        format!("The value '{value}' of ReadItems is invalid."),
                    ));
                }
            }
        }
        other => {
            return Err(refuse(
                "ErrorSchemaValidation",
                format!("The element '{other}' is not expected."),
            ));
        }
    }
    Ok(())
}

/// Validates a requested permission set the way Exchange does and turns it into entries.
/// `resolve` maps a SID or an address to the SID of a known user or group.
pub fn validate(
    requested: &[RequestedEntry],
    resolve: impl Fn(Option<&str>, Option<&str>) -> Option<String>,
) -> Result<Vec<(Member, Rights)>, Refusal> {
    let mut entries: Vec<(Member, Rights)> = Vec::new();
    for entry in requested {
        let member = match (
            entry.distinguished.as_deref(),
            entry.sid.is_some() || entry.address.is_some(),
        ) {
            (Some(_), true) => {
                return Err(refuse(
                    "ErrorInvalidUserInfo",
                    "Default and Anonymous permission entries cannot carry a SID or an address.",
                ));
            }
            (Some("Default"), false) => Member::Default,
            (Some("Anonymous"), false) => Member::Anonymous,
            (Some(other), false) => {
                return Err(refuse(
                    "ErrorSchemaValidation",
                    format!("'{other}' is not a distinguished user."),
                ));
            }
            (None, false) => match entry.external.as_deref() {
                Some(identity) if !identity.is_empty() => Member::External(identity.to_owned()),
                _ => {
                    return Err(refuse(
                        "ErrorInvalidUserInfo",
                        "A permission entry names no user.",
                    ));
                }
            },
            (None, true) => match resolve(entry.sid.as_deref(), entry.address.as_deref()) {
                Some(sid) => Member::Sid(sid),
                None => {
                    return Err(refuse(
                        "ErrorInvalidUserInfo",
                        format!(
                            "The user {} could not be found.",
                            entry
                                .address
                                .as_deref()
                                .or(entry.sid.as_deref())
                                .unwrap_or("?")
                        ),
                    ));
                }
            },
        };
        let level = entry.level.as_deref().ok_or_else(|| {
            refuse(
                "ErrorSchemaValidation",
                "CalendarPermissionLevel is missing.",
            )
        })?;
        let rights = if level == "Custom" {
            if entry.rights.is_empty() {
                return Err(refuse(
                    "ErrorInvalidPermissionSettings",
                    "A Custom permission level needs the individual permissions.",
                ));
            }
            let mut rights = LEVELS[0].1;
            for (name, value) in &entry.rights {
                apply_right(&mut rights, name, value)?;
            }
            rights
        } else {
            // A named level with individual rights beside it: the schema allows the pair, and
            // no source says outright what Exchange does with it. What this follows:
            // Microsoft's "Setting Folder-Level Permissions" (Exchange 2007 SP1 and 2010) has a
            // client set individual permissions *or* a permission level; Microsoft's EWS
            // Managed API (FolderPermission.WriteElementsToXml) writes the rights only with
            // Custom and a named level alone, so Microsoft's own clients never send the pair;
            // and ErrorInvalidPermissionSettings is the code ResponseCodeType gives for
            // permission settings that are not valid. Refusing is the strict reading; it is
            // not confirmed against a live server, and ews-tool never sends the pair.
            if !entry.rights.is_empty() {
                return Err(refuse(
                    "ErrorInvalidPermissionSettings",
                    "A permission level cannot be combined with individual permissions.",
                ));
            }
            level_rights(level).ok_or_else(|| {
                refuse(
                    "ErrorSchemaValidation",
                    format!("'{level}' is not a calendar permission level."),
                )
            })?
        };
        if entries.iter().any(|(m, _)| *m == member) {
            return Err(refuse(
                "ErrorDuplicateUserIdsSpecified",
                "A user appears more than once in the permission set.",
            ));
        }
        entries.push((member, rights));
    }
    // Default and Anonymous always exist; left out, they fall back to no access.
    for member in [Member::Default, Member::Anonymous] {
        if !entries.iter().any(|(m, _)| *m == member) {
            entries.push((member, LEVELS[0].1));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(sid: Option<&str>, address: Option<&str>) -> Option<String> {
        match (sid, address) {
            (Some(s), _) if s.starts_with("S-1-5-21-") => Some(s.to_owned()),
            (_, Some("boss@lab.example")) => Some("S-1-5-21-1-2-3-1001".to_owned()),
            _ => None,
        }
    }

    fn entry(address: &str, level: &str) -> RequestedEntry {
        RequestedEntry {
            address: Some(address.into()),
            level: Some(level.into()),
            ..RequestedEntry::default()
        }
    }

    #[test]
    fn levels_are_distinct() {
        for (i, (_, a)) in LEVELS.iter().enumerate() {
            for (_, b) in &LEVELS[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(level_name(&LEVELS[3].1), "Editor");
    }

    #[test]
    fn exchange_rules_are_enforced() {
        let default = RequestedEntry {
            distinguished: Some("Default".into()),
            level: Some("FreeBusyTimeOnly".into()),
            ..RequestedEntry::default()
        };
        assert!(
            validate(
                &[default.clone(), entry("boss@lab.example", "Editor")],
                resolve
            )
            .is_ok()
        );
        let code = |entries: &[RequestedEntry]| validate(entries, resolve).unwrap_err().code;
        assert_eq!(
            code(&[entry("nobody@lab.example", "Editor")]),
            "ErrorInvalidUserInfo"
        );
        assert_eq!(
            code(&[
                entry("boss@lab.example", "Editor"),
                entry("boss@lab.example", "Reviewer")
            ]),
            "ErrorDuplicateUserIdsSpecified"
        );
        let mixed = RequestedEntry {
            rights: vec![("CanCreateItems".into(), "true".into())],
            ..entry("boss@lab.example", "Editor")
        };
        assert_eq!(code(&[mixed]), "ErrorInvalidPermissionSettings");
        assert_eq!(
            code(&[entry("boss@lab.example", "Custom")]),
            "ErrorInvalidPermissionSettings"
        );
        let default_with_sid = RequestedEntry {
            sid: Some("S-1-1-0".into()),
            ..default
        };
        assert_eq!(code(&[default_with_sid]), "ErrorInvalidUserInfo");
        assert_eq!(
            code(&[RequestedEntry {
                level: Some("Editor".into()),
                ..RequestedEntry::default()
            }]),
            "ErrorInvalidUserInfo"
        );
    }

    #[test]
    fn custom_rights_and_missing_defaults() {
        let custom = RequestedEntry {
            rights: vec![
                ("CanCreateItems".into(), "true".into()),
                ("ReadItems".into(), "FullDetails".into()),
            ],
            ..entry("boss@lab.example", "Custom")
        };
        let entries = validate(&[custom], resolve).unwrap();
        assert_eq!(entries.len(), 3, "Default and Anonymous are added");
        assert!(entries[0].1.create_items && entries[0].1.read_items == Read::FullDetails);
        assert_eq!(level_name(&entries[0].1), "Custom");
        assert_eq!(entries[1].0, Member::Default);
    }
}
