//! The simulator's SOAP: requests read into a small element tree (any prefixes), checked for
//! the shape Exchange's schema demands where clients commonly get it wrong, and responses
//! written as Exchange writes them.

use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::model::{Read, RequestedEntry, Rights, Scope};

/// An element of a parsed request: local name, attributes by local name, text, children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Attributes by local name.
    pub attributes: Vec<(String, String)>,
    /// Text content.
    pub text: String,
    /// Child elements.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// An attribute by local name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text of every `Mailbox/EmailAddress` anywhere below this element.
    pub fn mailbox_addresses(&self) -> Vec<&str> {
        let mut found = Vec::new();
        if self.name == "Mailbox"
            && let Some(address) = self.child("EmailAddress")
        {
            found.push(address.text.trim());
        }
        for child in &self.children {
            found.extend(child.mailbox_addresses());
        }
        found
    }

    /// Follows a path of child names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names
            .iter()
            .try_fold(self, |element, name| element.child(name))
    }
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Parses a request body into an element tree.
pub fn parse(body: &[u8]) -> Result<Element, String> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = Reader::from_reader(body);
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("malformed XML: {e}"))?;
        let open = |e: &quick_xml::events::BytesStart<'_>| Element {
            name: local(e.name().as_ref()).to_owned(),
            attributes: e
                .attributes()
                .flatten()
                .map(|a| {
                    (
                        local(a.key.as_ref()).to_owned(),
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(std::borrow::Cow::into_owned)
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            ..Element::default()
        };
        match event {
            Event::Start(e) => stack.push(open(&e)),
            Event::Empty(e) => {
                let element = open(&e);
                stack
                    .last_mut()
                    .ok_or("unbalanced XML")?
                    .children
                    .push(element);
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("unbalanced XML")?;
                stack
                    .last_mut()
                    .ok_or("unbalanced XML")?
                    .children
                    .push(element);
            }
            Event::Text(t) => stack
                .last_mut()
                .ok_or("unbalanced XML")?
                .text
                .push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => match &*r.xml10_content() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => return Err(format!("unknown entity &{other};")),
                    },
                };
                stack
                    .last_mut()
                    .ok_or("unbalanced XML")?
                    .text
                    .push_str(&text);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let root = stack.pop().ok_or("empty document")?;
    root.children
        .into_iter()
        .find(|e| e.name == "Envelope")
        .ok_or_else(|| "no soap:Envelope".to_owned())
}

const RIGHT_ORDER: [&str; 8] = [
    "CanCreateItems",
    "CanCreateSubFolders",
    "IsFolderOwner",
    "IsFolderVisible",
    "IsFolderContact",
    "EditItems",
    "DeleteItems",
    "ReadItems",
];

/// Reads the `CalendarPermissions` of a `SetFolderField`, enforcing the schema's element order
/// and the `t:CalendarFolder` element (a `t:Folder` carries `Permissions`, not
/// `CalendarPermissions`): violations are Exchange's `ErrorSchemaValidation`.
pub fn requested_permissions(set_field: &Element) -> Result<Vec<RequestedEntry>, String> {
    let uri = set_field
        .child("FieldURI")
        .and_then(|f| f.attribute("FieldURI"));
    if uri != Some("folder:PermissionSet") {
        return Err(format!(
            "the field {} cannot be set here",
            uri.unwrap_or("(none)")
        ));
    }
    let Some(folder) = set_field.child("CalendarFolder") else {
        return Err(
            "a calendar's permission set must be written in a t:CalendarFolder element".into(),
        );
    };
    let permissions = folder
        .path(&["PermissionSet", "CalendarPermissions"])
        .ok_or("the element PermissionSet has no CalendarPermissions")?;
    let mut entries = Vec::new();
    for permission in &permissions.children {
        if permission.name != "CalendarPermission" {
            return Err(format!(
                "the element {} is not expected in CalendarPermissions",
                permission.name
            ));
        }
        let mut entry = RequestedEntry::default();
        let mut position = 0usize;
        for (index, child) in permission.children.iter().enumerate() {
            match child.name.as_str() {
                "UserId" if index == 0 => {
                    for id in &child.children {
                        let value = Some(id.text.trim().to_owned());
                        match id.name.as_str() {
                            "SID" => entry.sid = value,
                            "PrimarySmtpAddress" => entry.address = value,
                            "DistinguishedUser" => entry.distinguished = value,
                            "DisplayName" | "ExternalUserIdentity" => {}
                            other => {
                                return Err(format!(
                                    "the element {other} is not expected in UserId"
                                ));
                            }
                        }
                    }
                }
                "CalendarPermissionLevel" if index + 1 == permission.children.len() => {
                    entry.level = Some(child.text.trim().to_owned());
                }
                name => {
                    let Some(at) = RIGHT_ORDER.iter().position(|r| *r == name) else {
                        return Err(format!(
                            "the element {name} is not expected in CalendarPermission"
                        ));
                    };
                    if index == 0 || at < position {
                        return Err(format!(
                            "the element {name} is out of the schema's order in CalendarPermission"
                        ));
                    }
                    position = at + 1;
                    entry
                        .rights
                        .push((name.to_owned(), child.text.trim().to_owned()));
                }
            }
        }
        if permission.children.first().map(|c| c.name.as_str()) != Some("UserId") {
            return Err("a CalendarPermission must start with UserId".into());
        }
        if entry.level.is_none() {
            return Err("a CalendarPermission must end with CalendarPermissionLevel".into());
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Escapes text or an attribute value.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// What `ServerVersionInfo` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Major build.
    pub build: u32,
    /// Minor build.
    pub revision: u32,
    /// The schema version name.
    pub version: &'static str,
}

/// A whole response envelope.
pub fn envelope(server: &ServerVersion, body: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>"#,
            r#"<h:ServerVersionInfo MajorVersion="{}" MinorVersion="{}" MajorBuildNumber="{}" MinorBuildNumber="{}" Version="{}""#,
            r#" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header><s:Body>{}</s:Body></s:Envelope>"#
        ),
        server.major, server.minor, server.build, server.revision, server.version, body
    )
}

/// A SOAP fault as Exchange writes it (HTTP 500), with the EWS code in `detail`.
pub fn fault(code: &str, message: &str, back_off_ms: Option<u64>) -> String {
    let (faultcode, message_xml) = match back_off_ms {
        Some(ms) => (
            "a:ErrorServerBusy".to_owned(),
            format!(
                r#"<t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">{ms}</t:Value></t:MessageXml>"#
            ),
        ),
        None => (format!("a:{code}"), String::new()),
    };
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>"#,
            r#"<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">{}</faultcode>"#,
            r#"<faultstring xml:lang="en-US">{}</faultstring><detail>"#,
            r#"<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{}</e:ResponseCode>"#,
            r#"<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{}</e:Message>{}"#,
            r#"</detail></s:Fault></s:Body></s:Envelope>"#
        ),
        faultcode,
        escape(message),
        code,
        escape(message),
        message_xml
    )
}

/// One entry of a calendar as written in a response.
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
    /// The rights.
    pub rights: Rights,
    /// The level name.
    pub level: &'static str,
}

/// A calendar folder as a response shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderView {
    /// Id.
    pub id: String,
    /// Change key.
    pub change_key: String,
    /// Entries and unknown entries, when asked for.
    pub permissions: Option<(Vec<ShownEntry>, Vec<String>)>,
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

fn write_folder(xml: &mut String, folder: &FolderView) {
    // An empty change key is left out (ChangeKey is optional in the schema).
    if folder.change_key.is_empty() {
        let _ = write!(
            xml,
            r#"<t:CalendarFolder><t:FolderId Id="{}"/>"#,
            escape(&folder.id)
        );
    } else {
        let _ = write!(
            xml,
            r#"<t:CalendarFolder><t:FolderId Id="{}" ChangeKey="{}"/>"#,
            escape(&folder.id),
            escape(&folder.change_key)
        );
    }
    if let Some((entries, unknown)) = &folder.permissions {
        xml.push_str("<t:PermissionSet><t:CalendarPermissions>");
        for e in entries {
            xml.push_str("<t:CalendarPermission><t:UserId>");
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
            let r = &e.rights;
            let _ = write!(
                xml,
                "</t:UserId><t:CanCreateItems>{}</t:CanCreateItems><t:CanCreateSubFolders>{}</t:CanCreateSubFolders>\
                 <t:IsFolderOwner>{}</t:IsFolderOwner><t:IsFolderVisible>{}</t:IsFolderVisible><t:IsFolderContact>{}</t:IsFolderContact>\
                 <t:EditItems>{}</t:EditItems><t:DeleteItems>{}</t:DeleteItems><t:ReadItems>{}</t:ReadItems>\
                 <t:CalendarPermissionLevel>{}</t:CalendarPermissionLevel></t:CalendarPermission>",
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
        xml.push_str("</t:CalendarPermissions>");
        if !unknown.is_empty() {
            xml.push_str("<t:UnknownEntries>");
            for u in unknown {
                let _ = write!(xml, "<t:UnknownEntry>{}</t:UnknownEntry>", escape(u));
            }
            xml.push_str("</t:UnknownEntries>");
        }
        xml.push_str("</t:PermissionSet>");
    }
    xml.push_str("</t:CalendarFolder>");
}

/// The outcome of one folder of a GetFolder or UpdateFolder.
pub type FolderResult = Result<FolderView, (String, String)>;

/// `GetFolderResponse` or `UpdateFolderResponse`.
pub fn folder_response(
    operation: &str,
    results: &[FolderResult],
    back_off_ms: Option<u64>,
) -> String {
    let mut xml = format!(
        r#"<m:{operation}Response xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages>"#
    );
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
            Err((code, text)) => {
                let _ = write!(
                    xml,
                    r#"<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"#,
                    escape(text)
                );
                if let Some(ms) = back_off_ms {
                    let _ = write!(
                        xml,
                        r#"<m:MessageXml><t:Value Name="BackOffMilliseconds">{ms}</t:Value></m:MessageXml>"#
                    );
                }
                let _ = write!(xml, "</m:{operation}ResponseMessage>");
            }
        }
    }
    let _ = write!(xml, "</m:ResponseMessages></m:{operation}Response>");
    xml
}

/// A `FindFolderResponse` with the given (id, change key, display name) folders.
pub fn find_folder_response(folders: &[(String, String, &str)]) -> String {
    let mut xml = String::from(concat!(
        r#"<m:FindFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">"#,
        r#"<m:ResponseMessages><m:FindFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>"#
    ));
    let _ = write!(
        xml,
        r#"<m:RootFolder IndexedPagingOffset="{0}" TotalItemsInView="{0}" IncludesLastItemInRange="true"><t:Folders>"#,
        folders.len()
    );
    for (id, key, name) in folders {
        let _ = write!(
            xml,
            r#"<t:Folder><t:FolderId Id="{}" ChangeKey="{}"/><t:DisplayName>{}</t:DisplayName></t:Folder>"#,
            escape(id),
            escape(key),
            escape(name)
        );
    }
    xml.push_str("</t:Folders></m:RootFolder></m:FindFolderResponseMessage></m:ResponseMessages></m:FindFolderResponse>");
    xml
}

/// A `ConvertIdResponse`: each (id, mailbox) in the destination format.
pub fn convert_id_response(ids: &[(String, String)], format: &str) -> String {
    let mut xml = String::from(concat!(
        r#"<m:ConvertIdResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types""#,
        r#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><m:ResponseMessages>"#
    ));
    for (id, mailbox) in ids {
        let _ = write!(
            xml,
            r#"<m:ConvertIdResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:AlternateId xsi:type="t:AlternateIdType" Format="{}" Id="{}" Mailbox="{}"/></m:ConvertIdResponseMessage>"#,
            escape(format),
            escape(id),
            escape(mailbox)
        );
    }
    xml.push_str("</m:ResponseMessages></m:ConvertIdResponse>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_field(inner: &str) -> Element {
        let xml = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="t"><s:Body><t:SetFolderField><t:FieldURI FieldURI="folder:PermissionSet"/>{inner}</t:SetFolderField></s:Body></s:Envelope>"#
        );
        parse(xml.as_bytes())
            .unwrap()
            .path(&["Body", "SetFolderField"])
            .unwrap()
            .clone()
    }

    #[test]
    fn calendar_permissions_are_read() {
        let field = set_field(
            "<t:CalendarFolder><t:PermissionSet><t:CalendarPermissions><t:CalendarPermission><t:UserId><t:PrimarySmtpAddress>a&amp;b@lab.example</t:PrimarySmtpAddress></t:UserId><t:CanCreateItems>true</t:CanCreateItems><t:ReadItems>FullDetails</t:ReadItems><t:CalendarPermissionLevel>Custom</t:CalendarPermissionLevel></t:CalendarPermission></t:CalendarPermissions></t:PermissionSet></t:CalendarFolder>",
        );
        let entries = requested_permissions(&field).unwrap();
        assert_eq!(entries[0].address.as_deref(), Some("a&b@lab.example"));
        assert_eq!(entries[0].rights.len(), 2);
        assert_eq!(entries[0].level.as_deref(), Some("Custom"));
    }

    #[test]
    fn schema_mistakes_other_clients_make_are_refused() {
        // t:Folder instead of t:CalendarFolder.
        let folder = set_field(
            "<t:Folder><t:PermissionSet><t:CalendarPermissions/></t:PermissionSet></t:Folder>",
        );
        assert!(
            requested_permissions(&folder)
                .unwrap_err()
                .contains("t:CalendarFolder")
        );
        // UserId after the rights.
        let order = set_field(
            "<t:CalendarFolder><t:PermissionSet><t:CalendarPermissions><t:CalendarPermission><t:ReadItems>FullDetails</t:ReadItems><t:UserId><t:PrimarySmtpAddress>a@b.c</t:PrimarySmtpAddress></t:UserId><t:CalendarPermissionLevel>Custom</t:CalendarPermissionLevel></t:CalendarPermission></t:CalendarPermissions></t:PermissionSet></t:CalendarFolder>",
        );
        assert!(requested_permissions(&order).is_err());
        // Rights out of order.
        let rights = set_field(
            "<t:CalendarFolder><t:PermissionSet><t:CalendarPermissions><t:CalendarPermission><t:UserId><t:PrimarySmtpAddress>a@b.c</t:PrimarySmtpAddress></t:UserId><t:ReadItems>FullDetails</t:ReadItems><t:CanCreateItems>true</t:CanCreateItems><t:CalendarPermissionLevel>Custom</t:CalendarPermissionLevel></t:CalendarPermission></t:CalendarPermissions></t:PermissionSet></t:CalendarFolder>",
        );
        assert!(
            requested_permissions(&rights)
                .unwrap_err()
                .contains("order")
        );
        // A misspelt right.
        let typo = set_field(
            "<t:CalendarFolder><t:PermissionSet><t:CalendarPermissions><t:CalendarPermission><t:UserId><t:PrimarySmtpAddress>a@b.c</t:PrimarySmtpAddress></t:UserId><t:CanCreateSubfolders>true</t:CanCreateSubfolders><t:CalendarPermissionLevel>Custom</t:CalendarPermissionLevel></t:CalendarPermission></t:CalendarPermissions></t:PermissionSet></t:CalendarFolder>",
        );
        assert!(requested_permissions(&typo).is_err());
    }

    #[test]
    fn faults_carry_the_back_off() {
        let xml = fault("ErrorServerBusy", "busy", Some(1500));
        assert!(xml.contains(r#"<t:Value Name="BackOffMilliseconds">1500</t:Value>"#));
        assert!(parse(xml.as_bytes()).is_ok());
    }
}
