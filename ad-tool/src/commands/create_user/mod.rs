//! `ad-tool create-user`: create an account as New-ADUser would, or converge an existing one.
//!
//! The input (`input`: options or a CSV file checked whole) becomes accounts; `locate` finds
//! what already holds their names, with one search per hundred; `converge` decides each one
//! (the decisions are the pure [`crate::plan`]) and carries the decision out, `create` making
//! a new account: a generated password recorded before the account exists (`passwords`), the
//! one Add, and an outcome the connection left unknown resolved by reading the directory.
//! `shared` holds what a run's accounts share. This module drives the batch: several accounts
//! at once, reported in input order, stopping cleanly on Ctrl-C, a lost connection or a
//! password file that cannot be written.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use common::args::IfExists;
use common::interrupt::Interrupt;
use common::output::Shape;
use common::{CommandError, ExitStatus};

use crate::account::AccountArgs;
use crate::context::Context;
use crate::record::Action;

mod converge;
mod create;
mod input;
mod locate;
mod passwords;
mod shared;

use shared::{Shared, Stop};

/// Options of `create-user`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  # The reference service account (New-ADUser -PasswordNeverExpires $true
  # -CannotChangePassword $true -ChangePasswordAtLogon $false -AccountExpirationDate 0
  # -Enabled $true), its password read from a file:
  ad-tool create-user --name SAMyTTExch --upn sa-mytt-exch@corp.example \\
      --display-name \"MyTimetable Exchange Service Account\" \\
      --path \"CN=Users,DC=corp,DC=example\" --service-account \\
      --account-password-file sa-mytt-exch.password
  # Accounts from a CSV (columns name, upn, display-name, ...), generated passwords added
  # to a 0600 file; safe to run again:
  ad-tool create-user --from-csv accounts.csv --path \"OU=Service Accounts,DC=corp,DC=example\" \\
      --service-account --generate-password --generated-password-file passwords.csv \\
      --if-exists skip
  # What it would change on an existing account, as LDIF:
  ad-tool create-user --name SAMyTTExch --service-account --if-exists update --dry-run"
))]
pub struct CreateUserArgs {
    /// The account's settings (also the CSV columns of --from-csv).
    #[command(flatten)]
    pub account: AccountArgs,

    /// Read the new account's password from the first line of stdin
    #[arg(long, conflicts_with_all = ["generate_password", "account_password_file", "password_stdin"])]
    pub account_password_stdin: bool,

    /// Generate a strong password for each new account (printed once, or see
    /// --generated-password-file, which --from-csv needs)
    #[arg(long, conflicts_with = "account_password_file")]
    pub generate_password: bool,

    /// Add generated passwords to this file instead of printing them: "sam_account_name,password"
    /// rows, the file created (mode 0600) at the first password and added to on later runs
    #[arg(long, value_name = "FILE", requires = "generate_password")]
    pub generated_password_file: Option<PathBuf>,

    /// What to do when the account exists
    #[arg(long, value_enum, default_value_t = IfExists::Fail, value_name = "fail|skip|update")]
    pub if_exists: IfExists,

    /// With --if-exists update: also reset the password of an existing account
    #[arg(long)]
    pub reset_password: bool,

    /// Create one account per CSV row; columns are named like the options without "--"
    /// (name, sam-account-name, upn, path, service-account, …); options given here fill empty cells
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "sam_account_name", "upn"])]
    pub from_csv: Option<PathBuf>,

    /// Print the planned changes (LDIF, password redacted) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Accounts worked on at once with --from-csv
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Also change or delete privileged accounts: critical system objects, built-in accounts
    /// (Administrator, Guest, krbtgt), adminCount=1 and members of protected groups
    #[arg(long)]
    pub allow_privileged: bool,

    /// Accept account-password-file cells that point outside the CSV file's folder
    #[arg(long, requires = "from_csv")]
    pub allow_password_files_anywhere: bool,
}

/// Runs `create-user`.
pub async fn run(args: CreateUserArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let batch = args.from_csv.is_some();
    if args.reset_password && args.if_exists != IfExists::Update {
        return Err(CommandError::usage(
            "--reset-password only applies with --if-exists update",
        ));
    }
    if batch && args.generate_password && args.generated_password_file.is_none() && !args.dry_run {
        return Err(CommandError::usage(
            "--generate-password with --from-csv needs --generated-password-file",
        )
        .with_hint("name a file: each password is written to it before its account is created")
        .with_code("password-file"));
    }
    let items = input::items(&args, ctx)?;
    let passwords = passwords::Passwords::prepare(&args)?;
    let mut directory = ctx.connect().await?;
    let items = locate::locate(&mut directory, items).await?;
    let interrupt = Interrupt::listen("ad-tool");
    let shared = Arc::new(Shared::new(
        args,
        passwords,
        batch,
        ctx.clone(),
        interrupt.clone(),
    ));
    let concurrency = if batch {
        usize::from(shared.options.concurrency)
    } else {
        1
    };
    let total = items.len();
    let mut reporter = ctx.reporter(
        if batch { Shape::Many } else { Shape::Single },
        ("account", "accounts"),
    );
    if batch {
        reporter.show_progress(Some(total));
    }
    let stop_taking = Arc::clone(&shared);
    common::batch::in_order(
        items,
        concurrency,
        || !stop_taking.stopping(),
        |item| {
            let directory = directory.clone();
            let shared = Arc::clone(&shared);
            async move { converge::process(directory, &shared, item).await }
        },
        |result| {
            let Some((record, error)) = result else {
                return Ok(()); // not started: the run was stopping
            };
            let action = record.action.map_or("failed", Action::name);
            // One account that was made or read shows in full; a failure, or a batch, is a line.
            reporter.item(&record, action, error.as_ref(), |w| {
                if batch || error.is_some() {
                    record.write_line(w)
                } else {
                    record.write_human(w)
                }
            })
        },
    )
    .await?;
    directory.unbind().await;
    let not_started = total - reporter.items();
    let status = reporter.finish(&if not_started > 0 {
        format!("; {not_started} not started")
    } else {
        String::new()
    })?;
    match shared.stop() {
        None => Ok(status),
        Some(stop) => Err(stop.into_error(not_started, shared.options.from_csv.is_some())),
    }
}

impl Stop {
    /// The line that ends a stopped run: why, what was not done, how to finish.
    fn into_error(self, not_started: usize, from_csv: bool) -> CommandError {
        let again = if from_csv {
            "run the same command again with --if-exists skip (or update) to finish: accounts already made are skipped"
        } else {
            "run the same command again with --if-exists skip (or update)"
        };
        let (status, cause, code) = match self {
            Stop::Interrupted => (
                ExitStatus::Interrupted,
                "interrupted".to_owned(),
                "interrupted",
            ),
            Stop::Connection(e) => (ExitStatus::Connect, e.summary(), "connection"),
            Stop::Record(e) => (ExitStatus::ItemsFailed, e.summary(), "password-file"),
        };
        CommandError::new(
            status,
            format!(
                "stopped ({cause}); {not_started} account{} not started",
                if not_started == 1 { "" } else { "s" }
            ),
        )
        .with_hint(again)
        .with_code(code)
    }
}
