//! Descriptors, ACEs and their parts in SDDL (MS-DTYP 2.5.1), with SID aliases, for people
//! reading logs and dry runs. Reading SDDL is [`crate::sddl`]'s.

use std::fmt::Write as _;

use common::sid::Sid;

use super::{Ace, AceBody, SecurityDescriptor, ace_flags, ace_type};
use crate::guid::Guid;

impl SecurityDescriptor {
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

impl Ace {
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
