//! What every command gets: the shared options and a way to an EWS client.

use std::time::Duration;

use common::CommandError;
use common::args::GlobalArgs;
use common::output::Shape;
use common::secret::read_secret;

use crate::cli::{AuthMethod, PASSWORD_ENV, ServerArgs};
use crate::client::{ClientSettings, EwsClient};
use std::sync::Arc;

use crate::auth::{self, Mechanism};
use crate::autodiscover::cache::{Cache, Cached};
use crate::autodiscover::scp::{DirectorySource, ScpLookup};
use crate::autodiscover::{self, Discovery};
use crate::endpoint::Endpoint;
use crate::error::Who;
use crate::transport::Tls;
use common::address::SmtpAddress;

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

/// How this run logs on: to Exchange (the mechanism) and to the directory (for Autodiscover's
/// SCP lookup), with the same credentials.
struct Logon {
    mechanism: Arc<dyn Mechanism>,
    directory: directory::Credentials,
    /// The realm of the Kerberos ticket, lower-cased: the jump host's domain.
    realm_domain: Option<String>,
}

impl Context {
    /// A client with up to `connections` authenticated connections, to `--url`, or else to the
    /// URL Autodiscover finds for `mailbox` (or the operator's address).
    pub async fn client(
        &self,
        connections: usize,
        mailbox: Option<&SmtpAddress>,
    ) -> Result<EwsClient, CommandError> {
        self.client_at(connections, self.server.url.clone(), mailbox)
            .await
    }

    /// A client to `endpoint` when known, else as [`Context::client`].
    pub async fn client_at(
        &self,
        connections: usize,
        endpoint: Option<Endpoint>,
        mailbox: Option<&SmtpAddress>,
    ) -> Result<EwsClient, CommandError> {
        let logon = self.logon()?;
        let tls = self.tls()?;
        let endpoint = match endpoint {
            Some(endpoint) => {
                log::info!("EWS URL {endpoint} ({})", self.url_origin());
                endpoint
            }
            None => self.autodiscovered(&logon, &tls, mailbox).await?,
        };
        Ok(EwsClient::new(ClientSettings {
            endpoint,
            auth: logon.mechanism,
            tls,
            timeout: Duration::from_secs(self.server.timeout),
            connections,
            version: self.server.server_version,
            impersonate: self.server.impersonate,
            max_backoff: self.server.max_backoff,
        }))
    }

    fn url_origin(&self) -> String {
        self.provenance
            .origin("url")
            .map_or_else(|| "given".to_owned(), |origin| format!("from {origin}"))
    }

    fn tls(&self) -> Result<Tls, CommandError> {
        let options = self.global.tls_options();
        options.warn_if_insecure("ews-tool");
        // The trust store is loaded once here, for every connection of the run.
        Tls::new(options).map_err(|e| CommandError::usage(e.to_string()).with_code("tls-setup"))
    }

    /// The address Autodiscover asks about: the first mailbox of the run, else `--user` when it
    /// is a UPN, else the Kerberos ticket's principal.
    fn discovery_address(
        &self,
        logon: &Logon,
        mailbox: Option<&SmtpAddress>,
    ) -> Result<String, CommandError> {
        if let Some(mailbox) = mailbox {
            return Ok(mailbox.as_str().to_owned());
        }
        let user = self.global.user.as_deref().filter(|u| u.contains('@'));
        let principal = logon.mechanism.ticket().then(|| logon.mechanism.user());
        user.or(principal)
            .map(|a| match a.rsplit_once('@') {
                Some((name, realm)) => format!("{name}@{}", realm.to_ascii_lowercase()),
                None => a.to_owned(),
            })
            .ok_or_else(|| {
                CommandError::usage("no EWS URL given, and no address to discover it for")
                    .with_hint("pass --url https://HOST/EWS/Exchange.asmx, or --user name@corp.example for Autodiscover")
                    .with_code("config")
            })
    }

    /// The Active Directory domain: `--domain`, else the ticket's realm, else the domain of
    /// `--user`.
    fn directory_domain(&self, logon: &Logon) -> Option<String> {
        self.server
            .discovery
            .domain
            .clone()
            .or_else(|| logon.realm_domain.clone())
            .or_else(|| {
                self.global
                    .user
                    .as_deref()
                    .and_then(|u| u.rsplit_once('@'))
                    .map(|(_, d)| d.to_ascii_lowercase())
            })
    }

    fn discovery_settings(&self, logon: &Logon, tls: &Tls) -> autodiscover::Settings {
        let domain = self.directory_domain(logon);
        let source = match (&self.server.discovery.directory, &domain) {
            (Some(uri), _) => Some(DirectorySource::Uri(uri.clone())),
            (None, Some(domain)) => Some(DirectorySource::Domain(domain.clone())),
            (None, None) => None,
        };
        autodiscover::Settings {
            mechanism: Arc::clone(&logon.mechanism),
            tls: tls.clone(),
            timeout: Duration::from_secs(self.server.timeout.min(30)),
            scp: source.map(|source| ScpLookup {
                source,
                credentials: logon.directory.clone(),
                tls: self.global.tls_options(),
                dns_server: self.server.discovery.dns_server,
                timeout: Duration::from_secs(self.server.timeout.min(30)),
            }),
            dns_server: self.server.discovery.dns_server,
            trust_redirect: self.server.discovery.trust_redirect,
            allowed: domain.into_iter().collect(),
        }
    }

    /// The EWS URL from the Autodiscover cache, or found now (and kept there).
    async fn autodiscovered(
        &self,
        logon: &Logon,
        tls: &Tls,
        mailbox: Option<&SmtpAddress>,
    ) -> Result<Endpoint, CommandError> {
        let address = self.discovery_address(logon, mailbox)?;
        let now = jiff::Timestamp::now().as_second();
        let cache = Cache::in_state_dir();
        if let Some(hit) = cache.as_ref().and_then(|c| c.get(&address, now))
            && let Ok(endpoint) = hit.url.parse::<Endpoint>()
        {
            log::info!(
                "EWS URL {endpoint} from the Autodiscover cache (found by {}; kept until {})",
                hit.found_by,
                jiff::Timestamp::from_second(hit.expires)
                    .map_or_else(|_| "?".into(), |t| t.to_string())
            );
            return Ok(endpoint);
        }
        let discovery = self.discover(&address, logon, tls).await?;
        let found = discovery
            .url
            .as_deref()
            .and_then(|url| url.parse::<Endpoint>().ok());
        let Some(endpoint) = found else {
            return Err(not_found(&discovery));
        };
        let found_by = discovery.found_by.clone().unwrap_or_default();
        log::info!("EWS URL {endpoint} found by {found_by}");
        keep(cache.as_ref(), &discovery, now);
        Ok(endpoint)
    }

    /// For `config show`: without `--url`, the URL comes from Autodiscover; the cached one for
    /// the operator's address (`--user`, or the ticket's principal) is shown when there is one.
    pub fn show_discovered_url(&self, settings: &mut [common::settings::Setting]) {
        let Some(setting) = settings
            .iter_mut()
            .find(|s| s.name == "url" && s.value.is_none())
        else {
            return;
        };
        let user = self.global.user.clone().filter(|u| u.contains('@'));
        #[cfg(feature = "kerberos")]
        let user = user.or_else(|| common::kerberos::session_ticket().ok().map(|t| t.principal));
        let now = jiff::Timestamp::now().as_second();
        let cached = user
            .zip(Cache::in_state_dir())
            .and_then(|(user, cache)| cache.get(&user, now));
        let how = match &cached {
            Some(hit) => format!(
                "autodiscover (cached, found by {}; until {})",
                hit.found_by,
                jiff::Timestamp::from_second(hit.expires)
                    .map_or_else(|_| "?".into(), |t| t.to_string())
            ),
            None => "autodiscover (when a command runs)".to_owned(),
        };
        setting.value = cached.map(|hit| hit.url);
        setting.origin = Some(common::settings::Origin::Discovered { how });
    }

    /// Runs Autodiscover for `address`, every step recorded.
    pub async fn discover_for(&self, address: &str) -> Result<Discovery, CommandError> {
        let logon = self.logon()?;
        let tls = self.tls()?;
        let discovery = self.discover(address, &logon, &tls).await?;
        keep(
            Cache::in_state_dir().as_ref(),
            &discovery,
            jiff::Timestamp::now().as_second(),
        );
        Ok(discovery)
    }

    async fn discover(
        &self,
        address: &str,
        logon: &Logon,
        tls: &Tls,
    ) -> Result<Discovery, CommandError> {
        log::info!("no --url: Autodiscover for {address}");
        let settings = self.discovery_settings(logon, tls);
        autodiscover::discover(address, &settings)
            .await
            .map_err(|e| {
                crate::error::explain(
                    &crate::error::EwsError::Transport(e),
                    Who {
                        user: logon.mechanism.user(),
                        grantee: None,
                    },
                )
            })
    }

    /// A reporter of `noun`s (one record each) on stdout in the chosen format.
    pub fn reporter(&self, noun: (&'static str, &'static str)) -> common::report::Reporter {
        self.global.reporter("ews-tool", Shape::Many, noun)
    }

    /// How this run logs on: `--auth`, and under Negotiate, Kerberos when no password source
    /// was given and the session has a ticket (a domain-joined jump host), else NTLM.
    fn logon(&self) -> Result<Logon, CommandError> {
        let password_given = self.global.password_given(PASSWORD_ENV);
        match self.server.auth {
            AuthMethod::Kerberos => return self.kerberos_logon(),
            AuthMethod::Negotiate if !password_given && cfg!(feature = "kerberos") => {
                match self.kerberos_logon() {
                    Ok(logon) => {
                        log::info!(
                            "Negotiate: Kerberos with the ticket of {}",
                            logon.mechanism.user()
                        );
                        return Ok(logon);
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
        let directory = directory::Credentials::Simple {
            user: user.clone(),
            password: password.clone(),
        };
        let mechanism: Arc<dyn Mechanism> = match self.server.auth {
            AuthMethod::Basic => Arc::new(auth::Basic { user, password }),
            method => Arc::new(auth::Ntlm {
                user,
                password,
                negotiate: method != AuthMethod::Ntlm,
            }),
        };
        Ok(Logon {
            mechanism,
            directory,
            realm_domain: None,
        })
    }

    fn kerberos_logon(&self) -> Result<Logon, CommandError> {
        kerberos_logon(self.server.spn_from_cname.then_some(auth::CnameLookup {
            dns_server: self.server.discovery.dns_server,
        }))
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
fn kerberos_logon(spn_from_cname: Option<crate::auth::CnameLookup>) -> Result<Logon, CommandError> {
    match crate::kerberos::Kerberos::from_cache() {
        Ok(mut mechanism) => {
            mechanism.spn_from_cname = spn_from_cname;
            let realm_domain = mechanism
                .principal
                .rsplit_once('@')
                .map(|(_, realm)| realm.to_ascii_lowercase());
            Ok(Logon {
                mechanism: Arc::new(mechanism),
                directory: directory::Credentials::Kerberos,
                realm_domain,
            })
        }
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
fn kerberos_logon(
    _spn_from_cname: Option<crate::auth::CnameLookup>,
) -> Result<Logon, CommandError> {
    Err(
        CommandError::usage("this ews-tool was built without Kerberos")
            .with_hint(
                "build it with the kerberos feature, or log on with a password (--auth ntlm)",
            )
            .with_code("kerberos"),
    )
}

/// Keeps what a discovery found in the cache (a failure to write it is only logged).
fn keep(cache: Option<&Cache>, discovery: &Discovery, now: i64) {
    let (Some(cache), Some(url)) = (cache, &discovery.url) else {
        return;
    };
    let entry = Cached {
        url: url.clone(),
        found_by: discovery.found_by.clone().unwrap_or_default(),
        expires: now + autodiscover::cache::LIFETIME_SECONDS,
    };
    if let Err(e) = cache.put(&discovery.address, entry, now) {
        log::warn!(
            "cannot keep the Autodiscover answer in {}: {e}",
            cache.path().display()
        );
    }
}

/// The line for a discovery that found no URL: the last thing tried, and how to see them all.
fn not_found(discovery: &Discovery) -> CommandError {
    let last = discovery.steps.last().map_or_else(String::new, |s| {
        format!(" (last: {} {}: {})", s.method, s.target, s.result)
    });
    CommandError::new(
        common::ExitStatus::Connect,
        format!(
            "Autodiscover found no EWS URL for {} after {} steps{last}",
            discovery.address,
            discovery.steps.len()
        ),
    )
    .with_hint(format!(
        "run `ews-tool autodiscover {}` to see every step, or pass --url https://HOST/EWS/Exchange.asmx",
        discovery.address
    ))
    .with_code("autodiscover")
}
