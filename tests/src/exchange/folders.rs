//! A mailbox's folders as the simulator keeps them: the well-known folders Exchange creates in
//! every mailbox, named in the mailbox's language (Exchange names them at the first logon, or
//! when `Set-MailboxRegionalConfiguration -LocalizeDefaultFolderName` runs), their ids in the
//! formats ConvertId converts between, and which properties a folder shape asks for. Pure: no
//! state and no I/O here.

use std::fmt::Write as _;

use md5::{Digest, Md5};

use super::soap::Element;

/// Which schema type a folder is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// `t:Folder`.
    Generic,
    /// `t:CalendarFolder`.
    Calendar,
    /// `t:ContactsFolder`.
    Contacts,
    /// `t:TasksFolder`.
    Tasks,
}

impl FolderKind {
    /// The element the folder is written as.
    pub fn element(self) -> &'static str {
        match self {
            FolderKind::Generic => "Folder",
            FolderKind::Calendar => "CalendarFolder",
            FolderKind::Contacts => "ContactsFolder",
            FolderKind::Tasks => "TasksFolder",
        }
    }

    /// Whether the schema type carries `UnreadCount` (`t:FolderType` and what derives from
    /// it; calendar and contacts folders do not).
    pub fn has_unread_count(self) -> bool {
        matches!(self, FolderKind::Generic | FolderKind::Tasks)
    }
}

/// The language a mailbox's folders are named in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Culture {
    /// English (the default).
    #[default]
    English,
    /// Dutch.
    Dutch,
    /// German.
    German,
}

impl Culture {
    /// From a culture tag (`nl-NL`, `de-DE`, `en-US`); other languages read as English.
    pub fn from_tag(tag: &str) -> Culture {
        match tag.split(['-', '_']).next().unwrap_or("") {
            t if t.eq_ignore_ascii_case("nl") => Culture::Dutch,
            t if t.eq_ignore_ascii_case("de") => Culture::German,
            _ => Culture::English,
        }
    }
}

/// One of the folders every mailbox has.
#[derive(Debug, PartialEq, Eq)]
pub struct WellKnown {
    /// Its `DistinguishedFolderId`.
    pub name: &'static str,
    /// Its number in the mailbox (the last part of its entry id).
    pub number: u8,
    /// Its parent's number (`root` has none).
    pub parent: Option<u8>,
    /// `FolderClass`.
    pub class: Option<&'static str>,
    /// Its schema type.
    pub kind: FolderKind,
    /// Its display name in English, Dutch and German (as Outlook and OWA name them).
    names: [&'static str; 3],
}

impl WellKnown {
    /// Its display name in `culture`.
    pub fn display_name(&self, culture: Culture) -> &'static str {
        match culture {
            Culture::English => self.names[0],
            Culture::Dutch => self.names[1],
            Culture::German => self.names[2],
        }
    }
}

const ROOT: u8 = 1;
const TOP: u8 = 2;

/// The well-known folders, parents first.
pub const WELL_KNOWN: [WellKnown; 13] = [
    WellKnown {
        name: "root",
        number: ROOT,
        parent: None,
        class: None,
        kind: FolderKind::Generic,
        names: ["", "", ""],
    },
    WellKnown {
        name: "msgfolderroot",
        number: TOP,
        parent: Some(ROOT),
        class: None,
        kind: FolderKind::Generic,
        names: [
            "Top of Information Store",
            "Bovenste map van gegevensarchief",
            "Oberste Ebene des Informationsspeichers",
        ],
    },
    WellKnown {
        name: "inbox",
        number: 3,
        parent: Some(TOP),
        class: Some("IPF.Note"),
        kind: FolderKind::Generic,
        names: ["Inbox", "Postvak IN", "Posteingang"],
    },
    WellKnown {
        name: "calendar",
        number: 4,
        parent: Some(TOP),
        class: Some("IPF.Appointment"),
        kind: FolderKind::Calendar,
        names: ["Calendar", "Agenda", "Kalender"],
    },
    WellKnown {
        name: "contacts",
        number: 5,
        parent: Some(TOP),
        class: Some("IPF.Contact"),
        kind: FolderKind::Contacts,
        names: ["Contacts", "Contactpersonen", "Kontakte"],
    },
    WellKnown {
        name: "deleteditems",
        number: 6,
        parent: Some(TOP),
        class: Some("IPF.Note"),
        kind: FolderKind::Generic,
        names: ["Deleted Items", "Verwijderde items", "Gelöschte Elemente"],
    },
    WellKnown {
        name: "drafts",
        number: 7,
        parent: Some(TOP),
        class: Some("IPF.Note"),
        kind: FolderKind::Generic,
        names: ["Drafts", "Concepten", "Entwürfe"],
    },
    WellKnown {
        name: "sentitems",
        number: 8,
        parent: Some(TOP),
        class: Some("IPF.Note"),
        kind: FolderKind::Generic,
        names: ["Sent Items", "Verzonden items", "Gesendete Elemente"],
    },
    WellKnown {
        name: "tasks",
        number: 9,
        parent: Some(TOP),
        class: Some("IPF.Task"),
        kind: FolderKind::Tasks,
        names: ["Tasks", "Taken", "Aufgaben"],
    },
    WellKnown {
        name: "outbox",
        number: 10,
        parent: Some(TOP),
        class: Some("IPF.Note"),
        kind: FolderKind::Generic,
        names: ["Outbox", "Postvak UIT", "Postausgang"],
    },
    WellKnown {
        name: "junkemail",
        number: 11,
        parent: Some(TOP),
        class: Some("IPF.Note"),
        kind: FolderKind::Generic,
        names: ["Junk Email", "Ongewenste e-mail", "Junk-E-Mail"],
    },
    WellKnown {
        name: "notes",
        number: 12,
        parent: Some(TOP),
        class: Some("IPF.StickyNote"),
        kind: FolderKind::Generic,
        names: ["Notes", "Notities", "Notizen"],
    },
    WellKnown {
        name: "journal",
        number: 13,
        parent: Some(TOP),
        class: Some("IPF.Journal"),
        kind: FolderKind::Generic,
        names: ["Journal", "Logboek", "Journal"],
    },
];

/// The calendar.
pub const CALENDAR: &WellKnown = &WELL_KNOWN[3];

/// A well-known folder by its distinguished name.
pub fn by_name(name: &str) -> Option<&'static WellKnown> {
    WELL_KNOWN.iter().find(|f| f.name == name)
}

/// A well-known folder by its number.
pub fn by_number(number: u8) -> Option<&'static WellKnown> {
    WELL_KNOWN.iter().find(|f| f.number == number)
}

/// The folders directly below `parent`.
pub fn children(parent: &WellKnown) -> impl Iterator<Item = &'static WellKnown> + '_ {
    WELL_KNOWN
        .iter()
        .filter(move |f| f.parent == Some(parent.number))
}

/// Every folder below `parent`, depth first.
pub fn descendants(parent: &WellKnown) -> Vec<&'static WellKnown> {
    let mut found = Vec::new();
    for child in children(parent) {
        found.push(child);
        found.extend(descendants(child));
    }
    found
}

/// The id formats ConvertId converts between (`t:IdFormatType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFormat {
    /// The id EWS uses since Exchange 2010 SP1.
    EwsId,
    /// Exchange 2007's EWS id.
    EwsLegacyId,
    /// The MAPI entry id, base64.
    EntryId,
    /// The MAPI entry id, hexadecimal (as Outlook's object model shows it).
    HexEntryId,
    /// The store id.
    StoreId,
    /// Outlook Web App's id.
    OwaId,
}

impl IdFormat {
    /// From its schema name.
    pub fn from_name(name: &str) -> Option<IdFormat> {
        Some(match name {
            "EwsId" => IdFormat::EwsId,
            "EwsLegacyId" => IdFormat::EwsLegacyId,
            "EntryId" => IdFormat::EntryId,
            "HexEntryId" => IdFormat::HexEntryId,
            "StoreId" => IdFormat::StoreId,
            "OwaId" => IdFormat::OwaId,
            _ => return None,
        })
    }

    /// Whether an id of this format names its mailbox itself (the others need the
    /// `Mailbox` attribute beside them).
    fn names_mailbox(self) -> bool {
        matches!(self, IdFormat::EwsId | IdFormat::EwsLegacyId)
    }
}

const ENTRY_ID_LEN: usize = 46;
const EWS_PREFIX: [u8; 4] = [0x00, 0x03, 0x24, 0x00];
const LEGACY_PREFIX: [u8; 4] = [0x00, 0x00, 0x24, 0x00];
const OWA_PREFIX: [u8; 4] = [0x2E, 0x00, 0x00, 0x00];
const STORE_PREFIX: [u8; 1] = [0x01];

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A folder's MAPI entry id, laid out as Exchange lays out folder entry ids: flags, the
/// mailbox store's provider id, the folder type, the database's id, a global counter and
/// padding (46 bytes).
fn entry_id(mailbox: &str, number: u8) -> [u8; ENTRY_ID_LEN] {
    let mut id = [0u8; ENTRY_ID_LEN];
    id[4..20].copy_from_slice(&md5(&[b"store:", mailbox.to_ascii_lowercase().as_bytes()]));
    id[20..22].copy_from_slice(&[0x01, 0x00]);
    id[22..38].copy_from_slice(&md5(&[b"lab mailbox database"]));
    id[43] = number;
    id
}

/// The mailbox and folder an entry id names, if `mailbox` is its store.
fn read_entry_id(bytes: &[u8], mailbox: &str) -> Option<u8> {
    let expected = entry_id(mailbox, 0);
    (bytes.len() == ENTRY_ID_LEN && bytes[..43] == expected[..43] && bytes[44..] == [0, 0])
        .then_some(bytes[43])
        .filter(|n| by_number(*n).is_some())
}

/// The id of `folder` in `mailbox`, in `format`.
pub fn folder_id(format: IdFormat, mailbox: &str, number: u8) -> String {
    let entry = entry_id(mailbox, number);
    let with_mailbox = |prefix: &[u8]| {
        let address = mailbox.to_ascii_lowercase();
        let mut bytes = prefix.to_vec();
        bytes.push(u8::try_from(address.len()).unwrap_or(u8::MAX));
        bytes.extend_from_slice(address.as_bytes());
        bytes.extend_from_slice(&entry);
        common::base64::encode(&bytes)
    };
    let prefixed = |prefix: &[u8]| {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&entry);
        common::base64::encode(&bytes)
    };
    match format {
        IdFormat::EwsId => with_mailbox(&EWS_PREFIX),
        IdFormat::EwsLegacyId => with_mailbox(&LEGACY_PREFIX),
        IdFormat::EntryId => common::base64::encode(&entry),
        IdFormat::HexEntryId => entry.iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02X}");
            hex
        }),
        IdFormat::StoreId => prefixed(&STORE_PREFIX),
        IdFormat::OwaId => prefixed(&OWA_PREFIX),
    }
}

/// The mailbox and folder number an id names; `mailbox` is the `Mailbox` beside it, needed
/// by the formats that do not carry it.
pub fn parse_id(format: IdFormat, id: &str, mailbox: Option<&str>) -> Option<(String, u8)> {
    if format.names_mailbox() {
        let prefix = if format == IdFormat::EwsId {
            EWS_PREFIX
        } else {
            LEGACY_PREFIX
        };
        let bytes = common::base64::decode(id)?;
        let rest = bytes.strip_prefix(&prefix)?;
        let (&len, rest) = rest.split_first()?;
        let (address, entry) = rest.split_at_checked(usize::from(len))?;
        let address = std::str::from_utf8(address).ok()?;
        return read_entry_id(entry, address).map(|n| (address.to_owned(), n));
    }
    let mailbox = mailbox?;
    let entry = match format {
        IdFormat::EntryId => common::base64::decode(id)?,
        IdFormat::HexEntryId => (0..id.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(id.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?,
        IdFormat::StoreId => common::base64::decode(id)?
            .strip_prefix(&STORE_PREFIX)?
            .to_vec(),
        IdFormat::OwaId => common::base64::decode(id)?
            .strip_prefix(&OWA_PREFIX)?
            .to_vec(),
        IdFormat::EwsId | IdFormat::EwsLegacyId => return None,
    };
    read_entry_id(&entry, mailbox).map(|n| (mailbox.to_ascii_lowercase(), n))
}

/// The change key of a folder that never changes in the lab.
pub fn fixed_change_key(number: u8) -> String {
    common::base64::encode(&[0x01, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, number])
}

/// The properties a folder shape asks for (beyond the id, which is always there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wanted {
    /// `folder:ParentFolderId`.
    pub parent: bool,
    /// `folder:FolderClass`.
    pub class: bool,
    /// `folder:DisplayName`.
    pub display_name: bool,
    /// `folder:TotalCount`.
    pub total: bool,
    /// `folder:ChildFolderCount`.
    pub child_count: bool,
    /// `folder:EffectiveRights`.
    pub effective_rights: bool,
    /// `folder:DistinguishedFolderId`.
    pub distinguished: bool,
    /// `folder:PermissionSet`.
    pub permissions: bool,
    /// `folder:UnreadCount`.
    pub unread: bool,
}

/// Reads a `FolderShape`. `AllProperties` includes the permission set on Exchange 2010 only
/// (from 2013 on it must be asked for by name); `DistinguishedFolderId` exists from the
/// Exchange 2013 schema on. An unknown field is the request's schema error.
pub fn wanted(shape: Option<&Element>, permission_set_in_all: bool) -> Result<Wanted, String> {
    let mut wanted = Wanted::default();
    let base = shape
        .and_then(|s| s.child("BaseShape"))
        .map_or("Default", |b| b.text.trim());
    match base {
        "IdOnly" => {}
        "Default" => {
            wanted.display_name = true;
            wanted.total = true;
            wanted.child_count = true;
            wanted.unread = true;
        }
        "AllProperties" => {
            wanted = Wanted {
                parent: true,
                class: true,
                display_name: true,
                total: true,
                child_count: true,
                effective_rights: true,
                distinguished: false,
                permissions: permission_set_in_all,
                unread: true,
            };
        }
        other => return Err(format!("'{other}' is not a valid BaseShape value")),
    }
    let additional = shape
        .and_then(|s| s.child("AdditionalProperties"))
        .map(|a| a.children.as_slice())
        .unwrap_or_default();
    for field in additional {
        if field.name != "FieldURI" {
            // Extended and indexed properties: none are set on the lab's folders.
            continue;
        }
        match field.attribute("FieldURI").unwrap_or("") {
            "folder:FolderId"
            | "folder:ManagedFolderInformation"
            | "folder:SharingEffectiveRights"
            | "folder:PolicyTag"
            | "folder:ArchiveTag" => {}
            "folder:ParentFolderId" => wanted.parent = true,
            "folder:FolderClass" => wanted.class = true,
            "folder:DisplayName" => wanted.display_name = true,
            "folder:TotalCount" => wanted.total = true,
            "folder:ChildFolderCount" => wanted.child_count = true,
            "folder:EffectiveRights" => wanted.effective_rights = true,
            "folder:DistinguishedFolderId" => wanted.distinguished = true,
            "folder:PermissionSet" => wanted.permissions = true,
            "folder:UnreadCount" => wanted.unread = true,
            other if other.starts_with("folder:") => {}
            other => {
                return Err(format!("the property '{other}' is not a folder property"));
            }
        }
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_hangs_below_the_root() {
        let root = by_name("root").unwrap();
        let top = by_name("msgfolderroot").unwrap();
        assert_eq!(children(root).collect::<Vec<_>>(), [top]);
        assert_eq!(descendants(root).len(), WELL_KNOWN.len() - 1);
        assert!(children(top).any(|f| f.name == "calendar"));
        for folder in &WELL_KNOWN[1..] {
            assert!(
                by_number(folder.parent.unwrap()).is_some(),
                "{}",
                folder.name
            );
        }
        assert_eq!(CALENDAR.name, "calendar");
    }

    #[test]
    fn names_follow_the_mailbox_language() {
        assert_eq!(CALENDAR.display_name(Culture::from_tag("nl-NL")), "Agenda");
        assert_eq!(
            CALENDAR.display_name(Culture::from_tag("de-DE")),
            "Kalender"
        );
        assert_eq!(
            CALENDAR.display_name(Culture::from_tag("fr-FR")),
            "Calendar"
        );
        assert_eq!(
            by_name("inbox").unwrap().display_name(Culture::Dutch),
            "Postvak IN"
        );
    }

    #[test]
    fn every_id_format_converts_back() {
        let mailbox = "Anna.deVries@lab.example";
        for format in [
            IdFormat::EwsId,
            IdFormat::EwsLegacyId,
            IdFormat::EntryId,
            IdFormat::HexEntryId,
            IdFormat::StoreId,
            IdFormat::OwaId,
        ] {
            let id = folder_id(format, mailbox, CALENDAR.number);
            assert_eq!(
                parse_id(format, &id, Some(mailbox)),
                Some(("anna.devries@lab.example".to_owned(), CALENDAR.number)),
                "{format:?} {id}"
            );
            // Another mailbox's store does not own it.
            if !format.names_mailbox() {
                assert_eq!(parse_id(format, &id, Some("bram@lab.example")), None);
            }
        }
        assert!(folder_id(IdFormat::EwsId, mailbox, 4).starts_with("AAMkA"));
        assert_eq!(folder_id(IdFormat::HexEntryId, mailbox, 4).len(), 92);
        assert_eq!(parse_id(IdFormat::EwsId, "DUMMY", Some("DUMMY")), None);
        assert_eq!(parse_id(IdFormat::EntryId, "AAAA", None), None);
    }

    #[test]
    fn shapes_ask_for_what_exchange_returns() {
        let shape = |xml: &str| {
            super::super::soap::parse(
                format!(r#"<s:Envelope xmlns:s="s"><s:Body><m:FolderShape xmlns:m="m">{xml}</m:FolderShape></s:Body></s:Envelope>"#).as_bytes(),
            )
            .unwrap()
            .path(&["Body", "FolderShape"])
            .unwrap()
            .clone()
        };
        assert_eq!(
            wanted(Some(&shape("<t:BaseShape>IdOnly</t:BaseShape>")), false),
            Ok(Wanted::default())
        );
        let all = wanted(
            Some(&shape("<t:BaseShape>AllProperties</t:BaseShape>")),
            false,
        )
        .unwrap();
        assert!(all.parent && all.effective_rights && !all.permissions && !all.distinguished);
        assert!(
            wanted(
                Some(&shape("<t:BaseShape>AllProperties</t:BaseShape>")),
                true
            )
            .unwrap()
            .permissions
        );
        let extra = wanted(
            Some(&shape(
                r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DistinguishedFolderId"/><t:FieldURI FieldURI="folder:PermissionSet"/></t:AdditionalProperties>"#,
            )),
            false,
        )
        .unwrap();
        assert!(extra.distinguished && extra.permissions && !extra.display_name);
        assert!(wanted(Some(&shape("<t:BaseShape>Everything</t:BaseShape>")), false).is_err());
    }
}
