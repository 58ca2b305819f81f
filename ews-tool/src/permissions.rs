//! Calendar folder permissions as EWS carries them (`t:CalendarPermission`), the named levels
//! and the rights each stands for, and the two edits this tool makes: give one grantee a level,
//! or take its entry away, leaving every other entry as it was. Pure: no I/O here.

use std::fmt;
use std::str::FromStr;

use common::address::{AddressError, SmtpAddress};
use common::sid::Sid;
use serde::Serialize;

common::named! {
    /// `t:CalendarPermissionLevelType`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Level {
        /// No access.
        None = "None",
        /// Everything, including permissions.
        Owner = "Owner",
        /// Create, read, edit and delete all items; create subfolders.
        PublishingEditor = "PublishingEditor",
        /// Create, read, edit and delete all items.
        Editor = "Editor",
        /// Create and read items, edit and delete own; create subfolders.
        PublishingAuthor = "PublishingAuthor",
        /// Create and read items, edit and delete own.
        Author = "Author",
        /// Create and read items, delete own.
        NoneditingAuthor = "NoneditingAuthor",
        /// Read items.
        Reviewer = "Reviewer",
        /// Create items.
        Contributor = "Contributor",
        /// Free/busy times only (PowerShell's AvailabilityOnly).
        FreeBusyTimeOnly = "FreeBusyTimeOnly",
        /// Free/busy with subject and location (PowerShell's LimitedDetails).
        FreeBusyTimeAndSubjectAndLocation = "FreeBusyTimeAndSubjectAndLocation",
        /// Individual rights that match no named level.
        Custom = "Custom",
    }
}

common::named! {
    /// `t:PermissionActionType`: which items a right applies to.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ItemScope {
        /// None.
        None = "None",
        /// The user's own items.
        Owned = "Owned",
        /// All items.
        All = "All",
    }
}

common::named! {
    /// `t:CalendarPermissionReadAccessType`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ReadAccess {
        /// Nothing.
        None = "None",
        /// Free/busy times.
        TimeOnly = "TimeOnly",
        /// Free/busy times, subject and location.
        TimeAndSubjectAndLocation = "TimeAndSubjectAndLocation",
        /// Everything.
        FullDetails = "FullDetails",
    }
}

/// The individual rights of an entry, each as the server sent it (absent fields stay absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Rights {
    /// `CanCreateItems`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_create_items: Option<bool>,
    /// `CanCreateSubFolders`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_create_subfolders: Option<bool>,
    /// `IsFolderOwner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_folder_owner: Option<bool>,
    /// `IsFolderVisible`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_folder_visible: Option<bool>,
    /// `IsFolderContact`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_folder_contact: Option<bool>,
    /// `EditItems`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit_items: Option<ItemScope>,
    /// `DeleteItems`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_items: Option<ItemScope>,
    /// `ReadItems`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_items: Option<ReadAccess>,
}

impl Rights {
    /// Whether no individual right is present.
    pub fn is_empty(&self) -> bool {
        *self == Rights::default()
    }

    /// Whether every individual right is present.
    pub fn is_complete(&self) -> bool {
        self.can_create_items.is_some()
            && self.can_create_subfolders.is_some()
            && self.is_folder_owner.is_some()
            && self.is_folder_visible.is_some()
            && self.is_folder_contact.is_some()
            && self.edit_items.is_some()
            && self.delete_items.is_some()
            && self.read_items.is_some()
    }
}

/// The rights of a named level: the five flags (create items, create subfolders, folder
/// owner, folder visible, folder contact), then edit, delete and read.
const fn rights(flags: [bool; 5], edit: ItemScope, delete: ItemScope, read: ReadAccess) -> Rights {
    Rights {
        can_create_items: Some(flags[0]),
        can_create_subfolders: Some(flags[1]),
        is_folder_owner: Some(flags[2]),
        is_folder_visible: Some(flags[3]),
        is_folder_contact: Some(flags[4]),
        edit_items: Some(edit),
        delete_items: Some(delete),
        read_items: Some(read),
    }
}

impl Level {
    /// Every named level (all but `Custom`), in Exchange's order.
    pub fn named() -> impl Iterator<Item = Level> {
        Level::ALL.iter().copied().filter(|l| *l != Level::Custom)
    }

    /// The rights a named level stands for on a calendar folder; `None` for `Custom`.
    pub fn rights(self) -> Option<Rights> {
        use ItemScope::{All, None as No, Owned};
        use ReadAccess::{FullDetails, None as Nothing, TimeAndSubjectAndLocation, TimeOnly};
        Some(match self {
            Level::None => rights([false, false, false, false, false], No, No, Nothing),
            Level::Owner => rights([true, true, true, true, true], All, All, FullDetails),
            Level::PublishingEditor => {
                rights([true, true, false, true, false], All, All, FullDetails)
            }
            Level::Editor => rights([true, false, false, true, false], All, All, FullDetails),
            Level::PublishingAuthor => {
                rights([true, true, false, true, false], Owned, Owned, FullDetails)
            }
            Level::Author => rights([true, false, false, true, false], Owned, Owned, FullDetails),
            Level::NoneditingAuthor => {
                rights([true, false, false, true, false], No, Owned, FullDetails)
            }
            Level::Reviewer => rights([false, false, false, true, false], No, No, FullDetails),
            Level::Contributor => rights([true, false, false, true, false], No, No, Nothing),
            Level::FreeBusyTimeOnly => {
                rights([false, false, false, false, false], No, No, TimeOnly)
            }
            Level::FreeBusyTimeAndSubjectAndLocation => {
                rights([false; 5], No, No, TimeAndSubjectAndLocation)
            }
            Level::Custom => return Option::None,
        })
    }

    /// The named level complete rights amount to, or `Custom`.
    pub fn of_rights(rights: &Rights) -> Level {
        Level::named()
            .find(|level| level.rights().as_ref() == Some(rights))
            .unwrap_or(Level::Custom)
    }
}

/// Why text is not a level one can grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// Not a level at all.
    #[error("\"{0}\" is not a permission level; use one of {levels} (or AvailabilityOnly, LimitedDetails)", levels = Level::named().map(Level::name).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    /// `Custom` names no rights to grant.
    #[error(
        "Custom is not a level one can grant: it stands for individual rights; choose a named level"
    )]
    Custom,
}

impl FromStr for Level {
    type Err = LevelError;

    /// EWS names case-insensitively, and PowerShell's AvailabilityOnly and LimitedDetails.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("custom") {
            return Err(LevelError::Custom);
        }
        if t.eq_ignore_ascii_case("AvailabilityOnly") {
            return Ok(Level::FreeBusyTimeOnly);
        }
        if t.eq_ignore_ascii_case("LimitedDetails") {
            return Ok(Level::FreeBusyTimeAndSubjectAndLocation);
        }
        Level::named()
            .find(|l| l.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| LevelError::Unknown(text.to_owned()))
    }
}

common::named! {
    /// `t:DistinguishedUserType`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum DistinguishedUser {
        /// Everyone in the organisation without an entry of their own.
        Default = "Default",
        /// Everyone outside it.
        Anonymous = "Anonymous",
    }
}

/// `t:UserIdType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UserId {
    /// `SID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `PrimarySmtpAddress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_smtp_address: Option<String>,
    /// `DisplayName` (ignored by the server on input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `DistinguishedUser`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinguished_user: Option<DistinguishedUser>,
    /// `ExternalUserIdentity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_user_identity: Option<String>,
}

impl UserId {
    /// Whether nothing identifies the user (such entries cannot be written back).
    pub fn is_empty(&self) -> bool {
        self.sid.is_none()
            && self.primary_smtp_address.is_none()
            && self.distinguished_user.is_none()
            && self.external_user_identity.is_none()
    }

    /// A short name for reports: Default, Anonymous, the address, the SID.
    pub fn label(&self) -> String {
        match (
            &self.distinguished_user,
            &self.primary_smtp_address,
            &self.sid,
            &self.external_user_identity,
        ) {
            (Some(user), ..) => user.name().to_owned(),
            (None, Some(address), ..) => address.clone(),
            (None, None, Some(sid), _) => sid.clone(),
            (None, None, None, Some(external)) => external.clone(),
            _ => "(unidentified)".into(),
        }
    }
}

/// One `t:CalendarPermission`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarPermission {
    /// Who.
    pub user: UserId,
    /// The individual rights, as sent.
    pub rights: Rights,
    /// The level.
    pub level: Level,
}

/// A calendar's `t:PermissionSet`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PermissionSet {
    /// The entries, in the server's order.
    pub entries: Vec<CalendarPermission>,
    /// Entries whose user the server cannot resolve (deleted accounts), as it names them.
    pub unknown_entries: Vec<String>,
}

/// Who a grant or revoke is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// A user or group by SMTP address.
    Address(SmtpAddress),
    /// A user or group by SID (`S-1-5-21-…`).
    Sid(Sid),
    /// The Default or the Anonymous entry.
    Distinguished(DistinguishedUser),
}

/// Text that names no grantee.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GranteeError {
    /// Neither an address, a SID, Default nor Anonymous.
    #[error(
        "\"{0}\" is not a grantee: give an SMTP address (user or group), a SID, Default or Anonymous"
    )]
    Unknown(String),
    /// Looks like an address but is not one.
    #[error("{0}")]
    Address(#[from] AddressError),
    /// Looks like a SID but is not one.
    #[error("\"{0}\" is not a SID: it needs the form S-1-5-21-…")]
    Sid(String),
    /// Default and Anonymous always have an entry (for `revoke --from`).
    #[error("the {0} entry cannot be removed; grant it the level None instead")]
    NotRemovable(DistinguishedUser),
}

impl FromStr for Grantee {
    type Err = GranteeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if let Some(user) = DistinguishedUser::ALL
            .iter()
            .find(|u| u.name().eq_ignore_ascii_case(t))
        {
            return Ok(Grantee::Distinguished(*user));
        }
        if t.len() > 4 && t[..4].eq_ignore_ascii_case("S-1-") {
            return t
                .parse::<Sid>()
                .map(Grantee::Sid)
                .map_err(|_| GranteeError::Sid(text.to_owned()));
        }
        if t.contains('@') {
            return Ok(Grantee::Address(t.parse()?));
        }
        Err(GranteeError::Unknown(text.to_owned()))
    }
}

impl Grantee {
    /// Parses a grantee whose entry can be removed: any but Default and Anonymous (the
    /// value parser of `revoke --from`).
    pub fn removable(text: &str) -> Result<Grantee, GranteeError> {
        match text.parse()? {
            Grantee::Distinguished(user) => Err(GranteeError::NotRemovable(user)),
            grantee => Ok(grantee),
        }
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Address(a) => a.fmt(f),
            Grantee::Sid(s) => s.fmt(f),
            Grantee::Distinguished(user) => user.fmt(f),
        }
    }
}

impl Grantee {
    /// Whether an entry belongs to this grantee.
    pub fn matches(&self, user: &UserId) -> bool {
        match self {
            Grantee::Distinguished(distinguished) => {
                user.distinguished_user == Some(*distinguished)
            }
            Grantee::Address(address) => {
                user.distinguished_user.is_none()
                    && user
                        .primary_smtp_address
                        .as_deref()
                        .is_some_and(|a| address.is(a))
            }
            Grantee::Sid(sid) => {
                user.distinguished_user.is_none()
                    && user
                        .sid
                        .as_deref()
                        .and_then(|s| s.parse::<Sid>().ok())
                        .is_some_and(|s| s == *sid)
            }
        }
    }

    fn user_id(&self) -> UserId {
        match self {
            Grantee::Address(a) => UserId {
                primary_smtp_address: Some(a.to_string()),
                ..UserId::default()
            },
            Grantee::Sid(s) => UserId {
                sid: Some(s.to_string()),
                ..UserId::default()
            },
            Grantee::Distinguished(user) => UserId {
                distinguished_user: Some(*user),
                ..UserId::default()
            },
        }
    }
}

/// What an edit did to a permission set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The grantee already had exactly this (or, for a revoke, had no entry).
    Unchanged {
        /// The grantee's level, if it has an entry.
        level: Option<Level>,
    },
    /// A new entry.
    Granted {
        /// Its level.
        level: Level,
    },
    /// An existing entry got another level.
    Updated {
        /// Before.
        before: Level,
        /// After.
        after: Level,
    },
    /// The entry was removed.
    Revoked {
        /// Its level before.
        before: Level,
    },
}

/// Why an edit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// Default and Anonymous always have an entry; it can be set to None, not removed.
    #[error("the {0} entry cannot be removed; grant it the level None instead")]
    DistinguishedRevoke(DistinguishedUser),
    /// The calendar has no entry of its own for Default or Anonymous to change.
    #[error("the calendar has no {0} entry to change")]
    NoDistinguishedEntry(DistinguishedUser),
}

/// Gives `grantee` the level `level`, changing nothing else.
pub fn grant(set: &mut PermissionSet, grantee: &Grantee, level: Level) -> Result<Edit, EditError> {
    if let Some(entry) = set.entries.iter_mut().find(|e| grantee.matches(&e.user)) {
        if entry.level == level && entry.level != Level::Custom {
            return Ok(Edit::Unchanged { level: Some(level) });
        }
        let before = entry.level;
        entry.level = level;
        // A named level travels alone: never together with individual rights.
        entry.rights = Rights::default();
        return Ok(Edit::Updated {
            before,
            after: level,
        });
    }
    if let Grantee::Distinguished(user) = grantee {
        return Err(EditError::NoDistinguishedEntry(*user));
    }
    set.entries.push(CalendarPermission {
        user: grantee.user_id(),
        rights: Rights::default(),
        level,
    });
    Ok(Edit::Granted { level })
}

/// Removes `grantee`'s entry, changing nothing else.
pub fn revoke(set: &mut PermissionSet, grantee: &Grantee) -> Result<Edit, EditError> {
    if let Grantee::Distinguished(user) = grantee {
        return Err(EditError::DistinguishedRevoke(*user));
    }
    match set.entries.iter().position(|e| grantee.matches(&e.user)) {
        Some(index) => {
            let removed = set.entries.remove(index);
            Ok(Edit::Revoked {
                before: removed.level,
            })
        }
        None => Ok(Edit::Unchanged { level: None }),
    }
}

/// Entries that cannot be written back as they are: unresolved users and entries without any
/// user identity. Any update would drop them.
pub fn unwritable_entries(set: &PermissionSet) -> usize {
    set.unknown_entries.len() + set.entries.iter().filter(|e| e.user.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: UserId, level: Level) -> CalendarPermission {
        CalendarPermission {
            user,
            rights: level.rights().unwrap_or_default(),
            level,
        }
    }

    fn address(a: &str) -> UserId {
        UserId {
            primary_smtp_address: Some(a.into()),
            sid: Some(format!("S-1-5-21-1-2-3-{}", a.len())),
            display_name: Some(a.to_uppercase()),
            ..UserId::default()
        }
    }

    fn calendar() -> PermissionSet {
        let custom = Rights {
            read_items: Some(ReadAccess::FullDetails),
            ..Level::Author.rights().unwrap()
        };
        let mut custom_rights = custom;
        custom_rights.can_create_subfolders = Some(true);
        custom_rights.edit_items = Some(ItemScope::None);
        PermissionSet {
            entries: vec![
                entry(
                    UserId {
                        distinguished_user: Some(DistinguishedUser::Default),
                        ..UserId::default()
                    },
                    Level::FreeBusyTimeOnly,
                ),
                entry(
                    UserId {
                        distinguished_user: Some(DistinguishedUser::Anonymous),
                        ..UserId::default()
                    },
                    Level::None,
                ),
                entry(address("boss@lab.example"), Level::Editor),
                CalendarPermission {
                    user: address("custom@lab.example"),
                    rights: custom_rights,
                    level: Level::Custom,
                },
                entry(address("team@lab.example"), Level::Reviewer),
            ],
            unknown_entries: vec![],
        }
    }

    #[test]
    fn every_named_level_has_distinct_rights_and_round_trips() {
        for level in Level::named() {
            let rights = level.rights().unwrap();
            assert!(rights.is_complete());
            assert_eq!(Level::of_rights(&rights), level, "{level}");
        }
        assert_eq!(
            Level::of_rights(&Rights {
                can_create_items: Some(true),
                ..Level::None.rights().unwrap()
            }),
            Level::Custom
        );
    }

    #[test]
    fn levels_parse_like_exchange_and_powershell() {
        assert_eq!("editor".parse::<Level>(), Ok(Level::Editor));
        assert_eq!("EDITOR".parse::<Level>(), Ok(Level::Editor));
        assert_eq!(
            "AvailabilityOnly".parse::<Level>(),
            Ok(Level::FreeBusyTimeOnly)
        );
        assert_eq!(
            "limiteddetails".parse::<Level>(),
            Ok(Level::FreeBusyTimeAndSubjectAndLocation)
        );
        assert_eq!("Custom".parse::<Level>(), Err(LevelError::Custom));
        assert!(matches!(
            "Editorr".parse::<Level>(),
            Err(LevelError::Unknown(_))
        ));
    }

    #[test]
    fn grantees() {
        assert_eq!(
            "svc@lab.example".parse::<Grantee>(),
            Ok(Grantee::Address("svc@lab.example".parse().unwrap()))
        );
        assert_eq!(
            "default".parse::<Grantee>(),
            Ok(Grantee::Distinguished(DistinguishedUser::Default))
        );
        assert_eq!(
            "s-1-5-21-1-2-3-1105".parse::<Grantee>(),
            Ok(Grantee::Sid("S-1-5-21-1-2-3-1105".parse().unwrap()))
        );
        assert_eq!(
            Grantee::removable("Anonymous"),
            Err(GranteeError::NotRemovable(DistinguishedUser::Anonymous))
        );
        assert!(Grantee::removable("svc@lab.example").is_ok());
        for bad in ["svc", "svc@", "a b@lab.example", "S-1-x", ""] {
            assert!(bad.parse::<Grantee>().is_err(), "{bad}");
        }
    }

    #[test]
    fn grant_adds_changes_or_leaves_alone_and_keeps_the_rest() {
        let original = calendar();
        let mut set = original.clone();
        let svc: Grantee = "svc@lab.example".parse().unwrap();
        assert_eq!(
            grant(&mut set, &svc, Level::Editor),
            Ok(Edit::Granted {
                level: Level::Editor
            })
        );
        assert_eq!(
            set.entries[..5],
            original.entries[..],
            "every other entry as it was"
        );
        assert_eq!(
            set.entries[5].user.primary_smtp_address.as_deref(),
            Some("svc@lab.example")
        );
        assert!(
            set.entries[5].rights.is_empty(),
            "a named level carries no individual rights"
        );
        assert_eq!(
            grant(&mut set, &svc, Level::Editor),
            Ok(Edit::Unchanged {
                level: Some(Level::Editor)
            })
        );
        let team: Grantee = "TEAM@lab.example".parse().unwrap();
        assert_eq!(
            grant(&mut set, &team, Level::Author),
            Ok(Edit::Updated {
                before: Level::Reviewer,
                after: Level::Author
            })
        );
        assert_eq!(
            set.entries[4].user, original.entries[4].user,
            "the entry keeps its SID and address"
        );
        assert_eq!(set.entries[..4], original.entries[..4]);
    }

    #[test]
    fn revoke_removes_only_the_grantee() {
        let original = calendar();
        let mut set = original.clone();
        let boss: Grantee = "boss@lab.example".parse().unwrap();
        assert_eq!(
            revoke(&mut set, &boss),
            Ok(Edit::Revoked {
                before: Level::Editor
            })
        );
        let mut expected = original.entries.clone();
        expected.remove(2);
        assert_eq!(set.entries, expected);
        assert_eq!(revoke(&mut set, &boss), Ok(Edit::Unchanged { level: None }));
        assert_eq!(
            revoke(
                &mut set,
                &Grantee::Distinguished(DistinguishedUser::Default)
            ),
            Err(EditError::DistinguishedRevoke(DistinguishedUser::Default))
        );
    }

    #[test]
    fn default_and_anonymous_can_be_set() {
        let mut set = calendar();
        assert_eq!(
            grant(
                &mut set,
                &Grantee::Distinguished(DistinguishedUser::Default),
                Level::FreeBusyTimeAndSubjectAndLocation
            ),
            Ok(Edit::Updated {
                before: Level::FreeBusyTimeOnly,
                after: Level::FreeBusyTimeAndSubjectAndLocation
            })
        );
        assert_eq!(set.entries.len(), 5);
        let mut bare = PermissionSet::default();
        assert_eq!(
            grant(
                &mut bare,
                &Grantee::Distinguished(DistinguishedUser::Anonymous),
                Level::None
            ),
            Err(EditError::NoDistinguishedEntry(
                DistinguishedUser::Anonymous
            ))
        );
    }

    #[test]
    fn a_custom_entry_granted_a_named_level_loses_its_individual_rights() {
        let mut set = calendar();
        let custom: Grantee = "custom@lab.example".parse().unwrap();
        assert_eq!(
            grant(&mut set, &custom, Level::Reviewer),
            Ok(Edit::Updated {
                before: Level::Custom,
                after: Level::Reviewer
            })
        );
        assert!(set.entries[3].rights.is_empty());
    }

    #[test]
    fn unwritable_entries_are_counted() {
        let mut set = calendar();
        assert_eq!(unwritable_entries(&set), 0);
        set.unknown_entries.push("NT:S-1-5-21-1-2-3-9999".into());
        set.entries.push(CalendarPermission {
            user: UserId::default(),
            rights: Rights::default(),
            level: Level::Custom,
        });
        assert_eq!(unwritable_entries(&set), 2);
    }
}
