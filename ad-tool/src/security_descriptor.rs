//! Self-relative security descriptors (MS-DTYP 2.4.6) as AD stores them in
//! `nTSecurityDescriptor`, and the one edit this tool makes to them: the two deny ACEs behind
//! "User cannot change password" (MS-ADTS 5.1.3.2.1, User-Change-Password).
//!
//! Parsing keeps everything needed to write an unchanged descriptor back byte for byte: the
//! order and spacing of its parts, slack space at the end of an ACL, bytes after an ACE's SID,
//! and ACE types this code does not interpret (kept as opaque bytes).

use std::fmt::{self, Write as _};

use common::sid::{Sid, SidError};

use crate::guid::Guid;

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

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn u8(&self, at: usize) -> Result<u8, DescriptorError> {
        self.bytes
            .get(at)
            .copied()
            .ok_or(DescriptorError::Truncated(at))
    }
    fn u16(&self, at: usize) -> Result<u16, DescriptorError> {
        Ok(u16::from_le_bytes([self.u8(at)?, self.u8(at + 1)?]))
    }
    fn u32(&self, at: usize) -> Result<u32, DescriptorError> {
        Ok(u32::from_le_bytes([
            self.u8(at)?,
            self.u8(at + 1)?,
            self.u8(at + 2)?,
            self.u8(at + 3)?,
        ]))
    }
    fn slice(&self, from: usize, to: usize) -> Result<&[u8], DescriptorError> {
        self.bytes
            .get(from..to)
            .ok_or(DescriptorError::Truncated(to))
    }
}

impl SecurityDescriptor {
    /// Parses a self-relative descriptor.
    pub fn parse(bytes: &[u8]) -> Result<Self, DescriptorError> {
        let r = Reader { bytes };
        let revision = r.u8(0)?;
        let sbz1 = r.u8(1)?;
        let control = r.u16(2)?;
        if control & SE_SELF_RELATIVE == 0 {
            return Err(DescriptorError::NotSelfRelative);
        }
        let offsets = [
            (Part::Owner, r.u32(4)?),
            (Part::Group, r.u32(8)?),
            (Part::Sacl, r.u32(12)?),
            (Part::Dacl, r.u32(16)?),
        ];
        let mut present: Vec<(Part, usize)> = offsets
            .iter()
            .filter(|(_, off)| *off != 0)
            .map(|(p, off)| {
                usize::try_from(*off)
                    .map(|o| (*p, o))
                    .map_err(|_| DescriptorError::Inconsistent("offset"))
            })
            .collect::<Result<_, _>>()?;
        present.sort_by_key(|(_, off)| *off);

        let mut sd = SecurityDescriptor {
            revision,
            sbz1,
            control,
            owner: None,
            group: None,
            sacl: None,
            dacl: None,
            lead: Vec::new(),
            layout: Vec::new(),
        };
        let mut cursor = 20;
        for (i, (part, offset)) in present.iter().enumerate() {
            if *offset < cursor {
                return Err(DescriptorError::Inconsistent("part offset"));
            }
            let gap = r.slice(cursor, *offset)?.to_vec();
            if i == 0 {
                sd.lead = gap;
            } else if let Some(last) = sd.layout.last_mut() {
                last.1 = gap;
            }
            let end = match part {
                Part::Owner | Part::Group => {
                    let (sid, len) = Sid::from_bytes(r.slice(*offset, bytes.len())?)?;
                    if *part == Part::Owner {
                        sd.owner = Some(sid);
                    } else {
                        sd.group = Some(sid);
                    }
                    offset + len
                }
                Part::Sacl | Part::Dacl => {
                    let (acl, len) = Acl::parse(&r, *offset)?;
                    if *part == Part::Sacl {
                        sd.sacl = Some(acl);
                    } else {
                        sd.dacl = Some(acl);
                    }
                    offset + len
                }
            };
            sd.layout.push((*part, Vec::new()));
            cursor = end;
        }
        let tail = r.slice(cursor, bytes.len())?.to_vec();
        match sd.layout.last_mut() {
            Some(last) => last.1 = tail,
            None => sd.lead = tail,
        }
        Ok(sd)
    }

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

    /// Writes the descriptor in self-relative form; an unchanged descriptor comes out exactly as
    /// it was read. Parts added since parsing go after the existing ones; removed parts vanish.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut layout: Vec<(Part, &[u8])> = self
            .layout
            .iter()
            .filter(|(part, _)| self.has_part(*part))
            .map(|(part, gap)| (*part, gap.as_slice()))
            .collect();
        for part in [Part::Sacl, Part::Dacl, Part::Owner, Part::Group] {
            if self.has_part(part) && !layout.iter().any(|(p, _)| *p == part) {
                layout.push((part, &[]));
            }
        }
        let mut out = vec![0u8; 20];
        out[0] = self.revision;
        out[1] = self.sbz1;
        out[2..4].copy_from_slice(&self.control.to_le_bytes());
        out.extend_from_slice(&self.lead);
        for (part, gap) in layout {
            let offset = u32::try_from(out.len()).unwrap_or(u32::MAX).to_le_bytes();
            let slot = match part {
                Part::Owner => 4,
                Part::Group => 8,
                Part::Sacl => 12,
                Part::Dacl => 16,
            };
            out[slot..slot + 4].copy_from_slice(&offset);
            match part {
                Part::Owner => self.owner.iter().for_each(|s| s.write_to(&mut out)),
                Part::Group => self.group.iter().for_each(|s| s.write_to(&mut out)),
                Part::Sacl => self.sacl.iter().for_each(|a| a.write_to(&mut out)),
                Part::Dacl => self.dacl.iter().for_each(|a| a.write_to(&mut out)),
            }
            out.extend_from_slice(gap);
        }
        out
    }

    fn has_part(&self, part: Part) -> bool {
        match part {
            Part::Owner => self.owner.is_some(),
            Part::Group => self.group.is_some(),
            Part::Sacl => self.sacl.is_some(),
            Part::Dacl => self.dacl.is_some(),
        }
    }

    /// The descriptor in SDDL, for people reading it.
    pub fn to_sddl(&self) -> String {
        let mut out = String::new();
        if let Some(owner) = &self.owner {
            let _ = write!(out, "O:{}", sid_alias(owner));
        }
        if let Some(group) = &self.group {
            let _ = write!(out, "G:{}", sid_alias(group));
        }
        if let Some(dacl) = &self.dacl {
            out.push_str("D:");
            out.push_str(&acl_flags_sddl(self.control, true));
            dacl.aces.iter().for_each(|a| out.push_str(&a.to_sddl()));
        }
        if let Some(sacl) = &self.sacl {
            out.push_str("S:");
            out.push_str(&acl_flags_sddl(self.control, false));
            sacl.aces.iter().for_each(|a| out.push_str(&a.to_sddl()));
        }
        out
    }
}

fn acl_flags_sddl(control: u16, dacl: bool) -> String {
    let (protected, auto_inherited) = if dacl {
        (0x1000, 0x0400)
    } else {
        (0x2000, 0x0800)
    };
    let mut flags = String::new();
    if control & protected != 0 {
        flags.push('P');
    }
    if control & auto_inherited != 0 {
        flags.push_str("AI");
    }
    flags
}

impl Acl {
    fn parse(r: &Reader<'_>, at: usize) -> Result<(Self, usize), DescriptorError> {
        let revision = r.u8(at)?;
        let sbz1 = r.u8(at + 1)?;
        let size = usize::from(r.u16(at + 2)?);
        let count = usize::from(r.u16(at + 4)?);
        let sbz2 = r.u16(at + 6)?;
        if size < 8 {
            return Err(DescriptorError::Inconsistent("ACL size"));
        }
        let end = at + size;
        r.slice(at, end)?;
        let mut aces = Vec::with_capacity(count);
        let mut cursor = at + 8;
        for _ in 0..count {
            let (ace, len) = Ace::parse(r, cursor, end)?;
            aces.push(ace);
            cursor += len;
        }
        let slack = r.slice(cursor, end)?.to_vec();
        Ok((
            Acl {
                revision,
                sbz1,
                sbz2,
                aces,
                slack,
            },
            size,
        ))
    }

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

    fn write_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(self.revision);
        out.push(self.sbz1);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(
            &u16::try_from(self.aces.len())
                .unwrap_or(u16::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(&self.sbz2.to_le_bytes());
        for ace in &self.aces {
            ace.write_to(out);
        }
        out.extend_from_slice(&self.slack);
        let size = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
        out[start + 2..start + 4].copy_from_slice(&size.to_le_bytes());
    }
}

impl Ace {
    fn parse(r: &Reader<'_>, at: usize, acl_end: usize) -> Result<(Self, usize), DescriptorError> {
        let ace_type = r.u8(at)?;
        let flags = r.u8(at + 1)?;
        let size = usize::from(r.u16(at + 2)?);
        if size < 4 || at + size > acl_end {
            return Err(DescriptorError::Inconsistent("ACE size"));
        }
        let body_bytes = r.slice(at + 4, at + size)?;
        let body = match ace_type {
            ace_type::ACCESS_ALLOWED
            | ace_type::ACCESS_DENIED
            | ace_type::SYSTEM_AUDIT
            | ace_type::SYSTEM_ALARM
            | ace_type::SYSTEM_MANDATORY_LABEL => {
                let b = Reader { bytes: body_bytes };
                let mask = b.u32(0)?;
                let (sid, len) = Sid::from_bytes(b.slice(4, body_bytes.len())?)?;
                AceBody::Plain {
                    mask,
                    sid,
                    extra: body_bytes[4 + len..].to_vec(),
                }
            }
            ace_type::ACCESS_ALLOWED_OBJECT
            | ace_type::ACCESS_DENIED_OBJECT
            | ace_type::SYSTEM_AUDIT_OBJECT
            | ace_type::SYSTEM_ALARM_OBJECT => {
                let b = Reader { bytes: body_bytes };
                let mask = b.u32(0)?;
                let object_flags = b.u32(4)?;
                let mut cursor = 8;
                let mut guid = |present: bool| -> Result<Option<Guid>, DescriptorError> {
                    if !present {
                        return Ok(None);
                    }
                    let g = Guid::from_slice(b.slice(cursor, cursor + 16)?);
                    cursor += 16;
                    Ok(g)
                };
                let object_type = guid(object_flags & OBJECT_TYPE_PRESENT != 0)?;
                let inherited_object_type =
                    guid(object_flags & INHERITED_OBJECT_TYPE_PRESENT != 0)?;
                if object_flags & !(OBJECT_TYPE_PRESENT | INHERITED_OBJECT_TYPE_PRESENT) != 0 {
                    // Undefined flag bits: keep the ACE exactly as it is.
                    AceBody::Opaque(body_bytes.to_vec())
                } else {
                    let (sid, len) = Sid::from_bytes(b.slice(cursor, body_bytes.len())?)?;
                    AceBody::Object {
                        mask,
                        object_type,
                        inherited_object_type,
                        sid,
                        extra: body_bytes[cursor + len..].to_vec(),
                    }
                }
            }
            _ => AceBody::Opaque(body_bytes.to_vec()),
        };
        Ok((
            Ace {
                ace_type,
                flags,
                body,
            },
            size,
        ))
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[self.ace_type, self.flags, 0, 0]);
        match &self.body {
            AceBody::Plain { mask, sid, extra } => {
                out.extend_from_slice(&mask.to_le_bytes());
                sid.write_to(out);
                out.extend_from_slice(extra);
            }
            AceBody::Object {
                mask,
                object_type,
                inherited_object_type,
                sid,
                extra,
            } => {
                out.extend_from_slice(&mask.to_le_bytes());
                let flags = u32::from(object_type.is_some()) * OBJECT_TYPE_PRESENT
                    + u32::from(inherited_object_type.is_some()) * INHERITED_OBJECT_TYPE_PRESENT;
                out.extend_from_slice(&flags.to_le_bytes());
                for guid in [object_type, inherited_object_type].into_iter().flatten() {
                    out.extend_from_slice(&guid.0);
                }
                sid.write_to(out);
                out.extend_from_slice(extra);
            }
            AceBody::Opaque(bytes) => out.extend_from_slice(bytes),
        }
        let size = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
        out[start + 2..start + 4].copy_from_slice(&size.to_le_bytes());
    }

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

    /// Whether the ACE was inherited from a parent.
    pub fn is_inherited(&self) -> bool {
        self.flags & ace_flags::INHERITED != 0
    }

    /// Whether this ACE is exactly the explicit allow/deny of User-Change-Password for `sid`
    /// that "User cannot change password" is made of.
    fn is_change_password(&self, allow: bool, sid: &Sid) -> bool {
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
    fn is_deny(&self) -> bool {
        matches!(
            self.ace_type,
            ace_type::ACCESS_DENIED | ace_type::ACCESS_DENIED_OBJECT | 0x0A | 0x0C
        )
    }

    /// The ACE in SDDL.
    pub fn to_sddl(&self) -> String {
        let kind = match self.ace_type {
            ace_type::ACCESS_ALLOWED => "A",
            ace_type::ACCESS_DENIED => "D",
            ace_type::SYSTEM_AUDIT => "AU",
            ace_type::SYSTEM_ALARM => "AL",
            ace_type::ACCESS_ALLOWED_OBJECT => "OA",
            ace_type::ACCESS_DENIED_OBJECT => "OD",
            ace_type::SYSTEM_AUDIT_OBJECT => "OU",
            ace_type::SYSTEM_ALARM_OBJECT => "OL",
            ace_type::SYSTEM_MANDATORY_LABEL => "ML",
            _ => {
                return format!(
                    "(0x{:02X};{};<{} bytes>)",
                    self.ace_type,
                    flags_sddl(self.flags),
                    self.opaque_len()
                );
            }
        };
        let (mask, object, inherited, sid) = match &self.body {
            AceBody::Plain { mask, sid, .. } => (*mask, None, None, sid),
            AceBody::Object {
                mask,
                object_type,
                inherited_object_type,
                sid,
                ..
            } => (*mask, *object_type, *inherited_object_type, sid),
            AceBody::Opaque(bytes) => {
                return format!(
                    "({kind};{};<{} bytes>)",
                    flags_sddl(self.flags),
                    bytes.len()
                );
            }
        };
        let guid_text = |g: Option<Guid>| g.map(|g| g.to_string()).unwrap_or_default();
        format!(
            "({kind};{};{};{};{};{})",
            flags_sddl(self.flags),
            rights_sddl(mask),
            guid_text(object),
            guid_text(inherited),
            sid_alias(sid)
        )
    }

    fn opaque_len(&self) -> usize {
        match &self.body {
            AceBody::Opaque(bytes) => bytes.len(),
            _ => 0,
        }
    }
}

fn flags_sddl(flags: u8) -> String {
    [
        (ace_flags::CONTAINER_INHERIT, "CI"),
        (ace_flags::OBJECT_INHERIT, "OI"),
        (ace_flags::NO_PROPAGATE_INHERIT, "NP"),
        (ace_flags::INHERIT_ONLY, "IO"),
        (ace_flags::INHERITED, "ID"),
        (ace_flags::SUCCESSFUL_ACCESS, "SA"),
        (ace_flags::FAILED_ACCESS, "FA"),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, s)| *s)
    .collect()
}

fn rights_sddl(mask: u32) -> String {
    const RIGHTS: [(u32, &str); 17] = [
        (0x1000_0000, "GA"),
        (0x8000_0000, "GR"),
        (0x4000_0000, "GW"),
        (0x2000_0000, "GX"),
        (0x0000_0010, "RP"),
        (0x0000_0020, "WP"),
        (0x0000_0100, "CR"),
        (0x0000_0001, "CC"),
        (0x0000_0002, "DC"),
        (0x0000_0004, "LC"),
        (0x0000_0080, "LO"),
        (0x0002_0000, "RC"),
        (0x0004_0000, "WD"),
        (0x0008_0000, "WO"),
        (0x0001_0000, "SD"),
        (0x0000_0040, "DT"),
        (0x0000_0008, "SW"),
    ];
    let mut text = String::new();
    let mut rest = mask;
    for (bit, name) in RIGHTS {
        if mask & bit != 0 {
            text.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        format!("0x{mask:X}")
    } else {
        text
    }
}

/// SDDL aliases for the well-known SIDs this tool shows; other SIDs in `S-1-…` form.
fn sid_alias(sid: &Sid) -> String {
    let text = sid.to_string();
    let alias = match text.as_str() {
        "S-1-1-0" => "WD",
        "S-1-3-0" => "CO",
        "S-1-3-4" => "OW",
        "S-1-5-7" => "AN",
        "S-1-5-9" => "ED",
        "S-1-5-10" => "PS",
        "S-1-5-11" => "AU",
        "S-1-5-18" => "SY",
        "S-1-5-32-544" => "BA",
        "S-1-5-32-548" => "AO",
        "S-1-5-32-554" => "RU",
        _ => match (text.starts_with("S-1-5-21-"), sid.rid()) {
            (true, Some(512)) => "DA",
            (true, Some(517)) => "CA",
            (true, Some(519)) => "EA",
            (true, Some(553)) => "RS",
            _ => return text,
        },
    };
    alias.to_owned()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The Everyone deny ACE as MS-DTYP lays it out (40 bytes).
    const EVERYONE_DENY: [u8; 40] = [
        0x06, 0x00, 0x28, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x53, 0x1a, 0x72,
        0xab, 0x2f, 0x1e, 0xd0, 0x11, 0x98, 0x19, 0x00, 0xaa, 0x00, 0x40, 0x52, 0x9b, 0x01, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    ];

    fn allow(mask: u32, sid: &str, flags: u8) -> Ace {
        Ace {
            ace_type: ace_type::ACCESS_ALLOWED,
            flags,
            body: AceBody::Plain {
                mask,
                sid: sid.parse().unwrap(),
                extra: Vec::new(),
            },
        }
    }

    fn descriptor(aces: Vec<Ace>) -> SecurityDescriptor {
        let mut dacl = Acl::new(ACL_REVISION_DS);
        dacl.aces = aces;
        let sd = SecurityDescriptor {
            revision: 1,
            sbz1: 0,
            control: SE_SELF_RELATIVE | SE_DACL_PRESENT,
            owner: Some("S-1-5-32-544".parse().unwrap()),
            group: Some("S-1-5-32-544".parse().unwrap()),
            sacl: None,
            dacl: Some(dacl),
            lead: Vec::new(),
            layout: Vec::new(),
        };
        SecurityDescriptor::parse(&sd.to_bytes()).unwrap()
    }

    #[test]
    fn the_everyone_deny_ace_has_the_documented_bytes() {
        let mut out = Vec::new();
        Ace::change_password(false, Sid::everyone()).write_to(&mut out);
        assert_eq!(out, EVERYONE_DENY);
        assert_eq!(
            Ace::change_password(false, Sid::everyone()).to_sddl(),
            "(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)"
        );
    }

    #[test]
    fn cannot_change_password_replaces_the_allow_aces_and_keeps_the_rest() {
        let other = allow(0x0002_0094, "S-1-5-11", 0);
        let inherited = allow(
            0x10,
            "S-1-5-32-554",
            ace_flags::INHERITED | ace_flags::CONTAINER_INHERIT,
        );
        let mut sd = descriptor(vec![
            other.clone(),
            Ace::change_password(true, Sid::principal_self()),
            Ace::change_password(true, Sid::everyone()),
            inherited.clone(),
        ]);
        let dacl = sd.dacl.as_mut().unwrap();
        assert!(!denies_change_password(dacl));
        let edits = set_cannot_change_password(dacl, true);
        assert_eq!(edits.len(), 4, "{edits:?}");
        assert_eq!(
            dacl.aces,
            vec![
                Ace::change_password(false, Sid::everyone()),
                Ace::change_password(false, Sid::principal_self()),
                other.clone(),
                inherited.clone()
            ]
        );
        assert!(denies_change_password(dacl));
        // A second pass changes nothing.
        assert!(set_cannot_change_password(dacl, true).is_empty());
        // And the result survives serialization.
        let bytes = sd.to_bytes();
        assert_eq!(SecurityDescriptor::parse(&bytes).unwrap().to_bytes(), bytes);
        // Clearing it puts the allows back after the explicit denies, before the others.
        let dacl = sd.dacl.as_mut().unwrap();
        let edits = set_cannot_change_password(dacl, false);
        assert_eq!(edits.len(), 4);
        assert_eq!(
            dacl.aces,
            vec![
                Ace::change_password(true, Sid::everyone()),
                Ace::change_password(true, Sid::principal_self()),
                other,
                inherited
            ]
        );
    }

    #[test]
    fn new_deny_aces_go_after_nothing_but_each_other() {
        let other_deny = Ace {
            ace_type: ace_type::ACCESS_DENIED,
            ..allow(0x10, "S-1-5-7", 0)
        };
        let mut sd = descriptor(vec![other_deny.clone()]);
        let dacl = sd.dacl.as_mut().unwrap();
        set_cannot_change_password(dacl, true);
        assert_eq!(dacl.aces[2], other_deny);
        set_cannot_change_password(dacl, false);
        // Allow ACEs go after every explicit deny.
        assert_eq!(dacl.aces[0], other_deny);
        assert_eq!(dacl.aces[1], Ace::change_password(true, Sid::everyone()));
    }

    #[test]
    fn inherited_or_broader_aces_are_not_taken_for_ours() {
        let mut inherited_allow = Ace::change_password(true, Sid::everyone());
        inherited_allow.flags = ace_flags::INHERITED;
        let mut sd = descriptor(vec![inherited_allow.clone()]);
        let dacl = sd.dacl.as_mut().unwrap();
        let edits = set_cannot_change_password(dacl, true);
        assert!(edits.iter().all(|e| matches!(e, AceEdit::Added(_))));
        assert!(dacl.aces.contains(&inherited_allow));
    }

    #[test]
    fn acl_revision_is_raised_for_object_aces() {
        let mut sd = descriptor(vec![allow(0x10, "S-1-5-11", 0)]);
        let dacl = sd.dacl.as_mut().unwrap();
        dacl.revision = 2;
        set_cannot_change_password(dacl, true);
        assert_eq!(dacl.revision, ACL_REVISION_DS);
    }

    #[test]
    fn odd_layouts_round_trip_byte_for_byte() {
        // DACL before owner, a gap after the header, slack in the ACL, padding after a SID,
        // an opaque callback ACE, and trailing bytes.
        let mut bytes = vec![
            1, 0, 0x04, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        bytes.extend_from_slice(&[0xEE, 0xEE, 0xEE, 0xEE]); // gap
        let dacl_offset = bytes.len();
        let mut acl = vec![4, 0, 0, 0, 3, 0, 0, 0];
        acl.extend_from_slice(&EVERYONE_DENY);
        // Plain allow with 4 bytes after the SID.
        acl.extend_from_slice(&[
            0x00, 0x02, 24, 0, 0x10, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0, 0xAB, 0xCD,
            0xEF, 0x01,
        ]);
        // Callback ACE (type 9): opaque.
        acl.extend_from_slice(&[0x09, 0x00, 8, 0, 1, 2, 3, 4]);
        acl.extend_from_slice(&[0, 0, 0, 0]); // slack
        let acl_len = u16::try_from(acl.len()).unwrap();
        acl[2..4].copy_from_slice(&acl_len.to_le_bytes());
        bytes.extend_from_slice(&acl);
        let owner_offset = bytes.len();
        bytes.extend_from_slice(&Sid::principal_self().to_bytes());
        bytes.extend_from_slice(&[0x77, 0x77]); // trailing
        bytes[4..8].copy_from_slice(&u32::try_from(owner_offset).unwrap().to_le_bytes());
        bytes[16..20].copy_from_slice(&u32::try_from(dacl_offset).unwrap().to_le_bytes());
        let sd = SecurityDescriptor::parse(&bytes).unwrap();
        assert_eq!(sd.dacl.as_ref().unwrap().aces.len(), 3);
        assert!(matches!(
            sd.dacl.as_ref().unwrap().aces[2].body,
            AceBody::Opaque(_)
        ));
        assert_eq!(sd.to_bytes(), bytes);
    }

    /// Descriptors read from the lab's Samba DC (see fixtures/security-descriptors/README.md).
    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/security-descriptors")
            .join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        crate::ldif::base64_decode(&text).expect("fixtures are base64")
    }

    const FIXTURES: [&str; 5] = [
        "domain-root.full.b64",
        "user-default.dacl.b64",
        "user-default.full.b64",
        "service-account.dacl.b64",
        "ou-delegated.dacl.b64",
    ];

    #[test]
    fn real_descriptors_round_trip_byte_for_byte() {
        for name in FIXTURES {
            let bytes = fixture(name);
            assert!(bytes.len() > 500, "{name} is a real descriptor");
            let sd = SecurityDescriptor::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(sd.to_bytes(), bytes, "{name}");
            assert_eq!(sd.owner.is_some(), name.ends_with(".full.b64"), "{name}");
        }
    }

    #[test]
    fn real_descriptors_read_as_samba_wrote_them() {
        let service = SecurityDescriptor::parse(&fixture("service-account.dacl.b64")).unwrap();
        assert!(denies_change_password(service.dacl.as_ref().unwrap()));
        let sddl = service.to_sddl();
        assert!(sddl.starts_with("D:AI(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)"), "{sddl}");
        let user = SecurityDescriptor::parse(&fixture("user-default.dacl.b64")).unwrap();
        assert!(!denies_change_password(user.dacl.as_ref().unwrap()));
        assert!(
            user.to_sddl()
                .contains("(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)")
        );
    }

    #[test]
    fn editing_a_default_user_descriptor_gives_the_service_account_dacl() {
        // Samba's default DACL for a new user, edited here, equals the DACL ad-tool left on a
        // real service account: same ACEs, same order, byte for byte.
        let mut user = SecurityDescriptor::parse(&fixture("user-default.dacl.b64")).unwrap();
        let service = SecurityDescriptor::parse(&fixture("service-account.dacl.b64")).unwrap();
        let dacl = user.dacl.as_mut().unwrap();
        let inherited_before = dacl.aces.iter().filter(|a| a.is_inherited()).count();
        let edits = set_cannot_change_password(dacl, true);
        assert_eq!(edits.len(), 4);
        assert_eq!(
            dacl.aces.iter().filter(|a| a.is_inherited()).count(),
            inherited_before
        );
        assert_eq!(
            dacl.aces.iter().filter(|a| !a.is_inherited()).count(),
            service
                .dacl
                .as_ref()
                .unwrap()
                .aces
                .iter()
                .filter(|a| !a.is_inherited())
                .count()
        );
        let explicit = |sd: &Acl| {
            sd.aces
                .iter()
                .filter(|a| !a.is_inherited())
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(explicit(dacl), explicit(service.dacl.as_ref().unwrap()));
    }

    #[test]
    fn malformed_descriptors_are_refused_not_panicked_on() {
        assert_eq!(
            SecurityDescriptor::parse(&[1, 0]),
            Err(DescriptorError::Truncated(2))
        );
        let not_self_relative = [
            1u8, 0, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(
            SecurityDescriptor::parse(&not_self_relative),
            Err(DescriptorError::NotSelfRelative)
        );
        // DACL offset beyond the end.
        let mut bad = not_self_relative;
        bad[3] = 0x80;
        bad[16] = 200;
        assert!(SecurityDescriptor::parse(&bad).is_err());
        // Every truncation of a real descriptor fails cleanly.
        let sd = descriptor(vec![Ace::change_password(false, Sid::everyone())]).to_bytes();
        for len in 0..sd.len() {
            let _ = SecurityDescriptor::parse(&sd[..len]);
        }
    }
}
