//! The simulator's answers, written in the schema's element order: folders of every kind with
//! the properties their shape asked for, FindFolder pages, ConvertId results, name resolutions
//! and distribution list expansions.

use std::fmt::Write as _;

use super::folders::FolderKind;
use super::model::{Read, Rights, Scope};
use super::soap::escape;

/// One permission entry as written in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownEntry {
    /// `Default` or `Anonymous`.
    pub distinguished: Option<&'static str>,
    /// The SID.
    pub sid: Option<String>,
    /// The primary SMTP address.
    pub address: Option<String>,
    /// The display name.
    pub display_name: Option<String>,
    /// The identity of a user outside the organisation (federated sharing), who has no SID
    /// or address here.
    pub external: Option<String>,
    /// The rights.
    pub rights: Rights,
    /// The level name.
    pub level: &'static str,
}

/// A folder as a response shows it: the id always, the rest as the shape asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderView {
    /// Its schema type.
    pub kind: FolderKind,
    /// Id.
    pub id: String,
    /// Change key (left out when empty).
    pub change_key: String,
    /// The parent's id and change key.
    pub parent: Option<(String, String)>,
    /// `FolderClass`.
    pub class: Option<&'static str>,
    /// `DisplayName`.
    pub display_name: Option<String>,
    /// `TotalCount`.
    pub total: Option<u32>,
    /// `ChildFolderCount`.
    pub child_count: Option<u32>,
    /// `EffectiveRights`: everything, for the owner or an account with full access.
    pub effective_rights: bool,
    /// `DistinguishedFolderId`.
    pub distinguished: Option<&'static str>,
    /// Entries and unknown entries.
    pub permissions: Option<(Vec<ShownEntry>, Vec<String>)>,
    /// `UnreadCount` (only folder types that have one).
    pub unread: Option<u32>,
}

impl FolderView {
    /// A folder shown by its id alone.
    pub fn id_only(kind: FolderKind, id: String, change_key: String) -> Self {
        FolderView {
            kind,
            id,
            change_key,
            parent: None,
            class: None,
            display_name: None,
            total: None,
            child_count: None,
            effective_rights: false,
            distinguished: None,
            permissions: None,
            unread: None,
        }
    }
}

fn scope(s: Scope) -> &'static str {
    match s {
        Scope::None => "None",
        Scope::Owned => "Owned",
        Scope::All => "All",
    }
}

fn read(r: Read) -> &'static str {
    match r {
        Read::None => "None",
        Read::TimeOnly => "TimeOnly",
        Read::TimeAndSubjectAndLocation => "TimeAndSubjectAndLocation",
        Read::FullDetails => "FullDetails",
    }
}

fn write_id(xml: &mut String, element: &str, id: &str, change_key: &str) {
    // An empty change key is left out (ChangeKey is optional in the schema).
    if change_key.is_empty() {
        let _ = write!(xml, r#"<t:{element} Id="{}"/>"#, escape(id));
    } else {
        let _ = write!(
            xml,
            r#"<t:{element} Id="{}" ChangeKey="{}"/>"#,
            escape(id),
            escape(change_key)
        );
    }
}

/// A calendar's entries are `CalendarPermission`s; other folders' are `Permission`s, whose
/// level element is `PermissionLevel`.
fn write_permissions(xml: &mut String, calendar: bool, entries: &[ShownEntry], unknown: &[String]) {
    let (list, entry, level) = if calendar {
        (
            "CalendarPermissions",
            "CalendarPermission",
            "CalendarPermissionLevel",
        )
    } else {
        ("Permissions", "Permission", "PermissionLevel")
    };
    let _ = write!(xml, "<t:PermissionSet><t:{list}>");
    for e in entries {
        let _ = write!(xml, "<t:{entry}><t:UserId>");
        if let Some(sid) = &e.sid {
            let _ = write!(xml, "<t:SID>{}</t:SID>", escape(sid));
        }
        if let Some(address) = &e.address {
            let _ = write!(
                xml,
                "<t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress>",
                escape(address)
            );
        }
        if let Some(name) = &e.display_name {
            let _ = write!(xml, "<t:DisplayName>{}</t:DisplayName>", escape(name));
        }
        if let Some(d) = e.distinguished {
            let _ = write!(xml, "<t:DistinguishedUser>{d}</t:DistinguishedUser>");
        }
        if let Some(external) = &e.external {
            let _ = write!(
                xml,
                "<t:ExternalUserIdentity>{}</t:ExternalUserIdentity>",
                escape(external)
            );
        }
        let r = &e.rights;
        let _ = write!(
            xml,
            "</t:UserId><t:CanCreateItems>{}</t:CanCreateItems><t:CanCreateSubFolders>{}</t:CanCreateSubFolders>\
             <t:IsFolderOwner>{}</t:IsFolderOwner><t:IsFolderVisible>{}</t:IsFolderVisible><t:IsFolderContact>{}</t:IsFolderContact>\
             <t:EditItems>{}</t:EditItems><t:DeleteItems>{}</t:DeleteItems><t:ReadItems>{}</t:ReadItems>\
             <t:{level}>{}</t:{level}></t:{entry}>",
            r.create_items,
            r.create_subfolders,
            r.folder_owner,
            r.folder_visible,
            r.folder_contact,
            scope(r.edit_items),
            scope(r.delete_items),
            read(r.read_items),
            e.level
        );
    }
    let _ = write!(xml, "</t:{list}>");
    if !unknown.is_empty() {
        xml.push_str("<t:UnknownEntries>");
        for u in unknown {
            let _ = write!(xml, "<t:UnknownEntry>{}</t:UnknownEntry>", escape(u));
        }
        xml.push_str("</t:UnknownEntries>");
    }
    xml.push_str("</t:PermissionSet>");
}

/// A folder, its properties in `t:BaseFolderType`'s order, then its type's own.
pub fn write_folder(xml: &mut String, folder: &FolderView) {
    let element = folder.kind.element();
    let _ = write!(xml, "<t:{element}>");
    write_id(xml, "FolderId", &folder.id, &folder.change_key);
    if let Some((id, key)) = &folder.parent {
        write_id(xml, "ParentFolderId", id, key);
    }
    if let Some(class) = folder.class {
        let _ = write!(xml, "<t:FolderClass>{class}</t:FolderClass>");
    }
    if let Some(name) = &folder.display_name {
        let _ = write!(xml, "<t:DisplayName>{}</t:DisplayName>", escape(name));
    }
    if let Some(total) = folder.total {
        let _ = write!(xml, "<t:TotalCount>{total}</t:TotalCount>");
    }
    if let Some(count) = folder.child_count {
        let _ = write!(xml, "<t:ChildFolderCount>{count}</t:ChildFolderCount>");
    }
    if folder.effective_rights {
        xml.push_str(concat!(
            "<t:EffectiveRights><t:CreateAssociated>true</t:CreateAssociated>",
            "<t:CreateContents>true</t:CreateContents><t:CreateHierarchy>true</t:CreateHierarchy>",
            "<t:Delete>true</t:Delete><t:Modify>true</t:Modify><t:Read>true</t:Read>",
            "<t:ViewPrivateItems>true</t:ViewPrivateItems></t:EffectiveRights>"
        ));
    }
    if let Some(name) = folder.distinguished {
        let _ = write!(
            xml,
            "<t:DistinguishedFolderId>{name}</t:DistinguishedFolderId>"
        );
    }
    if let Some((entries, unknown)) = &folder.permissions {
        write_permissions(xml, folder.kind == FolderKind::Calendar, entries, unknown);
    }
    if let (true, Some(unread)) = (folder.kind.has_unread_count(), folder.unread) {
        let _ = write!(xml, "<t:UnreadCount>{unread}</t:UnreadCount>");
    }
    let _ = write!(xml, "</t:{element}>");
}

/// The outcome of one folder of a GetFolder or UpdateFolder.
pub type FolderResult = Result<FolderView, (String, String)>;

const MESSAGES_OPEN: &str = r#"xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types""#;

/// An error response message (`ResponseClass="Error"`).
pub fn error_message(
    xml: &mut String,
    message: &str,
    code: &str,
    text: &str,
    back_off_ms: Option<u64>,
) {
    let _ = write!(
        xml,
        r#"<m:{message} ResponseClass="Error"><m:MessageText>{}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"#,
        escape(text)
    );
    if let Some(ms) = back_off_ms {
        let _ = write!(
            xml,
            r#"<m:MessageXml><t:Value Name="BackOffMilliseconds">{ms}</t:Value></m:MessageXml>"#
        );
    }
    let _ = write!(xml, "</m:{message}>");
}

/// `GetFolderResponse` or `UpdateFolderResponse` (any operation's name, for injected errors).
pub fn folder_response(
    operation: &str,
    results: &[FolderResult],
    back_off_ms: Option<u64>,
) -> String {
    let mut xml = format!(r"<m:{operation}Response {MESSAGES_OPEN}><m:ResponseMessages>");
    for result in results {
        match result {
            Ok(folder) => {
                let _ = write!(
                    xml,
                    r#"<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders>"#
                );
                write_folder(&mut xml, folder);
                let _ = write!(xml, "</m:Folders></m:{operation}ResponseMessage>");
            }
            Err((code, text)) => error_message(
                &mut xml,
                &format!("{operation}ResponseMessage"),
                code,
                text,
                back_off_ms,
            ),
        }
    }
    let _ = write!(xml, "</m:ResponseMessages></m:{operation}Response>");
    xml
}

/// One page of a FindFolder below one parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPage {
    /// The folders of the page.
    pub folders: Vec<FolderView>,
    /// Where the next page starts.
    pub next_offset: usize,
    /// How many folders the whole view holds.
    pub total: usize,
    /// Whether the page ends the view.
    pub last: bool,
}

/// A `FindFolderResponse`: one message per parent.
pub fn find_folder_response(pages: &[Result<FolderPage, (String, String)>]) -> String {
    let mut xml = format!(r"<m:FindFolderResponse {MESSAGES_OPEN}><m:ResponseMessages>");
    for page in pages {
        match page {
            Ok(page) => {
                let _ = write!(
                    xml,
                    r#"<m:FindFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:RootFolder IndexedPagingOffset="{}" TotalItemsInView="{}" IncludesLastItemInRange="{}"><t:Folders>"#,
                    page.next_offset, page.total, page.last
                );
                for folder in &page.folders {
                    write_folder(&mut xml, folder);
                }
                xml.push_str("</t:Folders></m:RootFolder></m:FindFolderResponseMessage>");
            }
            Err((code, text)) => {
                error_message(&mut xml, "FindFolderResponseMessage", code, text, None);
            }
        }
    }
    xml.push_str("</m:ResponseMessages></m:FindFolderResponse>");
    xml
}

/// One converted id: the format, the id and its mailbox.
pub type ConvertedId = Result<(String, String, String), (String, String)>;

/// A `ConvertIdResponse`.
pub fn convert_id_response(results: &[ConvertedId]) -> String {
    let mut xml = format!(
        r#"<m:ConvertIdResponse {MESSAGES_OPEN} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><m:ResponseMessages>"#
    );
    for result in results {
        match result {
            Ok((format, id, mailbox)) => {
                let _ = write!(
                    xml,
                    r#"<m:ConvertIdResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:AlternateId xsi:type="t:AlternateIdType" Format="{}" Id="{}" Mailbox="{}"/></m:ConvertIdResponseMessage>"#,
                    escape(format),
                    escape(id),
                    escape(mailbox)
                );
            }
            Err((code, text)) => {
                error_message(&mut xml, "ConvertIdResponseMessage", code, text, None);
            }
        }
    }
    xml.push_str("</m:ResponseMessages></m:ConvertIdResponse>");
    xml
}

/// A recipient as ResolveNames and ExpandDL show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// `Name` (the display name).
    pub name: String,
    /// Its SMTP address.
    pub address: String,
    /// `t:MailboxTypeType`: `Mailbox`, `PublicDL` or `Contact`.
    pub mailbox_type: &'static str,
}

fn write_mailbox(xml: &mut String, element: &str, recipient: &Recipient) {
    let _ = write!(
        xml,
        "<t:{element}><t:Name>{}</t:Name><t:EmailAddress>{}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>{}</t:MailboxType></t:{element}>",
        escape(&recipient.name),
        escape(&recipient.address),
        recipient.mailbox_type
    );
}

/// A `ResolveNamesResponse` for one unresolved entry: none found is an error, several a
/// warning that still lists them; with `full_contact_data`, each resolution carries the
/// directory's contact data too.
pub fn resolve_names_response(found: &[Recipient], full_contact_data: bool) -> String {
    let mut xml = format!(r"<m:ResolveNamesResponse {MESSAGES_OPEN}><m:ResponseMessages>");
    match found.len() {
        0 => error_message(
            &mut xml,
            "ResolveNamesResponseMessage",
            "ErrorNameResolutionNoResults",
            "No results were found.",
            None,
        ),
        n => {
            if n == 1 {
                xml.push_str(r#"<m:ResolveNamesResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>"#);
            } else {
                xml.push_str(r#"<m:ResolveNamesResponseMessage ResponseClass="Warning"><m:MessageText>Multiple results were found.</m:MessageText><m:ResponseCode>ErrorNameResolutionMultipleResults</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"#);
            }
            let _ = write!(
                xml,
                r#"<m:ResolutionSet TotalItemsInView="{n}" IncludesLastItemInRange="true">"#
            );
            for recipient in found {
                xml.push_str("<t:Resolution>");
                write_mailbox(&mut xml, "Mailbox", recipient);
                if full_contact_data {
                    let _ = write!(
                        xml,
                        r#"<t:Contact><t:DisplayName>{}</t:DisplayName><t:EmailAddresses><t:Entry Key="EmailAddress1">SMTP:{}</t:Entry></t:EmailAddresses><t:ContactSource>ActiveDirectory</t:ContactSource></t:Contact>"#,
                        escape(&recipient.name),
                        escape(&recipient.address)
                    );
                }
                xml.push_str("</t:Resolution>");
            }
            xml.push_str("</m:ResolutionSet></m:ResolveNamesResponseMessage>");
        }
    }
    xml.push_str("</m:ResponseMessages></m:ResolveNamesResponse>");
    xml
}

/// An `ExpandDLResponse`: the list's members that are recipients, or that it is no list.
pub fn expand_dl_response(members: Option<&[Recipient]>) -> String {
    let mut xml = format!(r"<m:ExpandDLResponse {MESSAGES_OPEN}><m:ResponseMessages>");
    match members {
        None => error_message(
            &mut xml,
            "ExpandDLResponseMessage",
            "ErrorNameResolutionNoResults",
            "No results were found.",
            None,
        ),
        Some(members) => {
            let _ = write!(
                xml,
                r#"<m:ExpandDLResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:DLExpansion TotalItemsInView="{}" IncludesLastItemInRange="true">"#,
                members.len()
            );
            for member in members {
                write_mailbox(&mut xml, "Mailbox", member);
            }
            xml.push_str("</m:DLExpansion></m:ExpandDLResponseMessage>");
        }
    }
    xml.push_str("</m:ResponseMessages></m:ExpandDLResponse>");
    xml
}
