//! `m365-tool list`: each calendar's permission entries as Graph shows them.

use std::io::Write;

use clap::Args;
use common::report::ErrorRecord;
use common::{CommandError, ExitStatus};
use serde::Serialize;

use super::calendar::{self, BatchArgs};
use crate::context::Context;

/// Options of `list`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  m365-tool list --mailbox anna@contoso.com
  m365-tool list --mailboxes-file staff.txt -o jsonl"
))]
pub struct ListArgs {
    /// Which mailboxes and how.
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// One entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryRecord {
    /// The address, or the name of an entry without one (My Organization).
    pub user: String,
    /// The display name.
    pub name: String,
    /// The Graph role.
    pub role: String,
    /// Whether it can be removed.
    pub removable: bool,
}

/// One calendar.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarRecord {
    /// The mailbox.
    pub mailbox: String,
    /// Its entries.
    pub entries: Vec<EntryRecord>,
    /// What went wrong.
    pub error: Option<ErrorRecord>,
    #[serde(skip)]
    failure: Option<CommandError>,
}

/// Runs `list`.
pub async fn run(args: ListArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let wait = args.batch.wait_for_mailbox;
    let mailboxes = args.batch.open()?;
    let graph = ctx.graph().await?;
    calendar::run_batch(
        ctx,
        calendar::Batch {
            graph: &graph,
            mailboxes,
            concurrency: usize::from(args.batch.concurrency),
            report: None,
            resume: common::journal::Resume::default(),
        },
        |graph, mailboxes| async move {
            let read = calendar::entries_of_all(&graph, &mailboxes, wait).await;
            Ok(mailboxes
                .into_iter()
                .zip(read)
                .map(|(mailbox, entries)| {
                    let mut record = CalendarRecord {
                        mailbox: mailbox.clone(),
                        entries: Vec::new(),
                        error: None,
                        failure: None,
                    };
                    match entries {
                        Ok(entries) => {
                            record.entries = entries
                                .into_iter()
                                .map(|e| EntryRecord {
                                    user: e.address.clone().unwrap_or_else(|| e.name.clone()),
                                    name: e.name,
                                    role: e.role,
                                    removable: e.removable,
                                })
                                .collect();
                        }
                        Err(error) => {
                            let failure = error.explain().with_item(&mailbox);
                            record.error = Some(ErrorRecord::from(&failure));
                            record.failure = Some(failure);
                        }
                    }
                    record
                })
                .collect::<Vec<_>>())
        },
        |record: &CalendarRecord| {
            let action = if record.failure.is_some() {
                "failed"
            } else {
                "listed"
            };
            (action, record.failure.clone(), Vec::new())
        },
        |record, out| {
            writeln!(out, "{}", record.mailbox)?;
            if record.failure.is_none() {
                let mut table = common::output::Table::new(["USER", "ROLE", "NAME"]);
                for e in &record.entries {
                    table.row([e.user.clone(), e.role.clone(), e.name.clone()]);
                }
                for line in table.render().lines() {
                    writeln!(out, "  {line}")?;
                }
            }
            Ok(())
        },
    )
    .await
}
