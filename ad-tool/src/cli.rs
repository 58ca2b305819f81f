//! The command line: shared options, connection options and the subcommands, parsed with the
//! config profile applied between the environment and the defaults.

use std::ffi::OsString;

use clap::{Args, CommandFactory, FromArgMatches, Parser, ValueEnum};
use common::CommandError;
use common::args::GlobalArgs;
use common::config;

use crate::commands::Command;

/// Environment variable naming the profile to use.
pub const PROFILE_ENV: &str = "AD_TOOL_PROFILE";
/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "AD_TOOL_CONFIG";
/// Environment variable holding the operator's password.
pub const PASSWORD_ENV: &str = "AD_TOOL_PASSWORD";

/// Settings read from the environment, as (variable, option): `AD_TOOL_SERVER` is --server.
/// They are applied like a profile that ranks above the config file, so an option on the
/// command line, or one that conflicts with it (`--uri` against a server from the
/// environment), still wins.
const ENVIRONMENT: [(&str, &str); 1] = [("AD_TOOL_SERVER", "server")];

const ABOUT: &str = "Create Active Directory service accounts exactly as New-ADUser does, with their groups and mailbox lists, over LDAPS.";

const AFTER_HELP: &str = "\
Examples:
  ad-tool --server dc1.corp.example --user admin@corp.example --password-file ~/.ad-pass \\
      create-user --name SAMyTTExch --upn sa-mytt-exch@corp.example \\
      --display-name \"MyTimetable Exchange Service Account\" --path \"CN=Users,DC=corp,DC=example\" \\
      --service-account --generate-password
  ad-tool mailboxes --base \"OU=Staff,DC=corp,DC=example\" | ews-tool grant --to svc@corp.example --level Editor --mailboxes-file -

Exit codes: 0 done, 1 some items failed, 2 usage or configuration, 3 cannot connect, 4 refused, 5 exists.";

/// `ad-tool`'s command line.
#[derive(Debug, Parser)]
#[command(name = "ad-tool", version, about = ABOUT, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Options shared with ews-tool.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// How to reach the domain controller.
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How `--auth` authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMethod {
    /// Simple bind with --user and a password
    Simple,
    /// Kerberos (SASL GSSAPI) with the ticket cache: kinit first; no password
    #[cfg(feature = "kerberos")]
    Kerberos,
}

/// Where the domain controller is and how to talk to it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    /// Domain controller as HOST or HOST:PORT (LDAPS on 636, or 389 with --starttls);
    /// also from AD_TOOL_SERVER
    #[arg(long, global = true, value_name = "HOST[:PORT]")]
    pub server: Option<String>,

    /// LDAP URI instead of --server: ldaps://HOST or ldaps://HOST:PORT (ldap://… only with --starttls)
    #[arg(long, global = true, value_name = "URI", conflicts_with = "server")]
    pub uri: Option<String>,

    /// Find a domain controller of this AD domain through DNS (_ldap._tcp.dc._msdcs.DOMAIN)
    #[arg(long, global = true, value_name = "DNS-NAME", conflicts_with_all = ["server", "uri"])]
    pub domain: Option<String>,

    /// Ask this DNS server (an AD DNS server, say) when looking for domain controllers
    #[arg(
        long,
        global = true,
        value_name = "ADDRESS",
        env = "AD_TOOL_DNS_SERVER"
    )]
    pub dns_server: Option<std::net::IpAddr>,

    /// Use StartTLS on port 389 instead of LDAPS on 636
    #[arg(long, global = true)]
    pub starttls: bool,

    /// How to authenticate
    #[arg(long, global = true, value_enum, default_value_t = AuthMethod::Simple)]
    pub auth: AuthMethod,

    /// Seconds to wait for the domain controller at each step
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

/// Parses the command line, applying the config profile. Clap's own errors (and `--help`)
/// come back as `Err` with the exit code clap chose.
pub fn parse(args: Vec<OsString>) -> Result<Cli, ParseOutcome> {
    let command = Cli::command();
    // A first look for --config and --profile; errors are left to the real parse.
    let (config_file, profile_name) = match command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&args)
    {
        Ok(m) => (
            m.get_one::<std::path::PathBuf>("config").cloned(),
            m.get_one::<String>("profile").cloned(),
        ),
        Err(_) => (None, None),
    };
    let config_file = config_file.or_else(|| std::env::var_os(CONFIG_ENV).map(Into::into));
    let profile_name = profile_name.or_else(|| std::env::var(PROFILE_ENV).ok());
    let profile =
        config::load_profile(config_file.as_deref(), profile_name.as_deref()).map_err(|e| {
            ParseOutcome::Config(CommandError::usage(e.to_string()).with_code("config"))
        })?;
    let environment = config::Profile {
        name: "environment".into(),
        values: ENVIRONMENT
            .iter()
            .filter_map(|(var, key)| {
                std::env::var(var)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(|v| ((*key).to_owned(), toml::Value::String(v)))
            })
            .collect(),
    };
    let args = config::apply_profile(&command, args, &environment)
        .map_err(|e| ParseOutcome::Config(CommandError::usage(e.to_string()).with_code("config")))?
        .args;
    let (args, unknown) = match &profile {
        Some(profile) => {
            let applied = config::apply_profile(&command, args, profile).map_err(|e| {
                ParseOutcome::Config(CommandError::usage(e.to_string()).with_code("config"))
            })?;
            (applied.args, applied.unknown_keys)
        }
        None => (args, Vec::new()),
    };
    let matches = command
        .try_get_matches_from(args)
        .map_err(ParseOutcome::Clap)?;
    let cli = Cli::from_arg_matches(&matches).map_err(ParseOutcome::Clap)?;
    if let Some(profile) = &profile {
        for key in unknown {
            log::debug!(
                "profile {}: \"{key}\" is not an ad-tool setting; ignored",
                profile.name
            );
        }
    }
    Ok(cli)
}

/// Why parsing stopped.
#[derive(Debug)]
pub enum ParseOutcome {
    /// Clap's error or help text.
    Clap(clap::Error),
    /// The config file is unusable.
    Config(CommandError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn shared_options_work_before_and_after_the_subcommand() {
        let before = Cli::try_parse_from(["ad-tool", "--server", "dc1", "show-user", "x"]).unwrap();
        let after = Cli::try_parse_from(["ad-tool", "show-user", "x", "--server", "dc1"]).unwrap();
        assert_eq!(before.connection.server, after.connection.server);
        assert_eq!(after.connection.server.as_deref(), Some("dc1"));
    }

    #[test]
    fn passwords_are_no_option_values() {
        for flag in ["--password", "--account-password"] {
            assert!(
                Cli::try_parse_from(["ad-tool", "create-user", "--name", "x", flag, "secret"])
                    .is_err(),
                "{flag}"
            );
        }
    }
}
