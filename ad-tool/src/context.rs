//! What every command gets: the parsed shared options and a way to an authenticated directory
//! connection.

use std::time::Duration;

use common::args::GlobalArgs;
use common::output::{Output, Shape};
use common::secret::read_secret;
use common::{CommandError, ExitStatus};

use crate::cli::{AuthMethod, ConnectionArgs, PASSWORD_ENV};
use crate::directory::{ConnectOptions, Credentials, Directory, Endpoint};
use crate::failure;

/// The shared options of one run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Options shared with ews-tool.
    pub global: GlobalArgs,
    /// How to reach the domain controller.
    pub connection: ConnectionArgs,
}

impl Context {
    /// Where to connect, from `--uri` or `--server`.
    pub fn endpoint(&self) -> Result<Endpoint, CommandError> {
        let c = &self.connection;
        let endpoint = match (&c.uri, &c.server) {
            (Some(uri), _) => Endpoint::from_uri(uri, c.starttls),
            (None, Some(server)) => Endpoint::from_server(server, c.starttls),
            (None, None) => {
                return Err(CommandError::usage("no domain controller given")
                    .with_hint(
                        "pass --server HOST (or set AD_TOOL_SERVER, or server in a config profile)",
                    )
                    .with_code("config"));
            }
        };
        endpoint.map_err(|e| CommandError::usage(e.to_string()).with_code("config"))
    }

    /// Connects and binds as the operator.
    pub async fn connect(&self) -> Result<Directory, CommandError> {
        let endpoint = self.endpoint()?;
        let tls = self.global.tls_options();
        tls.warn_if_insecure("ad-tool");
        let options = ConnectOptions {
            endpoint,
            tls,
            timeout: Duration::from_secs(self.connection.timeout),
        };
        let credentials = match self.connection.auth {
            AuthMethod::Simple => {
                let user = self.global.user.clone().ok_or_else(|| {
                    CommandError::usage("no --user given: who logs on to the directory?")
                        .with_hint("pass --user admin@corp.example (or DOMAIN\\name, or a DN)")
                        .with_code("config")
                })?;
                if options.endpoint.transport == crate::directory::Transport::Plain {
                    // Refuse before asking for the password.
                    return Err(failure::explain(
                        &crate::directory::DirectoryError::PlaintextRefused {
                            address: options.endpoint.address(),
                        },
                    ));
                }
                let what = format!("password for {user}");
                let request = self.global.operator_password_request(
                    &what,
                    PASSWORD_ENV,
                    "--password-file FILE, --password-stdin or AD_TOOL_PASSWORD",
                );
                let password = read_secret(&request)
                    .map_err(|e| CommandError::usage(e.to_string()).with_code("password"))?;
                Credentials::Simple { user, password }
            }
            #[cfg(feature = "kerberos")]
            // Over ldap:// the Kerberos session is sealed (SASL privacy layer), so plain LDAP
            // is acceptable here, unlike for a password.
            AuthMethod::Kerberos => Credentials::Kerberos,
        };
        Directory::connect(&options, &credentials)
            .await
            .map_err(|e| failure::explain(&e))
    }

    /// Output on stdout in the chosen format.
    pub fn output(&self, shape: Shape) -> Output {
        Output::stdout(self.global.output, shape)
    }

    /// Whether `-v` was given (the server's own text is then shown with errors).
    pub fn verbose(&self) -> bool {
        self.global.verbose > 0
    }
}

/// The exit status for a batch: success, or 1 when any item failed.
pub fn batch_status(any_failed: bool) -> ExitStatus {
    if any_failed {
        ExitStatus::ItemsFailed
    } else {
        ExitStatus::Success
    }
}
