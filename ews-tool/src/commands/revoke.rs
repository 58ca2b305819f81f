//! `ews-tool revoke`: remove a user's or group's entry from each mailbox's calendar.

use clap::Args;
use common::{CommandError, ExitStatus};

use crate::batch::{Change, EditRequest};
use crate::cli::{BatchArgs, MailboxArgs};
use crate::commands::run_edits;
use crate::context::Context;
use crate::permissions::Grantee;

/// Options of `revoke`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ews-tool revoke --from mytt-service@corp.example --mailboxes-file staff.txt
  ews-tool revoke --from mytt-service@corp.example --mailbox anna@corp.example --dry-run"
))]
pub struct RevokeArgs {
    /// Whose entry: a user's or group's SMTP address, or a SID
    #[arg(long, value_name = "GRANTEE", value_parser = Grantee::removable)]
    pub from: Grantee,

    /// Which mailboxes.
    #[command(flatten)]
    pub mailboxes: MailboxArgs,

    /// How the batch runs.
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// Runs `revoke`.
pub async fn run(args: RevokeArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let request = EditRequest {
        grantee: args.from,
        change: Change::Revoke,
        dry_run: args.batch.dry_run,
        drop_unknown_entries: args.batch.drop_unknown_entries,
    };
    run_edits(ctx, &args.mailboxes, &args.batch, request).await
}
