//! Autodiscover: the EWS URL for an address, found the way Outlook finds it on a domain-joined
//! machine, each step recorded for `ews-tool autodiscover` and `-v`:
//!
//! 1. the service connection points in the directory ([`scp`]), site first;
//! 2. `https://<domain>/autodiscover/autodiscover.xml` (POX), and where that is not served,
//!    `…/autodiscover.svc` (SOAP `GetUserSettings`);
//! 3. the same at `https://autodiscover.<domain>/`;
//! 4. the HTTP redirect method: `GET http://autodiscover.<domain>/autodiscover/autodiscover.xml`
//!    with no credentials, whose redirect must lead to HTTPS;
//! 5. the SRV record `_autodiscover._tcp.<domain>`.
//!
//! Answers may redirect to another address or URL: at most [`MAX_REDIRECTS`] times, and only
//! within the allowed domains (the address's own and the directory's) unless the operator
//! trusts redirects. A refused password ends the walk at once: every further URL would add a
//! failed logon towards the account's lockout. The answer is kept in [`cache`].
//!
//! - [`answer`]: the POX and SOAP requests and answers.
//! - [`fetch`]: asking one URL.

pub mod answer;
pub mod cache;
pub mod fetch;
pub mod scp;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use self::answer::Answer;
use self::fetch::Reply;
use crate::auth::Mechanism;
use crate::endpoint::Endpoint;
use crate::transport::{Tls, TransportError};

/// The most redirects (addresses, URLs, HTTP) one discovery follows.
pub const MAX_REDIRECTS: usize = 10;

/// How to discover.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How the POX and SOAP requests log on.
    pub mechanism: Arc<dyn Mechanism>,
    /// Trust settings.
    pub tls: Tls,
    /// Longest wait for each step.
    pub timeout: Duration,
    /// The directory's SCPs, when a directory is known.
    pub scp: Option<scp::ScpLookup>,
    /// DNS server for the SRV record.
    pub dns_server: Option<IpAddr>,
    /// Follow redirects out of the allowed domains.
    pub trust_redirect: bool,
    /// Domains redirects may lead into besides the address's own (the directory's domain).
    pub allowed: Vec<String>,
}

/// One step of a discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `scp`, `domain`, `autodiscover-host`, `http-redirect`, `srv`, `redirect`.
    pub method: &'static str,
    /// The URL (or directory, or DNS name) asked.
    pub target: String,
    /// What came of it.
    pub result: String,
}

/// What a discovery found.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    /// The address discovered for (the last one, after address redirects).
    pub address: String,
    /// The EWS URL to use, if found.
    pub url: Option<String>,
    /// `InternalEwsUrl` (`EXCH`), when given.
    pub internal_url: Option<String>,
    /// `ExternalEwsUrl` (`EXPR`), when given.
    pub external_url: Option<String>,
    /// The method and URL that answered.
    pub found_by: Option<String>,
    /// Every step, in order.
    pub steps: Vec<Step>,
}

/// Whether `host` is `domain` or inside it, for any of `domains`.
pub fn within(host: &str, domains: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    domains.iter().any(|d| {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        !d.is_empty() && (host == d || host.ends_with(&format!(".{d}")))
    })
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// What asking one candidate came to.
enum Next {
    /// Found.
    Found,
    /// Go on with the next candidate; `reached`: the server answered (so its SOAP form is
    /// worth asking when the POX form was not there).
    Continue { not_here: bool },
    /// Start again for this address.
    Address(String),
    /// Too many redirects: give up.
    Stop,
}

struct Walk<'a> {
    settings: &'a Settings,
    address: String,
    allowed: Vec<String>,
    redirects: usize,
    discovery: Discovery,
}

impl Walk<'_> {
    fn step(&mut self, method: &'static str, target: &str, result: String) {
        log::info!("autodiscover: {method} {target}: {result}");
        self.discovery.steps.push(Step {
            method,
            target: target.to_owned(),
            result,
        });
    }

    /// Counts a redirect to `host` and says whether it may be followed.
    fn may_follow(&mut self, method: &'static str, target: &str, host: &str) -> Option<bool> {
        self.redirects += 1;
        if self.redirects > MAX_REDIRECTS {
            self.step(
                method,
                target,
                format!("stopped: more than {MAX_REDIRECTS} redirects"),
            );
            return None;
        }
        if within(host, &self.allowed) || self.settings.trust_redirect {
            return Some(true);
        }
        self.step(
            method,
            target,
            format!(
                "not followed: {host} is outside {}; pass --trust-redirect to follow it",
                self.allowed.join(", ")
            ),
        );
        Some(false)
    }

    /// Asks `url` and follows its URL redirects.
    async fn ask(
        &mut self,
        mut method: &'static str,
        mut url: String,
    ) -> Result<Next, TransportError> {
        loop {
            let endpoint: Endpoint = match url.parse() {
                Ok(endpoint) => endpoint,
                Err(e) => {
                    self.step(method, &url, format!("not asked: {e}"));
                    return Ok(Next::Continue { not_here: false });
                }
            };
            let reply = fetch::ask(
                &endpoint,
                &self.address,
                self.settings.mechanism.as_ref(),
                &self.settings.tls,
                self.settings.timeout,
            )
            .await;
            let target = endpoint.url();
            let to = match reply {
                Reply::Answer(answer @ Answer::Settings { .. }) => {
                    let Some(ews) = answer.ews_url().map(str::to_owned) else {
                        self.step(method, &target, "the answer names no EWS URL".into());
                        return Ok(Next::Continue { not_here: false });
                    };
                    self.step(method, &target, format!("EWS URL {ews}"));
                    if let Answer::Settings { internal, external } = answer {
                        self.discovery.internal_url = internal;
                        self.discovery.external_url = external;
                    }
                    self.discovery.url = Some(ews);
                    self.discovery.found_by = Some(format!("{} ({target})", describe(method)));
                    return Ok(Next::Found);
                }
                Reply::Answer(Answer::Error { code, message }) => {
                    self.step(method, &target, format!("error {code}: {message}"));
                    return Ok(Next::Continue { not_here: false });
                }
                Reply::Answer(Answer::RedirectAddress(address)) => {
                    self.step(
                        method,
                        &target,
                        format!("redirect to the address {address}"),
                    );
                    let host = domain_of(&address).to_owned();
                    return Ok(match self.may_follow(method, &target, &host) {
                        None => Next::Stop,
                        Some(false) => Next::Continue { not_here: false },
                        Some(true) => Next::Address(address),
                    });
                }
                Reply::Answer(Answer::RedirectUrl(to)) | Reply::Moved(to) => to,
                Reply::NotHere(reason) => {
                    self.step(method, &target, format!("no Autodiscover here ({reason})"));
                    return Ok(Next::Continue { not_here: true });
                }
                Reply::Failed(reason) => {
                    self.step(method, &target, format!("failed: {reason}"));
                    return Ok(Next::Continue { not_here: false });
                }
                Reply::Refused(error) => {
                    self.step(method, &target, format!("failed: {error}"));
                    return Err(error);
                }
            };
            self.step(method, &target, format!("redirect to {to}"));
            let host = to.parse::<Endpoint>().map(|e| e.host).unwrap_or_default();
            match self.may_follow(method, &target, &host) {
                None => return Ok(Next::Stop),
                Some(false) => return Ok(Next::Continue { not_here: false }),
                Some(true) => {}
            }
            method = "redirect";
            url = to;
        }
    }

    /// One pass over the candidates for the current address.
    async fn pass(&mut self, scp_urls: &mut Option<Vec<String>>) -> Result<Next, TransportError> {
        let domain = domain_of(&self.address).to_ascii_lowercase();
        // 1. The directory's SCPs (read once per discovery).
        if scp_urls.is_none() {
            *scp_urls = Some(self.read_scps().await);
        }
        for url in scp_urls.clone().unwrap_or_default() {
            match self.ask("scp", url).await? {
                Next::Continue { .. } => {}
                other => return Ok(other),
            }
        }
        // 2 and 3. The domain, then autodiscover.<domain>: POX, then SOAP where POX is not
        // served.
        for (method, host) in [
            ("domain", domain.clone()),
            ("autodiscover-host", format!("autodiscover.{domain}")),
        ] {
            let pox = format!("https://{host}/autodiscover/autodiscover.xml");
            match self.ask(method, pox).await? {
                Next::Continue { not_here: true } => {
                    let soap = format!("https://{host}/autodiscover/autodiscover.svc");
                    match self.ask(method, soap).await? {
                        Next::Continue { .. } => {}
                        other => return Ok(other),
                    }
                }
                Next::Continue { .. } => {}
                other => return Ok(other),
            }
        }
        // 4. The HTTP redirect method.
        let host = format!("autodiscover.{domain}");
        let target = format!("http://{host}/autodiscover/autodiscover.xml");
        match fetch::redirect_location(&host, self.settings.timeout).await {
            Ok(Some(to)) if to.to_ascii_lowercase().starts_with("https://") => {
                self.step("http-redirect", &target, format!("redirect to {to}"));
                let to_host = to.parse::<Endpoint>().map(|e| e.host).unwrap_or_default();
                match self.may_follow("http-redirect", &target, &to_host) {
                    None => return Ok(Next::Stop),
                    Some(false) => {}
                    Some(true) => match self.ask("http-redirect", to).await? {
                        Next::Continue { .. } => {}
                        other => return Ok(other),
                    },
                }
            }
            Ok(Some(to)) => self.step(
                "http-redirect",
                &target,
                format!("not followed: {to} is not HTTPS"),
            ),
            Ok(None) => self.step("http-redirect", &target, "no redirect".into()),
            Err(e) => self.step("http-redirect", &target, format!("failed: {e}")),
        }
        // 5. The SRV record.
        let name = format!("_autodiscover._tcp.{domain}");
        let lookup = directory::dns::service(
            &name,
            self.settings.dns_server,
            self.settings.timeout.min(Duration::from_secs(10)),
        )
        .await;
        match lookup {
            Ok(targets) => {
                for target in targets {
                    let url = if target.port == 443 {
                        format!("https://{}/autodiscover/autodiscover.xml", target.host)
                    } else {
                        format!(
                            "https://{}:{}/autodiscover/autodiscover.xml",
                            target.host, target.port
                        )
                    };
                    self.step("srv", &name, format!("names {url}"));
                    // An SRV answer is not signed: like a redirect, it must stay at home.
                    if !within(&target.host, &self.allowed) && !self.settings.trust_redirect {
                        self.step(
                            "srv",
                            &url,
                            format!(
                                "not followed: {} is outside {}; pass --trust-redirect to follow it",
                                target.host,
                                self.allowed.join(", ")
                            ),
                        );
                        continue;
                    }
                    match self.ask("srv", url).await? {
                        Next::Continue { .. } => {}
                        other => return Ok(other),
                    }
                }
            }
            Err(e) => self.step("srv", &name, format!("failed: {e}")),
        }
        Ok(Next::Continue { not_here: false })
    }

    async fn read_scps(&mut self) -> Vec<String> {
        let Some(lookup) = &self.settings.scp else {
            self.step(
                "scp",
                "-",
                "skipped: no directory (give --directory or --domain)".into(),
            );
            return Vec::new();
        };
        let source = match &lookup.source {
            scp::DirectorySource::Uri(uri) => uri.clone(),
            scp::DirectorySource::Domain(domain) => format!("the domain controllers of {domain}"),
        };
        match lookup.run().await {
            Ok(found) => {
                let site = found
                    .site
                    .as_deref()
                    .map_or_else(String::new, |s| format!(", site {s}"));
                self.step(
                    "scp",
                    &found.server,
                    format!("{} Autodiscover URL(s){site}", found.urls.len()),
                );
                found.urls
            }
            Err(e) => {
                self.step("scp", &source, format!("failed: {e}"));
                Vec::new()
            }
        }
    }
}

/// A method in admin words.
pub fn describe(method: &str) -> &'static str {
    match method {
        "scp" => "the directory's service connection point",
        "domain" => "the domain's Autodiscover URL",
        "autodiscover-host" => "the autodiscover host of the domain",
        "http-redirect" => "the HTTP redirect method",
        "srv" => "the DNS SRV record",
        _ => "a redirect",
    }
}

/// Finds the EWS URL for `address`. `Err` only when a password was refused (the walk stops
/// there); a discovery that found nothing has no `url`.
pub async fn discover(address: &str, settings: &Settings) -> Result<Discovery, TransportError> {
    let mut allowed = vec![domain_of(address).to_ascii_lowercase()];
    for domain in &settings.allowed {
        let domain = domain.to_ascii_lowercase();
        if !allowed.contains(&domain) {
            allowed.push(domain);
        }
    }
    let mut walk = Walk {
        settings,
        address: address.to_owned(),
        allowed,
        redirects: 0,
        discovery: Discovery {
            address: address.to_owned(),
            url: None,
            internal_url: None,
            external_url: None,
            found_by: None,
            steps: Vec::new(),
        },
    };
    let mut scp_urls = None;
    loop {
        match walk.pass(&mut scp_urls).await? {
            Next::Address(next) => {
                walk.address.clone_from(&next);
                walk.discovery.address = next;
            }
            Next::Found | Next::Stop | Next::Continue { .. } => return Ok(walk.discovery),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_within_domains() {
        let allowed = vec!["corp.example".to_owned(), "ad.corp.example".to_owned()];
        assert!(within("corp.example", &allowed));
        assert!(within("Mail.Corp.Example.", &allowed));
        assert!(within("autodiscover.corp.example", &allowed));
        assert!(!within("corp.example.evil.test", &allowed));
        assert!(!within("evilcorp.example", &allowed));
        assert!(!within("outlook.office365.com", &allowed));
        assert!(!within("anything", &[String::new()]));
    }
}
