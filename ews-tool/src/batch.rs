//! Grant, revoke or undo on many mailboxes: read the calendar's permissions, bring the
//! grantee's entry alone to its target, write the whole list back with the change key just
//! read (the journal records the entry before and after first), and on a stale change key read
//! again and retry. Runs `--concurrency` mailboxes at once; results keep input order.

use common::address::SmtpAddress;
use common::{CommandError, ExitStatus};

use crate::client::EwsClient;
use crate::error::{self, EwsError, Who};
use crate::journal::{Journal, Record};
use crate::outcome::{Action, MailboxOutcome};
use crate::permissions::{self, EntryState, Grantee, Level, state_of, unwritable_entries};
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
    /// Put the grantee's entry back as it was before a journaled run, if it is still what
    /// that run left (or whatever it is, with `force`); per mailbox, from the journal.
    Restore {
        /// Restore even when the entry was changed since.
        force: bool,
    },
}

/// A grant, revoke or undo, as asked.
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

/// What one mailbox needs besides the request: the journal to record in, and what an earlier
/// run's journal says of it (its entry before and after that run's write).
#[derive(Debug, Clone, Copy, Default)]
pub struct MailboxJob<'a> {
    /// Where intents and outcomes go (none for a dry run).
    pub journal: Option<&'a Journal>,
    /// The earlier run's (before, after): a write in flight when it stopped (to re-check), or
    /// the write an undo reverses.
    pub earlier: Option<(EntryState, EntryState)>,
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

/// The level a report shows for an entry: none, the level, or Custom.
fn level_of(state: EntryState) -> Option<Level> {
    match state {
        EntryState::Absent => None,
        EntryState::Level { level } => Some(level),
        EntryState::Custom { .. } => Some(Level::Custom),
    }
}

/// What writing `after` over `before` is called.
fn action_of(change: &Change, before: EntryState, after: EntryState) -> Action {
    match (change, before, after) {
        // Undo speaks of the calendar, not of the grantee: already as before is unchanged.
        (Change::Restore { .. }, b, a) if b == a => Action::Unchanged,
        (_, b, a) if b == a => {
            if a == EntryState::Absent {
                Action::Absent
            } else {
                Action::Unchanged
            }
        }
        (Change::Restore { .. }, ..) => Action::Restored,
        (_, EntryState::Absent, _) => Action::Granted,
        (_, _, EntryState::Absent) => Action::Revoked,
        _ => Action::Updated,
    }
}

fn outcome(
    mailbox: &SmtpAddress,
    request: &EditRequest,
    action: Action,
    before: EntryState,
    after: EntryState,
) -> MailboxOutcome {
    MailboxOutcome {
        mailbox: mailbox.to_string(),
        grantee: request.grantee.to_string(),
        action,
        level_before: level_of(before),
        level_after: level_of(after),
        error: None,
    }
}

/// Applies the request to one mailbox's calendar, recording intent and outcome in the
/// journal. Errors name the mailbox once the batch driver (`commands::each_mailbox`) adds it
/// as their item.
pub async fn edit_mailbox(
    client: &EwsClient,
    mailbox: &SmtpAddress,
    request: &EditRequest,
    who: Who<'_>,
    job: MailboxJob<'_>,
) -> Result<MailboxOutcome, CommandError> {
    let result = converge(client, mailbox, request, who, job).await;
    if let Some(journal) = job.journal {
        let record = match &result {
            Ok(done) => Record::Outcome {
                mailbox: mailbox.to_string(),
                action: done.action.name().to_owned(),
                before: done.before,
                after: done.after,
                error: None,
            },
            Err(error) => Record::Outcome {
                mailbox: mailbox.to_string(),
                action: if error.code == "changed-since" {
                    "changed-since"
                } else {
                    "failed"
                }
                .to_owned(),
                before: None,
                after: None,
                error: Some(error.summary()),
            },
        };
        journal.record(&record);
    }
    result.map(|done| done.outcome)
}

/// A mailbox's outcome with the entry states behind it, for the journal.
struct Done {
    outcome: MailboxOutcome,
    action: Action,
    before: Option<EntryState>,
    after: Option<EntryState>,
}

impl Done {
    fn new(
        mailbox: &SmtpAddress,
        request: &EditRequest,
        action: Action,
        before: EntryState,
        after: EntryState,
    ) -> Self {
        Done {
            outcome: outcome(mailbox, request, action, before, after),
            action,
            before: Some(before),
            after: Some(after),
        }
    }
}

async fn converge(
    client: &EwsClient,
    mailbox: &SmtpAddress,
    request: &EditRequest,
    who: Who<'_>,
    job: MailboxJob<'_>,
) -> Result<Done, CommandError> {
    let explain = |e: &EwsError| error::explain(e, who);
    // The write whose answer was lost, learnt by reading the calendar again.
    let mut sent: Option<(EntryState, EntryState)> = None;
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
        let current = state_of(&set, &request.grantee);
        // A write found made: this run's, whose answer was lost, or an earlier run's that
        // was in flight when it stopped. Reported as made, never sent again.
        if let Some((before, after)) = sent.or(match request.change {
            Change::Restore { .. } => None,
            _ => job.earlier,
        }) && before != after
            && current == after
        {
            log::info!("{mailbox}: the calendar shows the change was made");
            let action = action_of(&request.change, before, after);
            return Ok(Done::new(mailbox, request, action, before, after));
        }
        let target = match request.change {
            Change::Grant(level) => EntryState::Level { level },
            Change::Revoke => EntryState::Absent,
            Change::Restore { force } => {
                let Some((before, after)) = job.earlier else {
                    return Ok(Done::new(
                        mailbox,
                        request,
                        Action::Unchanged,
                        current,
                        current,
                    ));
                };
                if current != before && current != after && !force {
                    return Err(CommandError::new(
                        ExitStatus::ItemsFailed,
                        format!(
                            "the grantee's entry was changed since the run: it is {current}, the run left {after}; left as it is"
                        ),
                    )
                    .with_hint("check it, or add --force to put back what was there before the run")
                    .with_code("changed-since"));
                }
                before
            }
        };
        let changed = permissions::set_state(&mut set, &request.grantee, target)
            .map_err(|e| CommandError::usage(e.to_string()).with_code("edit"))?;
        let action = action_of(&request.change, current, target);
        if !changed {
            return Ok(Done::new(mailbox, request, action, current, target));
        }
        let unwritable = unwritable_entries(&set);
        if unwritable > 0 && !request.drop_unknown_entries {
            return Err(CommandError::new(
                ExitStatus::ItemsFailed,
                format!("the calendar holds {unwritable} entr{} Exchange cannot resolve (deleted users?), which any update removes; nothing was changed", if unwritable == 1 { "y" } else { "ies" }),
            )
            .with_hint("add --drop-unknown-entries to update it all the same")
            .with_code("unknown-entries"));
        }
        if request.dry_run {
            return Ok(Done::new(
                mailbox,
                request,
                action.planned(),
                current,
                target,
            ));
        }
        if let Some(journal) = job.journal {
            journal
                .intend(&Record::Intent {
                    mailbox: mailbox.to_string(),
                    before: current,
                    after: target,
                })
                .await?;
        }
        match client.set_permissions(mailbox, &folder.id, &set).await {
            Ok(_) => return Ok(Done::new(mailbox, request, action, current, target)),
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
                sent = Some((current, target));
            }
            Err(e) => return Err(explain(&e)),
        }
    }
    Err(explain(&EwsError::KeptChanging {
        attempts: MAX_CONFLICT_RETRIES,
    }))
}
