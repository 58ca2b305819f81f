//! `m365-tool`: the Microsoft 365 half of the job ad-tool and ews-tool do on premises: a cloud
//! service account whose password never expires, a licence with only the Exchange Online plan
//! enabled, through Microsoft Graph, signed in as an application.
//!
//! The binary's `main` calls [`run`]. Deciding is kept apart from doing: [`account`] and
//! [`license`] say what to send from what was asked and what the tenant holds; [`graph`] moves
//! the requests (throttling, retries, OData errors in admin words) with tokens from [`signin`].

use std::ffi::OsString;
use std::process::ExitCode;

pub mod account;
pub mod assertion;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod context;
pub mod graph;
pub mod license;
pub mod odata;
pub mod signin;

/// Runs the tool with these arguments (the first is the program name) and returns its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let tool = common::tool::Tool {
        name: "m365-tool",
        own_crates: &["m365_tool", "common"],
    };
    let args = args.into_iter().collect();
    common::tool::run(tool, args, cli::parse, |cli| &cli.global, commands::run)
}
