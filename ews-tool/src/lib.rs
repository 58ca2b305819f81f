//! `ews-tool`: grants, lists and revokes calendar folder permissions on many mailboxes through
//! Exchange Web Services, writing back every other entry unchanged.
//!
//! Pure parts: [`permissions`] (the model and the edits), [`request`] and [`response`] (SOAP),
//! [`ntlm`] and [`channel_binding`]. I/O: [`transport`] (HTTPS, connection-bound logon) and
//! [`client`] (pool, throttling, retries). [`error`] turns failures into what the operator reads.

use std::ffi::OsString;
use std::process::ExitCode;

use common::{CommandError, ExitStatus};

pub mod batch;
pub mod channel_binding;
pub mod cli;
pub mod client;
pub mod commands;
pub mod context;
pub mod error;
pub mod mailboxes;
pub mod ntlm;
pub mod outcome;
pub mod permissions;
pub mod request;
pub mod response;
pub mod transport;
pub mod version;

/// Runs the tool with these arguments (the first is the program name) and returns its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match cli::parse(args.into_iter().collect()) {
        Ok(cli) => cli,
        Err(stopped) => return stopped.finish("ews-tool"),
    };
    common::logging::init(
        "ews-tool",
        cli.global.verbose,
        cli.global.quiet,
        &["ews_tool", "common"],
    );
    let ctx = context::Context {
        global: cli.global,
        server: cli.server,
    };
    common::error::run_to_exit("ews-tool", ctx.verbose(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                CommandError::new(ExitStatus::ItemsFailed, format!("cannot start: {e}"))
            })?;
        runtime.block_on(commands::dispatch(cli.command, &ctx))
    })
}
