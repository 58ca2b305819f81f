//! What every command gets: the shared options and a way to an EWS client.

use std::time::Duration;

use common::CommandError;
use common::args::GlobalArgs;
use common::output::{Output, Shape};
use common::secret::read_secret;

use crate::cli::{AuthMethod, PASSWORD_ENV, ServerArgs};
use crate::client::{ClientSettings, EwsClient};
use std::sync::Arc;

use crate::auth::{self, Mechanism};
use crate::transport::Tls;

/// The shared options of one run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Options shared with ad-tool.
    pub global: GlobalArgs,
    /// The server.
    pub server: ServerArgs,
    /// Where each setting came from.
    pub provenance: common::settings::Provenance,
}

impl Context {
    /// A client with up to `connections` authenticated connections.
    pub fn client(&self, connections: usize) -> Result<EwsClient, CommandError> {
        let endpoint = self.server.url.clone().ok_or_else(|| {
            CommandError::usage("no EWS URL given").with_hint("pass --url https://HOST/EWS/Exchange.asmx (or set EWS_TOOL_URL, or url in a config profile)").with_code("config")
        })?;
        let auth = self.mechanism()?;
        let options = self.global.tls_options();
        options.warn_if_insecure("ews-tool");
        // The trust store is loaded once here, for every connection of the run.
        let tls = Tls::new(options)
            .map_err(|e| CommandError::usage(e.to_string()).with_code("tls-setup"))?;
        Ok(EwsClient::new(ClientSettings {
            endpoint,
            auth,
            tls,
            timeout: Duration::from_secs(self.server.timeout),
            connections,
            version: self.server.server_version,
            impersonate: self.server.impersonate,
            max_backoff: self.server.max_backoff,
        }))
    }

    /// Output on stdout in the chosen format.
    pub fn output(&self, shape: Shape) -> Output {
        Output::stdout(self.global.output, shape)
    }

    /// A reporter of `noun`s (one record each) on stdout in the chosen format.
    pub fn reporter(&self, noun: (&'static str, &'static str)) -> common::report::Reporter {
        common::report::Reporter::new(
            "ews-tool",
            self.output(Shape::Many),
            self.verbose(),
            self.global.quiet,
            noun,
        )
    }

    /// How this run logs on: `--auth`, and under Negotiate, Kerberos when no password source
    /// was given and the session has a ticket (a domain-joined jump host), else NTLM.
    fn mechanism(&self) -> Result<Arc<dyn Mechanism>, CommandError> {
        let password_given = self.global.password_given(PASSWORD_ENV);
        match self.server.auth {
            AuthMethod::Kerberos => return kerberos_mechanism(),
            AuthMethod::Negotiate if !password_given && cfg!(feature = "kerberos") => {
                match kerberos_mechanism() {
                    Ok(mechanism) => {
                        log::info!(
                            "Negotiate: Kerberos with the ticket of {}",
                            mechanism.user()
                        );
                        return Ok(mechanism);
                    }
                    Err(e) => log::info!(
                        "Negotiate: no usable Kerberos ticket ({}); NTLM with a password",
                        e.message
                    ),
                }
            }
            _ => {}
        }
        let user = self.global.user.clone().ok_or_else(|| {
            CommandError::usage("no --user given: who logs on to Exchange?")
                .with_hint(
                    "pass --user CORP\\name or name@corp.example, or kinit for a Kerberos ticket",
                )
                .with_code("config")
        })?;
        let what = format!("password for {user}");
        let request = self.global.operator_password_request(
            &what,
            PASSWORD_ENV,
            "--password-file FILE, --password-stdin or EWS_TOOL_PASSWORD",
        );
        let password = read_secret(&request)
            .map_err(|e| CommandError::usage(e.to_string()).with_code("password"))?;
        Ok(match self.server.auth {
            AuthMethod::Basic => Arc::new(auth::Basic { user, password }),
            method => Arc::new(auth::Ntlm {
                user,
                password,
                negotiate: method != AuthMethod::Ntlm,
            }),
        })
    }

    /// Whether `-v` was given.
    pub fn verbose(&self) -> bool {
        self.global.verbose > 0
    }

    /// Refuses to read both the password and the mailbox list from stdin.
    pub fn check_stdin(
        &self,
        mailboxes_file: Option<&std::path::Path>,
    ) -> Result<(), CommandError> {
        if self.global.password_stdin && mailboxes_file == Some(std::path::Path::new("-")) {
            return Err(CommandError::usage(
                "--password-stdin and --mailboxes-file - both want stdin",
            )
            .with_hint("read the password from --password-file or EWS_TOOL_PASSWORD")
            .with_code("config"));
        }
        Ok(())
    }
}

/// Kerberos from the session's ticket cache.
#[cfg(feature = "kerberos")]
fn kerberos_mechanism() -> Result<Arc<dyn Mechanism>, CommandError> {
    match crate::kerberos::Kerberos::from_cache() {
        Ok(mechanism) => Ok(Arc::new(mechanism)),
        Err(auth::AuthError::Kerberos { message, hint }) => Err(CommandError::new(
            common::ExitStatus::Denied,
            format!("cannot log on with Kerberos: {message}"),
        )
        .with_hint(hint)
        .with_code("kerberos")),
        Err(other) => Err(
            CommandError::new(common::ExitStatus::Denied, other.to_string()).with_code("kerberos"),
        ),
    }
}

/// Kerberos is not in this build.
#[cfg(not(feature = "kerberos"))]
fn kerberos_mechanism() -> Result<Arc<dyn Mechanism>, CommandError> {
    Err(
        CommandError::usage("this ews-tool was built without Kerberos")
            .with_hint(
                "build it with the kerberos feature, or log on with a password (--auth ntlm)",
            )
            .with_code("kerberos"),
    )
}
