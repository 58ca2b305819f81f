//! Grant or revoke on many mailboxes: read the calendar's permissions, change the grantee's
//! entry alone, write the whole list back with the change key just read, and on a stale change
//! key read again and retry. Runs `--concurrency` mailboxes at once; results keep input order.

use common::address::SmtpAddress;
use common::{CommandError, ExitStatus};

use crate::client::EwsClient;
use crate::error::{self, EwsError, Who};
use crate::outcome::{Action, MailboxOutcome};
use crate::permissions::{self, Edit, Grantee, Level, unwritable_entries};
use crate::response_code::ResponseCode;
use crate::transport::TransportError;

/// How often a stale change key is answered by reading again.
pub const MAX_CONFLICT_RETRIES: u32 = 5;

/// What to do to each calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Give the grantee this level.
    Grant(Level),
    /// Remove the grantee's entry.
    Revoke,
}

/// A grant or revoke, as asked.
#[derive(Debug, Clone)]
pub struct EditRequest {
    /// Who.
    pub grantee: Grantee,
    /// What.
    pub change: Change,
    /// Read and report only.
    pub dry_run: bool,
    /// Update even when that drops entries Exchange cannot resolve.
    pub drop_unknown_entries: bool,
}

/// Before any calendar is touched: a grantee given by address must be a recipient Exchange
/// knows. A group that is not mail-enabled (a security group with a `mail` attribute, as
/// ad-tool's `create-group --mail` leaves it) is not, and Exchange would refuse it on every
/// mailbox; it is refused here once instead. A server that cannot answer the question (no
/// ResolveNames) is not a reason to stop.
pub async fn check_grantee(
    client: &EwsClient,
    request: &EditRequest,
    who: Who<'_>,
) -> Result<(), CommandError> {
    let (Grantee::Address(address), Change::Grant(_)) = (&request.grantee, &request.change) else {
        return Ok(());
    };
    match client.resolve_names(address.as_str()).await {
        Ok(found) if found.iter().any(|(f, kind)| address.is(f) && kind == "Contact") => {
            Err(CommandError::usage(format!(
                "{address} is a mail contact: it has no account in the organisation, so it cannot hold calendar permissions; no calendar was changed"
            ))
            .with_hint("give the address of a mailbox, a mail user or a mail-enabled security group")
            .with_code("unknown-grantee"))
        }
        Ok(found) if found.iter().any(|(f, _)| address.is(f)) => Ok(()),
        Ok(_) => Err(CommandError::usage(format!(
            "Exchange does not know {address} as a recipient: only mail-enabled users and groups can be given calendar permissions; no calendar was changed"
        ))
        .with_hint(format!(
            "if it is a group, mail-enable it in the Exchange Management Shell: Enable-DistributionGroup -Identity \"<the group's name>\" -PrimarySmtpAddress {address}; for a person, give the address of their mailbox"
        ))
        .with_code("unknown-grantee")),
        Err(error) => {
            let explained = error::explain(&error, who);
            if error::ends_the_run(&explained) {
                return Err(explained);
            }
            // Busy, or a server without ResolveNames: each mailbox will say for itself.
            log::info!("cannot check {address} with ResolveNames ({error}); going on");
            Ok(())
        }
    }
}

fn outcome(
    mailbox: &SmtpAddress,
    request: &EditRequest,
    edit: Edit,
    dry_run: bool,
) -> MailboxOutcome {
    let (action, before, after) = match edit {
        Edit::Unchanged { level: None } => (Action::Absent, None, None),
        Edit::Unchanged { level } => (Action::Unchanged, level, level),
        Edit::Granted { level } => (Action::Granted, None, Some(level)),
        Edit::Updated { before, after } => (Action::Updated, Some(before), Some(after)),
        Edit::Revoked { before } => (Action::Revoked, Some(before), None),
    };
    let action = if dry_run { action.planned() } else { action };
    MailboxOutcome {
        mailbox: mailbox.to_string(),
        grantee: request.grantee.to_string(),
        action,
        level_before: before,
        level_after: after,
        error: None,
    }
}

/// Applies the request to one mailbox's calendar. Errors name the mailbox once the batch
/// driver (`commands::each_mailbox`) adds it as their item.
pub async fn edit_mailbox(
    client: &EwsClient,
    mailbox: &SmtpAddress,
    request: &EditRequest,
    who: Who<'_>,
) -> Result<MailboxOutcome, CommandError> {
    let explain = |e: &EwsError| error::explain(e, who);
    // The outcome of a write whose answer was lost, learnt by reading the calendar again.
    let mut sent: Option<Edit> = None;
    for attempt in 1..=MAX_CONFLICT_RETRIES {
        let folder = match client.calendar(mailbox).await {
            Ok(folder) => folder,
            Err(e) if sent.is_some() => {
                return Err(explain(&e).with_hint(
                    "the connection broke after the change was sent, so it may have been made; run the same command again to find out",
                ));
            }
            Err(e) => return Err(explain(&e)),
        };
        if folder.id.change_key.is_empty() {
            // Without it the write cannot be made conditional, and could erase what someone
            // else wrote meanwhile.
            return Err(explain(&EwsError::Incomplete(
                "the calendar's change key (nothing was written)",
            )));
        }
        let mut set = folder
            .permissions
            .ok_or_else(|| explain(&EwsError::Incomplete("the permission set")))?;
        let unwritable = unwritable_entries(&set);
        let edit = match request.change {
            Change::Grant(level) => permissions::grant(&mut set, &request.grantee, level),
            Change::Revoke => permissions::revoke(&mut set, &request.grantee),
        }
        .map_err(|e| CommandError::usage(e.to_string()).with_code("edit"))?;
        if matches!(edit, Edit::Unchanged { .. }) {
            if let Some(made) = sent {
                // The lost write was made: report what it did.
                log::info!(
                    "{mailbox}: the answer to the change was lost; the calendar shows it was made"
                );
                return Ok(outcome(mailbox, request, made, false));
            }
            return Ok(outcome(mailbox, request, edit, false));
        }
        if unwritable > 0 && !request.drop_unknown_entries {
            return Err(CommandError::new(
                ExitStatus::ItemsFailed,
                format!("the calendar holds {unwritable} entr{} Exchange cannot resolve (deleted users?), which any update removes; nothing was changed", if unwritable == 1 { "y" } else { "ies" }),
            )
            .with_hint("add --drop-unknown-entries to update it all the same")
            .with_code("unknown-entries"));
        }
        if request.dry_run {
            return Ok(outcome(mailbox, request, edit, true));
        }
        match client.set_permissions(mailbox, &folder.id, &set).await {
            Ok(_) => return Ok(outcome(mailbox, request, edit, false)),
            // Someone changed the list between our read and our write: read it again.
            Err(e)
                if e.response_code() == Some(&ResponseCode::ErrorIrresolvableConflict)
                    && attempt < MAX_CONFLICT_RETRIES =>
            {
                log::info!(
                    "{mailbox}: the calendar changed since it was read (attempt {attempt}); reading it again"
                );
            }
            Err(e) if e.response_code() == Some(&ResponseCode::ErrorIrresolvableConflict) => {
                return Err(explain(&EwsError::KeptChanging { attempts: attempt }));
            }
            // The write was sent and its answer lost: it may have been carried out. Reading
            // the calendar again tells (a write is never sent twice blindly).
            Err(EwsError::Transport(TransportError::ConnectionLost { reason, .. })) => {
                log::info!(
                    "{mailbox}: the connection broke after the change was sent ({reason}); reading the calendar again"
                );
                sent = Some(edit);
            }
            Err(e) => return Err(explain(&e)),
        }
    }
    Err(explain(&EwsError::KeptChanging {
        attempts: MAX_CONFLICT_RETRIES,
    }))
}
