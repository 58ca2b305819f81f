//! The config file: named profiles of settings in TOML, shared by every tool of the project.
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
//! not know (`url` for ad-tool) is skipped by it; a key no tool knows is a typo, warned about
//! with the closest known key. Passwords are not settings: use `password-file`. How a profile
//! is applied to a command line is [`crate::settings`]'s business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The config directory's name under the platform's config dir.
pub const CONFIG_DIR_NAME: &str = "ad-ews-tools";

/// Every key a profile may hold: the long options of all the project's tools (each tool's
/// tests check that its options are here). A key outside this list is a typo.
pub const KNOWN_KEYS: &[&str] = &[
    "account-expires",
    "account-password-file",
    "account-password-stdin",
    "allow-password-files-anywhere",
    "allow-privileged",
    "auth",
    "authority",
    "base",
    "ca-file",
    "cannot-change-password",
    "category",
    "certificate",
    "change-password-at-logon",
    "client-id",
    "cloud",
    "concurrency",
    "config",
    "description",
    "device-code",
    "directory",
    "disabled",
    "display-name",
    "dns-server",
    "domain",
    "drop-unknown-entries",
    "dry-run",
    "enabled",
    "force",
    "from",
    "from-csv",
    "generate-password",
    "generated-password-file",
    "given-name",
    "graph-url",
    "group",
    "if-exists",
    "impersonate",
    "insecure",
    "journal",
    "level",
    "mail",
    "mail-nickname",
    "mailbox",
    "mailboxes-file",
    "max-backoff",
    "member",
    "missing-ok",
    "name",
    "only",
    "output",
    "page-size",
    "password-file",
    "password-never-expires",
    "password-stdin",
    "path",
    "profile",
    "quiet",
    "recipient-type",
    "report",
    "reset-password",
    "sam-account-name",
    "scope",
    "server",
    "server-version",
    "service-account",
    "sku",
    "spn-from-cname",
    "starttls",
    "surname",
    "tenant",
    "timeout",
    "to",
    "trust-redirect",
    "undo-journal",
    "upn",
    "uri",
    "url",
    "usage-location",
    "user",
    "verbose",
    "wait-for-account",
    "wait-for-mailbox",
    "yes",
];

/// The known key closest to `key`, when one is close enough to be what was meant.
pub fn closest_known_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS
        .iter()
        .map(|known| (strsim::jaro_winkler(key, known), *known))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known)
}

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
    /// The file it is in (empty for settings that come from the environment).
    pub file: PathBuf,
    /// Setting name (a long option name) → value.
    pub values: BTreeMap<String, toml::Value>,
}

impl Profile {
    /// Keys no tool of the project knows, each with the closest known key, if any.
    pub fn unknown_keys(&self) -> Vec<(String, Option<&'static str>)> {
        self.values
            .keys()
            .filter(|key| !KNOWN_KEYS.contains(&key.as_str()))
            .map(|key| (key.clone(), closest_known_key(key)))
            .collect()
    }

    /// The warnings an operator sees for this profile's unknown keys.
    pub fn unknown_key_warnings(&self) -> Vec<String> {
        self.unknown_keys()
            .into_iter()
            .map(|(key, closest)| {
                let guess = closest.map_or_else(String::new, |k| format!("; did you mean \"{k}\"?"));
                format!(
                    "profile \"{}\" in {}: \"{key}\" is not a setting of any tool and is ignored{guess}",
                    self.name,
                    self.file.display()
                )
            })
            .collect()
    }
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
    /// The file is not valid TOML or not shaped like a config file. The message names the
    /// line but never repeats its text, which may hold a secret.
    #[error("the config file {} is not valid: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line number.
        message: String,
    },
    /// The named profile does not exist.
    #[error("there is no profile \"{name}\" in {} (it has {})", path.display(), list_or_none(known))]
    NoSuchProfile {
        /// The profile asked for.
        name: String,
        /// The file searched.
        path: PathBuf,
        /// The profiles it has.
        known: Vec<String>,
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

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "no profiles".to_owned()
    } else {
        format!("profiles {}", names.join(", "))
    }
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

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
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
        // toml's own rendering quotes the offending line, which may be a password someone put
        // there by mistake: only its message and the line number are shown.
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map_or_else(String::new, |span| {
                format!("line {}: ", line_of(text, span.start))
            });
            parse_error(format!("{line}{}", e.message().trim()))
        })?;
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
                        config.profiles.insert(
                            name.clone(),
                            Profile {
                                name,
                                file: path.to_owned(),
                                values,
                            },
                        );
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
                    known: self.profiles.keys().cloned().collect(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let missing = config.select(Some("zz")).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "there is no profile \"zz\" in c.toml (it has profiles a, b)"
        );
        let plain = ConfigFile::parse("[profile.default]\n", Path::new("c.toml")).unwrap();
        assert_eq!(plain.select(None).unwrap().unwrap().name, "default");
    }

    #[test]
    fn invalid_toml_names_the_file_and_line_but_never_the_text() {
        let err = ConfigFile::parse(
            "[profile.p]\nuser = \"a\"\npassword-file = \"/x\nsecret = Hunter2-Secret\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("the config file c.toml is not valid: line 3: "),
            "{text}"
        );
        assert!(!text.contains("Hunter2") && !text.contains("/x"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn unknown_keys_get_the_closest_known_key() {
        let config = ConfigFile::parse(
            "[profile.p]\nservr = \"dc1\"\nca-fiel = \"x\"\nzzzzzzzz = 1\nurl = \"u\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let profile = config.select(Some("p")).unwrap().unwrap();
        assert_eq!(
            profile.unknown_keys(),
            [
                ("ca-fiel".to_owned(), Some("ca-file")),
                ("servr".to_owned(), Some("server")),
                ("zzzzzzzz".to_owned(), None),
            ]
        );
        assert_eq!(
            profile.unknown_key_warnings()[1],
            "profile \"p\" in c.toml: \"servr\" is not a setting of any tool and is ignored; did you mean \"server\"?"
        );
    }
}
