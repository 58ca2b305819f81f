//! `m365-tool revoke --from GRANTEE`: the grantee's entry removed from each mailbox's calendar;
//! the My Organization entry cannot be removed, only given a role.

use clap::Args;
use common::{CommandError, ExitStatus};

use super::calendar::{self, BatchArgs, Change, Edit, EditArgs};
use crate::calendar::Grantee;
use crate::context::Context;

/// Options of `revoke`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  m365-tool revoke --from svc-mytt@contoso.onmicrosoft.com --mailboxes-file staff.txt
  m365-tool revoke --from former-planner@contoso.com --mailbox anna@contoso.com --dry-run"
))]
pub struct RevokeArgs {
    /// Whose entry to remove: a user's or group's SMTP address
    #[arg(long, value_name = "GRANTEE", value_parser = Grantee::parse)]
    pub from: Grantee,

    /// The dry run, the report and the journal.
    #[command(flatten)]
    pub edit: EditArgs,

    /// Which mailboxes and how.
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// Runs `revoke`.
pub async fn run(args: RevokeArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    calendar::run_edits(
        ctx,
        args.batch.open()?,
        Edit::new(args.from, Change::Revoke, args.edit, &args.batch),
    )
    .await
}
