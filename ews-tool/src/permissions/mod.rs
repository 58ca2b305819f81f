//! Calendar folder permissions as EWS carries them (`t:CalendarPermission`), the named levels
//! and the rights each stands for, and the two edits this tool makes: give one grantee a level,
//! or take its entry away, leaving every other entry as it was. Pure: no I/O here.
//!
//! - [`grantee`]: who an edit is for.
//! - [`edit`]: the grant and the revoke.
//!
//! This file holds the model: levels, rights, entries.

pub mod edit;
pub mod grantee;

pub use edit::{
    Edit, EditError, EntryState, grant, revoke, set_state, state_of, unwritable_entries,
};
pub use grantee::{Grantee, GranteeError};

use std::str::FromStr;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
