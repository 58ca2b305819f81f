//! ResolveNames and ExpandDL over the lab's directory: only recipients (mailboxes, mail users,
//! mail contacts, mail-enabled groups) are in the address book; a group that is not
//! mail-enabled resolves to nothing and expands to nothing.

use super::super::directory::Principal;
use super::super::responses::{self, Recipient};
use super::super::soap::Element;
use super::Simulator;

/// A recipient as the address book shows it.
fn recipient(principal: &Principal) -> Recipient {
    Recipient {
        name: principal.display_name.clone(),
        address: principal.mail.clone().unwrap_or_default(),
        mailbox_type: if principal.group {
            "PublicDL"
        } else if principal.contact {
            "Contact"
        } else {
            "Mailbox"
        },
    }
}

impl Simulator {
    /// ResolveNames of one `UnresolvedEntry`: an SMTP address (with or without `SMTP:`)
    /// matches exactly, other text by prefix of a name, account name or address.
    pub(super) fn resolve_names(&self, operation: &Element) -> String {
        let text = operation
            .child("UnresolvedEntry")
            .map(|e| e.text.trim().to_owned())
            .unwrap_or_default();
        let text = text
            .strip_prefix("SMTP:")
            .or_else(|| text.strip_prefix("smtp:"))
            .unwrap_or(&text);
        let full = operation
            .attribute("ReturnFullContactData")
            .is_some_and(|v| v == "true" || v == "1");
        let found: Vec<Recipient> = if text.is_empty() {
            Vec::new()
        } else {
            self.directory.resolve(text).iter().map(recipient).collect()
        };
        responses::resolve_names_response(&found, full)
    }

    /// ExpandDL: the direct members of a mail-enabled group that are recipients themselves.
    pub(super) fn expand_dl(&self, operation: &Element) -> String {
        let address = operation
            .path(&["Mailbox", "EmailAddress"])
            .map(|a| a.text.trim().to_owned())
            .unwrap_or_default();
        let list = self
            .directory
            .by_mail(&address)
            .filter(Principal::is_distribution_list);
        let members: Option<Vec<Recipient>> = list.map(|group| {
            group
                .members
                .iter()
                .filter_map(|dn| self.directory.by_dn(dn))
                .filter(Principal::is_recipient)
                .map(|p| recipient(&p))
                .collect()
        });
        responses::expand_dl_response(members.as_deref())
    }
}
