//! The subcommands, one module each, and the dispatch between them.

use clap::{CommandFactory, Subcommand};
use common::settings::Provenance;
use common::{CommandError, ExitStatus};

use crate::cli::{Cli, PASSWORD_ENV};
use crate::context::Context;

pub mod assign_license;
pub mod calendar;
pub mod create_user;
pub mod grant;
pub mod list;
pub mod revoke;
pub mod undo;

common::housekeeping!("m365-tool");

/// What `m365-tool` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a cloud service account whose password never expires (or converge an existing one)
    CreateUser(create_user::CreateUserArgs),
    /// Give an account a licence with only the named service plans enabled
    AssignLicense(assign_license::AssignLicenseArgs),
    /// Give a user or group a role on each mailbox's calendar
    Grant(grant::GrantArgs),
    /// Remove a user's or group's entry from each mailbox's calendar
    Revoke(revoke::RevokeArgs),
    /// Show each calendar's permission entries
    List(list::ListArgs),
    /// Put back what a journaled grant, revoke or undo changed
    Undo(undo::UndoArgs),
    /// `config show` and `completions`.
    #[command(flatten)]
    Housekeeping(Housekeeping),
}

/// Runs what the command line asks for.
pub async fn run(cli: Cli, provenance: Provenance) -> Result<ExitStatus, CommandError> {
    let ctx = Context {
        global: cli.global,
        tenant: cli.tenant,
        provenance,
    };
    match cli.command {
        Command::CreateUser(args) => create_user::run(args, &ctx).await,
        Command::AssignLicense(args) => assign_license::run(args, &ctx).await,
        Command::Grant(args) => grant::run(args, &ctx).await,
        Command::Revoke(args) => revoke::run(args, &ctx).await,
        Command::List(args) => list::run(args, &ctx).await,
        Command::Undo(args) => undo::run(args, &ctx).await,
        Command::Housekeeping(command) => {
            command.run(Cli::command(), &ctx.global, &ctx.provenance, PASSWORD_ENV)
        }
    }
}
