//! `ad-tool add-member`: add users or groups to a group; existing members are left alone.

use clap::Args;
use common::output::Shape;
use common::{CommandError, ExitStatus};

use crate::context::Context;
use crate::lookup::{self, Kind};
use crate::membership;

/// Options of `add-member`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ad-tool add-member --group \"MyTimetable Service Accounts\" sa-mytt-exch-1 sa-mytt-exch-2
  ad-tool add-member --group mytt-service@corp.example sa-mytt-exch-3 --dry-run"
))]
pub struct AddMemberArgs {
    /// The group: sAMAccountName, mail address or DN
    #[arg(long, value_name = "GROUP")]
    pub group: String,

    /// Members to add: sAMAccountName, UPN or DN
    #[arg(value_name = "NAME", required = true)]
    pub members: Vec<String>,

    /// Show what would be added and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Also add members to a privileged group (Domain Admins, Administrators, adminCount=1, …)
    #[arg(long)]
    pub allow_privileged: bool,
}

/// Runs `add-member`.
pub async fn run(args: AddMemberArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let mut directory = ctx.connect().await?;
    let group = lookup::require(&mut directory, Kind::Group, &args.group, &["objectClass"])
        .await
        .map_err(|e| e.with_item(&args.group))?;
    let group_dn = group.parsed_dn().ok_or_else(|| {
        CommandError::new(
            ExitStatus::ItemsFailed,
            format!("the server returned an unreadable DN {}", group.dn),
        )
    })?;
    crate::guard::refuse_privileged(
        &mut directory,
        &group_dn,
        args.allow_privileged,
        "adding members to",
    )
    .await
    .map_err(|e| e.with_item(&args.group))?;
    let outcomes =
        membership::add_members(&mut directory, &group_dn, &args.members, args.dry_run).await;
    let mut reporter = ctx.reporter(Shape::Many, ("member", "members"));
    for (record, error) in &outcomes {
        reporter.item(record, record.action.name(), error.as_ref(), |w| {
            record.write_line(w)
        })?;
    }
    directory.unbind().await;
    reporter.finish("")
}
