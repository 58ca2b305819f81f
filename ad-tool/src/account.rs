//! The account a command describes: names parsed into domain types at the edge, the options
//! (which double as the CSV columns of `--from-csv`), and the validated [`AccountSpec`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;
use common::address::SmtpAddress;
use serde::{Deserialize, Deserializer};

use crate::dn::Dn;
use crate::filetime::AccountExpires;

/// Implements `Deserialize` through `FromStr`, so CSV cells are validated exactly like options.
macro_rules! deserialize_from_str {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

deserialize_from_str!(CommonName, SamAccountName, Upn, Text, AccountExpires);

/// Why a name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{}\" is not a valid {what}: {reason}", value.escape_debug())]
pub struct NameError {
    what: &'static str,
    value: String,
    reason: String,
}

fn name_error(what: &'static str, value: &str, reason: impl Into<String>) -> NameError {
    NameError {
        what,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// An entry's CN (New-ADUser's `-Name`): 1 to 64 characters (the `cn` attribute's range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonName(String);

impl FromStr for CommonName {
    type Err = NameError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let what = "name";
        if text.trim().is_empty() {
            return Err(name_error(what, text, "it is empty"));
        }
        if text.chars().count() > 64 {
            return Err(name_error(what, text, "it is longer than 64 characters"));
        }
        common::text::check_visible(text).map_err(|reason| name_error(what, text, reason))?;
        Ok(Self(text.to_owned()))
    }
}

/// An attribute's text (displayName, givenName, sn, description): at most 1024 characters,
/// none of them control or invisible characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl FromStr for Text {
    type Err = NameError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let what = "value";
        if text.chars().count() > 1024 {
            return Err(name_error(what, text, "it is longer than 1024 characters"));
        }
        common::text::check_visible(text).map_err(|reason| name_error(what, text, reason))?;
        Ok(Self(text.to_owned()))
    }
}

/// A `sAMAccountName` (the pre-Windows 2000 logon name): at most 20 characters, none of
/// `"/\[]:;|=,+*?<>@`, not only dots and spaces, not ending in a dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamAccountName(String);

impl SamAccountName {
    /// Characters AD refuses in a sAMAccountName.
    pub const FORBIDDEN: &'static str = "\"/\\[]:;|=,+*?<>@";

    /// A group's sAMAccountName: the same characters, but up to 256 of them.
    pub fn for_group(text: &str) -> Result<Self, NameError> {
        Self::parse_with_limit(text, 256)
    }

    fn parse_with_limit(text: &str, limit: usize) -> Result<Self, NameError> {
        let what = "sAMAccountName";
        if text.is_empty() {
            return Err(name_error(what, text, "it is empty"));
        }
        if text.chars().count() > limit {
            return Err(name_error(
                what,
                text,
                format!(
                    "it has {} characters and at most {limit} are allowed",
                    text.chars().count()
                ),
            ));
        }
        common::text::check_visible(text).map_err(|reason| name_error(what, text, reason))?;
        if text.starts_with(' ') || text.ends_with(' ') {
            return Err(name_error(what, text, "it starts or ends with a space"));
        }
        if let Some(c) = text.chars().find(|c| Self::FORBIDDEN.contains(*c)) {
            return Err(name_error(
                what,
                text,
                format!(
                    "it contains '{}'; none of {} are allowed",
                    c.escape_default(),
                    Self::FORBIDDEN
                ),
            ));
        }
        if text.chars().all(|c| c == '.' || c == ' ') {
            return Err(name_error(
                what,
                text,
                "it consists only of dots and spaces",
            ));
        }
        if text.ends_with('.') {
            return Err(name_error(what, text, "it ends with a dot"));
        }
        Ok(Self(text.to_owned()))
    }
}

impl FromStr for SamAccountName {
    type Err = NameError;
    /// A user's sAMAccountName: at most 20 characters.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_with_limit(text, 20)
    }
}

/// A user principal name, `name@suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upn(String);

impl FromStr for Upn {
    type Err = NameError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        check_address("user principal name", text).map(Self)
    }
}

fn check_address(what: &'static str, text: &str) -> Result<String, NameError> {
    match common::address::problem(text, common::address::Domain::AnyLabels) {
        None => Ok(text.to_owned()),
        Some(reason) => Err(name_error(what, text, reason)),
    }
}

macro_rules! string_newtype {
    ($($t:ty),*) => {$(
        impl $t {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

string_newtype!(CommonName, SamAccountName, Upn, Text);

/// Parses a switch value as PowerShell users write it: `true`/`false`, `$true`/`$false`,
/// `yes`/`no`, `1`/`0`.
pub fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().trim_start_matches('$') {
        "true" | "yes" | "1" | "y" => Ok(true),
        "false" | "no" | "0" | "n" => Ok(false),
        _ => Err(format!("\"{text}\" is not true or false")),
    }
}

fn de_switch<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => parse_switch(t).map(Some).map_err(serde::de::Error::custom),
    }
}

/// The settings of one account. The long option names are also the CSV column names.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AccountArgs {
    /// The account's name, its CN (New-ADUser -Name)
    #[arg(long, value_name = "CN")]
    pub name: Option<CommonName>,

    /// Parent container or OU as a DN [default: the domain's Users container]
    #[arg(long, value_name = "DN")]
    pub path: Option<Dn>,

    /// Pre-Windows 2000 logon name, at most 20 characters [default: --name if valid]
    #[arg(long, value_name = "NAME")]
    pub sam_account_name: Option<SamAccountName>,

    /// User principal name (logon name), e.g. sa-mytt-exch@corp.example
    #[arg(long, value_name = "NAME@SUFFIX")]
    pub upn: Option<Upn>,

    /// Display name
    #[arg(long, value_name = "TEXT")]
    pub display_name: Option<Text>,

    /// Given name
    #[arg(long, value_name = "TEXT")]
    pub given_name: Option<Text>,

    /// Surname
    #[arg(long, value_name = "TEXT")]
    pub surname: Option<Text>,

    /// Description
    #[arg(long, value_name = "TEXT")]
    pub description: Option<Text>,

    /// E-mail address (the mail attribute)
    #[arg(long, value_name = "ADDRESS")]
    pub mail: Option<SmtpAddress>,

    /// Password never expires (DONT_EXPIRE_PASSWORD); =false to clear it
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_switch)]
    #[serde(default, deserialize_with = "de_switch")]
    pub password_never_expires: Option<bool>,

    /// User cannot change password (deny ACEs for Everyone and SELF); =false to clear it
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_switch)]
    #[serde(default, deserialize_with = "de_switch")]
    pub cannot_change_password: Option<bool>,

    /// User must change password at next logon (pwdLastSet 0); =false to clear it
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_switch)]
    #[serde(default, deserialize_with = "de_switch")]
    pub change_password_at_logon: Option<bool>,

    /// When the account expires: never, a date (00:00 UTC that day) or YYYY-MM-DDTHH:MM:SSZ
    #[arg(long, value_name = "never|DATE")]
    pub account_expires: Option<AccountExpires>,

    /// Account enabled (the default for new accounts); =false to disable
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_switch)]
    #[serde(default, deserialize_with = "de_switch")]
    pub enabled: Option<bool>,

    /// Account disabled (same as --enabled=false)
    #[arg(long, conflicts_with = "enabled")]
    #[serde(skip)]
    pub disabled: bool,

    /// Service account: password never expires, cannot change password, no change at logon,
    /// account never expires, enabled
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_switch)]
    #[serde(default, deserialize_with = "de_switch")]
    pub service_account: Option<bool>,

    /// Read the new account's password from the first line of FILE
    #[arg(long, value_name = "FILE")]
    pub account_password_file: Option<PathBuf>,
}

impl AccountArgs {
    /// This row's settings, with `defaults` (the command line) filling what the row leaves open.
    #[must_use]
    pub fn or(self, defaults: &AccountArgs) -> AccountArgs {
        AccountArgs {
            name: self.name.or_else(|| defaults.name.clone()),
            path: self.path.or_else(|| defaults.path.clone()),
            sam_account_name: self
                .sam_account_name
                .or_else(|| defaults.sam_account_name.clone()),
            upn: self.upn.or_else(|| defaults.upn.clone()),
            display_name: self.display_name.or_else(|| defaults.display_name.clone()),
            given_name: self.given_name.or_else(|| defaults.given_name.clone()),
            surname: self.surname.or_else(|| defaults.surname.clone()),
            description: self.description.or_else(|| defaults.description.clone()),
            mail: self.mail.or_else(|| defaults.mail.clone()),
            password_never_expires: self
                .password_never_expires
                .or(defaults.password_never_expires),
            cannot_change_password: self
                .cannot_change_password
                .or(defaults.cannot_change_password),
            change_password_at_logon: self
                .change_password_at_logon
                .or(defaults.change_password_at_logon),
            account_expires: self.account_expires.or(defaults.account_expires),
            enabled: self
                .enabled
                .or(if self.disabled { Some(false) } else { None })
                .or(defaults.enabled)
                .or(if defaults.disabled { Some(false) } else { None }),
            disabled: false,
            service_account: self.service_account.or(defaults.service_account),
            account_password_file: self
                .account_password_file
                .or_else(|| defaults.account_password_file.clone()),
        }
    }
}

/// What an account should look like. `None` settings are left alone on an existing account and
/// take New-ADUser's defaults on a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// The CN.
    pub name: CommonName,
    /// The parent container; `None` means the domain's Users container.
    pub path: Option<Dn>,
    /// The sAMAccountName.
    pub sam_account_name: SamAccountName,
    /// The UPN.
    pub upn: Option<Upn>,
    /// `displayName`.
    pub display_name: Option<Text>,
    /// `givenName`.
    pub given_name: Option<Text>,
    /// `sn`.
    pub surname: Option<Text>,
    /// `description`.
    pub description: Option<Text>,
    /// `mail`.
    pub mail: Option<SmtpAddress>,
    /// `DONT_EXPIRE_PASSWORD`.
    pub password_never_expires: Option<bool>,
    /// The two deny ACEs.
    pub cannot_change_password: Option<bool>,
    /// `pwdLastSet` 0.
    pub change_password_at_logon: Option<bool>,
    /// `accountExpires`.
    pub account_expires: Option<AccountExpires>,
    /// `ACCOUNTDISABLE` cleared.
    pub enabled: Option<bool>,
    /// Where this account's password comes from, if from a file.
    pub password_file: Option<PathBuf>,
}

/// Why the options do not describe a valid account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// No `--name`.
    #[error("the account needs a name: give --name (the CN)")]
    MissingName,
    /// `--name` is no valid sAMAccountName and none was given.
    #[error("{0}; give --sam-account-name")]
    NoSamAccountName(NameError),
    /// Two settings contradict each other.
    #[error("{0}")]
    Contradiction(&'static str),
}

impl AccountSpec {
    /// Validates the options of one account.
    pub fn from_args(args: AccountArgs) -> Result<Self, SpecError> {
        let name = args.name.ok_or(SpecError::MissingName)?;
        let sam_account_name = match args.sam_account_name {
            Some(sam) => sam,
            None => name.as_str().parse().map_err(SpecError::NoSamAccountName)?,
        };
        let mut spec = AccountSpec {
            name,
            path: args.path,
            sam_account_name,
            upn: args.upn,
            display_name: args.display_name,
            given_name: args.given_name,
            surname: args.surname,
            description: args.description,
            mail: args.mail,
            password_never_expires: args.password_never_expires,
            cannot_change_password: args.cannot_change_password,
            change_password_at_logon: args.change_password_at_logon,
            account_expires: args.account_expires,
            enabled: args
                .enabled
                .or(if args.disabled { Some(false) } else { None }),
            password_file: args.account_password_file,
        };
        if args.service_account == Some(true) {
            let contradiction = spec.password_never_expires == Some(false)
                || spec.cannot_change_password == Some(false)
                || spec.change_password_at_logon == Some(true)
                || spec.enabled == Some(false)
                || matches!(spec.account_expires, Some(AccountExpires::At(_)));
            if contradiction {
                return Err(SpecError::Contradiction(
                    "--service-account sets password never expires, cannot change password, no change at logon, \
                     never expires and enabled; drop the option that says otherwise",
                ));
            }
            spec.password_never_expires = Some(true);
            spec.cannot_change_password = Some(true);
            spec.change_password_at_logon = Some(false);
            spec.account_expires = Some(AccountExpires::Never);
            spec.enabled = Some(true);
        }
        if spec.change_password_at_logon == Some(true) {
            if spec.password_never_expires == Some(true) {
                return Err(SpecError::Contradiction(
                    "--change-password-at-logon contradicts --password-never-expires (as in New-ADUser); choose one",
                ));
            }
            if spec.cannot_change_password == Some(true) {
                return Err(SpecError::Contradiction(
                    "--change-password-at-logon contradicts --cannot-change-password (as in New-ADUser); choose one",
                ));
            }
        }
        Ok(spec)
    }

    /// Whether a new account with these settings is enabled.
    pub fn enabled_when_created(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// The CN-qualified label used in messages: the sAMAccountName.
    pub fn label(&self) -> &str {
        self.sam_account_name.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str) -> AccountArgs {
        AccountArgs {
            name: Some(name.parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn sam_account_name_rules() {
        assert!("SAMyTTExch".parse::<SamAccountName>().is_ok());
        assert!("sa-mytt-exch-1".parse::<SamAccountName>().is_ok());
        let too_long = "a".repeat(21).parse::<SamAccountName>().unwrap_err();
        assert_eq!(
            too_long.to_string(),
            format!(
                "\"{}\" is not a valid sAMAccountName: it has 21 characters and at most 20 are allowed",
                "a".repeat(21)
            )
        );
        for bad in [
            "", "a/b", "a@b", "a[b", "a,b", "...", "  ", "abc.", "a\tb", "a*b", "a=b",
        ] {
            assert!(bad.parse::<SamAccountName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_and_addresses() {
        assert!("".parse::<CommonName>().is_err());
        assert!("x".repeat(65).parse::<CommonName>().is_err());
        assert!("Doe, Jane".parse::<CommonName>().is_ok());
        assert!("sa-mytt-exch@corp.example".parse::<Upn>().is_ok());
        for bad in [
            "corp.example",
            "@corp.example",
            "a@",
            "a b@corp.example",
            "a@b@c",
        ] {
            assert!(bad.parse::<Upn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sam_account_name_defaults_to_the_name_if_valid() {
        assert_eq!(
            AccountSpec::from_args(args("SAMyTTExch"))
                .unwrap()
                .sam_account_name
                .as_str(),
            "SAMyTTExch"
        );
        let err = AccountSpec::from_args(args("MyTimetable Service Account 1")).unwrap_err();
        assert!(
            err.to_string().ends_with("give --sam-account-name"),
            "{err}"
        );
    }

    #[test]
    fn service_account_sets_the_seed_flags() {
        let spec = AccountSpec::from_args(AccountArgs {
            service_account: Some(true),
            ..args("svc")
        })
        .unwrap();
        assert_eq!(spec.password_never_expires, Some(true));
        assert_eq!(spec.cannot_change_password, Some(true));
        assert_eq!(spec.change_password_at_logon, Some(false));
        assert_eq!(spec.account_expires, Some(AccountExpires::Never));
        assert_eq!(spec.enabled, Some(true));
    }

    #[test]
    fn contradictions_are_refused() {
        let both = AccountArgs {
            change_password_at_logon: Some(true),
            password_never_expires: Some(true),
            ..args("svc")
        };
        assert!(matches!(
            AccountSpec::from_args(both),
            Err(SpecError::Contradiction(_))
        ));
        let both = AccountArgs {
            change_password_at_logon: Some(true),
            cannot_change_password: Some(true),
            ..args("svc")
        };
        assert!(matches!(
            AccountSpec::from_args(both),
            Err(SpecError::Contradiction(_))
        ));
        let svc_disabled = AccountArgs {
            service_account: Some(true),
            disabled: true,
            ..args("svc")
        };
        assert!(matches!(
            AccountSpec::from_args(svc_disabled),
            Err(SpecError::Contradiction(_))
        ));
    }

    #[test]
    fn switches_read_like_powershell() {
        for yes in ["true", "$true", "TRUE", "yes", "1"] {
            assert_eq!(parse_switch(yes), Ok(true));
        }
        for no in ["false", "$false", "no", "0"] {
            assert_eq!(parse_switch(no), Ok(false));
        }
        assert!(parse_switch("maybe").is_err());
    }

    #[test]
    fn rows_fall_back_to_the_command_line() {
        let defaults = AccountArgs {
            path: Some("OU=Svc,DC=x".parse().unwrap()),
            service_account: Some(true),
            ..Default::default()
        };
        let row = AccountArgs {
            service_account: Some(false),
            ..args("svc1")
        };
        let merged = row.or(&defaults);
        assert_eq!(merged.path.unwrap().to_string(), "OU=Svc,DC=x");
        assert_eq!(merged.service_account, Some(false));
        let disabled = AccountArgs {
            disabled: true,
            ..Default::default()
        };
        assert_eq!(args("x").or(&disabled).enabled, Some(false));
    }
}
