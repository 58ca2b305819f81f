//! The simulator's SOAP: requests read into a small element tree (any prefixes), checked for
//! the shape Exchange's schema demands where clients commonly get it wrong, and responses
//! written as Exchange writes them.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::model::RequestedEntry;

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

/// Parses a SOAP request body into an element tree: the `Envelope`.
pub fn parse(body: &[u8]) -> Result<Element, String> {
    parse_document(body)?
        .children
        .into_iter()
        .find(|e| e.name == "Envelope")
        .ok_or_else(|| "no soap:Envelope".to_owned())
}

/// Parses any XML document into an element tree: an unnamed element holding the document
/// element.
pub fn parse_document(body: &[u8]) -> Result<Element, String> {
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
    stack.pop().ok_or_else(|| "empty document".to_owned())
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
                            "ExternalUserIdentity" => entry.external = value,
                            "DisplayName" => {}
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
