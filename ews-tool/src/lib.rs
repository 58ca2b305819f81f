//! `ews-tool`: grants, lists and revokes calendar folder permissions on many mailboxes through
//! Exchange Web Services, writing back every other entry unchanged.
//!
//! Pure parts: [`permissions`] (the model and the edits), [`request`] and [`response`] (SOAP),
//! [`ntlm`] and [`channel_binding`]. I/O: [`transport`] (HTTPS, connection-bound logon) and
//! [`client`] (pool, throttling, retries). [`error`] turns failures into what the operator reads.

use std::ffi::OsString;
use std::process::ExitCode;

use common::ExitStatus;

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
        Err(common::config::ParseOutcome::Clap(error)) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
        Err(common::config::ParseOutcome::Config(error)) => {
            error.report("ews-tool", false);
            return error.status.into();
        }
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ews-tool: cannot start: {e}");
            return ExitStatus::ItemsFailed.into();
        }
    };
    common::error::quiet_panics("ews-tool");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(commands::dispatch(cli.command, &ctx))
    }));
    match outcome.unwrap_or_else(|_| Err(common::error::panic_to_error())) {
        Ok(status) => status.into(),
        Err(error) if error.is_reported() => error.status.into(),
        Err(error) if error.code == "broken-pipe" => ExitCode::SUCCESS,
        Err(error) => {
            error.report("ews-tool", ctx.verbose());
            error.status.into()
        }
    }
}
