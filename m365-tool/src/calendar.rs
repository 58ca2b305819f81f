//! Calendar permissions as Graph keeps them (`/users/{id}/calendar/calendarPermissions`),
//! decided without talking to Graph: the administrator's level (ews-tool's names, or Graph's
//! role names) as a Graph role, a level Graph has no role for refused with the nearest ones,
//! and what a grant or revoke must send given the entries there are: nothing, a `PATCH` of
//! `role` where the grantee has an entry, a `POST` where not, a `DELETE`; the non-removable
//! "My Organization" entry (Default) only ever given a role; the grantee's entry as a journal
//! records it ([`RoleState`]) and what an undo does with it.

use std::fmt;

use serde_json::{Value, json};

/// A Graph calendar role (`calendarRoleType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `none`.
    None,
    /// `freeBusyRead`.
    FreeBusyRead,
    /// `limitedRead`.
    LimitedRead,
    /// `read`.
    Read,
    /// `write`.
    Write,
    /// `delegateWithoutPrivateEventAccess`.
    DelegateWithoutPrivateEventAccess,
    /// `delegateWithPrivateEventAccess`.
    DelegateWithPrivateEventAccess,
    /// `custom`: set elsewhere (Outlook, EWS) with rights Graph does not name.
    Custom,
}

const ROLES: [(Role, &str); 8] = [
    (Role::None, "none"),
    (Role::FreeBusyRead, "freeBusyRead"),
    (Role::LimitedRead, "limitedRead"),
    (Role::Read, "read"),
    (Role::Write, "write"),
    (
        Role::DelegateWithoutPrivateEventAccess,
        "delegateWithoutPrivateEventAccess",
    ),
    (
        Role::DelegateWithPrivateEventAccess,
        "delegateWithPrivateEventAccess",
    ),
    (Role::Custom, "custom"),
];

impl Role {
    /// Graph's name.
    pub fn name(self) -> &'static str {
        ROLES
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("custom", |(_, n)| n)
    }

    /// From Graph's name.
    pub fn from_name(name: &str) -> Option<Self> {
        ROLES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(r, _)| *r)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a level cannot be given through Graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// An Exchange level with no Graph role.
    #[error("Graph has no calendar role for the level {level}; the nearest are {nearest}")]
    NoGraphRole {
        /// The level asked for.
        level: String,
        /// The roles that come closest.
        nearest: &'static str,
    },
    /// Not a level at all.
    #[error(
        "\"{0}\" is not a level: use Editor, Reviewer, LimitedDetails, AvailabilityOnly or None, or a Graph role (write, read, limitedRead, freeBusyRead, delegateWithoutPrivateEventAccess, delegateWithPrivateEventAccess)"
    )]
    Unknown(String),
}

/// The Graph role for a level: Exchange's level names as ews-tool takes them (and PowerShell's
/// `AvailabilityOnly`, `LimitedDetails`), or Graph's role names.
pub fn role_for_level(text: &str) -> Result<Role, LevelError> {
    let lower = text.to_ascii_lowercase();
    let role = match lower.as_str() {
        "none" => Role::None,
        "freebusytimeonly" | "availabilityonly" => Role::FreeBusyRead,
        "freebusytimeandsubjectandlocation" | "limiteddetails" => Role::LimitedRead,
        "reviewer" => Role::Read,
        "editor" => Role::Write,
        "owner" | "publishingeditor" => {
            return Err(LevelError::NoGraphRole {
                level: text.to_owned(),
                nearest: "write (Editor) or delegateWithPrivateEventAccess",
            });
        }
        "publishingauthor" | "author" | "noneditingauthor" | "contributor" => {
            return Err(LevelError::NoGraphRole {
                level: text.to_owned(),
                nearest: "write (Editor) or read (Reviewer)",
            });
        }
        "custom" => {
            return Err(LevelError::NoGraphRole {
                level: text.to_owned(),
                nearest: "one of the named roles",
            });
        }
        _ => return Role::from_name(text).ok_or_else(|| LevelError::Unknown(text.to_owned())),
    };
    Ok(role)
}

/// Whose entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// Everyone in the organisation: the "My Organization" entry (Exchange's Default).
    Default,
    /// A user or group by SMTP address.
    Address(String),
}

impl Grantee {
    /// `Default` (or `My Organization`), or an SMTP address.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("default")
            || trimmed.eq_ignore_ascii_case("my organization")
        {
            return Ok(Grantee::Default);
        }
        trimmed
            .parse::<common::address::SmtpAddress>()
            .map(|a| Grantee::Address(a.as_str().to_owned()))
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Default => f.write_str("Default"),
            Grantee::Address(a) => f.write_str(a),
        }
    }
}

/// One entry as Graph lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its id (for PATCH and DELETE).
    pub id: String,
    /// `emailAddress.address`, when it names one.
    pub address: Option<String>,
    /// `emailAddress.name`.
    pub name: String,
    /// `role`, as Graph names it.
    pub role: String,
    /// `isRemovable`.
    pub removable: bool,
}

/// Reads a `calendarPermissions` answer.
pub fn read_entries(answer: &Value) -> Vec<Entry> {
    answer
        .get("value")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .map(|e| Entry {
                    id: e["id"].as_str().unwrap_or("").to_owned(),
                    address: e
                        .pointer("/emailAddress/address")
                        .and_then(Value::as_str)
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned),
                    name: e
                        .pointer("/emailAddress/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    role: e["role"].as_str().unwrap_or("").to_owned(),
                    removable: e["isRemovable"].as_bool().unwrap_or(true),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The grantee's entry.
pub fn find<'a>(entries: &'a [Entry], grantee: &Grantee) -> Option<&'a Entry> {
    entries.iter().find(|e| match grantee {
        Grantee::Default => !e.removable && e.address.is_none(),
        Grantee::Address(a) => e
            .address
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case(a)),
    })
}

/// What a change needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing: already so (or, revoking, no entry).
    Nothing,
    /// `PATCH` the entry's `role`.
    Patch {
        /// The entry's id.
        id: String,
        /// `{"role": …}`.
        body: Value,
    },
    /// `POST` a new entry.
    Post {
        /// The entry.
        body: Value,
    },
    /// `DELETE` the entry.
    Delete {
        /// The entry's id.
        id: String,
    },
    /// The entry cannot be removed (My Organization): give it a role instead.
    NotRemovable,
    /// Default has no entry to change (a calendar Graph shows without one).
    NoDefault,
}

/// What giving `grantee` `role` needs.
pub fn plan_grant(entries: &[Entry], grantee: &Grantee, role: Role) -> Step {
    match (find(entries, grantee), grantee) {
        (Some(e), _) if e.role.eq_ignore_ascii_case(role.name()) => Step::Nothing,
        (Some(e), _) => Step::Patch {
            id: e.id.clone(),
            body: json!({"role": role.name()}),
        },
        (None, Grantee::Default) => Step::NoDefault,
        (None, Grantee::Address(address)) => Step::Post {
            body: json!({
                "emailAddress": {"address": address},
                "role": role.name(),
            }),
        },
    }
}

/// What removing `grantee`'s entry needs.
pub fn plan_revoke(entries: &[Entry], grantee: &Grantee) -> Step {
    match find(entries, grantee) {
        None => Step::Nothing,
        Some(e) if !e.removable => Step::NotRemovable,
        Some(e) => Step::Delete { id: e.id.clone() },
    }
}

/// The grantee's entry as a journal records it: none, or a role.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum RoleState {
    /// No entry.
    Absent,
    /// An entry with this role (Graph's name; `custom` for rights Graph does not name).
    Role {
        /// The role.
        role: String,
    },
}

impl RoleState {
    /// The grantee's entry among `entries`.
    pub fn of(entries: &[Entry], grantee: &Grantee) -> Self {
        find(entries, grantee).map_or(RoleState::Absent, |e| RoleState::Role {
            role: Role::from_name(&e.role).map_or_else(|| e.role.clone(), |r| r.name().to_owned()),
        })
    }

    /// An entry with `role`.
    pub fn with(role: Role) -> Self {
        RoleState::Role {
            role: role.name().to_owned(),
        }
    }

    /// The role, if there is an entry.
    pub fn role(&self) -> Option<&str> {
        match self {
            RoleState::Absent => None,
            RoleState::Role { role } => Some(role),
        }
    }
}

impl fmt::Display for RoleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoleState::Absent => f.write_str("no entry"),
            RoleState::Role { role } => f.write_str(role),
        }
    }
}

/// What leaving `grantee`'s entry as `target` needs; `Err` with the role when Graph cannot
/// set it (`custom`: rights set through EWS or Outlook that no role names).
pub fn plan_state(
    entries: &[Entry],
    grantee: &Grantee,
    target: &RoleState,
) -> Result<Step, String> {
    match target {
        RoleState::Absent => Ok(plan_revoke(entries, grantee)),
        RoleState::Role { role } => match Role::from_name(role) {
            Some(known) if known != Role::Custom => Ok(plan_grant(entries, grantee, known)),
            _ => Err(role.clone()),
        },
    }
}

/// What an undo does with one calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// The entry is already as it was before the run.
    AlreadyBefore,
    /// Someone changed the entry since the run: left alone.
    ChangedSince,
    /// Put it back to this.
    Restore(RoleState),
}

/// What undoing a run that took the grantee's entry from `before` to `after` does, with the
/// entry now `current`: put back only what the run left, unless `force`.
pub fn plan_undo(current: &RoleState, before: &RoleState, after: &RoleState, force: bool) -> Undo {
    if current == before {
        Undo::AlreadyBefore
    } else if current != after && !force {
        Undo::ChangedSince
    } else {
        Undo::Restore(before.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        read_entries(&json!({"value": [
            {"id": "RGVmYXVsdA==", "emailAddress": {"name": "My Organization"}, "isRemovable": false, "isInsideOrganization": true, "role": "freeBusyRead", "allowedRoles": ["none", "freeBusyRead", "limitedRead", "read", "write"]},
            {"id": "QW5uYQ==", "emailAddress": {"name": "Anna", "address": "Anna@lab.example"}, "isRemovable": true, "role": "read"}
        ]}))
    }

    #[test]
    fn levels_become_roles_and_the_rest_are_refused_with_the_nearest() {
        assert_eq!(role_for_level("Editor").unwrap(), Role::Write);
        assert_eq!(role_for_level("reviewer").unwrap(), Role::Read);
        assert_eq!(role_for_level("LimitedDetails").unwrap(), Role::LimitedRead);
        assert_eq!(
            role_for_level("AvailabilityOnly").unwrap(),
            Role::FreeBusyRead
        );
        assert_eq!(
            role_for_level("delegateWithPrivateEventAccess").unwrap(),
            Role::DelegateWithPrivateEventAccess
        );
        let error = role_for_level("Author").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("nearest are write (Editor) or read (Reviewer)"),
            "{error}"
        );
        assert!(matches!(
            role_for_level("Boss"),
            Err(LevelError::Unknown(_))
        ));
    }

    #[test]
    fn a_grant_patches_an_entry_or_posts_one() {
        let entries = entries();
        let anna = Grantee::Address("anna@lab.example".into());
        assert_eq!(plan_grant(&entries, &anna, Role::Read), Step::Nothing);
        assert_eq!(
            plan_grant(&entries, &anna, Role::Write),
            Step::Patch {
                id: "QW5uYQ==".into(),
                body: json!({"role": "write"})
            }
        );
        let svc = Grantee::Address("svc@lab.example".into());
        assert!(matches!(
            plan_grant(&entries, &svc, Role::Write),
            Step::Post { .. }
        ));
        assert!(matches!(
            plan_grant(&entries, &Grantee::Default, Role::LimitedRead),
            Step::Patch { .. }
        ));
        assert_eq!(plan_revoke(&entries, &Grantee::Default), Step::NotRemovable);
        assert_eq!(
            plan_revoke(&entries, &anna),
            Step::Delete {
                id: "QW5uYQ==".into()
            }
        );
        assert_eq!(plan_revoke(&entries, &svc), Step::Nothing);
    }

    #[test]
    fn a_state_is_read_and_set_back_as_graph_allows() {
        let entries = entries();
        let anna = Grantee::Address("anna@lab.example".into());
        let svc = Grantee::Address("svc@lab.example".into());
        assert_eq!(RoleState::of(&entries, &anna), RoleState::with(Role::Read));
        assert_eq!(RoleState::of(&entries, &svc), RoleState::Absent);
        assert_eq!(
            RoleState::of(&entries, &Grantee::Default),
            RoleState::with(Role::FreeBusyRead)
        );
        assert_eq!(
            plan_state(&entries, &anna, &RoleState::Absent),
            Ok(Step::Delete {
                id: "QW5uYQ==".into()
            })
        );
        assert!(matches!(
            plan_state(&entries, &svc, &RoleState::with(Role::Write)),
            Ok(Step::Post { .. })
        ));
        assert_eq!(
            plan_state(&entries, &anna, &RoleState::with(Role::Custom)),
            Err("custom".to_owned())
        );
        let text = serde_json::to_string(&RoleState::with(Role::Write)).unwrap();
        assert_eq!(text, r#"{"state":"role","role":"write"}"#);
    }

    #[test]
    fn an_undo_puts_back_only_what_the_run_left() {
        let (absent, write, read) = (
            RoleState::Absent,
            RoleState::with(Role::Write),
            RoleState::with(Role::Read),
        );
        assert_eq!(
            plan_undo(&write, &absent, &write, false),
            Undo::Restore(absent.clone())
        );
        assert_eq!(
            plan_undo(&absent, &absent, &write, false),
            Undo::AlreadyBefore
        );
        assert_eq!(plan_undo(&read, &absent, &write, false), Undo::ChangedSince);
        assert_eq!(
            plan_undo(&read, &absent, &write, true),
            Undo::Restore(absent.clone())
        );
        assert_eq!(
            plan_undo(&absent, &read, &RoleState::Absent, false),
            Undo::Restore(read)
        );
    }
}
