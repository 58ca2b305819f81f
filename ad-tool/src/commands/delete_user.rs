//! `ad-tool delete-user`: delete one account, after confirmation.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use common::{CommandError, ExitStatus};

use crate::context::Context;
use crate::diagnostic::rc;
use crate::directory::DirectoryError;
use crate::lookup::{self, Kind};
use crate::plan::Op;
use crate::record::{ACCOUNT_ATTRIBUTES, AccountRecord, Action};
use crate::{execute, failure};

/// Options of `delete-user`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ad-tool delete-user SAMyTTExch --yes
  ad-tool delete-user \"CN=SAMyTTExch,CN=Users,DC=corp,DC=example\" --yes --missing-ok"
))]
pub struct DeleteUserArgs {
    /// The account: sAMAccountName, UPN or DN
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Delete without asking
    #[arg(long)]
    pub yes: bool,

    /// An account that does not exist is no error (reported "absent")
    #[arg(long)]
    pub missing_ok: bool,

    /// Show what would be deleted and delete nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Also delete a privileged account (critical, built-in, adminCount=1, in a protected group)
    #[arg(long)]
    pub allow_privileged: bool,
}

/// Runs `delete-user`.
pub async fn run(args: DeleteUserArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let mut directory = ctx.connect().await?;
    let found = lookup::find(&mut directory, Kind::User, &args.name, &ACCOUNT_ATTRIBUTES)
        .await
        .map_err(|e| e.with_item(&args.name))?;
    let Some(entry) = found else {
        if !args.missing_ok {
            let domain = directory.naming_context.dns_domain().unwrap_or_default();
            return Err(CommandError::new(
                ExitStatus::ItemsFailed,
                format!("there is no user {} in {domain}", args.name),
            )
            .with_hint("add --missing-ok if that is fine")
            .with_code("not-found")
            .with_item(&args.name));
        }
        let record = AccountRecord {
            sam_account_name: args.name.clone(),
            action: Some(Action::Absent),
            ..Default::default()
        };
        ctx.global.print_one(&record, |w| record.write_line(w))?;
        return Ok(ExitStatus::Success);
    };
    let mut record = AccountRecord::from_entry(&entry, None);
    let dn = entry.parsed_dn().ok_or_else(|| {
        CommandError::new(
            ExitStatus::ItemsFailed,
            format!("the server returned an unreadable DN {}", entry.dn),
        )
    })?;
    crate::guard::refuse_privileged(&mut directory, &dn, args.allow_privileged, "deleting")
        .await
        .map_err(|e| e.with_item(&args.name))?;
    if args.dry_run {
        record.action = Some(Action::WouldDelete);
    } else {
        if !args.yes && !confirm(&dn.to_string())? {
            return Err(CommandError::usage(format!("not deleting {dn}"))
                .with_item(&args.name)
                .with_code("not-confirmed"));
        }
        let delete = Op::Delete { dn: dn.clone() };
        match execute::run(&mut directory, std::slice::from_ref(&delete), None)
            .await
            .map_err(|f| f.error)
        {
            Ok(()) => record.action = Some(Action::Deleted),
            Err(DirectoryError::Operation { failure: f, .. })
                if f.rc == rc::NOT_ALLOWED_ON_NON_LEAF =>
            {
                return Err(CommandError::new(
                    ExitStatus::ItemsFailed,
                    format!(
                        "{dn} holds other objects (mobile devices, say), so it was not deleted"
                    ),
                )
                .with_hint("delete the objects below it first")
                .with_detail(f.text)
                .with_item(&args.name));
            }
            Err(e) => return Err(failure::explain(&e).with_item(&args.name)),
        }
    }
    ctx.global.print_one(&record, |w| record.write_line(w))?;
    directory.unbind().await;
    Ok(ExitStatus::Success)
}

fn confirm(dn: &str) -> Result<bool, CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(
            CommandError::usage(format!("deleting {dn} needs confirmation"))
                .with_hint("add --yes")
                .with_code("not-confirmed"),
        );
    }
    eprint!("Delete {dn}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CommandError::usage(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
