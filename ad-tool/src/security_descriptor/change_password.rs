//! "User cannot change password": the explicit deny of the User-Change-Password right to
//! Everyone and SELF (MS-ADTS 5.1.3.2.1), added in place of the matching allow ACEs or taken
//! away again, every other ACE left as it is.

use std::fmt;

use common::sid::Sid;

use super::{ACL_REVISION_DS, Ace, AceBody, Acl, RIGHT_DS_CONTROL_ACCESS, ace_type};
use crate::guid::Guid;

/// One change made to a DACL, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AceEdit {
    /// An ACE was added.
    Added(Ace),
    /// An ACE was removed.
    Removed(Ace),
}

impl fmt::Display for AceEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AceEdit::Added(ace) => write!(f, "+{}", ace.to_sddl()),
            AceEdit::Removed(ace) => write!(f, "-{}", ace.to_sddl()),
        }
    }
}

impl Ace {
    /// A deny (or allow) of the User-Change-Password right for `sid`, explicit, not inherited.
    pub fn change_password(allow: bool, sid: Sid) -> Self {
        Ace {
            ace_type: if allow {
                ace_type::ACCESS_ALLOWED_OBJECT
            } else {
                ace_type::ACCESS_DENIED_OBJECT
            },
            flags: 0,
            body: AceBody::Object {
                mask: RIGHT_DS_CONTROL_ACCESS,
                object_type: Some(Guid::USER_CHANGE_PASSWORD),
                inherited_object_type: None,
                sid,
                extra: Vec::new(),
            },
        }
    }

    /// Whether this ACE is exactly the explicit allow/deny of User-Change-Password for `sid`
    /// that "User cannot change password" is made of.
    pub(super) fn is_change_password(&self, allow: bool, sid: &Sid) -> bool {
        let wanted_type = if allow {
            ace_type::ACCESS_ALLOWED_OBJECT
        } else {
            ace_type::ACCESS_DENIED_OBJECT
        };
        self.ace_type == wanted_type
            && !self.is_inherited()
            && matches!(&self.body, AceBody::Object { mask, object_type: Some(g), inherited_object_type: None, sid: s, .. }
                if *mask == RIGHT_DS_CONTROL_ACCESS && *g == Guid::USER_CHANGE_PASSWORD && s == sid)
    }

    /// Whether this is a deny ACE (plain or object).
    pub(super) fn is_deny(&self) -> bool {
        matches!(
            self.ace_type,
            ace_type::ACCESS_DENIED | ace_type::ACCESS_DENIED_OBJECT | 0x0A | 0x0C
        )
    }
}

/// The trustees of the two "cannot change password" ACEs, in the order they are written.
fn change_password_trustees() -> [Sid; 2] {
    [Sid::everyone(), Sid::principal_self()]
}

/// Whether the DACL denies Everyone and SELF the User-Change-Password right, which is what
/// "User cannot change password" means.
pub fn denies_change_password(dacl: &Acl) -> bool {
    change_password_trustees().iter().all(|sid| {
        dacl.aces
            .iter()
            .any(|ace| ace.is_change_password(false, sid))
    })
}

/// Sets or clears "User cannot change password" on a DACL, the way ADSI does:
///
/// - on: the explicit *allow* ACEs for Everyone and SELF are replaced by *deny* ACEs at the head
///   of the explicit ACEs (deny before allow, explicit before inherited);
/// - off: the deny ACEs are removed and the default allow ACEs put back after the explicit denies.
///
/// Every other ACE stays where it is. Returns what changed; nothing when the DACL already says
/// what is asked.
pub fn set_cannot_change_password(dacl: &mut Acl, on: bool) -> Vec<AceEdit> {
    let mut edits = Vec::new();
    let trustees = change_password_trustees();
    // "Cannot change password" on means deny ACEs and no allow ACEs; off means the reverse.
    let (unwanted_is_allow, wanted_is_allow) = (on, !on);
    let mut kept = Vec::with_capacity(dacl.aces.len() + 2);
    for ace in dacl.aces.drain(..) {
        if trustees
            .iter()
            .any(|sid| ace.is_change_password(unwanted_is_allow, sid))
        {
            edits.push(AceEdit::Removed(ace));
        } else {
            kept.push(ace);
        }
    }
    dacl.aces = kept;
    // Add the wanted ACEs that are missing, in trustee order.
    let mut insert_at = if on {
        0
    } else {
        dacl.aces
            .iter()
            .position(|a| a.is_inherited() || !a.is_deny())
            .unwrap_or(dacl.aces.len())
    };
    for sid in trustees {
        if !dacl
            .aces
            .iter()
            .any(|ace| ace.is_change_password(wanted_is_allow, &sid))
        {
            let ace = Ace::change_password(wanted_is_allow, sid);
            dacl.aces.insert(insert_at, ace.clone());
            insert_at += 1;
            edits.push(AceEdit::Added(ace));
        }
    }
    if !edits.is_empty() && dacl.revision < ACL_REVISION_DS {
        dacl.revision = ACL_REVISION_DS;
    }
    edits
}
