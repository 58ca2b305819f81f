//! `m365-tool grant --to GRANTEE --level LEVEL`: the grantee's entry on each mailbox's calendar
//! given the Graph role of the level, everyone else's entries untouched.

use clap::Args;
use common::{CommandError, ExitStatus};

use super::calendar::{self, BatchArgs, Change, Edit, EditArgs};
use crate::calendar::{Grantee, role_for_level};
use crate::context::Context;

/// Options of `grant`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  m365-tool grant --to svc-mytt@contoso.onmicrosoft.com --level Editor \\
      --mailboxes-file staff.txt --report grant.csv
  m365-tool grant --to Default --level LimitedDetails --mailbox room-101@contoso.com --dry-run
  m365-tool grant --to svc-mytt@contoso.onmicrosoft.com --level Editor \\
      --mailboxes-file staff.txt --journal grant.jsonl"
))]
pub struct GrantArgs {
    /// Who gets the entry: a user's or group's SMTP address, or Default (My Organization)
    #[arg(long, value_name = "GRANTEE", value_parser = Grantee::parse)]
    pub to: Grantee,

    /// The level: Editor (write), Reviewer (read), LimitedDetails (limitedRead),
    /// AvailabilityOnly (freeBusyRead), None, or a Graph role name
    #[arg(long, value_name = "LEVEL")]
    pub level: String,

    /// The dry run, the report and the journal.
    #[command(flatten)]
    pub edit: EditArgs,

    /// Which mailboxes and how.
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// Runs `grant`.
pub async fn run(args: GrantArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let role = role_for_level(&args.level)
        .map_err(|e| CommandError::usage(e.to_string()).with_code("level"))?;
    calendar::run_edits(
        ctx,
        args.batch.open()?,
        Edit::new(args.to, Change::Grant(role), args.edit, &args.batch),
    )
    .await
}
