//! UpdateFolder on a calendar's permission set: the request read as the schema demands,
//! validated as Exchange validates it (grantees must be mail-enabled recipients), and written
//! in one step with the change key check; and the "other editor" fault between a read and a
//! write.

use super::super::directory::Principal;
use super::super::folders::FolderKind;
use super::super::model::{self, Member};
use super::super::responses::{FolderResult, FolderView};
use super::super::soap::{self, Element};
use super::{Simulator, lock};

impl Simulator {
    /// The "other editor" fault: a change right after a client read the calendar.
    pub(super) fn after_read(&self, mailbox: &str) {
        let conflict = lock(&self.state).faults.take_conflict(mailbox);
        let Some((user, level)) = conflict else {
            return;
        };
        let (Some(principal), Some(rights)) =
            (self.directory.by_mail(&user), model::level_rights(&level))
        else {
            return;
        };
        self.with_calendar(mailbox, |calendar| {
            let member = Member::Sid(principal.sid);
            match calendar.entries.iter_mut().find(|(m, _)| *m == member) {
                Some(entry) => entry.1 = rights,
                None => calendar.entries.push((member, rights)),
            }
            calendar.change += 1;
        });
    }

    /// UpdateFolder; `Err` is the request's schema error.
    pub(super) fn update_folder(
        &self,
        operation: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> Result<Vec<FolderResult>, String> {
        let changes = operation.child("FolderChanges").ok_or("no FolderChanges")?;
        let mut results = Vec::new();
        for change in changes.all("FolderChange") {
            let folder = change.children.first().ok_or("an empty FolderChange")?;
            let set_field = change
                .path(&["Updates", "SetFolderField"])
                .ok_or("no SetFolderField")?;
            let requested = soap::requested_permissions(set_field)?;
            results.push(self.set_permissions(folder, &requested, account, impersonated));
        }
        Ok(results)
    }

    fn set_permissions(
        &self,
        folder: &Element,
        requested: &[model::RequestedEntry],
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> FolderResult {
        let (owner, target) = self.locate(folder, account, impersonated)?;
        if target.kind != FolderKind::Calendar {
            return Err((
                "ErrorCannotSetCalendarPermissionOnNonCalendarFolder".to_owned(),
                "Calendar permissions can only be set on calendar folders.".into(),
            ));
        }
        let mailbox = owner.mail.clone().unwrap_or_default();
        // Only mail-enabled security principals can hold folder permissions: a group that is
        // not mail-enabled, or a user who is neither a mailbox nor a mail user, is not in the
        // address book, and a mail contact has no SID; such an entry is refused like an
        // unknown user.
        let entries = model::validate(requested, |sid, address| {
            let principal = match (sid, address) {
                (Some(sid), _) => self.directory.by_sid(sid),
                (None, Some(address)) => self.directory.by_mail(address),
                _ => None,
            };
            principal
                .filter(|p| p.is_recipient() && !p.sid.is_empty())
                .map(|p| p.sid)
        })
        .map_err(|r| (r.code.to_owned(), r.text))?;
        // The change key is checked and the list replaced in one step, as one store write.
        let written = self.with_calendar(&mailbox, |calendar| {
            if folder
                .attribute("ChangeKey")
                .is_some_and(|key| key != calendar.change_key())
            {
                return Err(("ErrorIrresolvableConflict".to_owned(), "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.".into()));
            }
            calendar.entries = entries;
            calendar.change += 1;
            Ok(FolderView::id_only(
                FolderKind::Calendar,
                calendar.folder_id.clone(),
                calendar.change_key(),
            ))
        });
        if written.is_ok() {
            *lock(&self.state)
                .stats
                .calendar_writes
                .entry(mailbox.to_ascii_lowercase())
                .or_default() += 1;
        }
        written
    }
}
