//! The options both tools accept, before or after the subcommand.

use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::output::OutputFormat;
use crate::secret::SecretRequest;
use crate::tls::TlsOptions;

/// Options shared by both tools; flattened into each tool's top-level parser.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Output format: human (aligned text), json (one document), jsonl (one object per line)
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// More logging on stderr: -v steps, -vv protocol exchanges (secrets redacted)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Use the named profile of the config file
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Config file [default: CONFIG_DIR/ad-ews-tools/config.toml, see the README]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Trust this CA certificate (PEM) in addition to the system store
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Do not verify the server's certificate (prints a warning every run)
    #[arg(long, global = true)]
    pub insecure: bool,

    /// Who authenticates: a UPN (admin@corp.example), DOMAIN\name, or (LDAP) a DN
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// Read the operator's password from the first line of FILE
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "password_stdin"
    )]
    pub password_file: Option<PathBuf>,

    /// Read the operator's password from the first line of stdin
    #[arg(long, global = true)]
    pub password_stdin: bool,
}

impl GlobalArgs {
    /// The TLS trust settings.
    pub fn tls_options(&self) -> TlsOptions {
        TlsOptions {
            ca_file: self.ca_file.clone(),
            insecure: self.insecure,
        }
    }

    /// Where the operator's password comes from: `--password-file`, `--password-stdin`, the
    /// tool's environment variable, or a prompt.
    pub fn operator_password_request<'a>(
        &'a self,
        what: &'a str,
        env_var: &'a str,
        how_to_pass: &'a str,
    ) -> SecretRequest<'a> {
        SecretRequest {
            what,
            file: self.password_file.as_deref(),
            stdin: self.password_stdin,
            env_var: Some(env_var),
            prompt: true,
            confirm: false,
            how_to_pass,
        }
    }
}
