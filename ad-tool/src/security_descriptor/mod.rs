//! Self-relative security descriptors (MS-DTYP 2.4.6) as AD stores them in
//! `nTSecurityDescriptor`, and the one edit this tool makes to them: the two deny ACEs behind
//! "User cannot change password" (MS-ADTS 5.1.3.2.1, User-Change-Password).
//!
//! - [`codec`]: the binary form, read and written back byte for byte: the order and spacing of
//!   the parts, slack space at the end of an ACL, bytes after an ACE's SID, and ACE types this
//!   code does not interpret (kept as opaque bytes).
//! - [`sddl_form`]: the SDDL form, for people reading logs and dry runs.
//! - [`change_password`]: the "cannot change password" edit.
//! - [`stored`]: an entry's DACL read from and written to the directory.
//!
//! This file holds the types.

pub mod change_password;
pub mod codec;
pub mod sddl_form;
pub mod stored;
#[cfg(test)]
mod tests;

use common::sid::{Sid, SidError};

use crate::guid::Guid;

pub use change_password::{AceEdit, denies_change_password, set_cannot_change_password};

/// `SE_DACL_PRESENT`.
pub const SE_DACL_PRESENT: u16 = 0x0004;
/// `SE_SACL_PRESENT`.
pub const SE_SACL_PRESENT: u16 = 0x0010;
/// `SE_SELF_RELATIVE`.
pub const SE_SELF_RELATIVE: u16 = 0x8000;

/// `ACL_REVISION_DS`: needed once an ACL holds object ACEs.
pub const ACL_REVISION_DS: u8 = 4;

/// ACE type codes (MS-DTYP 2.4.4.1).
pub mod ace_type {
    /// `ACCESS_ALLOWED_ACE_TYPE`
    pub const ACCESS_ALLOWED: u8 = 0x00;
    /// `ACCESS_DENIED_ACE_TYPE`
    pub const ACCESS_DENIED: u8 = 0x01;
    /// `SYSTEM_AUDIT_ACE_TYPE`
    pub const SYSTEM_AUDIT: u8 = 0x02;
    /// `SYSTEM_ALARM_ACE_TYPE`
    pub const SYSTEM_ALARM: u8 = 0x03;
    /// `ACCESS_ALLOWED_OBJECT_ACE_TYPE`
    pub const ACCESS_ALLOWED_OBJECT: u8 = 0x05;
    /// `ACCESS_DENIED_OBJECT_ACE_TYPE`
    pub const ACCESS_DENIED_OBJECT: u8 = 0x06;
    /// `SYSTEM_AUDIT_OBJECT_ACE_TYPE`
    pub const SYSTEM_AUDIT_OBJECT: u8 = 0x07;
    /// `SYSTEM_ALARM_OBJECT_ACE_TYPE`
    pub const SYSTEM_ALARM_OBJECT: u8 = 0x08;
    /// `SYSTEM_MANDATORY_LABEL_ACE_TYPE`
    pub const SYSTEM_MANDATORY_LABEL: u8 = 0x11;
}

/// ACE flag bits (MS-DTYP 2.4.4.1).
pub mod ace_flags {
    /// `OBJECT_INHERIT_ACE`
    pub const OBJECT_INHERIT: u8 = 0x01;
    /// `CONTAINER_INHERIT_ACE`
    pub const CONTAINER_INHERIT: u8 = 0x02;
    /// `NO_PROPAGATE_INHERIT_ACE`
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    /// `INHERIT_ONLY_ACE`
    pub const INHERIT_ONLY: u8 = 0x08;
    /// `INHERITED_ACE`
    pub const INHERITED: u8 = 0x10;
    /// `SUCCESSFUL_ACCESS_ACE_FLAG`
    pub const SUCCESSFUL_ACCESS: u8 = 0x40;
    /// `FAILED_ACCESS_ACE_FLAG`
    pub const FAILED_ACCESS: u8 = 0x80;
}

/// `ADS_RIGHT_DS_CONTROL_ACCESS`: an extended right such as User-Change-Password.
pub const RIGHT_DS_CONTROL_ACCESS: u32 = 0x100;

const OBJECT_TYPE_PRESENT: u32 = 0x1;
const INHERITED_OBJECT_TYPE_PRESENT: u32 = 0x2;

/// Why bytes are not a security descriptor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    /// The buffer ends before a structure does.
    #[error("security descriptor is truncated at byte {0}")]
    Truncated(usize),
    /// Not in self-relative form.
    #[error("security descriptor is not self-relative")]
    NotSelfRelative,
    /// A size or offset points outside the buffer or overlaps.
    #[error("security descriptor has an inconsistent {0}")]
    Inconsistent(&'static str),
    /// A SID inside it is malformed.
    #[error("security descriptor holds a bad SID: {0}")]
    Sid(#[from] SidError),
}

/// One access control entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// The ACE type code.
    pub ace_type: u8,
    /// The ACE flags.
    pub flags: u8,
    /// The type-specific part.
    pub body: AceBody,
}

/// The part of an ACE after its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AceBody {
    /// Allowed, denied, audit, alarm and label ACEs: a mask and a SID.
    Plain {
        /// The access mask.
        mask: u32,
        /// The trustee.
        sid: Sid,
        /// Bytes after the SID (application data, padding), kept as they were.
        extra: Vec<u8>,
    },
    /// Object ACEs: a mask, optional object and inherited-object GUIDs, and a SID.
    Object {
        /// The access mask.
        mask: u32,
        /// The property, property set, class or extended right the ACE is about.
        object_type: Option<Guid>,
        /// The class of child objects that inherit the ACE.
        inherited_object_type: Option<Guid>,
        /// The trustee.
        sid: Sid,
        /// Bytes after the SID, kept as they were.
        extra: Vec<u8>,
    },
    /// Any other ACE type (callback, resource attribute…), kept as raw bytes.
    Opaque(Vec<u8>),
}

/// An access control list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// `ACL_REVISION` (2) or `ACL_REVISION_DS` (4).
    pub revision: u8,
    /// Reserved byte, kept.
    pub sbz1: u8,
    /// Reserved word, kept.
    pub sbz2: u16,
    /// The entries, in order.
    pub aces: Vec<Ace>,
    /// Unused space after the last ACE that the ACL's size still covers.
    slack: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Owner,
    Group,
    Sacl,
    Dacl,
}

/// A self-relative security descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    /// Revision (1).
    pub revision: u8,
    /// Resource-manager control bits, kept.
    pub sbz1: u8,
    /// Control flags (`SE_*`).
    pub control: u16,
    /// Owner SID, if the descriptor carries one.
    pub owner: Option<Sid>,
    /// Primary group SID, if carried.
    pub group: Option<Sid>,
    /// System ACL, if carried.
    pub sacl: Option<Acl>,
    /// Discretionary ACL, if carried.
    pub dacl: Option<Acl>,
    /// Bytes between the header and the first part.
    lead: Vec<u8>,
    /// The parts in buffer order, each with the bytes that followed it.
    layout: Vec<(Part, Vec<u8>)>,
}

impl SecurityDescriptor {
    /// A descriptor with only a DACL and the given control bits.
    pub fn with_dacl(control: u16, dacl: Acl) -> Self {
        SecurityDescriptor {
            revision: 1,
            sbz1: 0,
            control,
            owner: None,
            group: None,
            sacl: None,
            dacl: Some(dacl),
            lead: Vec::new(),
            layout: Vec::new(),
        }
    }
}

impl Acl {
    /// An empty ACL of the given revision.
    pub fn new(revision: u8) -> Self {
        Acl {
            revision,
            sbz1: 0,
            sbz2: 0,
            aces: Vec::new(),
            slack: Vec::new(),
        }
    }
}

impl Ace {
    /// Whether the ACE was inherited from a parent.
    pub fn is_inherited(&self) -> bool {
        self.flags & ace_flags::INHERITED != 0
    }
}
