//! Round trips, layouts, real descriptors from Samba, and the "cannot change password" edit.

use super::*;

/// The Everyone deny ACE as MS-DTYP lays it out (40 bytes).
const EVERYONE_DENY: [u8; 40] = [
    0x06, 0x00, 0x28, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x53, 0x1a, 0x72, 0xab,
    0x2f, 0x1e, 0xd0, 0x11, 0x98, 0x19, 0x00, 0xaa, 0x00, 0x40, 0x52, 0x9b, 0x01, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
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
        0x00, 0x02, 24, 0, 0x10, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0, 0xAB, 0xCD, 0xEF,
        0x01,
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
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
