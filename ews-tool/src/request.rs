//! The SOAP requests ews-tool sends: element order exactly as Microsoft's schemas require, every
//! value escaped, a named level never sent together with individual rights.

use std::fmt::Write as _;

use common::address::SmtpAddress;

use crate::permissions::{CalendarPermission, Level, PermissionSet, UserId};
use crate::version::ExchangeVersion;

const ENVELOPE_OPEN: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/""#,
    r#" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types""#,
    r#" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">"#
);

/// Escapes text or an attribute value for XML, dropping characters XML 1.0 cannot carry.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Headers every request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// `RequestServerVersion`.
    pub version: ExchangeVersion,
    /// `ExchangeImpersonation` as this SMTP address, instead of delegate access.
    pub impersonate: Option<SmtpAddress>,
}

fn envelope(header: &RequestHeader, body: &str) -> String {
    let mut xml = String::with_capacity(body.len() + 600);
    xml.push_str(ENVELOPE_OPEN);
    let _ = write!(
        xml,
        r#"<soap:Header><t:RequestServerVersion Version="{}"/>"#,
        header.version.name()
    );
    if let Some(address) = &header.impersonate {
        let _ = write!(
            xml,
            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>",
            escape(address.as_str())
        );
    }
    xml.push_str("</soap:Header><soap:Body>");
    xml.push_str(body);
    xml.push_str("</soap:Body></soap:Envelope>");
    xml
}

/// `ResolveNames` of `text` in the address book: who Exchange knows by that name or address.
pub fn resolve_names(header: &RequestHeader, text: &str) -> String {
    envelope(
        header,
        &format!(
            r#"<m:ResolveNames ReturnFullContactData="false"><m:UnresolvedEntry>{}</m:UnresolvedEntry></m:ResolveNames>"#,
            escape(text)
        ),
    )
}

/// `GetFolder` for the calendar of `mailbox` (the distinguished id, whatever its localized
/// name), asking for `folder:PermissionSet` by name: `AllProperties` does not return it since
/// Exchange 2013. With impersonation the mailbox is the impersonated user's own.
pub fn get_calendar(header: &RequestHeader, mailbox: &SmtpAddress) -> String {
    let folder = if header.impersonate.is_some() {
        r#"<t:DistinguishedFolderId Id="calendar"/>"#.to_owned()
    } else {
        format!(
            r#"<t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"#,
            escape(mailbox.as_str())
        )
    };
    envelope(
        header,
        &format!(
            "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>\
             <t:FieldURI FieldURI=\"folder:PermissionSet\"/></t:AdditionalProperties></m:FolderShape>\
             <m:FolderIds>{folder}</m:FolderIds></m:GetFolder>"
        ),
    )
}

/// `GetFolder` for the calendar of the account that logs on.
pub fn get_own_calendar(header: &RequestHeader) -> String {
    envelope(
        header,
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>\
         <t:FieldURI FieldURI=\"folder:PermissionSet\"/></t:AdditionalProperties></m:FolderShape>\
         <m:FolderIds><t:DistinguishedFolderId Id=\"calendar\"/></m:FolderIds></m:GetFolder>",
    )
}

/// A folder's id and change key, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderId {
    /// `Id`.
    pub id: String,
    /// `ChangeKey`.
    pub change_key: String,
}

/// `UpdateFolder` → `SetFolderField` of `folder:PermissionSet` with a `t:CalendarFolder`: the
/// whole list, every entry that stays included, with the change key just read.
pub fn set_calendar_permissions(
    header: &RequestHeader,
    folder: &FolderId,
    set: &PermissionSet,
) -> String {
    let mut permissions = String::new();
    for entry in set.entries.iter().filter(|e| !e.user.is_empty()) {
        write_permission(&mut permissions, entry);
    }
    envelope(
        header,
        &format!(
            "<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:FolderId Id=\"{}\" ChangeKey=\"{}\"/><t:Updates>\
             <t:SetFolderField><t:FieldURI FieldURI=\"folder:PermissionSet\"/><t:CalendarFolder><t:PermissionSet>\
             <t:CalendarPermissions>{permissions}</t:CalendarPermissions></t:PermissionSet></t:CalendarFolder>\
             </t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>",
            escape(&folder.id),
            escape(&folder.change_key)
        ),
    )
}

fn write_user(xml: &mut String, user: &UserId) {
    xml.push_str("<t:UserId>");
    // Default and Anonymous travel alone: with a SID or address Exchange answers
    // ErrorInvalidUserInfo.
    if let Some(distinguished) = user.distinguished_user {
        let _ = write!(
            xml,
            "<t:DistinguishedUser>{distinguished}</t:DistinguishedUser>"
        );
    } else {
        if let Some(sid) = &user.sid {
            let _ = write!(xml, "<t:SID>{}</t:SID>", escape(sid));
        }
        if let Some(address) = &user.primary_smtp_address {
            let _ = write!(
                xml,
                "<t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress>",
                escape(address)
            );
        }
        if user.sid.is_none()
            && user.primary_smtp_address.is_none()
            && let Some(external) = &user.external_user_identity
        {
            let _ = write!(
                xml,
                "<t:ExternalUserIdentity>{}</t:ExternalUserIdentity>",
                escape(external)
            );
        }
    }
    xml.push_str("</t:UserId>");
}

fn write_permission(xml: &mut String, entry: &CalendarPermission) {
    xml.push_str("<t:CalendarPermission>");
    write_user(xml, &entry.user);
    if entry.level == Level::Custom {
        // Custom cannot be asked for by name: the entry goes back as its individual rights, in
        // the schema's order, each one that was read.
        let r = &entry.rights;
        let flag = |xml: &mut String, name: &str, value: Option<bool>| {
            if let Some(v) = value {
                let _ = write!(xml, "<t:{name}>{v}</t:{name}>");
            }
        };
        flag(xml, "CanCreateItems", r.can_create_items);
        flag(xml, "CanCreateSubFolders", r.can_create_subfolders);
        flag(xml, "IsFolderOwner", r.is_folder_owner);
        flag(xml, "IsFolderVisible", r.is_folder_visible);
        flag(xml, "IsFolderContact", r.is_folder_contact);
        if let Some(scope) = r.edit_items {
            let _ = write!(xml, "<t:EditItems>{scope}</t:EditItems>");
        }
        if let Some(scope) = r.delete_items {
            let _ = write!(xml, "<t:DeleteItems>{scope}</t:DeleteItems>");
        }
        if let Some(read) = r.read_items {
            let _ = write!(xml, "<t:ReadItems>{read}</t:ReadItems>");
        }
    }
    let _ = write!(
        xml,
        "<t:CalendarPermissionLevel>{}</t:CalendarPermissionLevel></t:CalendarPermission>",
        entry.level
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{DistinguishedUser, ItemScope, ReadAccess};

    fn address(text: &str) -> SmtpAddress {
        text.parse().unwrap()
    }
    use crate::permissions::{Level, Rights};

    fn header() -> RequestHeader {
        RequestHeader {
            version: ExchangeVersion::Exchange2010Sp2,
            impersonate: None,
        }
    }

    #[test]
    fn values_are_escaped() {
        assert_eq!(escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&apos;");
        assert_eq!(escape("x\u{1}y\tz"), "xy\tz");
        let xml = get_calendar(&header(), &address("o'neil&co@lab.example"));
        assert!(xml.contains("<t:EmailAddress>o&apos;neil&amp;co@lab.example</t:EmailAddress>"));
    }

    #[test]
    fn get_folder_asks_for_the_permission_set_by_name() {
        let xml = get_calendar(&header(), &address("anna@lab.example"));
        assert!(xml.contains(r#"<t:RequestServerVersion Version="Exchange2010_SP2"/>"#));
        assert!(xml.contains(r#"<t:FieldURI FieldURI="folder:PermissionSet"/>"#));
        assert!(xml.contains(r#"<t:DistinguishedFolderId Id="calendar"><t:Mailbox>"#));
        let impersonated = get_calendar(
            &RequestHeader {
                impersonate: Some(address("anna@lab.example")),
                ..header()
            },
            &address("anna@lab.example"),
        );
        assert!(impersonated.contains(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>anna@lab.example"
        ));
        assert!(impersonated.contains(r#"<t:DistinguishedFolderId Id="calendar"/>"#));
    }

    #[test]
    fn entries_are_written_as_the_schema_orders_them() {
        let custom = Rights {
            can_create_items: Some(true),
            edit_items: Some(ItemScope::Owned),
            read_items: Some(ReadAccess::FullDetails),
            ..Rights::default()
        };
        let set = PermissionSet {
            entries: vec![
                CalendarPermission {
                    user: UserId {
                        distinguished_user: Some(DistinguishedUser::Default),
                        sid: Some("S-1-1-0".into()),
                        ..UserId::default()
                    },
                    rights: Level::FreeBusyTimeOnly.rights().unwrap(),
                    level: Level::FreeBusyTimeOnly,
                },
                CalendarPermission {
                    user: UserId {
                        sid: Some("S-1-5-21-9".into()),
                        primary_smtp_address: Some("x@lab.example".into()),
                        display_name: Some("X".into()),
                        ..UserId::default()
                    },
                    rights: custom,
                    level: Level::Custom,
                },
                CalendarPermission {
                    user: UserId::default(),
                    rights: Rights::default(),
                    level: Level::Custom,
                },
            ],
            unknown_entries: vec!["NT:S-1-5-21-1".into()],
        };
        let xml = set_calendar_permissions(
            &header(),
            &FolderId {
                id: "AAMk".into(),
                change_key: "AgA=".into(),
            },
            &set,
        );
        assert!(xml.contains(r#"<t:FolderId Id="AAMk" ChangeKey="AgA="/>"#));
        // Default: the distinguished user alone, a named level alone.
        assert!(xml.contains("<t:CalendarPermission><t:UserId><t:DistinguishedUser>Default</t:DistinguishedUser></t:UserId><t:CalendarPermissionLevel>FreeBusyTimeOnly</t:CalendarPermissionLevel></t:CalendarPermission>"), "{xml}");
        // Custom: SID and address, the rights read, in order, then the level.
        assert!(xml.contains("<t:UserId><t:SID>S-1-5-21-9</t:SID><t:PrimarySmtpAddress>x@lab.example</t:PrimarySmtpAddress></t:UserId><t:CanCreateItems>true</t:CanCreateItems><t:EditItems>Owned</t:EditItems><t:ReadItems>FullDetails</t:ReadItems><t:CalendarPermissionLevel>Custom</t:CalendarPermissionLevel>"), "{xml}");
        // Entries without identity and unknown entries are not written.
        assert_eq!(xml.matches("<t:CalendarPermission>").count(), 2);
        assert!(!xml.contains("UnknownEntries") && !xml.contains("DisplayName"));
    }
}
