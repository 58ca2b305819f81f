//! The Autodiscover service connection points (SCPs) Exchange publishes in the directory's
//! configuration partition, as Outlook reads them on a domain-joined machine: every
//! `serviceConnectionPoint` with the Autodiscover keyword, those of the site first. The site is
//! the one of the domain controller that answers (from its `serverName`), which DNS's site-aware
//! SRV answers make the jump host's own.

use std::time::Duration;

use common::tls::TlsOptions;
use directory::dn::Dn;
use directory::{ConnectOptions, Credentials, Directory, DirectoryError, Endpoint, Scope};

/// The keyword of an Autodiscover URL SCP (`serviceBindingInformation` is the URL).
pub const URL_KEYWORD: &str = "77378F46-2C66-4aa9-A6A6-3E7A48B19596";

/// Where the directory is.
#[derive(Debug, Clone)]
pub enum DirectorySource {
    /// `--directory ldaps://HOST` or `ldap://HOST`.
    Uri(String),
    /// The domain controllers of a DNS domain, found through SRV records.
    Domain(String),
}

/// How to read the SCPs.
#[derive(Debug, Clone)]
pub struct ScpLookup {
    /// The directory.
    pub source: DirectorySource,
    /// Who binds (the operator's ticket, or the operator's password).
    pub credentials: Credentials,
    /// Trust settings.
    pub tls: TlsOptions,
    /// DNS server for the SRV lookup.
    pub dns_server: Option<std::net::IpAddr>,
    /// Longest wait for each step.
    pub timeout: Duration,
}

/// One SCP as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scp {
    /// `serviceBindingInformation`: the Autodiscover URL.
    pub url: String,
    /// The sites its `keywords` name (`Site=NAME`).
    pub sites: Vec<String>,
}

/// The SCP URLs in the order to try them: those naming `site`, then those naming no site,
/// then the rest; HTTPS URLs only, each once.
pub fn order(scps: &[Scp], site: Option<&str>) -> Vec<String> {
    let rank = |scp: &Scp| match site {
        Some(site) if scp.sites.iter().any(|s| s.eq_ignore_ascii_case(site)) => 0,
        _ if scp.sites.is_empty() => 1,
        _ => 2,
    };
    let mut ranked: Vec<&Scp> = scps
        .iter()
        .filter(|s| {
            s.url
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        })
        .collect();
    ranked.sort_by_key(|s| rank(s));
    let mut urls: Vec<String> = Vec::new();
    for scp in ranked {
        if !urls.iter().any(|u| u.eq_ignore_ascii_case(&scp.url)) {
            urls.push(scp.url.clone());
        }
    }
    urls
}

/// The site named in a DC's `serverName` (`CN=DC1,CN=Servers,CN=SITE,CN=Sites,…`).
pub fn site_of_server(server_name: &str) -> Option<String> {
    let dn: Dn = server_name.parse().ok()?;
    dn.parent()?.parent()?.rdn_value().map(str::to_owned)
}

/// What the directory said: the SCP URLs in order, and which DC and site answered.
#[derive(Debug, Clone)]
pub struct Found {
    /// The URLs, in the order to try them.
    pub urls: Vec<String>,
    /// The domain controller read.
    pub server: String,
    /// Its site.
    pub site: Option<String>,
}

impl ScpLookup {
    async fn endpoints(&self) -> Result<Vec<Endpoint>, String> {
        match &self.source {
            DirectorySource::Uri(uri) => Ok(vec![
                Endpoint::from_uri(uri, false).map_err(|e| e.to_string())?,
            ]),
            DirectorySource::Domain(domain) => {
                let targets = directory::dns::domain_controllers(
                    domain,
                    self.dns_server,
                    self.timeout.min(Duration::from_secs(10)),
                )
                .await
                .map_err(|e| format!("no domain controller of {domain} found through DNS ({e})"))?;
                Ok(targets
                    .into_iter()
                    .map(|t| Endpoint::from_srv(t, false))
                    .collect())
            }
        }
    }

    async fn connect(&self) -> Result<Directory, String> {
        let endpoints = self.endpoints().await?;
        let count = endpoints.len();
        for (index, endpoint) in endpoints.into_iter().enumerate() {
            let host = endpoint.address();
            let options = ConnectOptions {
                endpoint,
                tls: self.tls.clone(),
                timeout: self.timeout,
            };
            match Directory::connect(&options, &self.credentials).await {
                Ok(directory) => return Ok(directory),
                Err(DirectoryError::Reach(error))
                    if error.is_unreachable() && index + 1 < count =>
                {
                    log::info!("{host} cannot be reached ({error}); trying the next one");
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        Err("no domain controller to read".into())
    }

    /// Reads the SCPs.
    pub async fn run(&self) -> Result<Found, String> {
        let mut directory = self.connect().await?;
        let server = directory
            .dns_host_name
            .clone()
            .unwrap_or_else(|| directory.address().to_owned());
        let configuration: Dn = directory
            .root_dse_text("configurationNamingContext")
            .await
            .map_err(|e| e.to_string())?
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("{server} names no configuration partition"))?;
        let site = directory
            .root_dse_text("serverName")
            .await
            .map_err(|e| e.to_string())?
            .as_deref()
            .and_then(site_of_server);
        let filter = format!("(&(objectClass=serviceConnectionPoint)(keywords={URL_KEYWORD}))");
        let entries = directory
            .search(
                &configuration,
                Scope::Subtree,
                &filter,
                &["serviceBindingInformation", "keywords"],
            )
            .await
            .map_err(|e| e.to_string())?;
        directory.unbind().await;
        let scps: Vec<Scp> = entries
            .iter()
            .flat_map(|entry| {
                let sites: Vec<String> = entry
                    .texts("keywords")
                    .iter()
                    .filter_map(|k| {
                        let (name, value) = k.split_once('=')?;
                        name.eq_ignore_ascii_case("site").then(|| value.to_owned())
                    })
                    .collect();
                entry
                    .texts("serviceBindingInformation")
                    .into_iter()
                    .map(move |url| Scp {
                        url,
                        sites: sites.clone(),
                    })
            })
            .collect();
        Ok(Found {
            urls: order(&scps, site.as_deref()),
            server,
            site,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scp(url: &str, sites: &[&str]) -> Scp {
        Scp {
            url: url.into(),
            sites: sites.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_site_comes_first_then_siteless_then_the_rest() {
        let scps = [
            scp(
                "https://far.corp.example/autodiscover/autodiscover.xml",
                &["Far"],
            ),
            scp(
                "https://any.corp.example/autodiscover/autodiscover.xml",
                &[],
            ),
            scp(
                "https://near.corp.example/autodiscover/autodiscover.xml",
                &["Near"],
            ),
            scp("ldap://pointer.corp.example", &[]),
            scp(
                "https://NEAR.corp.example/autodiscover/autodiscover.xml",
                &[],
            ),
        ];
        assert_eq!(
            order(&scps, Some("near")),
            [
                "https://near.corp.example/autodiscover/autodiscover.xml",
                "https://any.corp.example/autodiscover/autodiscover.xml",
                "https://far.corp.example/autodiscover/autodiscover.xml",
            ]
        );
        assert_eq!(
            order(&scps, None)[0],
            "https://any.corp.example/autodiscover/autodiscover.xml"
        );
    }

    #[test]
    fn the_site_is_read_from_the_server_name() {
        assert_eq!(
            site_of_server("CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp,DC=example").as_deref(),
            Some("Default-First-Site-Name")
        );
        assert_eq!(site_of_server("not a dn"), None);
    }
}
