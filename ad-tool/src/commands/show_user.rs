//! `ad-tool show-user`: one account with its flags decoded, "cannot change password" read from
//! the DACL, dates, SID and GUID.

use clap::Args;
use common::{CommandError, ExitStatus};

use crate::context::Context;
use crate::lookup::{self, Kind};
use crate::record::{ACCOUNT_ATTRIBUTES, AccountRecord};
use crate::security_descriptor::stored;

/// Options of `show-user`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ad-tool show-user SAMyTTExch
  ad-tool show-user sa-mytt-exch@corp.example -o json"
))]
pub struct ShowUserArgs {
    /// The account: sAMAccountName, UPN or DN
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// Runs `show-user`.
pub async fn run(args: ShowUserArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let mut directory = ctx.connect().await?;
    let entry = lookup::require(&mut directory, Kind::User, &args.name, &["objectClass"])
        .await
        .map_err(|e| e.with_item(&args.name))?;
    let dn = entry.parsed_dn().ok_or_else(|| {
        CommandError::new(
            ExitStatus::ItemsFailed,
            format!("the server returned an unreadable DN {}", entry.dn),
        )
    })?;
    let (entry, descriptor) = stored::read_with_dacl(&mut directory, &dn, &ACCOUNT_ATTRIBUTES)
        .await
        .map_err(|e| crate::failure::explain(&e).with_item(&args.name))?
        .ok_or_else(|| {
            CommandError::new(
                ExitStatus::ItemsFailed,
                format!("{dn} vanished while it was read"),
            )
        })?;
    let record = AccountRecord::from_entry(&entry, descriptor.as_ref())
        .with_details(&entry, descriptor.as_ref());
    ctx.global.print_one(&record, |w| record.write_human(w))?;
    directory.unbind().await;
    Ok(ExitStatus::Success)
}
