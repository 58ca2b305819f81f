//! Where each setting came from (flag, environment, profile, default), and `config show`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

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
    pub(super) origins: BTreeMap<String, Origin>,
    pub(super) matches: clap::ArgMatches,
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
