//! The connection to a domain controller: TCP and TLS with errors an admin can act on, binding,
//! and the few LDAP operations the commands need, with AD's controls (SD flags, paged results).
//! Bytes move here; decisions are made elsewhere.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use common::net::ReachError;
use common::secret::Secret;
use common::tls::{TlsOptions, TlsProblem, TlsSetupError};
use ldap3::controls::{PagedResults, RawControl};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Mod, Scope, SearchEntry, StdStream};

use crate::diagnostic::{LdapFailure, rc};
use crate::dn::Dn;
use crate::security_descriptor::{DescriptorError, SecurityDescriptor};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS from the first byte (port 636).
    Ldaps,
    /// Plain LDAP upgraded with the StartTLS operation (port 389).
    StartTls,
    /// Plain LDAP: refused, as nothing this tool sends may travel in clear.
    Plain,
}

/// Where the domain controller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// How the connection is protected.
    pub transport: Transport,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Addresses already known for `host` (from a DNS SRV answer); empty: resolve `host`.
    pub addresses: Vec<std::net::IpAddr>,
}

/// Why a server or URI option cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not a usable {what}: {reason}")]
pub struct EndpointError {
    what: &'static str,
    text: String,
    reason: &'static str,
}

impl Endpoint {
    /// `HOST`, `HOST:PORT` or `[IPv6]:PORT`; LDAPS unless `starttls`.
    pub fn from_server(text: &str, starttls: bool) -> Result<Self, EndpointError> {
        let err = |reason| EndpointError {
            what: "server",
            text: text.to_owned(),
            reason,
        };
        let transport = if starttls {
            Transport::StartTls
        } else {
            Transport::Ldaps
        };
        let default_port = if starttls { 389 } else { 636 };
        let (host, port) = split_host_port(text).ok_or_else(|| err("use HOST or HOST:PORT"))?;
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| err("the port is not a number from 1 to 65535"))
            })
            .transpose()?;
        if host.is_empty() || host.contains('/') {
            return Err(err("use HOST or HOST:PORT"));
        }
        Ok(Self {
            transport,
            host: host.to_owned(),
            port: port.unwrap_or(default_port),
            addresses: Vec::new(),
        })
    }

    /// `ldaps://HOST[:PORT]` or `ldap://HOST[:PORT]` (with `starttls`, else refused later).
    pub fn from_uri(text: &str, starttls: bool) -> Result<Self, EndpointError> {
        let err = |reason| EndpointError {
            what: "LDAP URI",
            text: text.to_owned(),
            reason,
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| err("use ldaps://HOST[:PORT]"))?;
        let rest = rest.trim_end_matches('/');
        let mut endpoint =
            Self::from_server(rest, false).map_err(|_| err("use ldaps://HOST[:PORT]"))?;
        let explicit_port = split_host_port(rest).and_then(|(_, p)| p).is_some();
        match (scheme.to_ascii_lowercase().as_str(), starttls) {
            ("ldaps", false) => {}
            ("ldaps", true) => return Err(err("--starttls goes with ldap://, not ldaps://")),
            ("ldap", tls) => {
                endpoint.transport = if tls {
                    Transport::StartTls
                } else {
                    Transport::Plain
                };
                if !explicit_port {
                    endpoint.port = 389;
                }
            }
            _ => return Err(err("the scheme must be ldaps:// or ldap://")),
        }
        Ok(endpoint)
    }

    /// `host:port` for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn url(&self) -> String {
        let scheme = if self.transport == Transport::Ldaps {
            "ldaps"
        } else {
            "ldap"
        };
        format!("{scheme}://{}", self.address())
    }
}

fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            port => Some((host, Some(port.strip_prefix(':')?))),
        };
    }
    match text.split_once(':') {
        Some((host, port)) if !port.contains(':') => Some((host, Some(port))),
        // A bare IPv6 address, or no port.
        Some(_) | None => Some((text, None)),
    }
}

/// Who binds.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Simple bind with a UPN, `DOMAIN\name` or DN and a password.
    Simple {
        /// The bind name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// Kerberos (SASL GSSAPI) with the default ticket cache, over TLS with channel binding.
    #[cfg(feature = "kerberos")]
    Kerberos,
}

impl Credentials {
    /// Whether the bind encrypts a plain LDAP session by itself (Kerberos with the SASL privacy
    /// layer), so no password or data travels in clear without TLS.
    fn seals_plain_ldap(&self) -> bool {
        match self {
            Credentials::Simple { .. } => false,
            #[cfg(feature = "kerberos")]
            Credentials::Kerberos => true,
        }
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Where.
    pub endpoint: Endpoint,
    /// Trust settings.
    pub tls: TlsOptions,
    /// Longest wait for any one step.
    pub timeout: Duration,
}

/// Why talking to the directory failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The domain controller could not be reached (DNS, TCP, TLS).
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// The server refused StartTLS.
    #[error("{address} refused StartTLS: {failure}")]
    StartTlsRefused {
        /// Where.
        address: String,
        /// The server's answer.
        failure: LdapFailure,
    },
    /// A plain-text connection was asked for.
    #[error("refusing to send a password to {address} over plain LDAP")]
    PlaintextRefused {
        /// Where.
        address: String,
    },
    /// Kerberos could not get or use a ticket for the DC.
    #[error("Kerberos logon to {address} as {principal} failed: {reason}")]
    Kerberos {
        /// Where.
        address: String,
        /// The service principal asked for.
        principal: String,
        /// What the GSSAPI library or the server said.
        reason: String,
    },
    /// The DC wants Kerberos over TLS to add a SASL layer, which TLS excludes (Samba before 4.20
    /// with `ldap server require strong auth = yes`).
    #[error("{address} refuses Kerberos over TLS without a SASL security layer: {failure}")]
    KerberosOverTlsRefused {
        /// Where.
        address: String,
        /// The server's answer.
        failure: LdapFailure,
    },
    /// The bind was refused.
    #[error("{address} refused the logon of {user}: {failure}")]
    Bind {
        /// Where.
        address: String,
        /// Who.
        user: String,
        /// The server's answer.
        failure: LdapFailure,
    },
    /// An operation was refused.
    #[error("{operation} of {dn} failed: {failure}")]
    Operation {
        /// Which operation.
        operation: &'static str,
        /// On which entry.
        dn: String,
        /// The server's answer.
        failure: LdapFailure,
    },
    /// A stored security descriptor could not be parsed.
    #[error("the security descriptor of {dn} cannot be read: {source}")]
    Descriptor {
        /// The entry.
        dn: String,
        /// What is wrong.
        #[source]
        source: DescriptorError,
    },
    /// The connection broke or the server answered nonsense.
    #[error("the connection to {address} failed during {operation}: {reason}")]
    Broken {
        /// Where.
        address: String,
        /// Which operation.
        operation: &'static str,
        /// What happened.
        reason: String,
    },
}

impl DirectoryError {
    /// Whether an operation that failed this way may still have been carried out: the request
    /// was sent, and the answer was lost (a timeout, a broken connection). Only a read of the
    /// directory can tell.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            DirectoryError::Broken { .. } | DirectoryError::Reach(ReachError::Timeout { .. })
        )
    }
}

impl From<TlsSetupError> for DirectoryError {
    fn from(error: TlsSetupError) -> Self {
        DirectoryError::Reach(ReachError::TlsSetup(error))
    }
}

/// One entry of a search result; attribute names compare case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The entry's DN as the server wrote it.
    pub dn: String,
    values: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    fn from_search(entry: SearchEntry) -> Self {
        let mut values: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for (name, texts) in entry.attrs {
            values
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(texts.into_iter().map(String::into_bytes));
        }
        for (name, bytes) in entry.bin_attrs {
            values
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(bytes);
        }
        Self {
            dn: entry.dn,
            values,
        }
    }

    /// The first value of an attribute as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.bytes(name)
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
    }

    /// Every value of an attribute as text.
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.values
            .get(&name.to_ascii_lowercase())
            .map(|v| {
                v.iter()
                    .filter_map(|b| String::from_utf8(b.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every value of an attribute as bytes.
    pub fn all_bytes(&self, name: &str) -> &[Vec<u8>] {
        self.values
            .get(&name.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// An entry with the given values (for tests and fakes).
    pub fn from_values(dn: &str, values: &[(&str, Vec<Vec<u8>>)]) -> Self {
        Self {
            dn: dn.to_owned(),
            values: values
                .iter()
                .map(|(name, v)| (name.to_ascii_lowercase(), v.clone()))
                .collect(),
        }
    }

    /// The first value of an attribute as bytes.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.values
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(Vec::as_slice)
    }

    /// The first value of an attribute as a number.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.text(name).and_then(|t| t.trim().parse().ok())
    }

    /// The entry's DN, parsed.
    pub fn parsed_dn(&self) -> Option<Dn> {
        self.dn.parse().ok()
    }
}

/// The SD-flags control asking for the DACL only (MS-ADTS 3.1.1.3.4.1.11): without it the
/// server returns, and expects, the SACL too, which a delegated operator may not touch.
fn sd_flags_dacl_only() -> RawControl {
    RawControl {
        ctype: "1.2.840.113556.1.4.801".into(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x04]),
    }
}

const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";
const SORT_REQUEST_OID: &str = "1.2.840.113556.1.4.473";

/// The server-side sort request (RFC 2891): `SEQUENCE OF SEQUENCE { attributeType }`, ascending
/// by the attribute's own ordering rule. Critical: results in another order would be wrong.
fn sort_control(attribute: &str) -> RawControl {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        // Attribute names are far shorter than 128 bytes: the one-byte length form suffices.
        let mut out = vec![tag, u8::try_from(content.len()).unwrap_or(u8::MAX)];
        out.extend_from_slice(content);
        out
    }
    let key = tlv(0x30, &tlv(0x04, attribute.as_bytes()));
    RawControl {
        ctype: SORT_REQUEST_OID.to_owned(),
        crit: true,
        val: Some(tlv(0x30, &key)),
    }
}

/// An authenticated connection to a domain controller. Clones share the connection, and
/// operations from several clones run concurrently on it.
#[derive(Clone)]
pub struct Directory {
    ldap: Ldap,
    address: String,
    timeout: Duration,
    /// The domain's naming context (`defaultNamingContext`).
    pub naming_context: Dn,
    /// The DC's DNS name, as it reports it.
    pub dns_host_name: Option<String>,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("address", &self.address)
            .field("naming_context", &self.naming_context.to_string())
            .finish_non_exhaustive()
    }
}

async fn with_timeout<T>(
    address: &str,
    timeout: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, DirectoryError> {
    Ok(common::net::within(address, timeout, fut).await?)
}

impl Directory {
    /// Connects, sets up TLS and binds.
    pub async fn connect(
        options: &ConnectOptions,
        credentials: &Credentials,
    ) -> Result<Self, DirectoryError> {
        let endpoint = &options.endpoint;
        let address = endpoint.address();
        if endpoint.transport == Transport::Plain && !credentials.seals_plain_ldap() {
            return Err(DirectoryError::PlaintextRefused { address });
        }
        let connector = options.tls.native_connector()?;
        let stream = tcp_connect(endpoint, options.timeout).await?;
        let peer = stream.peer_addr().ok();
        let settings = LdapConnSettings::new()
            .set_std_stream(StdStream::Tcp(stream))
            .set_connector(connector)
            .set_starttls(endpoint.transport == Transport::StartTls)
            .set_conn_timeout(options.timeout);
        let opened = LdapConnAsync::with_settings(settings, &endpoint.url()).await;
        let (conn, mut ldap) = match opened {
            Ok(pair) => pair,
            Err(error) => return Err(connect_error(error, options, peer).await),
        };
        ldap3::drive!(conn);
        log::info!(
            "connected to {address} ({})",
            match endpoint.transport {
                Transport::Ldaps => "LDAPS",
                Transport::StartTls => "StartTLS",
                Transport::Plain => "plain LDAP, to be sealed by Kerberos",
            }
        );

        match credentials {
            Credentials::Simple { user, password } => {
                let result = with_timeout(
                    &address,
                    options.timeout,
                    ldap.simple_bind(user, password.expose()),
                )
                .await?
                .map_err(|e| broken(&address, "bind", &e))?;
                if result.rc != 0 {
                    return Err(DirectoryError::Bind {
                        address,
                        user: user.clone(),
                        failure: LdapFailure::new(result.rc, &result.text),
                    });
                }
                log::info!("bound as {user}");
            }
            #[cfg(feature = "kerberos")]
            Credentials::Kerberos => {
                kerberos_bind(&mut ldap, endpoint, &address, options.timeout).await?;
            }
        }
        let mut directory = Directory {
            ldap,
            address,
            timeout: options.timeout,
            naming_context: Dn::root(),
            dns_host_name: None,
        };
        let root = directory
            .read_raw("", &["defaultNamingContext", "dnsHostName"], false)
            .await?
            .ok_or_else(|| DirectoryError::Broken {
                address: directory.address.clone(),
                operation: "reading the root DSE",
                reason: "the server returned no root DSE".into(),
            })?;
        directory.naming_context = root.text("defaultNamingContext").and_then(|t| t.parse().ok()).ok_or_else(|| DirectoryError::Broken {
            address: directory.address.clone(),
            operation: "reading the root DSE",
            reason: "it names no defaultNamingContext; is this an Active Directory domain controller?".into(),
        })?;
        directory.dns_host_name = root.text("dnsHostName");
        log::debug!("naming context {}", directory.naming_context);
        Ok(directory)
    }

    /// `host:port` of the server.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// One attribute of the root DSE (`schemaNamingContext`, say).
    pub async fn root_dse_text(&mut self, name: &str) -> Result<Option<String>, DirectoryError> {
        Ok(self
            .read_raw("", &[name], false)
            .await?
            .and_then(|e| e.text(name)))
    }

    /// The DN of the domain's Users container, through its well-known GUID (MS-ADTS 6.1.1.4),
    /// so a redirected container (`redirusr`) is found too.
    pub async fn users_container(&mut self) -> Result<Dn, DirectoryError> {
        let wkguid = format!(
            "<WKGUID=a9d1ca15768811d1aded00c04fd8d5cd,{}>",
            self.naming_context
        );
        let entry = self
            .read_raw(&wkguid, &["distinguishedName"], false)
            .await?;
        Ok(entry
            .and_then(|e| e.parsed_dn())
            .unwrap_or_else(|| self.naming_context.child("CN", "Users")))
    }

    /// Searches and returns every entry.
    pub async fn search(
        &mut self,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>, DirectoryError> {
        self.search_raw(&base.to_string(), scope, filter, attrs, false)
            .await
    }

    /// Reads one entry; `None` when it does not exist.
    pub async fn read(&mut self, dn: &Dn, attrs: &[&str]) -> Result<Option<Entry>, DirectoryError> {
        self.read_raw(&dn.to_string(), attrs, false).await
    }

    /// Reads one entry with its DACL (`nTSecurityDescriptor` under the SD-flags control).
    pub async fn read_with_dacl(
        &mut self,
        dn: &Dn,
        attrs: &[&str],
    ) -> Result<Option<(Entry, Option<SecurityDescriptor>)>, DirectoryError> {
        let mut all: Vec<&str> = attrs.to_vec();
        all.push("nTSecurityDescriptor");
        let Some(entry) = self.read_raw(&dn.to_string(), &all, true).await? else {
            return Ok(None);
        };
        let descriptor = entry
            .bytes("nTSecurityDescriptor")
            .map(SecurityDescriptor::parse)
            .transpose()
            .map_err(|source| DirectoryError::Descriptor {
                dn: dn.to_string(),
                source,
            })?;
        Ok(Some((entry, descriptor)))
    }

    async fn read_raw(
        &mut self,
        base: &str,
        attrs: &[&str],
        dacl: bool,
    ) -> Result<Option<Entry>, DirectoryError> {
        match self
            .search_raw(base, Scope::Base, "(objectClass=*)", attrs, dacl)
            .await
        {
            Ok(mut entries) => Ok(entries.pop()),
            Err(DirectoryError::Operation { failure, .. }) if failure.rc == rc::NO_SUCH_OBJECT => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn search_raw(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        dacl: bool,
    ) -> Result<Vec<Entry>, DirectoryError> {
        log::debug!("search base={base} scope={scope:?} filter={filter} attrs={attrs:?}");
        if dacl {
            self.ldap.with_controls(vec![sd_flags_dacl_only()]);
        }
        let result = with_timeout(
            &self.address,
            self.timeout,
            self.ldap.search(base, scope, filter, attrs.to_vec()),
        )
        .await?
        .map_err(|e| broken(&self.address, "search", &e))?;
        let ldap3::SearchResult(entries, outcome) = result;
        if outcome.rc != 0 {
            return Err(DirectoryError::Operation {
                operation: "search",
                dn: base.to_owned(),
                failure: LdapFailure::new(outcome.rc, &outcome.text),
            });
        }
        Ok(entries
            .into_iter()
            .map(|e| Entry::from_search(SearchEntry::construct(e)))
            .collect())
    }

    /// A search in pages of `page_size` (RFC 2696), handing each page to `on_page` as it
    /// arrives, so any number of results fits in memory; with `sort_by`, the server sorts the
    /// whole result by that attribute across the pages (RFC 2891, which Active Directory and
    /// Samba combine with paging; a server that cannot fails with unavailableCriticalExtension).
    /// Returns the number of pages.
    pub async fn paged_search<E>(
        &mut self,
        base: &Dn,
        filter: &str,
        attrs: &[&str],
        page_size: u32,
        sort_by: Option<&str>,
        mut on_page: impl FnMut(Vec<Entry>) -> Result<(), E>,
    ) -> Result<Result<u32, E>, DirectoryError> {
        let base_text = base.to_string();
        let mut cookie = Vec::new();
        let mut pages = 0u32;
        loop {
            let control: RawControl = PagedResults {
                size: i32::try_from(page_size).unwrap_or(i32::MAX),
                cookie: std::mem::take(&mut cookie),
            }
            .into();
            let mut controls = vec![RawControl {
                crit: true,
                ..control
            }];
            controls.extend(sort_by.map(sort_control));
            self.ldap.with_controls(controls);
            let result = with_timeout(
                &self.address,
                self.timeout,
                self.ldap
                    .search(&base_text, Scope::Subtree, filter, attrs.to_vec()),
            )
            .await?
            .map_err(|e| broken(&self.address, "paged search", &e))?;
            let ldap3::SearchResult(entries, outcome) = result;
            if outcome.rc != 0 {
                return Err(DirectoryError::Operation {
                    operation: "search",
                    dn: base_text,
                    failure: LdapFailure::new(outcome.rc, &outcome.text),
                });
            }
            pages += 1;
            let count = entries.len();
            if let Err(e) = on_page(
                entries
                    .into_iter()
                    .map(|e| Entry::from_search(SearchEntry::construct(e)))
                    .collect(),
            ) {
                return Ok(Err(e));
            }
            cookie = outcome
                .ctrls
                .iter()
                .find(|c| c.1.ctype == PAGED_RESULTS_OID)
                .and_then(|c| c.1.val.as_deref())
                .and_then(paged_cookie)
                .unwrap_or_default();
            log::debug!(
                "page {pages}: {count} entries{}",
                if cookie.is_empty() { ", last page" } else { "" }
            );
            if cookie.is_empty() {
                return Ok(Ok(pages));
            }
        }
    }

    /// Adds an entry.
    pub async fn add(
        &mut self,
        dn: &Dn,
        attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)>,
    ) -> Result<(), DirectoryError> {
        log::debug!(
            "add {dn} attributes {:?}",
            attrs
                .iter()
                .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>()
        );
        let dn_text = dn.to_string();
        complete(
            &self.address,
            self.timeout,
            "add",
            dn,
            self.ldap.add(&dn_text, attrs),
        )
        .await
    }

    /// Adds an entry whose attributes include `nTSecurityDescriptor` holding a DACL only, under
    /// the SD-flags control (DACL only): the DC supplies the owner, group and SACL.
    pub async fn add_with_dacl(
        &mut self,
        dn: &Dn,
        attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)>,
    ) -> Result<(), DirectoryError> {
        self.ldap.with_controls(vec![sd_flags_dacl_only()]);
        self.add(dn, attrs).await
    }

    /// Modifies an entry.
    pub async fn modify(&mut self, dn: &Dn, mods: Vec<Mod<Vec<u8>>>) -> Result<(), DirectoryError> {
        log::debug!("modify {dn}: {}", describe_mods(&mods));
        let dn_text = dn.to_string();
        complete(
            &self.address,
            self.timeout,
            "modify",
            dn,
            self.ldap.modify(&dn_text, mods),
        )
        .await
    }

    /// Writes a DACL-only security descriptor under the SD-flags control.
    pub async fn write_dacl(
        &mut self,
        dn: &Dn,
        descriptor: &SecurityDescriptor,
    ) -> Result<(), DirectoryError> {
        log::debug!(
            "modify {dn}: replace nTSecurityDescriptor (DACL) with {}",
            descriptor.to_sddl()
        );
        let mods = vec![Mod::Replace(
            b"nTSecurityDescriptor".to_vec(),
            HashSet::from([descriptor.to_bytes()]),
        )];
        let dn_text = dn.to_string();
        self.ldap.with_controls(vec![sd_flags_dacl_only()]);
        complete(
            &self.address,
            self.timeout,
            "modify",
            dn,
            self.ldap.modify(&dn_text, mods),
        )
        .await
    }

    /// Deletes an entry.
    pub async fn delete(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        log::debug!("delete {dn}");
        let dn_text = dn.to_string();
        complete(
            &self.address,
            self.timeout,
            "delete",
            dn,
            self.ldap.delete(&dn_text),
        )
        .await
    }

    /// Ends the session politely.
    pub async fn unbind(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ldap.unbind()).await;
    }
}

/// SASL GSSAPI bind with the ticket cache. The service principal is `ldap/<DNS name>`: the
/// name given with --server, or, when that is an address, the name the DC reports in its root
/// DSE (readable before binding).
#[cfg(feature = "kerberos")]
async fn kerberos_bind(
    ldap: &mut Ldap,
    endpoint: &Endpoint,
    address: &str,
    timeout: Duration,
) -> Result<(), DirectoryError> {
    let host = if endpoint.host.parse::<std::net::IpAddr>().is_ok() {
        let root = with_timeout(
            address,
            timeout,
            ldap.search("", Scope::Base, "(objectClass=*)", vec!["dnsHostName"]),
        )
        .await?
        .map_err(|e| broken(address, "reading the root DSE", &e))?;
        root.0
            .into_iter()
            .next()
            .and_then(|e| {
                SearchEntry::construct(e)
                    .attrs
                    .remove("dnsHostName")
                    .and_then(|mut v| v.pop())
            })
            .ok_or_else(|| DirectoryError::Kerberos {
                address: address.to_owned(),
                principal: "ldap/?".into(),
                reason: "the DC does not tell its DNS name; give --server by name".into(),
            })?
    } else {
        endpoint.host.clone()
    };
    let principal = format!("ldap/{host}");
    log::info!("Kerberos bind for {principal}");
    let kerberos_error = |reason: String| DirectoryError::Kerberos {
        address: address.to_owned(),
        principal: principal.clone(),
        reason,
    };
    let result = with_timeout(address, timeout, ldap.sasl_gssapi_bind(&host))
        .await?
        .map_err(|e| match e {
            LdapError::GssapiOperationError(text) => kerberos_error(common::error::one_line(&text)),
            other => broken(address, "Kerberos bind", &other),
        })?;
    if result.rc != 0 {
        return Err(kerberos_error(
            LdapFailure::new(result.rc, &result.text).to_string(),
        ));
    }
    log::info!("bound with Kerberos");
    Ok(())
}

/// Awaits a write within the timeout and turns its result into success or the typed error.
async fn complete(
    address: &str,
    timeout: Duration,
    operation: &'static str,
    dn: &Dn,
    request: impl Future<Output = ldap3::result::Result<ldap3::LdapResult>>,
) -> Result<(), DirectoryError> {
    let result = with_timeout(address, timeout, request)
        .await?
        .map_err(|e| broken(address, operation, &e))?;
    check(operation, dn, &result)
}

fn check(
    operation: &'static str,
    dn: &Dn,
    result: &ldap3::LdapResult,
) -> Result<(), DirectoryError> {
    if result.rc == 0 {
        return Ok(());
    }
    Err(DirectoryError::Operation {
        operation,
        dn: dn.to_string(),
        failure: LdapFailure::new(result.rc, &result.text),
    })
}

fn describe_mods(mods: &[Mod<Vec<u8>>]) -> String {
    mods.iter()
        .map(|m| {
            let (kind, name, values) = match m {
                Mod::Add(n, v) => ("add", n, Some(v)),
                Mod::Delete(n, v) => ("delete", n, Some(v)),
                Mod::Replace(n, v) => ("replace", n, Some(v)),
                Mod::Increment(n, _) => ("increment", n, None),
            };
            let name = String::from_utf8_lossy(name);
            let shown = if name.eq_ignore_ascii_case("unicodePwd") {
                "<redacted>".to_owned()
            } else {
                values
                    .map(|v| {
                        v.iter()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .unwrap_or_default()
            };
            format!("{kind} {name}={shown}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn broken(address: &str, operation: &'static str, error: &LdapError) -> DirectoryError {
    DirectoryError::Broken {
        address: address.to_owned(),
        operation,
        reason: error.to_string(),
    }
}

/// The cookie of a paged-results response value, `SEQUENCE { INTEGER, OCTET STRING }`.
/// Parsed here rather than by ldap3, whose parser panics on a malformed value.
fn paged_cookie(value: &[u8]) -> Option<Vec<u8>> {
    fn element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            (
                rest[..n]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
                &rest[n..],
            )
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let (0x30, body, _) = element(value)? else {
        return None;
    };
    let (0x02, _, rest) = element(body)? else {
        return None;
    };
    let (0x04, cookie, _) = element(rest)? else {
        return None;
    };
    Some(cookie.to_vec())
}

async fn tcp_connect(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<std::net::TcpStream, DirectoryError> {
    let stream =
        common::net::connect_tcp(&endpoint.host, endpoint.port, &endpoint.addresses, timeout)
            .await?;
    stream.into_std().map_err(|source| {
        DirectoryError::from(ReachError::Connect {
            address: endpoint.address(),
            source,
        })
    })
}

/// Turns ldap3's connection error into one an admin can act on; a TLS failure gets a second,
/// diagnostic handshake that says what is wrong with the certificate.
async fn connect_error(
    error: LdapError,
    options: &ConnectOptions,
    peer: Option<SocketAddr>,
) -> DirectoryError {
    let endpoint = options.endpoint.clone();
    let address = endpoint.address();
    match error {
        LdapError::NativeTLS { source } => {
            let tls = options.tls.clone();
            let timeout = options.timeout;
            let problem =
                tokio::task::spawn_blocking(move || diagnose_tls(&endpoint, peer, &tls, timeout))
                    .await
                    .ok()
                    .flatten();
            DirectoryError::Reach(ReachError::Tls {
                address,
                problem,
                reason: source.to_string(),
            })
        }
        LdapError::Timeout { .. } => DirectoryError::Reach(ReachError::Timeout {
            address,
            seconds: options.timeout.as_secs(),
        }),
        LdapError::LdapResult { result } => DirectoryError::StartTlsRefused {
            address,
            failure: LdapFailure::new(result.rc, &result.text),
        },
        LdapError::Io { source } => DirectoryError::Reach(ReachError::Connect { address, source }),
        other => DirectoryError::Broken {
            address,
            operation: "connecting",
            reason: other.to_string(),
        },
    }
}

fn diagnose_tls(
    endpoint: &Endpoint,
    peer: Option<SocketAddr>,
    tls: &TlsOptions,
    timeout: Duration,
) -> Option<TlsProblem> {
    let addr = peer?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    if endpoint.transport == Transport::StartTls {
        // ExtendedRequest { requestName 1.3.6.1.4.1.1466.20037 }, message id 1 (RFC 4511 4.14).
        let mut request = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
        request.extend_from_slice(b"1.3.6.1.4.1.1466.20037");
        stream.write_all(&request).ok()?;
        let mut header = [0u8; 2];
        stream.read_exact(&mut header).ok()?;
        let len = if header[1] < 0x80 {
            usize::from(header[1])
        } else {
            let mut len_bytes = vec![0u8; usize::from(header[1] & 0x7F)];
            stream.read_exact(&mut len_bytes).ok()?;
            len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        let mut body = vec![0u8; len.min(64 * 1024)];
        stream.read_exact(&mut body).ok()?;
    }
    common::tls::diagnose_stream(&endpoint.host, stream, tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sort_control_names_the_attribute() {
        let control = sort_control("mail");
        assert_eq!(control.ctype, "1.2.840.113556.1.4.473");
        assert!(control.crit);
        assert_eq!(
            control.val.unwrap(),
            [0x30, 0x08, 0x30, 0x06, 0x04, 0x04, b'm', b'a', b'i', b'l']
        );
    }

    #[test]
    fn server_forms() {
        assert_eq!(
            Endpoint::from_server("dc1.corp.example", false).unwrap(),
            Endpoint {
                transport: Transport::Ldaps,
                host: "dc1.corp.example".into(),
                port: 636,
                addresses: vec![]
            }
        );
        assert_eq!(Endpoint::from_server("dc1:3269", false).unwrap().port, 3269);
        assert_eq!(
            Endpoint::from_server("dc1", true).unwrap(),
            Endpoint {
                transport: Transport::StartTls,
                host: "dc1".into(),
                port: 389,
                addresses: vec![]
            }
        );
        assert_eq!(
            Endpoint::from_server("[::1]:636", false).unwrap().host,
            "::1"
        );
        assert_eq!(
            Endpoint::from_server("[::1]:636", false).unwrap().address(),
            "[::1]:636"
        );
        for bad in ["", "dc1:x", "dc1:70000", "ldaps://dc1"] {
            assert!(Endpoint::from_server(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn uri_forms() {
        assert_eq!(Endpoint::from_uri("ldaps://dc1", false).unwrap().port, 636);
        assert_eq!(
            Endpoint::from_uri("ldap://dc1", false).unwrap().transport,
            Transport::Plain
        );
        assert_eq!(
            Endpoint::from_uri("ldap://dc1", true).unwrap(),
            Endpoint {
                transport: Transport::StartTls,
                host: "dc1".into(),
                port: 389,
                addresses: vec![]
            }
        );
        assert_eq!(
            Endpoint::from_uri("ldaps://dc1:1636/", false).unwrap().port,
            1636
        );
        assert!(Endpoint::from_uri("ldaps://dc1", true).is_err());
        assert!(Endpoint::from_uri("https://dc1", false).is_err());
        assert!(Endpoint::from_uri("dc1", false).is_err());
    }

    #[test]
    fn filter_values_are_escaped() {
        // ldap3's escaping is RFC 4515's, as the filters built here need.
        assert_eq!(
            ldap3::ldap_escape("a*b(c)\\d\0"),
            "a\\2ab\\28c\\29\\5cd\\00"
        );
        assert_eq!(ldap3::ldap_escape("Jürgen*"), "Jürgen\\2a");
    }

    #[test]
    fn paged_cookie_parsing() {
        assert_eq!(
            paged_cookie(&[0x30, 0x07, 0x02, 0x01, 0x05, 0x04, 0x02, 0xAB, 0xCD]),
            Some(vec![0xAB, 0xCD])
        );
        assert_eq!(
            paged_cookie(&[0x30, 0x05, 0x02, 0x01, 0x00, 0x04, 0x00]),
            Some(vec![])
        );
        let mut long = vec![0x30, 0x81, 0x86, 0x02, 0x01, 0x00, 0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 128));
        assert_eq!(paged_cookie(&long).map(|c| c.len()), Some(128));
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x02, 0x01],
            &[0x31, 0x00],
            &[0x30, 0x03, 0x04, 0x01, 0x00],
        ] {
            assert_eq!(paged_cookie(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn passwords_never_show_in_logged_modifications() {
        let mods = vec![
            Mod::Replace(
                b"unicodePwd".to_vec(),
                HashSet::from([b"\"secret\"".to_vec()]),
            ),
            Mod::Replace(b"description".to_vec(), HashSet::from([b"x".to_vec()])),
        ];
        let text = describe_mods(&mods);
        assert_eq!(text, "replace unicodePwd=<redacted>; replace description=x");
    }
}
