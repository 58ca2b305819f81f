//! What every command gets: the parsed shared options and a way to an authenticated directory
//! connection.

use std::time::Duration;

use common::args::GlobalArgs;
use common::output::Shape;
use common::secret::read_secret;
use common::{CommandError, ExitStatus};

use crate::cli::{AuthMethod, ConnectionArgs, PASSWORD_ENV};
use crate::directory::{
    ConnectOptions, Credentials, Directory, DirectoryError, Endpoint, Transport,
};
use crate::dns;
use crate::failure;

/// The shared options of one run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Options shared with ews-tool.
    pub global: GlobalArgs,
    /// How to reach the domain controller.
    pub connection: ConnectionArgs,
    /// Where each setting came from.
    pub provenance: common::settings::Provenance,
}

impl Context {
    /// The domain controllers to try, in order: `--uri`, `--server`, or those DNS names for
    /// `--domain` (or, with none of them, for the domain of a `--user` given as a UPN).
    pub async fn endpoints(&self) -> Result<Vec<Endpoint>, CommandError> {
        let c = &self.connection;
        let usage = |e: crate::directory::EndpointError| {
            CommandError::usage(e.to_string()).with_code("config")
        };
        if let Some(uri) = &c.uri {
            return Ok(vec![Endpoint::from_uri(uri, c.starttls).map_err(usage)?]);
        }
        if let Some(server) = &c.server {
            return Ok(vec![
                Endpoint::from_server(server, c.starttls).map_err(usage)?,
            ]);
        }
        let domain = match (
            &c.domain,
            self.global.user.as_deref().and_then(|u| u.rsplit_once('@')),
        ) {
            (Some(domain), _) => domain.clone(),
            (None, Some((_, suffix))) if suffix.contains('.') => {
                log::info!(
                    "no --server: looking for a domain controller of {suffix}, the domain of --user"
                );
                suffix.to_owned()
            }
            _ => {
                return Err(CommandError::usage("no domain controller given")
                    .with_hint("pass --server HOST or --domain DNS-NAME (or set AD_TOOL_SERVER, or server in a config profile)")
                    .with_code("config"));
            }
        };
        self.discover(&domain).await
    }

    async fn discover(&self, domain: &str) -> Result<Vec<Endpoint>, CommandError> {
        let c = &self.connection;
        let not_found = |reason: String| {
            CommandError::new(ExitStatus::Connect, format!("cannot find a domain controller of {domain} through DNS ({reason})"))
                .with_hint("check the domain name, ask a DNS server of the domain with --dns-server, or give --server")
                .with_code("discovery")
        };
        let timeout = Duration::from_secs(c.timeout.min(10));
        let targets = dns::domain_controllers(domain, c.dns_server, timeout)
            .await
            .map_err(|e| not_found(e.to_string()))?;
        log::info!(
            "domain controllers of {domain}: {}",
            targets
                .iter()
                .map(|t| t.host.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(targets
            .into_iter()
            .map(|target| Endpoint::from_srv(target, c.starttls))
            .collect())
    }

    fn credentials(&self, endpoints: &[Endpoint]) -> Result<Credentials, CommandError> {
        let auth = match self.connection.auth {
            AuthMethod::Auto => self.auto_auth(),
            chosen => chosen,
        };
        match auth {
            AuthMethod::Auto | AuthMethod::Simple => {
                let user = self.global.user.clone().ok_or_else(|| {
                    CommandError::usage("no --user given: who logs on to the directory?")
                        .with_hint("pass --user admin@corp.example (or DOMAIN\\name, or a DN)")
                        .with_code("config")
                })?;
                if let Some(plain) = endpoints.iter().find(|e| e.transport == Transport::Plain) {
                    // Refused before the password is even read.
                    return Err(failure::explain(&DirectoryError::PlaintextRefused {
                        address: plain.address(),
                    }));
                }
                let what = format!("password for {user}");
                let request = self.global.operator_password_request(
                    &what,
                    PASSWORD_ENV,
                    "--password-file FILE, --password-stdin or AD_TOOL_PASSWORD",
                );
                let password = read_secret(&request)
                    .map_err(|e| CommandError::usage(e.to_string()).with_code("password"))?;
                Ok(Credentials::Simple { user, password })
            }
            // Over ldap:// the Kerberos session is sealed (SASL privacy layer), so plain LDAP
            // is acceptable here, unlike for a password.
            #[cfg(feature = "kerberos")]
            AuthMethod::Kerberos => Ok(Credentials::Kerberos),
        }
    }

    /// What `--auth auto` comes to: Kerberos when no password source was given and the session
    /// has a usable ticket, a simple bind otherwise; said under `-v`.
    fn auto_auth(&self) -> AuthMethod {
        let password_given = self.global.password_given(PASSWORD_ENV);
        if password_given {
            return AuthMethod::Simple;
        }
        #[cfg(feature = "kerberos")]
        match common::kerberos::session_ticket() {
            Ok(ticket) => {
                log::info!(
                    "binding with Kerberos: no password given, and the session has the ticket of {}",
                    ticket.principal
                );
                return AuthMethod::Kerberos;
            }
            Err(e) => log::info!("a simple bind with a password: {e}"),
        }
        AuthMethod::Simple
    }

    /// Connects and binds as the operator, trying the next domain controller when one cannot
    /// be reached.
    pub async fn connect(&self) -> Result<Directory, CommandError> {
        let endpoints = self.endpoints().await?;
        let tls = self.global.tls_options();
        tls.warn_if_insecure("ad-tool");
        let credentials = self.credentials(&endpoints)?;
        let timeout = Duration::from_secs(self.connection.timeout);
        let count = endpoints.len();
        for (index, endpoint) in endpoints.into_iter().enumerate() {
            let host = endpoint.address();
            let options = ConnectOptions {
                endpoint,
                tls: tls.clone(),
                timeout,
            };
            match Directory::connect(&options, &credentials).await {
                Ok(directory) => return Ok(directory),
                Err(DirectoryError::Reach(error))
                    if error.is_unreachable() && index + 1 < count =>
                {
                    log::warn!(
                        "{host} cannot be reached ({error}); trying the next domain controller"
                    );
                }
                Err(error) => return Err(failure::explain(&error)),
            }
        }
        Err(
            CommandError::new(ExitStatus::Connect, "no domain controller to connect to")
                .with_code("connect"),
        )
    }

    /// A reporter of `noun`s on stdout: `shape` decides whether `json` prints an object or an
    /// array.
    pub fn reporter(
        &self,
        shape: Shape,
        noun: (&'static str, &'static str),
    ) -> common::report::Reporter {
        self.global.reporter("ad-tool", shape, noun)
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
