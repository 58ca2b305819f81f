//! Reading the DACL of an SDDL string (MS-DTYP 2.5.1): the schema's `defaultSecurityDescriptor`
//! of the user class is SDDL, and a new account's DACL is built from it so that "cannot change
//! password" can travel in the account's Add (see `plan`). Only what default descriptors use is
//! read: allow and deny ACEs, plain and object, their flags, rights, GUIDs and trustees (by SID
//! or alias, domain-relative aliases resolved with the domain's SID). Anything else (conditional
//! or audit ACEs in the DACL, unknown aliases) is an error, never a guess.

use common::sid::Sid;

use crate::guid::Guid;
use crate::security_descriptor::{
    ACL_REVISION_DS, Ace, AceBody, Acl, SE_DACL_PRESENT, SE_SELF_RELATIVE, SecurityDescriptor,
    ace_flags, ace_type,
};

/// Why an SDDL string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the SDDL {context}: {reason}")]
pub struct SddlError {
    context: String,
    reason: String,
}

fn error(context: &str, reason: impl Into<String>) -> SddlError {
    SddlError {
        context: context.to_owned(),
        reason: reason.into(),
    }
}

/// The DACL (`D:` part) of `sddl`, with domain-relative aliases (`DA`, `DU`, `CA`, …) read
/// against `domain`.
pub fn parse_dacl(sddl: &str, domain: &Sid) -> Result<Acl, SddlError> {
    let start = section_start(sddl, 'D').ok_or_else(|| error(sddl, "it has no DACL (D:)"))?;
    let rest = &sddl[start + 2..];
    let end = ['O', 'G', 'S']
        .iter()
        .filter_map(|c| section_start(rest, *c))
        .min()
        .unwrap_or(rest.len());
    let body = &rest[..end];
    // Flags (P, AI, AR) come before the first ACE; they are the descriptor's control bits and
    // the DC sets its own on a new object.
    let aces_text = body.find('(').map_or("", |i| &body[i..]);
    let mut acl = Acl::new(ACL_REVISION_DS);
    let mut remaining = aces_text;
    while !remaining.is_empty() {
        let inner = remaining
            .strip_prefix('(')
            .and_then(|r| r.find(')').map(|close| (&r[..close], &r[close + 1..])))
            .ok_or_else(|| error(remaining, "an ACE is not in parentheses"))?;
        acl.aces.push(parse_ace(inner.0, domain)?);
        remaining = inner.1;
    }
    Ok(acl)
}

/// Where section `X:` starts, outside any ACE's parentheses.
fn section_start(text: &str, section: char) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 && c == section && bytes.get(i + 1) == Some(&b':') => {
                return Some(i);
            }
            _ => {}
        }
    }
    None
}

fn parse_ace(text: &str, domain: &Sid) -> Result<Ace, SddlError> {
    let fields: Vec<&str> = text.split(';').collect();
    let [kind, flags, rights, object, inherited, trustee] = fields.as_slice() else {
        return Err(error(text, "an ACE has six fields"));
    };
    let ace_type = match *kind {
        "A" => ace_type::ACCESS_ALLOWED,
        "D" => ace_type::ACCESS_DENIED,
        "OA" => ace_type::ACCESS_ALLOWED_OBJECT,
        "OD" => ace_type::ACCESS_DENIED_OBJECT,
        other => return Err(error(text, format!("ACE type {other} is not supported"))),
    };
    let flags = parse_flags(flags).ok_or_else(|| error(text, "unknown ACE flags"))?;
    let mask = parse_rights(rights).ok_or_else(|| error(text, "unknown rights"))?;
    let guid = |field: &str| -> Result<Option<Guid>, SddlError> {
        if field.is_empty() {
            Ok(None)
        } else {
            field
                .parse::<Guid>()
                .map(Some)
                .map_err(|e| error(text, e.to_string()))
        }
    };
    let (object_type, inherited_object_type) = (guid(object)?, guid(inherited)?);
    let sid = parse_trustee(trustee, domain).ok_or_else(|| error(text, "unknown trustee"))?;
    let body = if matches!(
        ace_type,
        ace_type::ACCESS_ALLOWED_OBJECT | ace_type::ACCESS_DENIED_OBJECT
    ) {
        AceBody::Object {
            mask,
            object_type,
            inherited_object_type,
            sid,
            extra: Vec::new(),
        }
    } else if object_type.is_some() || inherited_object_type.is_some() {
        return Err(error(text, "a plain ACE with object GUIDs"));
    } else {
        AceBody::Plain {
            mask,
            sid,
            extra: Vec::new(),
        }
    };
    Ok(Ace {
        ace_type,
        flags,
        body,
    })
}

fn two_letter_codes(text: &str) -> Option<Vec<&str>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    Some(
        (0..text.len())
            .step_by(2)
            .map(|i| &text[i..i + 2])
            .collect(),
    )
}

fn parse_flags(text: &str) -> Option<u8> {
    two_letter_codes(text)?
        .into_iter()
        .try_fold(0u8, |flags, code| {
            let bit = match code {
                "CI" => ace_flags::CONTAINER_INHERIT,
                "OI" => ace_flags::OBJECT_INHERIT,
                "NP" => ace_flags::NO_PROPAGATE_INHERIT,
                "IO" => ace_flags::INHERIT_ONLY,
                "ID" => ace_flags::INHERITED,
                "SA" => ace_flags::SUCCESSFUL_ACCESS,
                "FA" => ace_flags::FAILED_ACCESS,
                _ => return None,
            };
            Some(flags | bit)
        })
}

fn parse_rights(text: &str) -> Option<u32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).ok();
    }
    two_letter_codes(text)?
        .into_iter()
        .try_fold(0u32, |mask, code| {
            let bit = match code {
                "GA" => 0x1000_0000,
                "GR" => 0x8000_0000,
                "GW" => 0x4000_0000,
                "GX" => 0x2000_0000,
                "RC" => 0x0002_0000,
                "SD" => 0x0001_0000,
                "WD" => 0x0004_0000,
                "WO" => 0x0008_0000,
                "RP" => 0x0000_0010,
                "WP" => 0x0000_0020,
                "CC" => 0x0000_0001,
                "DC" => 0x0000_0002,
                "LC" => 0x0000_0004,
                "SW" => 0x0000_0008,
                "LO" => 0x0000_0080,
                "DT" => 0x0000_0040,
                "CR" => 0x0000_0100,
                _ => return None,
            };
            Some(mask | bit)
        })
}

/// A trustee: `S-1-…`, or an SDDL alias (MS-DTYP 2.5.1.1).
fn parse_trustee(text: &str, domain: &Sid) -> Option<Sid> {
    if text.starts_with("S-") {
        return text.parse().ok();
    }
    let fixed = |authority: u64, subs: &[u32]| Some(Sid::new(authority, subs));
    let builtin = |rid: u32| fixed(5, &[32, rid]);
    let in_domain = |rid: u32| Some(domain.child(rid));
    match text {
        "WD" => fixed(1, &[0]),
        "CO" => fixed(3, &[0]),
        "CG" => fixed(3, &[1]),
        "OW" => fixed(3, &[4]),
        "NU" => fixed(5, &[2]),
        "IU" => fixed(5, &[4]),
        "SU" => fixed(5, &[6]),
        "AN" => fixed(5, &[7]),
        "ED" => fixed(5, &[9]),
        "PS" => fixed(5, &[10]),
        "AU" => fixed(5, &[11]),
        "RC" => fixed(5, &[12]),
        "SY" => fixed(5, &[18]),
        "LS" => fixed(5, &[19]),
        "NS" => fixed(5, &[20]),
        "BA" => builtin(544),
        "BU" => builtin(545),
        "BG" => builtin(546),
        "PU" => builtin(547),
        "AO" => builtin(548),
        "SO" => builtin(549),
        "PO" => builtin(550),
        "BO" => builtin(551),
        "RE" => builtin(552),
        "RU" => builtin(554),
        "RD" => builtin(555),
        "NO" => builtin(556),
        "MU" => builtin(558),
        "LU" => builtin(559),
        "IS" => builtin(568),
        "CY" => builtin(569),
        "ER" => builtin(573),
        "RM" => builtin(580),
        // Domain-relative groups. Enterprise and schema admins belong to the forest root
        // domain, which is this domain in a single-domain forest (the usual case for a
        // default descriptor's readers; the user class's own descriptor names neither).
        "LA" => in_domain(500),
        "LG" => in_domain(501),
        "DA" => in_domain(512),
        "DU" => in_domain(513),
        "DG" => in_domain(514),
        "DC" => in_domain(515),
        "DD" => in_domain(516),
        "CA" => in_domain(517),
        "SA" => in_domain(518),
        "EA" => in_domain(519),
        "PA" => in_domain(520),
        "RO" => in_domain(498),
        "CN" => in_domain(522),
        "AP" => in_domain(525),
        "KA" => in_domain(526),
        "EK" => in_domain(527),
        "RS" => in_domain(553),
        _ => None,
    }
}

/// A descriptor holding only `dacl`, for an Add under the SD-flags control (DACL only): the DC
/// supplies owner, group and SACL, and adds the ACEs the new entry inherits.
pub fn dacl_only(dacl: Acl) -> SecurityDescriptor {
    SecurityDescriptor::with_dacl(SE_SELF_RELATIVE | SE_DACL_PRESENT, dacl)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user class's defaultSecurityDescriptor as a Samba 4.17 DC (and Windows Server
    /// 2016) holds it.
    const USER_DEFAULT: &str = "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPLCLORC;;;PS)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a54-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a56-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B2-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B3-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RP;037088f8-0ae1-11d2-b422-00a0c968f939;;RS)(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;;RS)(OA;;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;;RS)(A;;RC;;;AU)(OA;;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;;AU)(OA;;RP;77B5B886-944A-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;E45795B3-9455-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;e48d0154-bcf8-11d1-8702-00c04fb96050;;AU)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OA;;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;;RS)(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)(OA;;WPRP;6db69a1c-9422-11d1-aebd-0000f80367c1;;S-1-5-32-561)(OA;;WPRP;5805bc62-bdc9-4428-a5e2-856a0f4c185e;;S-1-5-32-561)";

    fn domain() -> Sid {
        "S-1-5-21-3231802682-4273849364-2482963525".parse().unwrap()
    }

    #[test]
    fn the_user_default_reads_back_as_the_same_descriptor() {
        let acl = parse_dacl(USER_DEFAULT, &domain()).unwrap();
        assert_eq!(acl.aces.len(), 24);
        // Written out as SDDL (rights in this project's order) and read again: the same ACEs.
        let again: String = acl.aces.iter().map(Ace::to_sddl).collect();
        assert_eq!(parse_dacl(&format!("D:{again}"), &domain()).unwrap(), acl);
        assert_eq!(
            acl.aces[0].to_sddl(),
            "(A;;RPWPCRCCDCLCLORCWDWOSDDTSW;;;DA)",
            "full control for Domain Admins, resolved to this domain and back"
        );
        assert_eq!(
            acl.aces[4].to_sddl(),
            "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)"
        );
    }

    #[test]
    fn domain_aliases_resolve_against_the_domain() {
        let acl = parse_dacl("D:(A;;RC;;;DA)(A;;0x100;;;S-1-5-32-561)", &domain()).unwrap();
        let sid = |i: usize| match &acl.aces[i].body {
            AceBody::Plain { sid, mask, .. } => (sid.to_string(), *mask),
            _ => panic!("plain ACE"),
        };
        assert_eq!(
            sid(0),
            (
                "S-1-5-21-3231802682-4273849364-2482963525-512".into(),
                0x2_0000
            )
        );
        assert_eq!(sid(1), ("S-1-5-32-561".into(), 0x100));
    }

    #[test]
    fn sections_around_the_dacl_and_its_flags_are_skipped() {
        let acl = parse_dacl("O:DAG:DAD:PAI(A;CIID;RC;;;AU)S:(AU;SA;WP;;;WD)", &domain()).unwrap();
        assert_eq!(acl.aces.len(), 1);
        assert_eq!(
            acl.aces[0].flags,
            ace_flags::CONTAINER_INHERIT | ace_flags::INHERITED
        );
    }

    #[test]
    fn what_is_not_understood_is_refused() {
        for bad in [
            "O:DA",
            "D:(XA;;RC;;;AU)",
            "D:(A;;ZZ;;;AU)",
            "D:(A;;RC;;;QQ)",
            "D:(A;;RC;;AU)",
            "D:(A;;RC;;;AU",
            "D:(A;;RC;not-a-guid;;AU)",
        ] {
            assert!(parse_dacl(bad, &domain()).is_err(), "{bad}");
        }
    }
}
