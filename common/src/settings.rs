//! A tool's settings from all their sources, with the precedence flag > environment > profile >
//! default, and a record of where each one came from (for `config show`).
//!
//! The environment and the profile are turned into command-line words where the command line
//! leaves an option open, and clap parses the result: every value is validated the same way
//! whatever its source.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use clap::parser::ValueSource;
use serde::Serialize;

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

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Origin {
    /// The command line.
    Flag,
    /// An environment variable.
    Environment {
        /// The variable.
        variable: String,
    },
    /// A profile of the config file.
    Profile {
        /// The profile.
        name: String,
        /// The file.
        file: PathBuf,
    },
    /// The tool's default.
    Default,
    /// The config file's `default-profile` (or its profile called `default`).
    FileDefault {
        /// The file.
        file: PathBuf,
    },
    /// Found at run time (autodiscovery, a DNS lookup).
    Discovered {
        /// How.
        how: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag => f.write_str("flag"),
            Origin::Environment { variable } => write!(f, "environment {variable}"),
            Origin::Profile { name, file } => {
                write!(f, "profile {name} in {}", file.display())
            }
            Origin::Default => f.write_str("default"),
            Origin::FileDefault { file } => write!(f, "default-profile in {}", file.display()),
            Origin::Discovered { how } => f.write_str(how),
        }
    }
}

/// What was read besides the command line, and where each setting came from.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The config file read, if any.
    pub config_file: Option<PathBuf>,
    /// Where the config file was named: `--config`, the environment, or the default place.
    pub config_origin: Option<Origin>,
    /// The profile applied, if any.
    pub profile: Option<String>,
    /// Where the profile was named: `--profile`, the environment, or the file's default.
    pub profile_origin: Option<Origin>,
    /// Warnings for the operator (unknown keys in the profile), printed once logging is up.
    pub warnings: Vec<String>,
    origins: BTreeMap<String, Origin>,
    matches: clap::ArgMatches,
}

/// One effective setting, as `config show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The long option name (also the profile key).
    pub name: String,
    /// The value, or `None` when unset.
    pub value: Option<String>,
    /// Where it came from; `None` when unset.
    pub origin: Option<Origin>,
}

impl Provenance {
    /// Where the option `--name` got its value, if it has one.
    pub fn origin(&self, name: &str) -> Option<&Origin> {
        self.origins.get(name)
    }

    /// Every top-level (shared) option of `command` with its value and origin, in the order
    /// the command declares them; help and version are left out.
    pub fn settings(&self, command: &clap::Command) -> Vec<Setting> {
        command
            .get_arguments()
            .filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version"))
            .filter_map(|arg| {
                let name = arg.get_long()?;
                let id = arg.get_id().as_str();
                let value = self
                    .matches
                    .try_get_raw(id)
                    .ok()
                    .flatten()
                    .map(|values| {
                        values
                            .map(|v| v.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|v| !v.is_empty())
                    .or_else(|| match arg.get_action() {
                        clap::ArgAction::SetTrue => Some(
                            self.matches
                                .try_get_one::<bool>(id)
                                .ok()
                                .flatten()
                                .copied()
                                .unwrap_or(false)
                                .to_string(),
                        ),
                        clap::ArgAction::Count => Some(
                            self.matches
                                .try_get_one::<u8>(id)
                                .ok()
                                .flatten()
                                .copied()
                                .unwrap_or(0)
                                .to_string(),
                        ),
                        _ => None,
                    });
                let (value, origin) = match name {
                    "config" => (
                        self.config_file.as_ref().map(|p| p.display().to_string()),
                        self.config_origin.clone(),
                    ),
                    "profile" => (self.profile.clone(), self.profile_origin.clone()),
                    _ => {
                        let origin = self.origins.get(name).cloned();
                        let origin = origin.or_else(|| value.as_ref().map(|_| Origin::Default));
                        (value, origin)
                    }
                };
                Some(Setting {
                    name: name.to_owned(),
                    value,
                    origin,
                })
            })
            .collect()
    }
}

/// Prints `config show`: every setting with its value and origin (`extra` rows after the
/// command's own, such as the password's source), as a table, one JSON document, or JSON lines.
pub fn show(
    settings: &[Setting],
    provenance: &Provenance,
    format: crate::output::OutputFormat,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    use crate::output::OutputFormat;
    match format {
        OutputFormat::Human => {
            let mut table = crate::output::Table::new(["SETTING", "VALUE", "FROM"]);
            for setting in settings {
                table.row([
                    setting.name.clone(),
                    setting.value.clone().unwrap_or_else(|| "-".into()),
                    setting
                        .origin
                        .as_ref()
                        .map_or_else(|| "-".into(), ToString::to_string),
                ]);
            }
            out.write_all(table.render().as_bytes())
        }
        OutputFormat::Json => {
            #[derive(Serialize)]
            struct Document<'a> {
                config_file: Option<&'a PathBuf>,
                profile: Option<&'a String>,
                settings: &'a [Setting],
            }
            let document = Document {
                config_file: provenance.config_file.as_ref(),
                profile: provenance.profile.as_ref(),
                settings,
            };
            let text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
            writeln!(out, "{text}")
        }
        OutputFormat::Jsonl => {
            for setting in settings {
                let line = serde_json::to_string(setting).map_err(std::io::Error::other)?;
                writeln!(out, "{line}")?;
            }
            Ok(())
        }
    }
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

/// The result of applying a profile to a command line.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedProfile {
    /// The command line with the profile's settings added where neither a flag nor an
    /// environment variable set the option.
    pub args: Vec<OsString>,
    /// The keys that were added.
    pub applied: Vec<String>,
}

/// Adds the profile's settings to `args` as options, for every option of the invoked
/// (sub)command that was neither given on the command line nor set from the environment, and
/// does not conflict with one that was. Keys of other subcommands or other tools are left out.
pub fn apply_profile(
    command: &clap::Command,
    args: Vec<OsString>,
    profile: &Profile,
) -> Result<AppliedProfile, ConfigError> {
    let mut command = command.clone();
    command.build();
    let command = &command;
    let Ok(matches) = command.clone().try_get_matches_from(&args) else {
        // Let the real parse report the usage error.
        return Ok(AppliedProfile {
            args,
            applied: Vec::new(),
        });
    };
    // The invoked subcommand chain: top-level args are global and seen at every level.
    let mut levels = vec![(command, &matches)];
    while let Some((name, sub_matches)) = levels.last().and_then(|(_, m)| m.subcommand()) {
        let Some(sub) = levels.last().and_then(|(c, _)| c.find_subcommand(name)) else {
            break;
        };
        levels.push((sub, sub_matches));
    }
    let mut extra: Vec<OsString> = Vec::new();
    let mut applied = Vec::new();
    for (key, value) in &profile.values {
        let Some((cmd, level_matches, arg)) = levels.iter().rev().find_map(|(c, m)| {
            c.get_arguments()
                .find(|a| a.get_long() == Some(key.as_str()))
                .map(|a| (*c, *m, a))
        }) else {
            continue;
        };
        let id = arg.get_id().as_str();
        if is_explicit(level_matches, id) || conflicts_with_explicit(cmd, arg, level_matches) {
            continue;
        }
        extra.extend(option_words(&profile.name, key, arg, value)?);
        applied.push(key.clone());
    }
    let mut args = args;
    let insert_at = args.iter().position(|a| a == "--").unwrap_or(args.len());
    args.splice(insert_at..insert_at, extra);
    Ok(AppliedProfile { args, applied })
}

fn is_explicit(matches: &clap::ArgMatches, id: &str) -> bool {
    matches!(
        matches
            .try_contains_id(id)
            .ok()
            .and_then(|_| matches.value_source(id)),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// Clap records a conflict on the argument that declares it only, so both directions are checked.
fn conflicts_with_explicit(
    command: &clap::Command,
    arg: &clap::Arg,
    matches: &clap::ArgMatches,
) -> bool {
    let ids_conflicting_with = |a: &clap::Arg| -> Vec<String> {
        command
            .get_arg_conflicts_with(a)
            .iter()
            .map(|c| c.get_id().to_string())
            .collect()
    };
    let own = ids_conflicting_with(arg);
    command
        .get_arguments()
        .filter(|other| is_explicit(matches, other.get_id().as_str()))
        .any(|other| {
            own.iter().any(|id| id == other.get_id().as_str())
                || ids_conflicting_with(other)
                    .iter()
                    .any(|id| id == arg.get_id().as_str())
        })
}

fn option_words(
    profile: &str,
    key: &str,
    arg: &clap::Arg,
    value: &toml::Value,
) -> Result<Vec<OsString>, ConfigError> {
    let flag = OsString::from(format!("--{key}"));
    let bad = |expected| ConfigError::BadValue {
        profile: profile.to_owned(),
        key: key.to_owned(),
        expected,
    };
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    match (value, arg.get_action()) {
        (toml::Value::Boolean(on), clap::ArgAction::SetTrue) => {
            Ok(if *on { vec![flag] } else { vec![] })
        }
        (_, clap::ArgAction::SetTrue) => Err(bad("true or false")),
        (toml::Value::Integer(n), clap::ArgAction::Count) => {
            Ok(std::iter::repeat_n(flag, usize::try_from(*n).unwrap_or(0)).collect())
        }
        (_, clap::ArgAction::Count) => Err(bad("a number")),
        (toml::Value::Array(items), _) if takes_value => items
            .iter()
            .map(|item| {
                scalar_text(item)
                    .map(|text| [flag.clone(), OsString::from(text)])
                    .ok_or_else(|| bad("a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|pairs| pairs.into_iter().flatten().collect()),
        (value, _) if takes_value => {
            let text = scalar_text(value).ok_or_else(|| bad("a string"))?;
            // `--key=value` keeps a value that starts with '-' from being read as a flag.
            Ok(vec![OsString::from(format!("--{key}={text}"))])
        }
        _ => Err(bad("a value this option takes")),
    }
}

fn scalar_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn command() -> Command {
        Command::new("tool")
            .arg(
                Arg::new("server")
                    .long("server")
                    .global(true)
                    .env("COMMON_TEST_TOOL_SERVER"),
            )
            .arg(
                Arg::new("uri")
                    .long("uri")
                    .global(true)
                    .conflicts_with("server"),
            )
            .arg(
                Arg::new("insecure")
                    .long("insecure")
                    .global(true)
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("output")
                    .long("output")
                    .global(true)
                    .default_value("human"),
            )
            .subcommand(
                Command::new("show")
                    .arg(Arg::new("base").long("base"))
                    .arg(Arg::new("name")),
            )
            .subcommand(Command::new("other").arg(Arg::new("page-size").long("page-size")))
    }

    fn profile(text: &str) -> Profile {
        crate::config::ConfigFile::parse(text, std::path::Path::new("config.toml"))
            .unwrap()
            .select(Some("p"))
            .unwrap()
            .unwrap()
            .clone()
    }

    fn apply(args: &[&str], text: &str) -> AppliedProfile {
        apply_profile(
            &command(),
            args.iter().map(OsString::from).collect(),
            &profile(text),
        )
        .unwrap()
    }

    fn value(applied: &AppliedProfile, id: &str) -> Option<String> {
        let matches = command().get_matches_from(&applied.args);
        let sub = matches.subcommand().map_or(&matches, |(_, m)| m);
        sub.get_one::<String>(id).cloned()
    }

    #[test]
    fn profile_fills_what_the_command_line_leaves_open() {
        let applied = apply(
            &["tool", "show", "x"],
            "[profile.p]\nserver = \"dc1\"\nbase = \"OU=A\"\n",
        );
        assert_eq!(value(&applied, "server").as_deref(), Some("dc1"));
        assert_eq!(value(&applied, "base").as_deref(), Some("OU=A"));
    }

    #[test]
    fn flags_win_over_the_profile() {
        let applied = apply(
            &["tool", "show", "x", "--server", "dc9"],
            "[profile.p]\nserver = \"dc1\"\n",
        );
        assert_eq!(value(&applied, "server").as_deref(), Some("dc9"));
    }

    #[test]
    fn profile_wins_over_defaults() {
        let applied = apply(&["tool", "show", "x"], "[profile.p]\noutput = \"json\"\n");
        assert_eq!(value(&applied, "output").as_deref(), Some("json"));
    }

    #[test]
    fn a_conflicting_flag_suppresses_the_profile_setting() {
        let applied = apply(
            &["tool", "show", "--uri", "ldaps://x"],
            "[profile.p]\nserver = \"dc1\"\n",
        );
        assert_eq!(value(&applied, "server"), None);
        assert_eq!(value(&applied, "uri").as_deref(), Some("ldaps://x"));
    }

    #[test]
    fn booleans_become_switches() {
        let applied = apply(&["tool", "show"], "[profile.p]\ninsecure = true\n");
        assert!(applied.args.contains(&OsString::from("--insecure")));
        let applied = apply(&["tool", "show"], "[profile.p]\ninsecure = false\n");
        assert!(!applied.args.contains(&OsString::from("--insecure")));
    }

    #[test]
    fn keys_of_other_subcommands_and_tools_are_skipped() {
        let applied = apply(
            &["tool", "show"],
            "[profile.p]\npage-size = 10\nurl = \"https://x\"\n",
        );
        assert_eq!(applied.args, ["tool", "show"]);
        assert!(applied.applied.is_empty());
    }

    #[test]
    fn values_go_before_a_double_dash() {
        let applied = apply(
            &["tool", "show", "--", "-name"],
            "[profile.p]\nbase = \"OU=A\"\n",
        );
        assert_eq!(applied.args, ["tool", "show", "--base=OU=A", "--", "-name"]);
    }

    #[test]
    fn wrong_types_are_reported_with_the_key() {
        let err = apply_profile(
            &command(),
            vec!["tool".into(), "show".into()],
            &profile("[profile.p]\ninsecure = \"yes\"\n"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting \"insecure\" of profile \"p\" must be true or false"
        );
    }
}
