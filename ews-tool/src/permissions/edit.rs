//! The two edits: give one grantee a level, or take its entry away; every other entry (other
//! users and groups, Default, Anonymous, custom rights) is left exactly as it was.

use super::{CalendarPermission, DistinguishedUser, Grantee, Level, PermissionSet, Rights};

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

/// A grantee's entry as a journal records it: none, a named level, or individual rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum EntryState {
    /// No entry.
    Absent,
    /// A named level.
    Level {
        /// The level.
        level: Level,
    },
    /// Individual rights that match no named level.
    Custom {
        /// The rights.
        rights: Rights,
    },
}

impl std::fmt::Display for EntryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryState::Absent => f.write_str("no entry"),
            EntryState::Level { level } => level.fmt(f),
            EntryState::Custom { .. } => f.write_str("Custom"),
        }
    }
}

/// `grantee`'s entry in `set`.
pub fn state_of(set: &PermissionSet, grantee: &Grantee) -> EntryState {
    match set.entries.iter().find(|e| grantee.matches(&e.user)) {
        None => EntryState::Absent,
        Some(entry) if entry.level == Level::Custom => EntryState::Custom {
            rights: entry.rights,
        },
        Some(entry) => EntryState::Level { level: entry.level },
    }
}

/// Puts `grantee`'s entry in `set` in `state`, changing nothing else; whether it changed.
pub fn set_state(
    set: &mut PermissionSet,
    grantee: &Grantee,
    state: EntryState,
) -> Result<bool, EditError> {
    if state_of(set, grantee) == state {
        return Ok(false);
    }
    match state {
        EntryState::Absent => revoke(set, grantee).map(|_| true),
        EntryState::Level { level } => grant(set, grantee, level).map(|_| true),
        EntryState::Custom { rights } => {
            let custom = |entry: &mut CalendarPermission| {
                entry.level = Level::Custom;
                entry.rights = rights;
            };
            if let Some(entry) = set.entries.iter_mut().find(|e| grantee.matches(&e.user)) {
                custom(entry);
                return Ok(true);
            }
            if let Grantee::Distinguished(user) = grantee {
                return Err(EditError::NoDistinguishedEntry(*user));
            }
            let mut entry = CalendarPermission {
                user: grantee.user_id(),
                rights,
                level: Level::Custom,
            };
            custom(&mut entry);
            set.entries.push(entry);
            Ok(true)
        }
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
    use crate::permissions::{ItemScope, ReadAccess, UserId};

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
    fn states_are_read_and_put_back_exactly() {
        let original = calendar();
        let custom: Grantee = "custom@lab.example".parse().unwrap();
        let boss: Grantee = "boss@lab.example".parse().unwrap();
        let new: Grantee = "new@lab.example".parse().unwrap();
        let custom_state = state_of(&original, &custom);
        assert!(matches!(custom_state, EntryState::Custom { .. }));
        assert_eq!(
            state_of(&original, &boss),
            EntryState::Level {
                level: Level::Editor
            }
        );
        assert_eq!(state_of(&original, &new), EntryState::Absent);
        // Custom rights onto a new entry, then back to nothing: the set is as it was.
        let mut set = original.clone();
        assert_eq!(set_state(&mut set, &new, custom_state), Ok(true));
        assert_eq!(state_of(&set, &new), custom_state);
        assert_eq!(set_state(&mut set, &new, custom_state), Ok(false));
        assert_eq!(set_state(&mut set, &new, EntryState::Absent), Ok(true));
        assert_eq!(set, original);
        // The journal's form.
        let json = serde_json::to_value(custom_state).unwrap();
        assert_eq!(json["state"], "custom");
        assert_eq!(
            serde_json::from_value::<EntryState>(json).unwrap(),
            custom_state
        );
        assert_eq!(
            serde_json::to_value(EntryState::Level {
                level: Level::Reviewer
            })
            .unwrap(),
            serde_json::json!({"state": "level", "level": "Reviewer"})
        );
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
