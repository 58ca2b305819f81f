//! The subcommands, one module each, and the dispatch between them.

use clap::Subcommand;
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
    /// Show the settings in effect and where each came from
    #[command(help_template = common::help_template!(
        "  ad-tool config show
  ad-tool --profile corp config show -o json"
    ))]
    Config(common::args::ConfigArgs),
    /// Print a shell completion script
    #[command(help_template = common::help_template!(
        "  ad-tool completions bash > /etc/bash_completion.d/ad-tool
  ad-tool completions zsh > ~/.zfunc/_ad-tool
  ad-tool completions fish > ~/.config/fish/completions/ad-tool.fish"
    ))]
    Completions(common::args::CompletionsArgs),
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
        Command::Config(args) => match args.action {
            common::args::ConfigAction::Show => common::tool::config_show(
                &Cli::command(),
                &ctx.global,
                &ctx.provenance,
                PASSWORD_ENV,
            ),
        },
        Command::Completions(args) => common::tool::completions(&args, Cli::command(), "ad-tool"),
    }
}
