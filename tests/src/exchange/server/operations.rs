//! The SOAP operations: the version and impersonation checks, then GetFolder, UpdateFolder,
//! FindFolder and ConvertId on the mailboxes' calendars, with Exchange's access rules.

use http::StatusCode;

use super::super::directory::Principal;
use super::super::model::{self, Calendar, Member};
use super::super::soap::{self, Element, FolderResult, FolderView, ShownEntry};
use super::{Simulator, lock};

impl Simulator {
    /// Handles one SOAP request; returns the status, the body and the operation's name.
    pub(super) fn soap(
        &self,
        envelope: &Result<Element, String>,
        account: &Principal,
    ) -> (StatusCode, String, String) {
        let settings = self.settings();
        let fault = |code: &str, text: &str| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                soap::fault(code, text, None),
                "fault".to_owned(),
            )
        };
        let envelope = match envelope {
            Ok(envelope) => envelope,
            Err(e) => {
                return fault(
                    "ErrorSchemaValidation",
                    &format!("The request failed schema validation: {e}"),
                );
            }
        };
        let version = envelope
            .path(&["Header", "RequestServerVersion"])
            .and_then(|v| v.attribute("Version"))
            .unwrap_or("Exchange2007_SP1");
        if let Err(code) = settings.profile.accepts(version) {
            return fault(code, "The specified server version is invalid.");
        }
        let impersonated = match envelope.path(&[
            "Header",
            "ExchangeImpersonation",
            "ConnectingSID",
        ]) {
            None => None,
            Some(sid) => {
                let allowed = lock(&self.state)
                    .access
                    .impersonation
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&account.sam));
                if !allowed {
                    return fault(
                        "ErrorImpersonateUserDenied",
                        "The account does not have permission to impersonate the requested user.",
                    );
                }
                let target = sid.children.first().and_then(|c| match c.name.as_str() {
                    "PrimarySmtpAddress" | "SmtpAddress" => self.directory.by_mail(c.text.trim()),
                    "PrincipalName" => self.directory.by_logon(c.text.trim()),
                    "SID" => self.directory.by_sid(c.text.trim()),
                    _ => None,
                });
                match target {
                    Some(t) => Some(t),
                    None => {
                        return fault(
                            "ErrorNonExistentMailbox",
                            "The impersonated user could not be found.",
                        );
                    }
                }
            }
        };
        let Some(operation) = envelope.child("Body").and_then(|b| b.children.first()) else {
            return fault("ErrorSchemaValidation", "The request has no operation.");
        };
        let name = operation.name.clone();
        let server = settings.profile.server_version();
        let injected = lock(&self.state).faults.take_error(&name);
        if let Some(error) = injected {
            return (
                StatusCode::OK,
                soap::envelope(
                    &server,
                    &soap::folder_response(
                        &name,
                        &[Err((error.code, error.text))],
                        error.back_off_ms,
                    ),
                ),
                name,
            );
        }
        let body = match name.as_str() {
            "GetFolder" => {
                let mut results = self.get_folder(operation, account, impersonated.as_ref());
                if lock(&self.state).faults.take_omit_change_key() {
                    for view in results.iter_mut().flatten() {
                        view.change_key.clear();
                    }
                }
                soap::folder_response("GetFolder", &results, None)
            }
            "UpdateFolder" => match self.update_folder(operation, account, impersonated.as_ref()) {
                Ok(results) => soap::folder_response("UpdateFolder", &results, None),
                Err(schema) => {
                    return fault(
                        "ErrorSchemaValidation",
                        &format!("The request failed schema validation: {schema}"),
                    );
                }
            },
            "FindFolder" => {
                let owner = impersonated.as_ref().unwrap_or(account);
                let mailbox = owner.mail.clone().unwrap_or_default();
                let calendar = self.calendar_of(&mailbox);
                soap::find_folder_response(&[
                    (
                        calendar.folder_id.clone(),
                        calendar.change_key(),
                        "Calendar",
                    ),
                    (
                        format!("AAMkInbox{}", owner.sid),
                        "AQAAAA==".into(),
                        "Inbox",
                    ),
                ])
            }
            "ConvertId" => {
                let format = operation
                    .attribute("DestinationFormat")
                    .unwrap_or("EwsId")
                    .to_owned();
                let ids: Vec<(String, String)> = operation
                    .child("SourceIds")
                    .map(|s| {
                        s.children
                            .iter()
                            .map(|a| {
                                (
                                    a.attribute("Id").unwrap_or("").to_owned(),
                                    a.attribute("Mailbox").unwrap_or("").to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                soap::convert_id_response(&ids, &format)
            }
            other => {
                return fault(
                    "ErrorInvalidRequest",
                    &format!("The operation {other} is not supported by this server."),
                );
            }
        };
        (StatusCode::OK, soap::envelope(&server, &body), name)
    }

    /// Works on a mailbox's calendar under the state's lock, creating it (Default and
    /// Anonymous only) on first use.
    pub(super) fn with_calendar<T>(
        &self,
        mailbox: &str,
        work: impl FnOnce(&mut Calendar) -> T,
    ) -> T {
        let key = mailbox.to_ascii_lowercase();
        let mut state = lock(&self.state);
        let calendar = state.calendars.entry(key.clone()).or_insert_with(|| {
            Calendar::new(format!(
                "AAMkAGCal{}",
                common::base64::encode(key.as_bytes())
            ))
        });
        work(calendar)
    }

    pub(super) fn calendar_of(&self, mailbox: &str) -> Calendar {
        self.with_calendar(mailbox, |calendar| calendar.clone())
    }

    /// The mailbox a folder reference means, after the access checks.
    fn open(
        &self,
        folder: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> Result<Principal, (String, String)> {
        let owner = match folder.name.as_str() {
            "DistinguishedFolderId" => {
                if folder.attribute("Id") != Some("calendar") {
                    return Err((
                        "ErrorFolderNotFound".to_owned(),
                        "Only the calendar is available in this lab.".into(),
                    ));
                }
                match (folder.path(&["Mailbox", "EmailAddress"]), impersonated) {
                    (Some(address), _) => self.directory.by_mail(address.text.trim()),
                    (None, Some(target)) => Some(target.clone()),
                    (None, None) => Some(account.clone()),
                }
            }
            "FolderId" => {
                let id = folder.attribute("Id").unwrap_or("");
                let mailbox = lock(&self.state)
                    .calendars
                    .iter()
                    .find(|(_, c)| c.folder_id == id)
                    .map(|(m, _)| m.clone());
                mailbox.and_then(|m| self.directory.by_mail(&m))
            }
            _ => None,
        };
        let Some(owner) = owner.filter(|o| o.mailbox.is_some() && o.mail.is_some()) else {
            return Err((
                "ErrorNonExistentMailbox".to_owned(),
                "No mailbox with such guid.".into(),
            ));
        };
        let allowed = owner.sid == account.sid
            || impersonated.is_some_and(|t| t.sid == owner.sid)
            || lock(&self.state)
                .access
                .full_access
                .iter()
                .any(|(m, accounts)| {
                    owner
                        .mail
                        .as_deref()
                        .is_some_and(|mail| m.eq_ignore_ascii_case(mail))
                        && accounts
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case(&account.sam))
                });
        if !allowed {
            return Err((
                "ErrorAccessDenied".to_owned(),
                "Access is denied. Check credentials and try again.".into(),
            ));
        }
        Ok(owner)
    }

    fn view(&self, calendar: &Calendar, with_permissions: bool) -> FolderView {
        FolderView {
            id: calendar.folder_id.clone(),
            change_key: calendar.change_key(),
            permissions: with_permissions.then(|| self.render(calendar)),
        }
    }

    pub(super) fn render(&self, calendar: &Calendar) -> (Vec<ShownEntry>, Vec<String>) {
        let mut entries = Vec::new();
        let mut unknown = Vec::new();
        for (member, rights) in &calendar.entries {
            let level = model::level_name(rights);
            match member {
                Member::Default => entries.push(ShownEntry {
                    distinguished: Some("Default"),
                    sid: None,
                    address: None,
                    display_name: None,
                    rights: *rights,
                    level,
                }),
                Member::Anonymous => entries.push(ShownEntry {
                    distinguished: Some("Anonymous"),
                    sid: None,
                    address: None,
                    display_name: None,
                    rights: *rights,
                    level,
                }),
                Member::Sid(sid) => match self.directory.by_sid(sid) {
                    Some(p) => entries.push(ShownEntry {
                        distinguished: None,
                        sid: Some(p.sid),
                        address: p.mail,
                        display_name: Some(p.display_name),
                        rights: *rights,
                        level,
                    }),
                    None => unknown.push(format!("NT:{sid}")),
                },
            }
        }
        (entries, unknown)
    }

    fn get_folder(
        &self,
        operation: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> Vec<FolderResult> {
        // Exchange 2013 and later return the permission set only when asked for by name.
        let with_permissions = operation
            .path(&["FolderShape", "AdditionalProperties"])
            .is_some_and(|p| {
                p.children
                    .iter()
                    .any(|f| f.attribute("FieldURI") == Some("folder:PermissionSet"))
            });
        let Some(ids) = operation.child("FolderIds") else {
            return vec![Err((
                "ErrorInvalidRequest".to_owned(),
                "No FolderIds.".into(),
            ))];
        };
        ids.children
            .iter()
            .map(|folder| {
                let owner = self.open(folder, account, impersonated)?;
                let mailbox = owner.mail.clone().unwrap_or_default();
                let calendar = self.calendar_of(&mailbox);
                let view = self.view(&calendar, with_permissions);
                self.after_read(&mailbox);
                Ok(view)
            })
            .collect()
    }

    /// The "other editor" fault: a change right after a client read the calendar.
    fn after_read(&self, mailbox: &str) {
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

    fn update_folder(
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
        let owner = self.open(folder, account, impersonated)?;
        let mailbox = owner.mail.clone().unwrap_or_default();
        let entries = model::validate(requested, |sid, address| match (sid, address) {
            (Some(sid), _) => self.directory.by_sid(sid).map(|p| p.sid),
            (None, Some(address)) => self.directory.by_mail(address).map(|p| p.sid),
            _ => None,
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
            Ok(FolderView {
                id: calendar.folder_id.clone(),
                change_key: calendar.change_key(),
                permissions: None,
            })
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
