//! `m365-tool undo`: put back what a journaled `grant`, `revoke` (or `undo`) run changed.
//! Each calendar the journal records a write for has the grantee's entry returned to its role
//! before the run (or removed, where it had none), entry by entry, so entries anyone added
//! since stay; an entry changed since the run is left alone and reported `changed-since`
//! (unless `--force`). The undo keeps a journal of its own, so it can be undone in turn.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use common::journal;
use common::mailboxes::{MailboxEntry, Mailboxes};
use common::{CommandError, ExitStatus};

use super::calendar::{self, Change, Edit, TOOL};
use crate::calendar::{Grantee, RoleState};
use crate::context::Context;

/// Options of `undo`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  m365-tool undo --journal ~/.local/state/ad-ews-tools/journal/grant-20261203T050000Z-4242.jsonl
  m365-tool undo --journal grant.jsonl --dry-run
  m365-tool undo --journal grant.jsonl --force --undo-journal undo.jsonl"
))]
pub struct UndoArgs {
    /// The journal of the run to undo (m365-tool grant, revoke or undo)
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

    /// Mailboxes worked on at once (each sends one request at a time)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,

    /// The longest to wait for a mailbox Graph does not show (90s, 15m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = common::args::parse_duration)]
    pub wait_for_mailbox: Duration,

    /// Also write the outcomes to this CSV file
    #[arg(long, value_name = "FILE.csv")]
    pub report: Option<PathBuf>,
}

/// Runs `undo`.
pub async fn run(args: UndoArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let (header, contents) = journal::read_to_undo::<RoleState>(&args.journal, TOOL)?;
    let refuse = |reason: String| {
        CommandError::usage(format!(
            "cannot undo from {}: {reason}",
            args.journal.display()
        ))
        .with_code("journal")
    };
    let grantee =
        Grantee::parse(&header.grantee).map_err(|e| refuse(format!("its grantee: {e}")))?;
    // What the run wrote, per mailbox, in the journal's order.
    let writes: Vec<(String, (RoleState, RoleState))> = contents
        .mailboxes
        .iter()
        .filter_map(|(mailbox, history)| history.write().map(|w| (mailbox.clone(), w)))
        .collect();
    let total = writes.len();
    let source = args.journal.display().to_string();
    let entries: Vec<_> = writes
        .iter()
        .map(|(mailbox, _)| {
            Ok(MailboxEntry {
                address: mailbox.parse().map_err(|e| format!("{source}: {e}")),
                text: mailbox.clone(),
            })
        })
        .collect();
    let mailboxes = Mailboxes {
        stream: Box::pin(futures::stream::iter(entries)),
        total: Some(total),
    };
    let earlier: HashMap<String, (RoleState, RoleState)> = writes.into_iter().collect();
    calendar::run_edits(
        ctx,
        mailboxes,
        Edit {
            grantee,
            change: Change::Restore { force: args.force },
            dry_run: args.dry_run,
            journal: args.undo_journal,
            undoes: Some((args.journal.display().to_string(), header.url)),
            earlier,
            wait: args.wait_for_mailbox,
            concurrency: usize::from(args.concurrency),
            report: args.report,
        },
    )
    .await
}
