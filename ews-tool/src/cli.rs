//! The command line: shared options, Exchange options, and the subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};
use common::args::GlobalArgs;

use crate::commands::Command;
use crate::version::ExchangeVersion;

common::tool_settings! {
    tool: "ews-tool",
    prefix: "EWS_TOOL",
    environment: [("EWS_TOOL_URL", "url"), ("EWS_TOOL_DIRECTORY", "directory")],
}

const ABOUT: &str = "Grant, list and revoke calendar permissions on many mailboxes through Exchange Web Services, keeping everyone else's entries.";

/// `ews-tool`'s command line.
#[derive(Debug, Parser)]
#[command(
    name = "ews-tool",
    version,
    about = ABOUT,
    propagate_version = true,
    mut_arg("user", |a| a.help("Who logs on to Exchange: DOMAIN\\name or a UPN (svc-mytt@corp.example)")),
    help_template = common::help_template!(
        "  ad-tool mailboxes --base \"OU=Staff,DC=corp,DC=example\" \\
    | ews-tool --url https://mail.corp.example/EWS/Exchange.asmx --user 'CORP\\svc-mytt' \\
      --password-file svc-mytt.password \\
      grant --to mytt-service@corp.example --level Editor --mailboxes-file -
  ews-tool list --mailbox anna@corp.example
  ews-tool revoke --from mytt-service@corp.example --mailboxes-file staff.txt --dry-run",
        "Exit codes: 0 done, 1 some mailboxes failed, 2 usage or configuration, 3 cannot connect,
4 refused."
    )
)]
pub struct Cli {
    /// Options shared with ad-tool.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Where Exchange is and how to talk to it.
    #[command(flatten)]
    pub server: ServerArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How `--auth` logs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMethod {
    /// The Negotiate scheme: Kerberos with the session's ticket when no password is given
    /// and a ticket is at hand, NTLM otherwise
    Negotiate,
    /// Negotiate with Kerberos only (the session's ticket; no password)
    Kerberos,
    /// NTLMv2 with the TLS channel binding (Extended Protection)
    Ntlm,
    /// HTTP Basic over TLS
    Basic,
}

/// The Exchange server.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Exchange")]
pub struct ServerArgs {
    /// The EWS endpoint, https://HOST/EWS/Exchange.asmx; also from EWS_TOOL_URL [default:
    /// found by Autodiscover]
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<crate::endpoint::Endpoint>,

    /// Where Autodiscover looks without --url.
    #[command(flatten)]
    pub discovery: DiscoveryArgs,

    /// The request version to start with; stepped down when the server refuses it
    #[arg(
        long,
        global = true,
        value_name = "VERSION",
        default_value = "Exchange2010_SP2"
    )]
    pub server_version: ExchangeVersion,

    /// Open mailboxes with ExchangeImpersonation (ApplicationImpersonation role) instead of
    /// delegate access (FullAccess)
    #[arg(long, global = true)]
    pub impersonate: bool,

    /// How to log on
    #[arg(long, global = true, value_enum, default_value_t = AuthMethod::Negotiate)]
    pub auth: AuthMethod,

    /// Ask for the Kerberos service ticket of the host the URL's host is a DNS alias (CNAME)
    /// of, not of the name as written (which is what browsers do by default)
    #[arg(long, global = true)]
    pub spn_from_cname: bool,

    /// Seconds to wait for the server at each step
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// The longest the server may ask to wait when it throttles (300, 90s, 5m, 1h); a longer
    /// back-off stops the run with what is done so far
    #[arg(long, global = true, value_name = "DURATION", default_value = "5m", value_parser = common::args::parse_duration)]
    pub max_backoff: std::time::Duration,
}

/// Where Autodiscover looks when no `--url` is given.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Autodiscover")]
pub struct DiscoveryArgs {
    /// The directory holding Exchange's service connection points: ldaps://HOST, or
    /// ldap://HOST (sealed by Kerberos); also from EWS_TOOL_DIRECTORY [default: a domain
    /// controller of --domain]
    #[arg(long, global = true, value_name = "URI")]
    pub directory: Option<String>,

    /// The Active Directory domain: its domain controllers (found through DNS) hold the service
    /// connection points, and Autodiscover redirects may lead into it [default: the realm of
    /// the Kerberos ticket, else the domain of --user]
    #[arg(long, global = true, value_name = "DNS-NAME")]
    pub domain: Option<String>,

    /// The DNS server to ask for SRV records [default: the system's]
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub dns_server: Option<std::net::IpAddr>,

    /// Follow Autodiscover redirects (and SRV answers) that lead out of the address's and the
    /// directory's domains
    #[arg(long, global = true)]
    pub trust_redirect: bool,
}

/// Which mailboxes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mailboxes")]
pub struct MailboxArgs {
    /// A mailbox by SMTP address; repeat for more
    #[arg(long = "mailbox", value_name = "ADDRESS")]
    pub mailboxes: Vec<common::address::SmtpAddress>,

    /// Mailboxes from FILE (- for stdin): one address per line (# comments), or a CSV with a
    /// mail or PrimarySmtpAddress column
    #[arg(long, value_name = "FILE")]
    pub mailboxes_file: Option<PathBuf>,
}

/// How a batch runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Batch")]
pub struct BatchArgs {
    /// Mailboxes worked on at once (authenticated connections to the server)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Read the calendars and report what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Also write the outcomes to this CSV file
    #[arg(long, value_name = "FILE.csv")]
    pub report: Option<PathBuf>,

    /// Record each calendar's entry before and after in this journal (JSON lines), for undo;
    /// the same journal again resumes an interrupted run [default: a new file in the state
    /// directory, printed at the start]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Update calendars even when that removes entries Exchange cannot resolve (deleted users)
    #[arg(long)]
    pub drop_unknown_entries: bool,
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
    fn levels_and_grantees_are_checked_when_parsing() {
        assert!(
            Cli::try_parse_from([
                "ews-tool",
                "grant",
                "--to",
                "svc@lab.example",
                "--level",
                "editor",
                "--mailbox",
                "a@lab.example"
            ])
            .is_ok()
        );
        assert!(
            Cli::try_parse_from([
                "ews-tool",
                "grant",
                "--to",
                "svc@lab.example",
                "--level",
                "Custom",
                "--mailbox",
                "a@lab.example"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "ews-tool",
                "grant",
                "--to",
                "svc",
                "--level",
                "Editor",
                "--mailbox",
                "a@lab.example"
            ])
            .is_err()
        );
        for (command, option, value) in [
            ("revoke", "--from", "Default"),
            ("revoke", "--from", "anonymous"),
            ("revoke", "--from", "S-1-5-x"),
            ("list", "--mailbox", "anna@corp"),
            ("list", "--mailbox", "Anna <anna@lab.example>"),
        ] {
            let mut argv = vec!["ews-tool", command, option, value];
            if command == "revoke" {
                argv.extend(["--mailbox", "a@lab.example"]);
            }
            let error = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
        }
        assert!(
            Cli::try_parse_from([
                "ews-tool",
                "list",
                "--password",
                "x",
                "--mailbox",
                "a@lab.example"
            ])
            .is_err()
        );
    }
}
