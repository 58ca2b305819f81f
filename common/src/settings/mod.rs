//! A tool's settings from all their sources, with the precedence flag > environment > profile >
//! default, and a record of where each one came from (for `config show`).
//!
//! The environment and the profile are turned into command-line words where the command line
//! leaves an option open, and clap parses the result: every value is validated the same way
//! whatever its source.
//!
//! - [`provenance`]: where each setting came from, and `config show`.
//! - [`profile`]: a profile's keys turned into the options the command line leaves open.
//!
//! This file reads the command line with its sources.

pub mod profile;
pub mod provenance;

pub use profile::{AppliedProfile, apply_profile};
pub use provenance::{Origin, Provenance, Setting, show};

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;

use crate::config::{self, ConfigError, Profile};

/// Where a tool reads its settings besides the command line.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The tool's name, for messages.
    pub tool: &'a str,
    /// The environment variable naming the config file (`AD_TOOL_CONFIG`).
    pub config_env: &'a str,
    /// The environment variable naming the profile (`AD_TOOL_PROFILE`).
    pub profile_env: &'a str,
    /// Settings from the environment, as (variable, long option). They rank above the config
    /// file and below the command line, and yield to a conflicting flag.
    pub environment: &'a [(&'a str, &'a str)],
    /// Variables that hold a secret themselves and so stand in for options that name where
    /// to read it: `AD_TOOL_PASSWORD` for `password-file` and `password-stdin`. When one is
    /// set, the profile does not fill those options (the environment outranks the profile);
    /// a flag still wins.
    pub secrets: &'a [(&'a str, &'a [&'a str])],
}

/// A parsed command line and where its settings came from.
#[derive(Debug)]
pub struct Parsed<C> {
    /// The tool's parsed options.
    pub cli: C,
    /// Where they came from.
    pub provenance: Provenance,
}

/// Why parsing stopped.
#[derive(Debug)]
pub enum ParseOutcome {
    /// Clap's error or help text (print it, exit with its code).
    Clap(clap::Error),
    /// The config file is unusable.
    Config(crate::CommandError),
}

impl ParseOutcome {
    /// Prints what stopped the parse (help, version, a usage error or the config file's
    /// problem) and returns the exit code.
    pub fn finish(self, tool: &str) -> std::process::ExitCode {
        match self {
            ParseOutcome::Clap(error) => {
                use clap::error::ErrorKind;
                let code =
                    std::process::ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
                if matches!(
                    error.kind(),
                    ErrorKind::DisplayHelp
                        | ErrorKind::DisplayVersion
                        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                ) {
                    let _ = error.print();
                } else {
                    // One line, as every failure is: clap's first line, without its "error: ".
                    eprintln!("{tool}: {}", one_line_usage(&error.render().to_string()));
                }
                code
            }
            ParseOutcome::Config(error) => {
                error.report(tool, false);
                error.status.into()
            }
        }
    }
}

/// A usage error of clap's in one line: its first line without the `error: ` prefix, and where
/// help is. Control and invisible characters clap quotes from the command line are shown
/// escaped (`\u{200b}`), not printed as they are.
fn one_line_usage(rendered: &str) -> String {
    // The message is what comes before clap's first blank line ("For more information…");
    // a value quoted in it may itself hold a line break.
    let message = rendered
        .trim()
        .split("\n\n")
        .next()
        .unwrap_or("invalid command line");
    let message = message.strip_prefix("error: ").unwrap_or(message);
    let shown: String = message
        .chars()
        .map(|c| {
            if crate::text::forbidden_character(c.encode_utf8(&mut [0; 4])).is_some() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    let mut line = shown;
    for tip in rendered
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tip: "))
    {
        line.push_str("; ");
        line.push_str(tip);
    }
    line.push_str("; see --help");
    line
}

/// Parses a tool's command line with flag > environment > profile > default: `--config` and
/// `--profile` (or their environment variables) pick the profile, the environment settings and
/// then the profile are added where the command line leaves an option open, and clap parses
/// the result.
pub fn parse_command_line<C: clap::CommandFactory + clap::FromArgMatches>(
    args: Vec<OsString>,
    sources: &Sources<'_>,
) -> Result<Parsed<C>, ParseOutcome> {
    let config_error = |e: ConfigError| {
        ParseOutcome::Config(crate::CommandError::usage(e.to_string()).with_code("config"))
    };
    let command = C::command();
    // A first look for --config and --profile; errors are left to the real parse.
    let first = command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&args)
        .ok();
    let flag = |id: &str| {
        first
            .as_ref()
            .and_then(|m| m.try_get_one::<PathBuf>(id).ok().flatten().cloned())
    };
    let environment_origin = |variable: &str| Origin::Environment {
        variable: variable.to_owned(),
    };
    let (config_file, mut config_origin) = match flag("config") {
        Some(file) => (Some(file), Some(Origin::Flag)),
        None => match std::env::var_os(sources.config_env).filter(|v| !v.is_empty()) {
            Some(file) => (
                Some(file.into()),
                Some(environment_origin(sources.config_env)),
            ),
            None => (None, Some(Origin::Default)),
        },
    };
    let named_profile = first
        .as_ref()
        .and_then(|m| m.try_get_one::<String>("profile").ok().flatten().cloned());
    let (profile_name, profile_origin) = match named_profile {
        Some(name) => (Some(name), Some(Origin::Flag)),
        None => match std::env::var(sources.profile_env)
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(name) => (Some(name), Some(environment_origin(sources.profile_env))),
            None => (None, None),
        },
    };
    let loaded = config::ConfigFile::load(config_file.as_deref()).map_err(config_error)?;
    let read_file = loaded.as_ref().map(|c| c.path.clone());
    if read_file.is_none() {
        config_origin = None;
    }
    let profile = match &loaded {
        Some(file) => file
            .select(profile_name.as_deref())
            .map_err(config_error)?
            .cloned(),
        None => config::load_profile(config_file.as_deref(), profile_name.as_deref())
            .map_err(config_error)?,
    };
    let profile_origin = match (&profile, profile_origin, &loaded) {
        (Some(_), Some(origin), _) => Some(origin),
        (Some(_), None, Some(file)) => Some(Origin::FileDefault {
            file: file.path.clone(),
        }),
        _ => None,
    };
    let environment = Profile {
        name: "environment".into(),
        file: PathBuf::new(),
        values: sources
            .environment
            .iter()
            .filter_map(|(var, key)| {
                std::env::var(var)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(|v| ((*key).to_owned(), toml::Value::String(v)))
            })
            .collect(),
    };
    let mut origins = BTreeMap::new();
    let from_environment = apply_profile(&command, args, &environment).map_err(config_error)?;
    for key in &from_environment.applied {
        if let Some((variable, _)) = sources.environment.iter().find(|(_, k)| k == key) {
            origins.insert(
                key.clone(),
                Origin::Environment {
                    variable: (*variable).to_owned(),
                },
            );
        }
    }
    let mut args = from_environment.args;
    let mut warnings = Vec::new();
    if let Some(profile) = &profile {
        let mut profile = profile.clone();
        for (variable, keys) in sources.secrets {
            if std::env::var_os(variable).is_some_and(|v| !v.is_empty()) {
                profile
                    .values
                    .retain(|key, _| !keys.contains(&key.as_str()));
            }
        }
        let applied = apply_profile(&command, args, &profile).map_err(config_error)?;
        for key in applied.applied {
            origins.insert(
                key,
                Origin::Profile {
                    name: profile.name.clone(),
                    file: profile.file.clone(),
                },
            );
        }
        args = applied.args;
        warnings = profile.unknown_key_warnings();
    }
    let matches = command
        .clone()
        .try_get_matches_from(args)
        .map_err(ParseOutcome::Clap)?;
    let cli = C::from_arg_matches(&matches).map_err(ParseOutcome::Clap)?;
    record_flags_and_clap_sources(&command, first.as_ref(), &matches, &mut origins);
    Ok(Parsed {
        cli,
        provenance: Provenance {
            config_file: read_file,
            config_origin,
            profile: profile.map(|p| p.name),
            profile_origin,
            warnings,
            origins,
            matches,
        },
    })
}

/// Origins clap knows itself: options given on the original command line, values from an
/// option's own `env`, defaults.
fn record_flags_and_clap_sources(
    command: &clap::Command,
    original: Option<&clap::ArgMatches>,
    matches: &clap::ArgMatches,
    origins: &mut BTreeMap<String, Origin>,
) {
    for arg in command.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        let explicit_originally = original.is_some_and(|m| {
            m.try_contains_id(id).unwrap_or(false)
                && m.value_source(id) == Some(ValueSource::CommandLine)
        });
        if explicit_originally {
            origins.insert(long.to_owned(), Origin::Flag);
            continue;
        }
        if origins.contains_key(long) {
            continue;
        }
        match matches.value_source(id) {
            Some(ValueSource::EnvVariable) => {
                if let Some(variable) = arg.get_env() {
                    origins.insert(
                        long.to_owned(),
                        Origin::Environment {
                            variable: variable.to_string_lossy().into_owned(),
                        },
                    );
                }
            }
            Some(ValueSource::DefaultValue) => {
                origins.insert(long.to_owned(), Origin::Default);
            }
            _ => {}
        }
    }
}

/// Declares a tool's environment (`PROFILE_ENV`, `CONFIG_ENV`, `PASSWORD_ENV` named after its
/// prefix, and the settings other variables stand for, as (variable, long option)) and its
/// `parse`, which reads the command line (a `Cli` in scope) with them and the config profile.
/// Environment settings rank above the profile and below the command line, and yield to a
/// conflicting flag (`--uri` against a server from the environment); the password variable
/// stands in for `--password-file` and `--password-stdin`.
#[macro_export]
macro_rules! tool_settings {
    (tool: $tool:literal, prefix: $prefix:literal, environment: [$(($variable:literal, $option:literal)),* $(,)?] $(,)?) => {
        $crate::tool_settings! {
            tool: $tool,
            prefix: $prefix,
            password: concat!($prefix, "_PASSWORD"),
            environment: [$(($variable, $option)),*],
        }
    };
    (tool: $tool:literal, prefix: $prefix:literal, password: $password:expr, environment: [$(($variable:literal, $option:literal)),* $(,)?] $(,)?) => {
        /// Environment variable naming the profile.
        pub const PROFILE_ENV: &str = concat!($prefix, "_PROFILE");
        /// Environment variable naming the config file.
        pub const CONFIG_ENV: &str = concat!($prefix, "_CONFIG");
        /// Environment variable holding the operator's password (or the secret that stands
        /// for it).
        pub const PASSWORD_ENV: &str = $password;
        /// Settings from the environment, as (variable, long option).
        pub const ENVIRONMENT: &[(&str, &str)] = &[$(($variable, $option)),*];

        /// Parses the command line with the environment and the config profile applied.
        pub fn parse(
            args: Vec<::std::ffi::OsString>,
        ) -> Result<$crate::settings::Parsed<Cli>, $crate::settings::ParseOutcome> {
            $crate::settings::parse_command_line(
                args,
                &$crate::settings::Sources {
                    tool: $tool,
                    config_env: CONFIG_ENV,
                    profile_env: PROFILE_ENV,
                    environment: ENVIRONMENT,
                    secrets: &[(PASSWORD_ENV, &["password-file", "password-stdin"])],
                },
            )
        }
    };
}
