//! `ews-tool grant`: give a user or group a level on each mailbox's calendar.

use clap::Args;
use common::{CommandError, ExitStatus};

use crate::batch::{Change, EditRequest};
use crate::cli::{BatchArgs, MailboxArgs};
use crate::commands::run_edits;
use crate::context::Context;
use crate::permissions::{Grantee, Level};

/// Options of `grant`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ews-tool grant --to mytt-service@corp.example --level Editor --mailbox anna@corp.example
  ad-tool mailboxes --group \"Timetable Users\" \\
      | ews-tool grant --to mytt-service@corp.example --level Reviewer --mailboxes-file -
  ews-tool grant --to Default --level LimitedDetails --mailboxes-file staff.txt --dry-run"
))]
pub struct GrantArgs {
    /// Who: a user's or group's SMTP address, a SID, or Default / Anonymous
    #[arg(long, value_name = "GRANTEE")]
    pub to: Grantee,

    /// The level: None, Owner, PublishingEditor, Editor, PublishingAuthor, Author,
    /// NoneditingAuthor, Reviewer, Contributor, FreeBusyTimeOnly (AvailabilityOnly),
    /// FreeBusyTimeAndSubjectAndLocation (LimitedDetails)
    #[arg(long, value_name = "LEVEL")]
    pub level: Level,

    /// Which mailboxes.
    #[command(flatten)]
    pub mailboxes: MailboxArgs,

    /// How the batch runs.
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// Runs `grant`.
pub async fn run(args: GrantArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let request = EditRequest {
        grantee: args.to,
        change: Change::Grant(args.level),
        dry_run: args.batch.dry_run,
        drop_unknown_entries: args.batch.drop_unknown_entries,
    };
    run_edits(ctx, &args.mailboxes, &args.batch, request).await
}
