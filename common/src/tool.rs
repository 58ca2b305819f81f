//! The one entry every tool's `run` goes through: the command line read with the environment
//! and the profile, logging set up, the profile's warnings printed, the command run on a
//! single-threaded runtime, and its outcome turned into the exit code.

use std::ffi::OsString;
use std::future::Future;
use std::process::ExitCode;

use crate::args::GlobalArgs;
use crate::settings::{ParseOutcome, Parsed, Provenance};
use crate::{CommandError, ExitStatus};

/// What a tool tells the runner about itself.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// Its name, the prefix of every line it prints on stderr.
    pub name: &'static str,
    /// Its crates' names as log targets (their messages show below `-vvv`).
    pub own_crates: &'static [&'static str],
}

/// Parses `args` with `parse`, then runs `command` with the parsed options and where they
/// came from, and returns the exit code.
pub fn run<C, Fut>(
    tool: Tool,
    args: Vec<OsString>,
    parse: impl FnOnce(Vec<OsString>) -> Result<Parsed<C>, ParseOutcome>,
    global: impl Fn(&C) -> &GlobalArgs,
    command: impl FnOnce(C, Provenance) -> Fut,
) -> ExitCode
where
    Fut: Future<Output = Result<ExitStatus, CommandError>>,
{
    let Parsed { cli, provenance } = match parse(args) {
        Ok(parsed) => parsed,
        Err(stopped) => return stopped.finish(tool.name),
    };
    let (verbose, quiet) = (global(&cli).verbose, global(&cli).quiet);
    crate::logging::init(tool.name, verbose, quiet, tool.own_crates);
    for warning in &provenance.warnings {
        log::warn!("{warning}");
    }
    crate::error::run_to_exit(tool.name, verbose > 0, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                CommandError::new(ExitStatus::ItemsFailed, format!("cannot start: {e}"))
            })?;
        runtime.block_on(command(cli, provenance))
    })
}

/// `config show`: every shared setting of `command` with its value and origin, and the
/// operator password's source (read from `password_env` when no option names one).
pub fn config_show(
    command: &clap::Command,
    global: &GlobalArgs,
    provenance: &Provenance,
    password_env: &str,
) -> Result<ExitStatus, CommandError> {
    config_show_with(command, global, provenance, password_env, |_| {})
}

/// [`config_show`], with the settings adjusted first by the tool (a value found at run time,
/// such as an autodiscovered URL).
pub fn config_show_with(
    command: &clap::Command,
    global: &GlobalArgs,
    provenance: &Provenance,
    password_env: &str,
    adjust: impl FnOnce(&mut Vec<crate::settings::Setting>),
) -> Result<ExitStatus, CommandError> {
    let mut settings = provenance.settings(command);
    settings.push(global.password_setting(password_env, provenance));
    adjust(&mut settings);
    let mut out = std::io::stdout().lock();
    crate::settings::show(&settings, provenance, global.output, &mut out)
        .map_err(crate::output::write_error)?;
    Ok(ExitStatus::Success)
}

/// `completions SHELL`: the completion script for `command` on stdout.
pub fn completions(
    args: &crate::args::CompletionsArgs,
    mut command: clap::Command,
    name: &str,
) -> Result<ExitStatus, CommandError> {
    let mut out = std::io::stdout().lock();
    args.write(&mut command, name, &mut out);
    std::io::Write::flush(&mut out).map_err(crate::output::write_error)?;
    Ok(ExitStatus::Success)
}

/// Declares `Housekeeping`, the subcommands every tool has (`config show` and `completions`),
/// with help examples that name the tool; the tool's command enum flattens it and runs it with
/// [`Housekeeping::run`](#method.run).
#[macro_export]
macro_rules! housekeeping {
    ($name:literal) => {
        /// The subcommands every tool has.
        #[derive(Debug, ::clap::Subcommand)]
        pub enum Housekeeping {
            /// Show the settings in effect and where each came from
            #[command(
                help_template = $crate::help_template!(concat!(
                    "  ", $name, " config show\n  ", $name, " --profile corp config show -o json"
                )),
                mut_subcommand("show", |show| show.help_template($crate::help_template!(concat!(
                    "  ", $name, " config show\n  ", $name, " --profile corp config show -o json"
                ))))
            )]
            Config($crate::args::ConfigArgs),
            /// Print a shell completion script
            #[command(help_template = $crate::help_template!(concat!(
                "  ", $name, " completions bash > /etc/bash_completion.d/", $name, "\n",
                "  ", $name, " completions zsh > ~/.zfunc/_", $name, "\n",
                "  ", $name, " completions fish > ~/.config/fish/completions/", $name, ".fish"
            )))]
            Completions($crate::args::CompletionsArgs),
        }

        impl Housekeeping {
            /// Runs it against the tool's whole `command`.
            pub fn run(
                self,
                command: ::clap::Command,
                global: &$crate::args::GlobalArgs,
                provenance: &$crate::settings::Provenance,
                password_env: &str,
            ) -> Result<$crate::ExitStatus, $crate::CommandError> {
                match self {
                    Housekeeping::Config(args) => match args.action {
                        $crate::args::ConfigAction::Show => {
                            $crate::tool::config_show(&command, global, provenance, password_env)
                        }
                    },
                    Housekeeping::Completions(args) => {
                        $crate::tool::completions(&args, command, $name)
                    }
                }
            }
        }
    };
}
