//! The binary, self-relative form of descriptors, ACLs and ACEs (MS-DTYP 2.4.4-2.4.6).

use common::sid::Sid;

use super::{
    Ace, AceBody, Acl, DescriptorError, INHERITED_OBJECT_TYPE_PRESENT, OBJECT_TYPE_PRESENT, Part,
    SE_SELF_RELATIVE, SecurityDescriptor, ace_type,
};
use crate::guid::Guid;

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

    pub(super) fn write_to(&self, out: &mut Vec<u8>) {
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

    pub(super) fn write_to(&self, out: &mut Vec<u8>) {
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

    pub(super) fn opaque_len(&self) -> usize {
        match &self.body {
            AceBody::Opaque(bytes) => bytes.len(),
            _ => 0,
        }
    }
}
