//! The command line: shared options, connection options and the subcommands, parsed with the
//! config profile applied between the environment and the defaults.

use clap::{Args, Parser, ValueEnum};
use common::args::GlobalArgs;

use crate::commands::Command;

common::tool_settings! {
    tool: "ad-tool",
    prefix: "AD_TOOL",
    environment: [("AD_TOOL_SERVER", "server")],
}

const ABOUT: &str = "Create Active Directory service accounts exactly as New-ADUser does, with their groups and mailbox lists, over LDAPS.";

/// `ad-tool`'s command line.
#[derive(Debug, Parser)]
#[command(
    name = "ad-tool",
    version,
    about = ABOUT,
    propagate_version = true,
    mut_arg("user", |a| a.help("Who binds: a UPN (admin@corp.example), DOMAIN\\name, or a DN")),
    help_template = common::help_template!(
        "  ad-tool --server dc1.corp.example --user admin@corp.example --password-file ~/.ad-admin \\
      create-user --name SAMyTTExch --upn sa-mytt-exch@corp.example \\
      --display-name \"MyTimetable Exchange Service Account\" \\
      --path \"CN=Users,DC=corp,DC=example\" --service-account --generate-password
  ad-tool mailboxes --base \"OU=Staff,DC=corp,DC=example\" \\
      | ews-tool grant --to mytt-service@corp.example --level Editor --mailboxes-file -",
        "Exit codes: 0 done, 1 some items failed, 2 usage or configuration, 3 cannot connect,
4 refused, 5 exists (with --if-exists fail)."
    )
)]
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
    /// Kerberos with the session's ticket when no password is given and one is at hand (a
    /// domain-joined jump host), a simple bind otherwise
    Auto,
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
    #[arg(long, global = true, value_enum, default_value_t = AuthMethod::Auto)]
    pub auth: AuthMethod,

    /// Seconds to wait for the domain controller at each step
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
