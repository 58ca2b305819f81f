//! The subcommands, one module each, and the dispatch between them.

use clap::Subcommand;
use common::settings::Provenance;
use common::{CommandError, ExitStatus};

use clap::CommandFactory;

use crate::cli::{Cli, PASSWORD_ENV};
use crate::context::Context;

pub mod add_member;
pub mod create_group;
pub mod create_user;
pub mod delete_user;
pub mod mailboxes;
pub mod show_user;

common::housekeeping!("ad-tool");

/// What `ad-tool` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a user account as New-ADUser would (or converge an existing one)
    CreateUser(create_user::CreateUserArgs),
    /// Show an account: flags decoded, cannot-change-password from the DACL, dates, SID, GUID
    ShowUser(show_user::ShowUserArgs),
    /// Delete an account
    DeleteUser(delete_user::DeleteUserArgs),
    /// Create a group (universal security by default) with members
    CreateGroup(create_group::CreateGroupArgs),
    /// Add members to a group
    AddMember(add_member::AddMemberArgs),
    /// List mailboxes' primary SMTP addresses, one per line
    Mailboxes(mailboxes::MailboxesArgs),
    /// `config show` and `completions`.
    #[command(flatten)]
    Housekeeping(Housekeeping),
}

/// Runs what the command line asks for.
pub async fn run(cli: Cli, provenance: Provenance) -> Result<ExitStatus, CommandError> {
    let ctx = Context {
        global: cli.global,
        connection: cli.connection,
        provenance,
    };
    dispatch(cli.command, &ctx).await
}

/// Runs the chosen subcommand.
pub async fn dispatch(command: Command, ctx: &Context) -> Result<ExitStatus, CommandError> {
    match command {
        Command::CreateUser(args) => create_user::run(args, ctx).await,
        Command::ShowUser(args) => show_user::run(args, ctx).await,
        Command::DeleteUser(args) => delete_user::run(args, ctx).await,
        Command::CreateGroup(args) => create_group::run(args, ctx).await,
        Command::AddMember(args) => add_member::run(args, ctx).await,
        Command::Mailboxes(args) => mailboxes::run(args, ctx).await,
        Command::Housekeeping(command) => {
            command.run(Cli::command(), &ctx.global, &ctx.provenance, PASSWORD_ENV)
        }
    }
}
