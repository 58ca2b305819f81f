//! `ews-tool undo`: put back what a journaled `grant`, `revoke` (or `undo`) run changed. Each
//! calendar the journal records a write for has the grantee's entry returned to its state
//! before the run, read-modify-write as always, so entries anyone added since stay; an entry
//! changed by hand since the run is left alone and reported `changed-since` (unless
//! `--force`). The undo keeps a journal of its own, so it can be undone in turn.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;
use common::{CommandError, ExitStatus};

use super::{Prepared, each_mailbox};
use crate::batch::{self, Change, EditRequest, MailboxJob};
use crate::context::Context;
use crate::error::Who;
use crate::journal::{self, Header};
use crate::mailboxes::{MailboxEntry, Mailboxes};
use crate::outcome::{Action, MailboxOutcome, ReportFile};
use crate::permissions::{EntryState, Grantee};
use common::journal::Resume;

/// Options of `undo`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ews-tool undo --journal ~/.local/state/ad-ews-tools/journal/grant-20261203T050000Z-4242.jsonl
  ews-tool undo --journal grant.jsonl --dry-run
  ews-tool undo --journal grant.jsonl --force --undo-journal undo.jsonl"
))]
pub struct UndoArgs {
    /// The journal of the run to undo (grant, revoke or undo)
    #[arg(long, value_name = "FILE")]
    pub journal: PathBuf,

    /// Read the calendars and report what would be put back; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Also put back entries someone changed since the run
    #[arg(long)]
    pub force: bool,

    /// This undo's own journal (so it can be undone) [default: a new file in the state
    /// directory, printed at the start]
    #[arg(long, value_name = "FILE")]
    pub undo_journal: Option<PathBuf>,

    /// Mailboxes worked on at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Also write the outcomes to this CSV file
    #[arg(long, value_name = "FILE.csv")]
    pub report: Option<PathBuf>,

    /// Update calendars even when that removes entries Exchange cannot resolve (deleted users)
    #[arg(long)]
    pub drop_unknown_entries: bool,
}

fn journal_error(args: &UndoArgs, reason: impl std::fmt::Display) -> CommandError {
    CommandError::usage(format!(
        "cannot undo from {}: {reason}",
        args.journal.display()
    ))
    .with_code("journal")
}

/// Runs `undo`.
pub async fn run(args: UndoArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let (header, contents): (Header, journal::Contents) =
        common::journal::read_to_undo(&args.journal, journal::TOOL)?;
    let grantee: Grantee = header
        .grantee
        .parse()
        .map_err(|e| journal_error(&args, format!("its grantee: {e}")))?;
    // What the run wrote, per mailbox, in the journal's order.
    let writes: Vec<(String, (EntryState, EntryState))> = contents
        .mailboxes
        .iter()
        .filter_map(|(mailbox, history)| history.write().map(|w| (mailbox.clone(), w)))
        .collect();
    let mut report = args.report.as_deref().map(ReportFile::open).transpose()?;
    let concurrency = usize::from(args.concurrency).min(writes.len()).max(1);
    // Without --url, the server the journal's changes were made through.
    let recorded = header.url.parse::<crate::endpoint::Endpoint>().ok();
    let client = ctx
        .client_at(concurrency, ctx.server.url.clone().or(recorded), None)
        .await?;
    if !header.url.eq_ignore_ascii_case(&client.endpoint().url()) {
        return Err(journal_error(
            &args,
            format!("it records changes made through {}", header.url),
        )
        .with_hint(format!("undo with --url {}", header.url)));
    }
    let user = client.logon().to_owned();
    let grantee_text = grantee.to_string();
    let who = Who {
        user: &user,
        grantee: Some(&grantee_text),
    };
    let request = EditRequest {
        grantee,
        change: Change::Restore { force: args.force },
        dry_run: args.dry_run,
        drop_unknown_entries: args.drop_unknown_entries,
    };
    let (own, _) = if args.dry_run {
        (None, journal::Contents::default())
    } else {
        let path = common::journal::path_for(args.undo_journal.as_deref(), "undo")?;
        let own_header = Header {
            tool: Some(journal::TOOL.to_owned()),
            command: "undo".into(),
            grantee: header.grantee.clone(),
            level: None,
            url: header.url.clone(),
            user: user.clone(),
            started: jiff::Timestamp::now().to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            undoes: Some(args.journal.display().to_string()),
            resumed: false,
        };
        let (journal, earlier) =
            common::journal::open_for_run(&path, own_header, ctx.global.quiet).await?;
        (Some(journal), earlier)
    };
    let resume = Resume {
        journal: own.as_ref().map(|j| j.path().to_owned()),
    };
    let plan: HashMap<String, (EntryState, EntryState)> = writes.iter().cloned().collect();
    let total = writes.len();
    let source = args.journal.display().to_string();
    let entries = writes.into_iter().map(move |(mailbox, _)| {
        Ok(MailboxEntry {
            address: mailbox.parse().map_err(|e| format!("{source}: {e}")),
            text: mailbox,
        })
    });
    let prepared = Prepared {
        mailboxes: Mailboxes {
            stream: Box::pin(futures::stream::iter(entries)),
            total: Some(total),
        },
        concurrency,
        client,
    };
    let (client_ref, request_ref, journal_ref, plan_ref) =
        (&prepared.client, &request, own.as_ref(), &plan);
    let result = each_mailbox(
        ctx,
        prepared.mailboxes,
        prepared.concurrency,
        &resume,
        move |mailbox| async move {
            let job = MailboxJob {
                journal: journal_ref,
                earlier: plan_ref
                    .get(&mailbox.as_str().to_ascii_lowercase())
                    .copied(),
            };
            batch::edit_mailbox(client_ref, &mailbox, request_ref, who, job).await
        },
        |mailbox, error| {
            let mut outcome = MailboxOutcome::failed(mailbox, &grantee_text, error);
            if error.code == "changed-since" {
                outcome.action = Action::ChangedSince;
            }
            outcome
        },
        |outcome| match &mut report {
            Some(report) => report.write(outcome),
            None => Ok(()),
        },
    )
    .await;
    if let Some(journal) = own {
        let _ = journal.close(result.is_ok()).await;
    }
    result?.finish(&super::client_summary(&prepared.client))
}
