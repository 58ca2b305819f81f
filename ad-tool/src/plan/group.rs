//! Groups: the one Add that creates a group with its first members, the Modify that converges an
//! existing one, and the Modify that adds one member. Existing members are never removed.

use common::args::IfExists;

use super::{Change, Op};
use crate::dn::Dn;

/// A group as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Where it goes.
    pub dn: Dn,
    /// Its `sAMAccountName`.
    pub sam_account_name: String,
    /// Its `groupType`.
    pub group_type: i64,
    /// Its description, when one is asked.
    pub description: Option<String>,
    /// Its mail attribute, when one is asked.
    pub mail: Option<String>,
}

/// An entry found under the group's DN or sAMAccountName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundGroup {
    /// Its DN.
    pub dn: Dn,
    /// Whether it is a group.
    pub is_group: bool,
    /// `groupType`.
    pub group_type: Option<i64>,
    /// `description`.
    pub description: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
}

/// Why a group cannot be made or changed as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupConflict {
    /// Its sAMAccountName is held by an entry elsewhere, or another object is at its DN.
    NameTaken {
        /// The entry holding it.
        holder: Dn,
        /// Whether that entry is a group (then it is this group under another path).
        is_group: bool,
    },
    /// It exists and `--if-exists fail` is in force.
    Exists {
        /// Where it is.
        dn: Dn,
    },
}

/// What to do for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupPlan {
    /// Nothing holds its names: this Add creates it with its first members.
    Create(Op),
    /// It exists and `--if-exists skip` leaves it.
    Skip,
    /// It exists and `--if-exists update` converges it: the changes as reported, and the
    /// Modify that makes them (none when it is as asked). Members are added one by one after.
    Update {
        /// What changes.
        changes: Vec<Change>,
        /// The writes.
        ops: Vec<Op>,
    },
    /// It cannot be done.
    Conflict(GroupConflict),
}

/// Decides from what the directory holds under the group's names; `members` are the DNs of
/// the members a new group starts with.
pub fn plan_group(
    spec: &GroupSpec,
    found: &[FoundGroup],
    if_exists: IfExists,
    members: &[Dn],
) -> GroupPlan {
    let existing = found
        .iter()
        .find(|f| f.dn == spec.dn)
        .or_else(|| found.first());
    let Some(existing) = existing else {
        return GroupPlan::Create(create(spec, members));
    };
    if !existing.is_group || existing.dn != spec.dn {
        return GroupPlan::Conflict(GroupConflict::NameTaken {
            holder: existing.dn.clone(),
            is_group: existing.is_group,
        });
    }
    match if_exists {
        IfExists::Fail => GroupPlan::Conflict(GroupConflict::Exists {
            dn: existing.dn.clone(),
        }),
        IfExists::Skip => GroupPlan::Skip,
        IfExists::Update => {
            let changes = converge(spec, existing);
            let ops = if changes.is_empty() {
                Vec::new()
            } else {
                vec![Op::Modify {
                    dn: existing.dn.clone(),
                    changes: changes.clone(),
                }]
            };
            GroupPlan::Update { changes, ops }
        }
    }
}

fn create(spec: &GroupSpec, members: &[Dn]) -> Op {
    let mut attributes = vec![
        ("objectClass", "group".to_owned()),
        ("sAMAccountName", spec.sam_account_name.clone()),
        ("groupType", spec.group_type.to_string()),
    ];
    attributes.extend(spec.description.clone().map(|d| ("description", d)));
    attributes.extend(spec.mail.clone().map(|m| ("mail", m)));
    attributes.extend(members.iter().map(|m| ("member", m.to_string())));
    Op::Add {
        dn: spec.dn.clone(),
        attributes,
        uac: None,
        with_password: false,
        descriptor: None,
    }
}

/// The attributes the spec states that differ from what the group has.
fn converge(spec: &GroupSpec, existing: &FoundGroup) -> Vec<Change> {
    let stated = [
        (
            "groupType",
            existing.group_type.map(|t| t.to_string()),
            Some(spec.group_type.to_string()),
        ),
        (
            "description",
            existing.description.clone(),
            spec.description.clone(),
        ),
        ("mail", existing.mail.clone(), spec.mail.clone()),
    ];
    stated
        .into_iter()
        .filter_map(|(name, from, wanted)| {
            let to = wanted?;
            (from.as_deref() != Some(to.as_str())).then_some(Change::Attribute { name, from, to })
        })
        .collect()
}

/// Adding `member` to `group`, leaving its other members.
pub fn add_member(group: &Dn, member: &Dn) -> Op {
    Op::Modify {
        dn: group.clone(),
        changes: vec![Change::AddValue {
            name: "member",
            value: member.to_string(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(text: &str) -> Dn {
        text.parse().unwrap()
    }

    fn spec() -> GroupSpec {
        GroupSpec {
            dn: dn("CN=Timetable,OU=Groups,DC=corp,DC=example"),
            sam_account_name: "Timetable".into(),
            group_type: -2_147_483_640,
            description: Some("calendar sync".into()),
            mail: None,
        }
    }

    fn found(at: &str, is_group: bool) -> FoundGroup {
        FoundGroup {
            dn: dn(at),
            is_group,
            group_type: Some(-2_147_483_640),
            description: Some("calendar sync".into()),
            mail: None,
        }
    }

    #[test]
    fn a_new_group_is_one_add_with_its_members() {
        let members = [
            dn("CN=svc1,CN=Users,DC=corp,DC=example"),
            dn("CN=svc2,CN=Users,DC=corp,DC=example"),
        ];
        for if_exists in [IfExists::Fail, IfExists::Skip, IfExists::Update] {
            let plan = plan_group(&spec(), &[], if_exists, &members);
            assert_eq!(
                plan,
                GroupPlan::Create(Op::Add {
                    dn: spec().dn,
                    attributes: vec![
                        ("objectClass", "group".into()),
                        ("sAMAccountName", "Timetable".into()),
                        ("groupType", "-2147483640".into()),
                        ("description", "calendar sync".into()),
                        ("member", "CN=svc1,CN=Users,DC=corp,DC=example".into()),
                        ("member", "CN=svc2,CN=Users,DC=corp,DC=example".into()),
                    ],
                    uac: None,
                    with_password: false,
                    descriptor: None,
                })
            );
        }
    }

    #[test]
    fn an_existing_group_for_every_if_exists_case() {
        let here = [found("CN=Timetable,OU=Groups,DC=corp,DC=example", true)];
        assert_eq!(
            plan_group(&spec(), &here, IfExists::Fail, &[]),
            GroupPlan::Conflict(GroupConflict::Exists { dn: spec().dn })
        );
        assert_eq!(
            plan_group(&spec(), &here, IfExists::Skip, &[]),
            GroupPlan::Skip
        );
        assert_eq!(
            plan_group(&spec(), &here, IfExists::Update, &[]),
            GroupPlan::Update {
                changes: vec![],
                ops: vec![]
            },
            "already as asked: nothing to write"
        );
        let mut wanted = spec();
        wanted.group_type = -2_147_483_646;
        wanted.mail = Some("timetable@corp.example".into());
        let changes = vec![
            Change::Attribute {
                name: "groupType",
                from: Some("-2147483640".into()),
                to: "-2147483646".into(),
            },
            Change::Attribute {
                name: "mail",
                from: None,
                to: "timetable@corp.example".into(),
            },
        ];
        assert_eq!(
            plan_group(&wanted, &here, IfExists::Update, &[]),
            GroupPlan::Update {
                ops: vec![Op::Modify {
                    dn: spec().dn,
                    changes: changes.clone()
                }],
                changes,
            },
            "one Modify with what differs; an unstated description is left alone"
        );
    }

    #[test]
    fn its_names_held_elsewhere_are_a_conflict_whatever_if_exists_says() {
        for if_exists in [IfExists::Fail, IfExists::Skip, IfExists::Update] {
            let elsewhere = [found("CN=Timetable,OU=Old,DC=corp,DC=example", true)];
            assert_eq!(
                plan_group(&spec(), &elsewhere, if_exists, &[]),
                GroupPlan::Conflict(GroupConflict::NameTaken {
                    holder: elsewhere[0].dn.clone(),
                    is_group: true
                })
            );
            let user_at_dn = [found("CN=Timetable,OU=Groups,DC=corp,DC=example", false)];
            assert!(matches!(
                plan_group(&spec(), &user_at_dn, if_exists, &[]),
                GroupPlan::Conflict(GroupConflict::NameTaken {
                    is_group: false,
                    ..
                })
            ));
        }
    }

    #[test]
    fn a_member_is_added_as_one_value() {
        let group = spec().dn;
        let member = dn("CN=svc1,CN=Users,DC=corp,DC=example");
        assert_eq!(
            add_member(&group, &member),
            Op::Modify {
                dn: group,
                changes: vec![Change::AddValue {
                    name: "member",
                    value: member.to_string()
                }]
            }
        );
    }
}
