//! Config profiles: named settings in a TOML file, applied with the precedence
//! flag > environment > profile > default.
//!
//! ```toml
//! default-profile = "corp"
//!
//! [profile.corp]
//! server = "dc1.corp.example"
//! user = "admin@corp.example"
//! ca-file = "/etc/ssl/corp-root-ca.pem"
//! password-file = "/root/.secrets/ad-admin"
//! url = "https://mail.corp.example/EWS/Exchange.asmx"
//! ```
//!
//! Keys are the tools' long option names. Both tools read the same file, so a key one tool does
//! not know (`url` for ad-tool) is skipped. Passwords are not settings: use `password-file`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;

/// The config directory's name under the platform's config dir.
pub const CONFIG_DIR_NAME: &str = "ad-ews-tools";

/// A loaded config file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The profile used when none is named.
    pub default_profile: Option<String>,
    /// The profiles by name.
    pub profiles: BTreeMap<String, Profile>,
}

/// One named set of settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// Setting name (a long option name) → value.
    pub values: BTreeMap<String, toml::Value>,
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` could not be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or not shaped like a config file.
    #[error("the config file {} is not valid: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// The named profile does not exist.
    #[error("there is no profile \"{name}\" in {}", path.display())]
    NoSuchProfile {
        /// The profile asked for.
        name: String,
        /// The file searched.
        path: PathBuf,
    },
    /// A profile was named but there is no config file.
    #[error("--profile {name} was given but there is no config file (looked for {})", path.display())]
    NoConfigFile {
        /// The profile asked for.
        name: String,
        /// Where the file was looked for.
        path: PathBuf,
    },
    /// A profile holds a password.
    #[error("profile \"{profile}\" in {} holds a password; passwords do not belong in the config file, use password-file", path.display())]
    PasswordInProfile {
        /// The profile.
        profile: String,
        /// The file.
        path: PathBuf,
    },
    /// A setting's value has the wrong type.
    #[error("setting \"{key}\" of profile \"{profile}\" must be {expected}")]
    BadValue {
        /// The profile.
        profile: String,
        /// The setting.
        key: String,
        /// What it must be.
        expected: &'static str,
    },
}

/// The default config file: `$XDG_CONFIG_HOME/ad-ews-tools/config.toml` (or `~/.config/…`) on
/// Linux and other Unixes, `~/Library/Application Support/ad-ews-tools/config.toml` on macOS,
/// `%APPDATA%\ad-ews-tools\config.toml` on Windows.
pub fn default_config_path() -> Option<PathBuf> {
    config_dir().map(|dir| dir.join(CONFIG_DIR_NAME).join("config.toml"))
}

fn config_dir() -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if cfg!(windows) {
        from_env("APPDATA")
    } else if cfg!(target_os = "macos") {
        from_env("HOME").map(|home| home.join("Library/Application Support"))
    } else {
        from_env("XDG_CONFIG_HOME").or_else(|| from_env("HOME").map(|home| home.join(".config")))
    }
}

impl ConfigFile {
    /// Reads the file named with `--config`, or the default file if it exists. A missing default
    /// file is no error (`Ok(None)`); a missing named file is.
    pub fn load(explicit: Option<&Path>) -> Result<Option<Self>, ConfigError> {
        let (path, must_exist) = match explicit {
            Some(path) => (path.to_owned(), true),
            None => match default_config_path() {
                Some(path) => (path, false),
                None => return Ok(None),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => Ok(None),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses config text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let parse_error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| parse_error(e.to_string()))?;
        let mut config = ConfigFile {
            path: path.to_owned(),
            ..Default::default()
        };
        for (key, value) in table {
            match (key.as_str(), value) {
                ("default-profile", toml::Value::String(name)) => {
                    config.default_profile = Some(name);
                }
                ("profile", toml::Value::Table(profiles)) => {
                    for (name, values) in profiles {
                        let toml::Value::Table(values) = values else {
                            return Err(parse_error(format!(
                                "[profile.{name}] must be a table of settings"
                            )));
                        };
                        if values.keys().any(|k| k.eq_ignore_ascii_case("password")) {
                            return Err(ConfigError::PasswordInProfile {
                                profile: name,
                                path: path.to_owned(),
                            });
                        }
                        let values = values.into_iter().collect();
                        config
                            .profiles
                            .insert(name.clone(), Profile { name, values });
                    }
                }
                (other, _) => {
                    return Err(parse_error(format!(
                        "unknown top-level key \"{other}\" (expected default-profile and [profile.NAME] tables)"
                    )));
                }
            }
        }
        Ok(config)
    }

    /// The profile to use: the named one (which must exist), else `default-profile`, else a
    /// profile called `default`, else none.
    pub fn select(&self, name: Option<&str>) -> Result<Option<&Profile>, ConfigError> {
        if let Some(name) = name {
            return self
                .profiles
                .get(name)
                .map(Some)
                .ok_or_else(|| ConfigError::NoSuchProfile {
                    name: name.to_owned(),
                    path: self.path.clone(),
                });
        }
        if let Some(name) = &self.default_profile {
            return self.select(Some(name));
        }
        Ok(self.profiles.get("default"))
    }
}

/// Loads the config and selects the profile named by `--profile` (or the profile env var).
pub fn load_profile(
    explicit_file: Option<&Path>,
    name: Option<&str>,
) -> Result<Option<Profile>, ConfigError> {
    match ConfigFile::load(explicit_file)? {
        Some(config) => Ok(config.select(name)?.cloned()),
        None => match name {
            Some(name) => Err(ConfigError::NoConfigFile {
                name: name.to_owned(),
                path: explicit_file
                    .map(Path::to_owned)
                    .or_else(default_config_path)
                    .unwrap_or_default(),
            }),
            None => Ok(None),
        },
    }
}

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
                let _ = error.print();
                std::process::ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
            }
            ParseOutcome::Config(error) => {
                error.report(tool, false);
                error.status.into()
            }
        }
    }
}

/// Parses a tool's command line with flag > environment > profile > default: `--config` and
/// `--profile` (or their environment variables) pick the profile, the environment settings and
/// then the profile are added where the command line leaves an option open, and clap parses
/// the result, so every value is validated the same way whatever its source.
pub fn parse_command_line<C: clap::CommandFactory + clap::FromArgMatches>(
    args: Vec<OsString>,
    sources: &Sources<'_>,
) -> Result<C, ParseOutcome> {
    let config_error = |e: ConfigError| {
        ParseOutcome::Config(crate::CommandError::usage(e.to_string()).with_code("config"))
    };
    let command = C::command();
    // A first look for --config and --profile; errors are left to the real parse.
    let (config_file, profile_name) = match command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&args)
    {
        Ok(m) => (
            m.try_get_one::<PathBuf>("config").ok().flatten().cloned(),
            m.try_get_one::<String>("profile").ok().flatten().cloned(),
        ),
        Err(_) => (None, None),
    };
    let config_file = config_file.or_else(|| std::env::var_os(sources.config_env).map(Into::into));
    let profile_name = profile_name.or_else(|| std::env::var(sources.profile_env).ok());
    let profile =
        load_profile(config_file.as_deref(), profile_name.as_deref()).map_err(config_error)?;
    let environment = Profile {
        name: "environment".into(),
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
    let args = apply_profile(&command, args, &environment)
        .map_err(config_error)?
        .args;
    let (args, unknown) = match &profile {
        Some(profile) => {
            let applied = apply_profile(&command, args, profile).map_err(config_error)?;
            (applied.args, applied.unknown_keys)
        }
        None => (args, Vec::new()),
    };
    let matches = command
        .try_get_matches_from(args)
        .map_err(ParseOutcome::Clap)?;
    let parsed = C::from_arg_matches(&matches).map_err(ParseOutcome::Clap)?;
    if let Some(profile) = &profile {
        for key in unknown {
            log::debug!(
                "profile {}: \"{key}\" is not a {} setting; ignored",
                profile.name,
                sources.tool
            );
        }
    }
    Ok(parsed)
}

/// The result of applying a profile to a command line.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedProfile {
    /// The command line with the profile's settings added where neither a flag nor an
    /// environment variable set the option.
    pub args: Vec<OsString>,
    /// Settings this tool does not know (they may belong to the other tool).
    pub unknown_keys: Vec<String>,
}

/// Adds the profile's settings to `args` as options, for every option of the invoked
/// (sub)command that was neither given on the command line nor set from the environment, and
/// does not conflict with one that was. Clap then parses the result as usual, so validation and
/// types are the same as for flags.
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
            unknown_keys: Vec::new(),
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
    let all_longs: Vec<&str> = all_long_names(command);
    let mut extra: Vec<OsString> = Vec::new();
    let mut unknown_keys = Vec::new();
    for (key, value) in &profile.values {
        let Some((cmd, level_matches, arg)) = levels.iter().rev().find_map(|(c, m)| {
            c.get_arguments()
                .find(|a| a.get_long() == Some(key.as_str()))
                .map(|a| (*c, *m, a))
        }) else {
            if !all_longs.contains(&key.as_str()) {
                unknown_keys.push(key.clone());
            }
            continue;
        };
        let id = arg.get_id().as_str();
        if is_explicit(level_matches, id) || conflicts_with_explicit(cmd, arg, level_matches) {
            continue;
        }
        extra.extend(option_words(&profile.name, key, arg, value)?);
    }
    let mut args = args;
    let insert_at = args.iter().position(|a| a == "--").unwrap_or(args.len());
    args.splice(insert_at..insert_at, extra);
    Ok(AppliedProfile { args, unknown_keys })
}

fn all_long_names(command: &clap::Command) -> Vec<&str> {
    let mut names: Vec<&str> = command
        .get_arguments()
        .filter_map(clap::Arg::get_long)
        .collect();
    for sub in command.get_subcommands() {
        names.extend(all_long_names(sub));
    }
    names
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
        ConfigFile::parse(text, Path::new("config.toml"))
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
    fn keys_of_other_subcommands_are_skipped_and_unknown_keys_reported() {
        let applied = apply(
            &["tool", "show"],
            "[profile.p]\npage-size = 10\nurl = \"https://x\"\n",
        );
        assert_eq!(applied.args, ["tool", "show"]);
        assert_eq!(applied.unknown_keys, ["url"]);
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
    fn a_password_in_a_profile_is_refused() {
        let err =
            ConfigFile::parse("[profile.p]\npassword = \"x\"\n", Path::new("c.toml")).unwrap_err();
        assert!(
            matches!(err, ConfigError::PasswordInProfile { .. }),
            "{err}"
        );
    }

    #[test]
    fn default_profile_and_missing_profiles() {
        let config = ConfigFile::parse(
            "default-profile = \"b\"\n[profile.a]\n[profile.b]\nserver = \"x\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(config.select(None).unwrap().unwrap().name, "b");
        assert!(matches!(
            config.select(Some("zz")),
            Err(ConfigError::NoSuchProfile { .. })
        ));
        let plain = ConfigFile::parse("[profile.default]\n", Path::new("c.toml")).unwrap();
        assert_eq!(plain.select(None).unwrap().unwrap().name, "default");
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

    #[test]
    fn invalid_toml_names_the_file() {
        let err = ConfigFile::parse("[profile.p\n", Path::new("c.toml")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the config file c.toml is not valid"),
            "{err}"
        );
    }
}
