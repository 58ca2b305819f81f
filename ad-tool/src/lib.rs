//! `ad-tool`: creates Active Directory service accounts over LDAPS with exactly the settings
//! `New-ADUser` would give them, plus the groups and mailbox lists around them.
//!
//! The binary's `main` calls [`run`]; everything else is here so tests drive it directly.
//! Decisions (plans, flag arithmetic, descriptor edits) are pure modules; [`directory`] moves
//! the bytes; [`failure`] turns errors into what the operator reads.

use std::ffi::OsString;
use std::process::ExitCode;

pub mod account;
pub mod cli;
pub mod commands;
pub mod context;
pub mod csv_input;
pub use directory::{self, diagnostic, dn, dns};
pub mod execute;
pub mod failure;
pub mod filetime;
pub mod group;
pub mod guard;
pub mod guid;
pub mod ldif;
pub mod lookup;
pub mod mailbox_query;
pub mod membership;
pub mod password;
pub mod plan;
pub mod record;
pub mod sddl;
pub mod security_descriptor;
pub mod uac;

/// Runs the tool with these arguments (the first is the program name) and returns its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let tool = common::tool::Tool {
        name: "ad-tool",
        own_crates: &["ad_tool", "common", "directory"],
    };
    let args = args.into_iter().collect();
    common::tool::run(tool, args, cli::parse, |cli| &cli.global, commands::run)
}
