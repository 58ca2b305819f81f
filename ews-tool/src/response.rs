//! Reading what Exchange answers: the SOAP envelope with `ServerVersionInfo`, the response
//! messages with their class, code, text and back-off, the calendar folder with its permission
//! set, and SOAP faults. Any namespace prefixes, a byte-order mark and unknown elements are
//! accepted; the caller bounds the size.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::permissions::{
    CalendarPermission, DistinguishedUser, ItemScope, Level, PermissionSet, ReadAccess, Rights,
    UserId,
};
use crate::request::FolderId;
use crate::response_code::ResponseCode;

/// `t:ServerVersionInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ServerVersionInfo {
    /// `MajorVersion`.
    pub major_version: u32,
    /// `MinorVersion`.
    pub minor_version: u32,
    /// `MajorBuildNumber`.
    pub major_build_number: u32,
    /// `MinorBuildNumber`.
    pub minor_build_number: u32,
    /// `Version` (the schema version, such as `V2017_07_11`), when given.
    pub version: Option<String>,
}

impl ServerVersionInfo {
    /// The product, as admins name it.
    pub fn product(&self) -> &'static str {
        match (self.major_version, self.minor_version) {
            (14, _) => "Exchange 2010",
            (15, 0) => "Exchange 2013",
            (15, 1) => "Exchange 2016",
            (15, 2) => "Exchange 2019 or Subscription Edition",
            _ => "Exchange",
        }
    }
}

/// `ResponseClass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseClass {
    /// Done.
    Success,
    /// Done, with a warning.
    Warning,
    /// Not done.
    Error,
}

/// A calendar folder as returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFolder {
    /// Its id and change key.
    pub id: FolderId,
    /// Its permissions, when asked for.
    pub permissions: Option<PermissionSet>,
}

/// One `*ResponseMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMessage {
    /// Success, warning or error.
    pub class: ResponseClass,
    /// `ResponseCode` (`NoError`, `ErrorAccessDenied`, …).
    pub code: Option<ResponseCode>,
    /// `MessageText`.
    pub text: Option<String>,
    /// `MessageXml/Value[@Name="BackOffMilliseconds"]`.
    pub back_off_ms: Option<u64>,
    /// The folder, for folder operations.
    pub folder: Option<CalendarFolder>,
    /// What a ResolveNames found: each `Resolution/Mailbox`'s `EmailAddress` and
    /// `MailboxType` (`Mailbox`, `PublicDL`, `Contact`, …).
    pub resolutions: Vec<(String, String)>,
}

/// A SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SoapFault {
    /// `faultcode`.
    pub fault_code: Option<String>,
    /// `faultstring`.
    pub fault_string: Option<String>,
    /// `detail/ResponseCode` (`ErrorInvalidServerVersion`, `ErrorServerBusy`, …).
    pub response_code: Option<ResponseCode>,
    /// `detail/Message`.
    pub message: Option<String>,
    /// `detail/MessageXml/Value[@Name="BackOffMilliseconds"]`.
    pub back_off_ms: Option<u64>,
}

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// From the header.
    pub server_version: Option<ServerVersionInfo>,
    /// The response messages, in order.
    pub messages: Vec<ResponseMessage>,
    /// The fault, if the body is one.
    pub fault: Option<SoapFault>,
}

/// Why the answer is not a readable SOAP envelope.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("the server's answer is not a readable SOAP envelope ({0})")]
pub struct ParseError(String);

fn local(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b':').next().unwrap_or(name)
}

fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| local(a.key.as_ref().as_bytes()) == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(std::borrow::Cow::into_owned)
        })
}

/// Builds the permission entry being read.
#[derive(Default)]
struct EntryBuilder {
    user: UserId,
    rights: Rights,
    level: Option<Level>,
}

/// Parses a response body.
pub fn parse(body: &[u8]) -> Result<Envelope, ParseError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    let mut envelope = Envelope::default();
    let mut message: Option<ResponseMessage> = None;
    let mut folder: Option<CalendarFolder> = None;
    let mut set: Option<PermissionSet> = None;
    let mut entry: Option<EntryBuilder> = None;
    let mut value_name: Option<String> = None;
    let mut in_fault = false;
    let mut saw_envelope = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ParseError(format!("at byte {}: {e}", reader.buffer_position())))?;
        let (start, end) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(element) = start {
            let name = local(element.name().as_ref().as_bytes()).to_vec();
            text.clear();
            match name.as_slice() {
                b"Envelope" if path.is_empty() => saw_envelope = true,
                b"ServerVersionInfo" => {
                    let number = |n: &[u8]| {
                        attribute(&element, n)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0)
                    };
                    envelope.server_version = Some(ServerVersionInfo {
                        major_version: number(b"MajorVersion"),
                        minor_version: number(b"MinorVersion"),
                        major_build_number: number(b"MajorBuildNumber"),
                        minor_build_number: number(b"MinorBuildNumber"),
                        version: attribute(&element, b"Version"),
                    });
                }
                b"Fault" if path.last().is_some_and(|p| p == b"Body") => {
                    in_fault = true;
                    envelope.fault = Some(SoapFault::default());
                }
                n if n.ends_with(b"ResponseMessage")
                    && attribute(&element, b"ResponseClass").is_some() =>
                {
                    let class = match attribute(&element, b"ResponseClass").as_deref() {
                        Some("Success") => ResponseClass::Success,
                        Some("Warning") => ResponseClass::Warning,
                        _ => ResponseClass::Error,
                    };
                    message = Some(ResponseMessage {
                        class,
                        code: None,
                        text: None,
                        back_off_ms: None,
                        folder: None,
                        resolutions: Vec::new(),
                    });
                }
                b"CalendarFolder" | b"Folder"
                    if message.is_some() && path.last().is_some_and(|p| p == b"Folders") =>
                {
                    folder = Some(CalendarFolder {
                        id: FolderId {
                            id: String::new(),
                            change_key: String::new(),
                        },
                        permissions: None,
                    });
                }
                b"FolderId" if folder.is_some() && entry.is_none() => {
                    if let Some(f) = folder.as_mut() {
                        f.id = FolderId {
                            id: attribute(&element, b"Id").unwrap_or_default(),
                            change_key: attribute(&element, b"ChangeKey").unwrap_or_default(),
                        };
                    }
                }
                b"PermissionSet" if folder.is_some() => set = Some(PermissionSet::default()),
                b"CalendarPermission" | b"Permission" if set.is_some() => {
                    entry = Some(EntryBuilder::default());
                }
                b"Value" => value_name = attribute(&element, b"Name"),
                _ => {}
            }
            if end {
                close(
                    &name,
                    &mut Closing {
                        text: &text,
                        path: &path,
                        envelope: &mut envelope,
                        message: &mut message,
                        folder: &mut folder,
                        set: &mut set,
                        entry: &mut entry,
                        value_name: &mut value_name,
                        in_fault: &mut in_fault,
                    },
                );
            } else {
                path.push(name);
            }
        } else {
            match event {
                Event::End(_) => {
                    let name = path.pop().unwrap_or_default();
                    close(
                        &name,
                        &mut Closing {
                            text: &text,
                            path: &path,
                            envelope: &mut envelope,
                            message: &mut message,
                            folder: &mut folder,
                            set: &mut set,
                            entry: &mut entry,
                            value_name: &mut value_name,
                            in_fault: &mut in_fault,
                        },
                    );
                    text.clear();
                }
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::CData(c) => text.push_str(&c.into_inner()),
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        _ => match &*r.xml10_content() {
                            "amp" => Some("&".into()),
                            "lt" => Some("<".into()),
                            "gt" => Some(">".into()),
                            "quot" => Some("\"".into()),
                            "apos" => Some("'".into()),
                            _ => None,
                        },
                    };
                    text.push_str(&resolved.ok_or_else(|| {
                        ParseError(format!("unknown entity &{};", &*r.xml10_content()))
                    })?);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        buf.clear();
    }
    if !saw_envelope {
        return Err(ParseError("no soap:Envelope".into()));
    }
    Ok(envelope)
}

struct Closing<'a> {
    text: &'a str,
    path: &'a [Vec<u8>],
    envelope: &'a mut Envelope,
    message: &'a mut Option<ResponseMessage>,
    folder: &'a mut Option<CalendarFolder>,
    set: &'a mut Option<PermissionSet>,
    entry: &'a mut Option<EntryBuilder>,
    value_name: &'a mut Option<String>,
    in_fault: &'a mut bool,
}

fn close(name: &[u8], c: &mut Closing<'_>) {
    let text = c.text.trim();
    let parent = c.path.last().map(Vec::as_slice);
    if let Some(entry) = c.entry.as_mut() {
        let flag = || match text {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        };
        let owned = || Some(text.to_owned()).filter(|t| !t.is_empty());
        match name {
            b"SID" => entry.user.sid = owned(),
            b"PrimarySmtpAddress" => entry.user.primary_smtp_address = owned(),
            b"DisplayName" => entry.user.display_name = owned(),
            b"ExternalUserIdentity" => entry.user.external_user_identity = owned(),
            b"DistinguishedUser" => {
                entry.user.distinguished_user = DistinguishedUser::from_name(text);
            }
            b"CanCreateItems" => entry.rights.can_create_items = flag(),
            b"CanCreateSubFolders" => entry.rights.can_create_subfolders = flag(),
            b"IsFolderOwner" => entry.rights.is_folder_owner = flag(),
            b"IsFolderVisible" => entry.rights.is_folder_visible = flag(),
            b"IsFolderContact" => entry.rights.is_folder_contact = flag(),
            b"EditItems" => entry.rights.edit_items = ItemScope::from_name(text),
            b"DeleteItems" => entry.rights.delete_items = ItemScope::from_name(text),
            b"ReadItems" => entry.rights.read_items = ReadAccess::from_name(text),
            b"CalendarPermissionLevel" | b"PermissionLevel" => entry.level = Level::from_name(text),
            b"CalendarPermission" | b"Permission" => {
                if let (Some(built), Some(set)) = (c.entry.take(), c.set.as_mut()) {
                    let level = built.level.unwrap_or_else(|| {
                        if built.rights.is_complete() {
                            Level::of_rights(&built.rights)
                        } else {
                            Level::Custom
                        }
                    });
                    set.entries.push(CalendarPermission {
                        user: built.user,
                        rights: built.rights,
                        level,
                    });
                }
            }
            _ => {}
        }
        return;
    }
    match name {
        b"UnknownEntry" => {
            if let Some(set) = c.set.as_mut() {
                set.unknown_entries.push(text.to_owned());
            }
        }
        b"PermissionSet" => {
            if let (Some(set), Some(folder)) = (c.set.take(), c.folder.as_mut()) {
                folder.permissions = Some(set);
            }
        }
        b"CalendarFolder" | b"Folder" if parent == Some(b"Folders".as_slice()) => {
            if let (Some(folder), Some(message)) = (c.folder.take(), c.message.as_mut()) {
                message.folder = Some(folder);
            }
        }
        b"Value" => {
            let back_off = (c.value_name.take().as_deref() == Some("BackOffMilliseconds"))
                .then(|| text.parse().ok())
                .flatten();
            if back_off.is_some() {
                if *c.in_fault {
                    if let Some(fault) = c.envelope.fault.as_mut() {
                        fault.back_off_ms = back_off;
                    }
                } else if let Some(message) = c.message.as_mut() {
                    message.back_off_ms = back_off;
                }
            }
        }
        b"MessageText" => {
            if let Some(message) = c.message.as_mut() {
                message.text = Some(text.to_owned());
            }
        }
        b"EmailAddress" | b"MailboxType"
            if c.path.len() >= 2
                && c.path[c.path.len() - 2] == b"Resolution"
                && c.path[c.path.len() - 1] == b"Mailbox" =>
        {
            if let Some(message) = c.message.as_mut() {
                if name == b"EmailAddress" {
                    message
                        .resolutions
                        .push((text.trim().to_owned(), String::new()));
                } else if let Some(last) = message.resolutions.last_mut() {
                    text.trim().clone_into(&mut last.1);
                }
            }
        }
        b"ResponseCode" => {
            if *c.in_fault {
                if let Some(fault) = c.envelope.fault.as_mut() {
                    fault.response_code = Some(ResponseCode::parse(text));
                }
            } else if let Some(message) = c.message.as_mut() {
                message.code = Some(ResponseCode::parse(text));
            }
        }
        b"faultcode" | b"faultstring" | b"Message" if *c.in_fault => {
            if let Some(fault) = c.envelope.fault.as_mut() {
                let slot = match name {
                    b"faultcode" => &mut fault.fault_code,
                    b"faultstring" => &mut fault.fault_string,
                    _ => &mut fault.message,
                };
                *slot = Some(text.to_owned());
            }
        }
        b"Fault" => *c.in_fault = false,
        n if n.ends_with(b"ResponseMessage") => {
            if let Some(message) = c.message.take() {
                c.envelope.messages.push(message);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_FOLDER: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Header>
    <h:ServerVersionInfo MajorVersion="15" MinorVersion="2" MajorBuildNumber="1544" MinorBuildNumber="4" Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/>
  </s:Header>
  <s:Body>
    <m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
      <m:ResponseMessages>
        <m:GetFolderResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <m:Folders>
            <t:CalendarFolder>
              <t:FolderId Id="AAMkAD=" ChangeKey="AgAAABYA"/>
              <t:PermissionSet>
                <t:CalendarPermissions>
                  <t:CalendarPermission>
                    <t:UserId><t:DistinguishedUser>Default</t:DistinguishedUser></t:UserId>
                    <t:CanCreateItems>false</t:CanCreateItems><t:CanCreateSubFolders>false</t:CanCreateSubFolders>
                    <t:IsFolderOwner>false</t:IsFolderOwner><t:IsFolderVisible>false</t:IsFolderVisible>
                    <t:IsFolderContact>false</t:IsFolderContact><t:EditItems>None</t:EditItems>
                    <t:DeleteItems>None</t:DeleteItems><t:ReadItems>TimeOnly</t:ReadItems>
                    <t:CalendarPermissionLevel>FreeBusyTimeOnly</t:CalendarPermissionLevel>
                  </t:CalendarPermission>
                  <t:CalendarPermission>
                    <t:UserId><t:SID>S-1-5-21-1-2-3-1105</t:SID><t:PrimarySmtpAddress>o'brien&amp;co@lab.example</t:PrimarySmtpAddress><t:DisplayName>O&#39;Brien, Se&#225;n</t:DisplayName></t:UserId>
                    <t:CanCreateItems>true</t:CanCreateItems><t:CanCreateSubFolders>true</t:CanCreateSubFolders>
                    <t:IsFolderOwner>false</t:IsFolderOwner><t:IsFolderVisible>true</t:IsFolderVisible>
                    <t:IsFolderContact>false</t:IsFolderContact><t:EditItems>None</t:EditItems>
                    <t:DeleteItems>Owned</t:DeleteItems><t:ReadItems>FullDetails</t:ReadItems>
                    <t:CalendarPermissionLevel>Custom</t:CalendarPermissionLevel>
                    <t:FutureElement>ignored</t:FutureElement>
                  </t:CalendarPermission>
                </t:CalendarPermissions>
                <t:UnknownEntries><t:UnknownEntry>NT:S-1-5-21-1-2-3-4242</t:UnknownEntry></t:UnknownEntries>
              </t:PermissionSet>
            </t:CalendarFolder>
          </m:Folders>
        </m:GetFolderResponseMessage>
      </m:ResponseMessages>
    </m:GetFolderResponse>
  </s:Body>
</s:Envelope>"#;

    #[test]
    fn a_calendar_with_its_permissions() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(GET_FOLDER.as_bytes());
        let envelope = parse(&bytes).unwrap();
        let version = envelope.server_version.unwrap();
        assert_eq!(
            (
                version.major_version,
                version.minor_version,
                version.version.as_deref()
            ),
            (15, 2, Some("V2017_07_11"))
        );
        assert_eq!(envelope.messages.len(), 1);
        let message = &envelope.messages[0];
        assert_eq!(
            (message.class, message.code.as_ref()),
            (ResponseClass::Success, Some(&ResponseCode::NoError))
        );
        let folder = message.folder.as_ref().unwrap();
        assert_eq!(
            folder.id,
            FolderId {
                id: "AAMkAD=".into(),
                change_key: "AgAAABYA".into()
            }
        );
        let set = folder.permissions.as_ref().unwrap();
        assert_eq!(set.entries.len(), 2);
        assert_eq!(set.entries[0].level, Level::FreeBusyTimeOnly);
        assert_eq!(
            set.entries[0].user.distinguished_user,
            Some(DistinguishedUser::Default)
        );
        let custom = &set.entries[1];
        assert_eq!(custom.level, Level::Custom);
        assert_eq!(
            custom.user.primary_smtp_address.as_deref(),
            Some("o'brien&co@lab.example")
        );
        assert_eq!(custom.user.display_name.as_deref(), Some("O'Brien, Seán"));
        assert_eq!(custom.rights.delete_items, Some(ItemScope::Owned));
        assert!(custom.rights.is_complete());
        assert_eq!(set.unknown_entries, ["NT:S-1-5-21-1-2-3-4242"]);
    }

    #[test]
    fn an_error_message_with_back_off() {
        let xml = r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>
          <UpdateFolderResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><ResponseMessages>
          <UpdateFolderResponseMessage ResponseClass="Error"><MessageText>The server cannot service this request right now. Try again later.</MessageText>
          <ResponseCode>ErrorServerBusy</ResponseCode><DescriptiveLinkKey>0</DescriptiveLinkKey>
          <MessageXml><Value xmlns="http://schemas.microsoft.com/exchange/services/2006/types" Name="BackOffMilliseconds">2950</Value></MessageXml>
          </UpdateFolderResponseMessage></ResponseMessages></UpdateFolderResponse></Body></Envelope>"#;
        let envelope = parse(xml.as_bytes()).unwrap();
        let message = &envelope.messages[0];
        assert_eq!(message.class, ResponseClass::Error);
        assert_eq!(message.code, Some(ResponseCode::ErrorServerBusy));
        assert_eq!(message.back_off_ms, Some(2950));
        assert!(message.folder.is_none());
    }

    #[test]
    fn a_soap_fault() {
        let xml = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
          <faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorInvalidServerVersion</faultcode>
          <faultstring xml:lang="en-US">The specified server version is invalid.</faultstring>
          <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorInvalidServerVersion</e:ResponseCode>
          <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The specified server version is invalid.</e:Message></detail>
          </s:Fault></s:Body></s:Envelope>"#;
        let fault = parse(xml.as_bytes()).unwrap().fault.unwrap();
        assert_eq!(
            fault.response_code,
            Some(ResponseCode::ErrorInvalidServerVersion)
        );
        assert_eq!(
            fault.fault_code.as_deref(),
            Some("a:ErrorInvalidServerVersion")
        );
        assert_eq!(
            fault.message.as_deref(),
            Some("The specified server version is invalid.")
        );
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        for junk in [
            "",
            "<html><body>Bad gateway</body></html>",
            "<s:Envelope",
            "\u{0}\u{1}",
            "<a>&bogus;</a>",
        ] {
            assert!(parse(junk.as_bytes()).is_err(), "{junk:?}");
        }
        let truncated = &GET_FOLDER.as_bytes()[..GET_FOLDER.len() / 2];
        let _ = parse(truncated);
    }

    #[test]
    fn resolutions_carry_address_and_kind() {
        let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:ResolveNamesResponse xmlns:m="m" xmlns:t="t"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="Warning"><m:MessageText>Multiple results were found.</m:MessageText><m:ResponseCode>ErrorNameResolutionMultipleResults</m:ResponseCode><m:ResolutionSet TotalItemsInView="2"><t:Resolution><t:Mailbox><t:Name>Team</t:Name><t:EmailAddress>team@lab.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>PublicDL</t:MailboxType></t:Mailbox><t:Contact><t:EmailAddresses><t:Entry Key="EmailAddress1">SMTP:x@y.z</t:Entry></t:EmailAddresses></t:Contact></t:Resolution><t:Resolution><t:Mailbox><t:EmailAddress>p@partner.example</t:EmailAddress><t:MailboxType>Contact</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse></s:Body></s:Envelope>"#;
        let envelope = parse(xml.as_bytes()).unwrap();
        let message = &envelope.messages[0];
        assert_eq!(message.class, ResponseClass::Warning);
        assert_eq!(
            message.code,
            Some(ResponseCode::ErrorNameResolutionMultipleResults)
        );
        assert_eq!(
            message.resolutions,
            [
                ("team@lab.example".to_owned(), "PublicDL".to_owned()),
                ("p@partner.example".to_owned(), "Contact".to_owned())
            ]
        );
    }
}
