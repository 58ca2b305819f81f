//! The command line: shared options, the tenant and the app's sign-in, and the subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};
use common::args::GlobalArgs;

use crate::commands::Command;

common::tool_settings! {
    tool: "m365-tool",
    prefix: "M365_TOOL",
    password: "M365_TOOL_CLIENT_SECRET",
    environment: [("M365_TOOL_TENANT", "tenant"), ("M365_TOOL_CLIENT_ID", "client-id")],
}

const ABOUT: &str = "Create a Microsoft 365 service account with an Exchange-only licence through Microsoft Graph, as the cloud half of ad-tool and ews-tool.";

/// `m365-tool`'s command line.
#[derive(Debug, Parser)]
#[command(
    name = "m365-tool",
    version,
    about = ABOUT,
    propagate_version = true,
    mut_arg("user", |a| a.hide(true)),
    mut_arg("password_file", |a| a.help("Read the app's client secret from the first line of FILE")),
    mut_arg("password_stdin", |a| a.help("Read the app's client secret from the first line of stdin")),
    help_template = common::help_template!(
        "  m365-tool --tenant contoso.onmicrosoft.com --client-id 00000000-0000-0000-0000-000000000000 \\
      --certificate mytt-app.pem create-user --upn svc-mytt@contoso.onmicrosoft.com \\
      --display-name \"MyTimetable Service Account\" --usage-location NL --generate-password
  m365-tool assign-license svc-mytt@contoso.onmicrosoft.com --sku ENTERPRISEPACK \\
      --only EXCHANGE_S_ENTERPRISE",
        "Exit codes: 0 done, 1 some items failed, 2 usage or configuration, 3 cannot connect,
4 refused, 5 exists (with --if-exists fail)."
    )
)]
pub struct Cli {
    /// Options shared with ad-tool and ews-tool.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The tenant and how the app signs in.
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Which Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cloud {
    /// The global service (login.microsoftonline.com, graph.microsoft.com)
    Global,
    /// US Government L4 (login.microsoftonline.us, graph.microsoft.us)
    UsGov,
    /// US Government L5, DoD (login.microsoftonline.us, dod-graph.microsoft.us)
    UsGovDod,
    /// China, operated by 21Vianet (login.chinacloudapi.cn, microsoftgraph.chinacloudapi.cn)
    China,
}

impl Cloud {
    /// The identity platform's authority host and Graph's host.
    pub fn hosts(self) -> (&'static str, &'static str) {
        match self {
            Cloud::Global => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
            ),
            Cloud::UsGov => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
            ),
            Cloud::UsGovDod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
            ),
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
            ),
        }
    }
}

/// The tenant, the app registration and the service endpoints.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Microsoft 365")]
pub struct TenantArgs {
    /// The tenant: its ID or one of its domains (contoso.onmicrosoft.com); also from
    /// M365_TOOL_TENANT
    #[arg(long, global = true, value_name = "TENANT")]
    pub tenant: Option<String>,

    /// The app registration's application (client) ID; also from M365_TOOL_CLIENT_ID
    #[arg(long, global = true, value_name = "GUID")]
    pub client_id: Option<String>,

    /// Sign in with this certificate: a PEM file holding the certificate uploaded to the app
    /// registration and its private key [default: a client secret, from --password-file,
    /// --password-stdin or M365_TOOL_CLIENT_SECRET]
    #[arg(long, global = true, value_name = "FILE.pem")]
    pub certificate: Option<PathBuf>,

    /// Sign in as yourself instead of as the app: a code shown here, entered in a browser, for
    /// the delegated permissions your admin role and the app's consent allow (the app
    /// registration must allow public client flows)
    #[arg(long, global = true, conflicts_with = "certificate")]
    pub device_code: bool,

    /// The national cloud, which sets the sign-in authority and Graph's address
    #[arg(long, global = true, value_enum, default_value_t = Cloud::Global)]
    pub cloud: Cloud,

    /// The sign-in authority's https:// address, overriding --cloud's (login.microsoftonline.us
    /// for US Government)
    #[arg(long, global = true, value_name = "URL")]
    pub authority: Option<String>,

    /// Graph's https:// address, overriding --cloud's (graph.microsoft.us for US Government)
    #[arg(long, global = true, value_name = "URL")]
    pub graph_url: Option<String>,

    /// Seconds to wait for the service at each step
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// The longest Graph may ask to wait when it throttles (300, 90s, 5m, 1h); a longer
    /// Retry-After stops the run with what is done so far
    #[arg(long, global = true, value_name = "DURATION", default_value = "5m", value_parser = common::args::parse_duration)]
    pub max_backoff: std::time::Duration,
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
    fn a_secret_is_never_an_option_value() {
        for option in ["--client-secret", "--secret", "--password"] {
            assert!(
                Cli::try_parse_from(["m365-tool", option, "x", "config", "show"]).is_err(),
                "{option}"
            );
        }
    }
}
