//! `ad-tool`: creates Active Directory service accounts over LDAPS with exactly the settings
//! `New-ADUser` would give them, plus the groups and mailbox lists around them.
//!
//! The binary's `main` calls [`run`]; everything else is here so tests drive it directly.
//! Decisions (plans, flag arithmetic, descriptor edits) are pure modules; [`directory`] moves
//! the bytes; [`failure`] turns errors into what the operator reads.

use std::ffi::OsString;
use std::process::ExitCode;

use common::ExitStatus;

pub mod account;
pub mod cli;
pub mod commands;
pub mod context;
pub mod diagnostic;
pub mod directory;
pub mod dn;
pub mod dns;
pub mod failure;
pub mod filetime;
pub mod group;
pub mod guid;
pub mod ldif;
pub mod lookup;
pub mod mailbox_query;
pub mod membership;
pub mod password;
pub mod plan;
pub mod record;
pub mod security_descriptor;
pub mod uac;

/// Runs the tool with these arguments (the first is the program name) and returns its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match cli::parse(args.into_iter().collect()) {
        Ok(cli) => cli,
        Err(common::config::ParseOutcome::Clap(error)) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
        Err(common::config::ParseOutcome::Config(error)) => {
            error.report("ad-tool", false);
            return error.status.into();
        }
    };
    common::logging::init(
        "ad-tool",
        cli.global.verbose,
        cli.global.quiet,
        &["ad_tool", "common"],
    );
    let ctx = context::Context {
        global: cli.global,
        connection: cli.connection,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ad-tool: cannot start: {e}");
            return ExitStatus::ItemsFailed.into();
        }
    };
    common::error::quiet_panics("ad-tool");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(commands::dispatch(cli.command, &ctx))
    }));
    match outcome.unwrap_or_else(|_| Err(common::error::panic_to_error())) {
        Ok(status) => status.into(),
        Err(error) if error.is_reported() => error.status.into(),
        // The reader of our output went away (`| head`): nothing to report.
        Err(error) if error.code == "broken-pipe" => ExitCode::SUCCESS,
        Err(error) => {
            error.report("ad-tool", ctx.verbose());
            error.status.into()
        }
    }
}
