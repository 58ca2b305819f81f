//! A profile applied to the command line: each key becomes the option of the same name where
//! the command line leaves it open (and no explicit flag conflicts with it), so clap validates
//! a profile's values exactly as it validates flags.

use std::ffi::OsString;

use clap::parser::ValueSource;

use crate::config::{ConfigError, Profile};

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
