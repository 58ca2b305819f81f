//! Which directory entries are mailboxes of the asked kinds: the LDAP filter, built without I/O.

use std::fmt::Write as _;

use clap::ValueEnum;
use serde::Serialize;

use crate::dn::Dn;
use ldap3::ldap_escape;

/// `msExchRecipientTypeDetails` values of mailboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipientType {
    /// A person's mailbox (UserMailbox, 1)
    User,
    /// A shared mailbox (SharedMailbox, 4)
    Shared,
    /// A room (RoomMailbox, 16)
    Room,
    /// Equipment (EquipmentMailbox, 32)
    Equipment,
}

impl RecipientType {
    /// The attribute value.
    pub fn value(self) -> i64 {
        match self {
            RecipientType::User => 1,
            RecipientType::Shared => 4,
            RecipientType::Room => 16,
            RecipientType::Equipment => 32,
        }
    }

    /// The type of a stored value.
    pub fn from_value(value: i64) -> Option<Self> {
        [
            RecipientType::User,
            RecipientType::Shared,
            RecipientType::Room,
            RecipientType::Equipment,
        ]
        .into_iter()
        .find(|t| t.value() == value)
    }
}

/// Mailboxes of the given types (user mailboxes when none is given), optionally only members of
/// a group, directly or through nested groups (`LDAP_MATCHING_RULE_IN_CHAIN`, MS-ADTS 3.1.1.3.4.4.3).
pub fn mailbox_filter(types: &[RecipientType], group: Option<&Dn>) -> String {
    let mut types: Vec<RecipientType> = if types.is_empty() {
        vec![RecipientType::User]
    } else {
        types.to_vec()
    };
    types.dedup();
    let type_filter = match types.as_slice() {
        [one] => format!("(msExchRecipientTypeDetails={})", one.value()),
        many => {
            many.iter().fold("(|".to_owned(), |mut f, t| {
                let _ = write!(f, "(msExchRecipientTypeDetails={})", t.value());
                f
            }) + ")"
        }
    };
    let group_filter = group
        .map(|g| {
            format!(
                "(memberOf:1.2.840.113556.1.4.1941:={})",
                ldap_escape(g.to_string())
            )
        })
        .unwrap_or_default();
    format!("(&(objectCategory=person)(objectClass=user)(mail=*){type_filter}{group_filter})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_mailboxes_by_default() {
        assert_eq!(
            mailbox_filter(&[], None),
            "(&(objectCategory=person)(objectClass=user)(mail=*)(msExchRecipientTypeDetails=1))"
        );
    }

    #[test]
    fn several_types_and_a_group() {
        let group: Dn = "CN=Cal (all),OU=Groups,DC=corp,DC=example".parse().unwrap();
        assert_eq!(
            mailbox_filter(
                &[RecipientType::Room, RecipientType::Equipment],
                Some(&group)
            ),
            "(&(objectCategory=person)(objectClass=user)(mail=*)(|(msExchRecipientTypeDetails=16)(msExchRecipientTypeDetails=32))\
             (memberOf:1.2.840.113556.1.4.1941:=CN=Cal \\28all\\29,OU=Groups,DC=corp,DC=example))"
        );
    }

    #[test]
    fn values_round_trip() {
        for t in [
            RecipientType::User,
            RecipientType::Shared,
            RecipientType::Room,
            RecipientType::Equipment,
        ] {
            assert_eq!(RecipientType::from_value(t.value()), Some(t));
        }
        assert_eq!(RecipientType::from_value(2), None);
    }
}
