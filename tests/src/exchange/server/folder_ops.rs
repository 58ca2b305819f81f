//! The folder operations: GetFolder and FindFolder over each mailbox's well-known folders
//! (named in the mailbox's language, with the properties the shape asks for and Exchange's
//! access rules), and ConvertId between the id formats the simulator writes.

use super::super::directory::Principal;
use super::super::folders::{self, Culture, FolderKind, IdFormat, WellKnown};
use super::super::model::{self, Calendar, Member};
use super::super::responses::{ConvertedId, FolderPage, FolderResult, FolderView, ShownEntry};
use super::super::soap::Element;
use super::{Simulator, lock};

type Refusal = (String, String);

fn refusal(code: &str, text: &str) -> Refusal {
    (code.to_owned(), text.to_owned())
}

impl Simulator {
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
            Calendar::new(folders::folder_id(
                IdFormat::EwsId,
                &key,
                folders::CALENDAR.number,
            ))
        });
        work(calendar)
    }

    pub(super) fn calendar_of(&self, mailbox: &str) -> Calendar {
        self.with_calendar(mailbox, |calendar| calendar.clone())
    }

    fn culture_of(&self, mailbox: &str) -> Culture {
        lock(&self.state)
            .cultures
            .get(&mailbox.to_ascii_lowercase())
            .copied()
            .unwrap_or_default()
    }

    /// The mailbox and folder a folder reference means, after the access checks.
    pub(super) fn locate(
        &self,
        reference: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> Result<(Principal, &'static WellKnown), Refusal> {
        let (owner, folder) = match reference.name.as_str() {
            "DistinguishedFolderId" => {
                let name = reference.attribute("Id").unwrap_or("");
                let folder = folders::by_name(name).ok_or_else(|| {
                    refusal(
                        "ErrorFolderNotFound",
                        &format!("The distinguished folder {name} does not exist in this mailbox."),
                    )
                })?;
                let owner = match (reference.path(&["Mailbox", "EmailAddress"]), impersonated) {
                    (Some(address), _) => self.directory.by_mail(address.text.trim()),
                    (None, Some(target)) => Some(target.clone()),
                    (None, None) => Some(account.clone()),
                };
                (owner, folder)
            }
            "FolderId" => {
                let id = reference.attribute("Id").unwrap_or("");
                let (mailbox, number) = folders::parse_id(IdFormat::EwsId, id, None)
                    .or_else(|| folders::parse_id(IdFormat::EwsLegacyId, id, None))
                    .ok_or_else(|| refusal("ErrorInvalidIdMalformed", "Id is malformed."))?;
                let folder = folders::by_number(number)
                    .ok_or_else(|| refusal("ErrorInvalidIdMalformed", "Id is malformed."))?;
                (self.directory.by_mail(&mailbox), folder)
            }
            _ => return Err(refusal("ErrorInvalidIdMalformed", "Id is malformed.")),
        };
        let Some(owner) = owner.filter(Principal::has_mailbox) else {
            return Err(refusal(
                "ErrorNonExistentMailbox",
                "No mailbox with such guid.",
            ));
        };
        self.check_access(&owner, account, impersonated)?;
        Ok((owner, folder))
    }

    /// The owner, an account impersonating them, or one with FullAccess may open a mailbox.
    fn check_access(
        &self,
        owner: &Principal,
        account: &Principal,
        impersonated: Option<&Principal>,
    ) -> Result<(), Refusal> {
        let allowed = owner.sid == account.sid
            || impersonated.is_some_and(|t| t.sid == owner.sid)
            || owner.mail.as_deref().is_some_and(|mail| {
                lock(&self.state)
                    .access
                    .full_access
                    .get(&mail.to_ascii_lowercase())
                    .is_some_and(|accounts| {
                        accounts
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case(&account.sam))
                    })
            });
        if allowed {
            Ok(())
        } else {
            Err(refusal(
                "ErrorAccessDenied",
                "Access is denied. Check credentials and try again.",
            ))
        }
    }

    /// A folder of `owner`'s mailbox with the properties `wanted` names.
    fn show(
        &self,
        owner: &Principal,
        folder: &'static WellKnown,
        wanted: folders::Wanted,
        modern: bool,
    ) -> FolderView {
        let mailbox = owner.mail.clone().unwrap_or_default();
        let id_of = |f: &WellKnown| folders::folder_id(IdFormat::EwsId, &mailbox, f.number);
        let calendar = (folder.kind == FolderKind::Calendar).then(|| self.calendar_of(&mailbox));
        let change_key = calendar.as_ref().map_or_else(
            || folders::fixed_change_key(folder.number),
            Calendar::change_key,
        );
        let mut view = FolderView::id_only(folder.kind, id_of(folder), change_key);
        if wanted.parent
            && let Some(parent) = folder.parent.and_then(folders::by_number)
        {
            view.parent = Some((id_of(parent), folders::fixed_change_key(parent.number)));
        }
        if wanted.class {
            view.class = folder.class;
        }
        if wanted.display_name {
            view.display_name = Some(folder.display_name(self.culture_of(&mailbox)).to_owned());
        }
        if wanted.total {
            view.total = Some(0);
        }
        if wanted.child_count {
            view.child_count = Some(u32::try_from(folders::children(folder).count()).unwrap_or(0));
        }
        view.effective_rights = wanted.effective_rights;
        if wanted.distinguished && modern {
            view.distinguished = Some(folder.name);
        }
        if wanted.permissions {
            view.permissions = Some(match &calendar {
                Some(calendar) => self.render(calendar),
                // Other folders keep Exchange's defaults: Default and Anonymous, no access.
                None => (default_entries(), Vec::new()),
            });
        }
        if wanted.unread {
            view.unread = Some(0);
        }
        view
    }

    /// Whether `AllProperties` includes the permission set: Exchange 2010 only.
    fn permission_set_in_all(&self) -> bool {
        lock(&self.state).settings.profile == super::Profile::Exchange2010Sp2
    }

    /// GetFolder; `Err` is the request's schema error.
    pub(super) fn get_folder(
        &self,
        operation: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
        modern: bool,
    ) -> Result<Vec<FolderResult>, String> {
        let wanted = folders::wanted(operation.child("FolderShape"), self.permission_set_in_all())?;
        let ids = operation
            .child("FolderIds")
            .ok_or("The request failed schema validation: GetFolder has no FolderIds.")?;
        Ok(ids
            .children
            .iter()
            .map(|reference| {
                let (owner, folder) = self.locate(reference, account, impersonated)?;
                let view = self.show(&owner, folder, wanted, modern);
                if folder.kind == FolderKind::Calendar {
                    self.after_read(owner.mail.as_deref().unwrap_or_default());
                }
                Ok(view)
            })
            .collect())
    }

    /// FindFolder: the folders below each parent (its children, or all below it with `Deep`
    /// traversal), a page at a time; `Err` is the request's schema error.
    pub(super) fn find_folder(
        &self,
        operation: &Element,
        account: &Principal,
        impersonated: Option<&Principal>,
        modern: bool,
    ) -> Result<Vec<Result<FolderPage, Refusal>>, String> {
        let wanted = folders::wanted(operation.child("FolderShape"), self.permission_set_in_all())?;
        let traversal = operation.attribute("Traversal").unwrap_or("Shallow");
        if !matches!(traversal, "Shallow" | "Deep" | "SoftDeleted") {
            return Err(format!("'{traversal}' is not a valid Traversal value"));
        }
        let page = operation.child("IndexedPageFolderView");
        let max = page
            .and_then(|p| p.attribute("MaxEntriesReturned"))
            .map(|m| {
                m.parse::<usize>()
                    .map_err(|_| format!("'{m}' is not a number"))
            })
            .transpose()?;
        let offset = page
            .and_then(|p| p.attribute("Offset"))
            .map(|o| {
                o.parse::<usize>()
                    .map_err(|_| format!("'{o}' is not a number"))
            })
            .transpose()?
            .unwrap_or(0);
        let from_end = page.and_then(|p| p.attribute("BasePoint")) == Some("End");
        let parents = operation
            .child("ParentFolderIds")
            .ok_or("FindFolder has no ParentFolderIds.")?;
        Ok(parents
            .children
            .iter()
            .map(|reference| {
                let (owner, parent) = self.locate(reference, account, impersonated)?;
                let below = match traversal {
                    "Shallow" => folders::children(parent).collect(),
                    "Deep" => folders::descendants(parent),
                    // Soft-deleted folders: the lab's mailboxes have none.
                    _ => Vec::new(),
                };
                let total = below.len();
                let start = if from_end {
                    total.saturating_sub(offset + max.unwrap_or(total))
                } else {
                    offset.min(total)
                };
                let end = max.map_or(total, |m| (start + m).min(total));
                let end = if from_end {
                    total.saturating_sub(offset).max(start)
                } else {
                    end
                };
                let folders = below[start..end]
                    .iter()
                    .map(|f| self.show(&owner, f, wanted, modern))
                    .collect();
                Ok(FolderPage {
                    folders,
                    next_offset: if from_end {
                        offset + (end - start)
                    } else {
                        end
                    },
                    total,
                    last: if from_end { start == 0 } else { end == total },
                })
            })
            .collect())
    }

    /// ConvertId: each folder id in the destination format; ids the simulator did not write
    /// are malformed.
    pub(super) fn convert_id(&self, operation: &Element) -> Vec<ConvertedId> {
        let destination = operation
            .attribute("DestinationFormat")
            .and_then(IdFormat::from_name);
        let sources = operation
            .child("SourceIds")
            .map(|s| s.children.as_slice())
            .unwrap_or_default();
        sources
            .iter()
            .map(|source| {
                let malformed = || refusal("ErrorInvalidIdMalformed", "Id is malformed.");
                let destination = destination.ok_or_else(malformed)?;
                let format = source
                    .attribute("Format")
                    .and_then(IdFormat::from_name)
                    .ok_or_else(malformed)?;
                let (mailbox, number) = folders::parse_id(
                    format,
                    source.attribute("Id").unwrap_or(""),
                    source.attribute("Mailbox"),
                )
                .ok_or_else(malformed)?;
                if self
                    .directory
                    .by_mail(&mailbox)
                    .is_none_or(|p| !p.has_mailbox())
                {
                    return Err(refusal(
                        "ErrorNonExistentMailbox",
                        "No mailbox with such guid.",
                    ));
                }
                Ok((
                    operation
                        .attribute("DestinationFormat")
                        .unwrap_or_default()
                        .to_owned(),
                    folders::folder_id(destination, &mailbox, number),
                    mailbox,
                ))
            })
            .collect()
    }

    /// A calendar's entries as a response shows them; SIDs that no longer resolve are unknown
    /// entries (`NT:S-1-5-…`), as Exchange lists deleted accounts.
    pub(super) fn render(&self, calendar: &Calendar) -> (Vec<ShownEntry>, Vec<String>) {
        let mut entries = Vec::new();
        let mut unknown = Vec::new();
        for (member, rights) in &calendar.entries {
            let level = model::level_name(rights);
            let shown = |distinguished, sid, address, display_name, external| ShownEntry {
                distinguished,
                sid,
                address,
                display_name,
                external,
                rights: *rights,
                level,
            };
            match member {
                Member::Default => entries.push(shown(Some("Default"), None, None, None, None)),
                Member::Anonymous => {
                    entries.push(shown(Some("Anonymous"), None, None, None, None));
                }
                Member::Sid(sid) => match self.directory.by_sid(sid) {
                    Some(p) => {
                        entries.push(shown(None, Some(p.sid), p.mail, Some(p.display_name), None));
                    }
                    None => unknown.push(format!("NT:{sid}")),
                },
                Member::External(identity) => entries.push(shown(
                    None,
                    None,
                    None,
                    Some(identity.clone()),
                    Some(identity.clone()),
                )),
            }
        }
        (entries, unknown)
    }
}

/// The permission entries of a folder nobody changed: Default and Anonymous, no access.
fn default_entries() -> Vec<ShownEntry> {
    ["Default", "Anonymous"]
        .into_iter()
        .map(|who| ShownEntry {
            distinguished: Some(who),
            sid: None,
            address: None,
            display_name: None,
            external: None,
            rights: model::LEVELS[0].1,
            level: "None",
        })
        .collect()
}
