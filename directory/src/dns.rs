//! Finding services through DNS: domain controllers by the SRV records
//! `_ldap._tcp.dc._msdcs.<domain>` (MS-ADTS 6.3.2.3), and any other SRV record, asked through
//! hickory-resolver of the system's name servers (resolv.conf on Unix, the registry on
//! Windows) or of `--dns-server`, over UDP with TCP for long answers.
//! The targets are then ordered as RFC 2782 says, which a resolver leaves to its caller.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

/// One SRV target, with its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvTarget {
    /// Lower is tried first.
    pub priority: u16,
    /// Share among targets of one priority.
    pub weight: u16,
    /// The port the record names.
    pub port: u16,
    /// The host.
    pub host: String,
    /// Addresses of the host: from the answer's additional section, else looked up.
    pub addresses: Vec<IpAddr>,
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The system's resolver settings cannot be read.
    #[error("no DNS server is configured ({0}); give --dns-server")]
    NoServer(String),
    /// The lookup failed.
    #[error("{0}")]
    Lookup(String),
    /// The name has no records of the asked type.
    #[error("{0} has no records")]
    NoRecords(String),
}

/// Orders SRV targets as RFC 2782 says: by priority, and within a priority by a weighted draw.
pub fn order_targets(
    mut targets: Vec<SrvTarget>,
    mut random: impl FnMut(u32) -> u32,
) -> Vec<SrvTarget> {
    targets.sort_by_key(|t| t.priority);
    let mut ordered = Vec::with_capacity(targets.len());
    while !targets.is_empty() {
        let priority = targets[0].priority;
        let mut group: Vec<SrvTarget> = Vec::new();
        while targets.first().is_some_and(|t| t.priority == priority) {
            group.push(targets.remove(0));
        }
        while !group.is_empty() {
            let total: u32 = group.iter().map(|t| u32::from(t.weight) + 1).sum();
            let mut draw = random(total);
            let index = group
                .iter()
                .position(|t| {
                    let share = u32::from(t.weight) + 1;
                    if draw < share {
                        true
                    } else {
                        draw -= share;
                        false
                    }
                })
                .unwrap_or(0);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

/// The domain controllers of `domain`, in the order to try them, with their addresses; asked
/// of `server`, or of the system's name servers.
pub async fn domain_controllers(
    domain: &str,
    server: Option<IpAddr>,
    timeout: Duration,
) -> Result<Vec<SrvTarget>, DnsError> {
    let name = format!("_ldap._tcp.dc._msdcs.{}", domain.trim_end_matches('.'));
    service(&name, server, timeout).await
}

/// The targets of the SRV record `name` (`_autodiscover._tcp.corp.example`, say), in the order
/// to try them, with their addresses; asked of `server`, or of the system's name servers.
pub async fn service(
    name: &str,
    server: Option<IpAddr>,
    timeout: Duration,
) -> Result<Vec<SrvTarget>, DnsError> {
    let resolver = resolver(server, timeout)?;
    // Fully qualified: the search list has no business here.
    let name = format!("{}.", name.trim_end_matches('.'));

    let lookup = resolver.srv_lookup(name.as_str()).await.map_err(|e| {
        if e.is_no_records_found() {
            DnsError::NoRecords(name.trim_end_matches('.').to_owned())
        } else {
            DnsError::Lookup(e.to_string())
        }
    })?;
    let additional: Vec<(String, IpAddr)> = lookup
        .additionals()
        .iter()
        .filter_map(|record| {
            let address = match &record.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                _ => return None,
            };
            Some((record.name.to_ascii().to_ascii_lowercase(), address))
        })
        .collect();
    let mut targets = Vec::new();
    for record in lookup.answers() {
        let RData::SRV(srv) = &record.data else {
            continue;
        };
        // "." means the service is decidedly not available there (RFC 2782).
        if srv.target.is_root() {
            continue;
        }
        let fqdn = srv.target.to_ascii().to_ascii_lowercase();
        let mut addresses: Vec<IpAddr> = additional
            .iter()
            .filter(|(n, _)| *n == fqdn)
            .map(|(_, a)| *a)
            .collect();
        if addresses.is_empty()
            && let Ok(found) = resolver.lookup_ip(fqdn.as_str()).await
        {
            addresses.extend(found.iter());
        }
        targets.push(SrvTarget {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            host: fqdn.trim_end_matches('.').to_owned(),
            addresses,
        });
    }
    if targets.is_empty() {
        return Err(DnsError::NoRecords(name.trim_end_matches('.').to_owned()));
    }
    Ok(order_targets(targets, |bound| {
        let mut bytes = [0u8; 4];
        let _ = getrandom::fill(&mut bytes);
        u32::from_le_bytes(bytes) % bound.max(1)
    }))
}

/// The name `name` is an alias of, following CNAME records (at most 8), or `name` itself when
/// it is no alias; lower case, without the final dot.
pub async fn canonical_name(
    name: &str,
    server: Option<IpAddr>,
    timeout: Duration,
) -> Result<String, DnsError> {
    let resolver = resolver(server, timeout)?;
    let mut current = name.trim_end_matches('.').to_ascii_lowercase();
    for _ in 0..8 {
        let lookup = match resolver
            .lookup(format!("{current}.").as_str(), RecordType::CNAME)
            .await
        {
            Ok(lookup) => lookup,
            Err(e) if e.is_no_records_found() => break,
            Err(e) => return Err(DnsError::Lookup(e.to_string())),
        };
        let target = lookup
            .answers()
            .iter()
            .find_map(|record| match &record.data {
                RData::CNAME(target) => Some(target.0.to_ascii()),
                _ => None,
            });
        match target {
            Some(target) => current = target.trim_end_matches('.').to_ascii_lowercase(),
            None => break,
        }
    }
    Ok(current)
}

/// A resolver asking `server`, or the system's name servers.
fn resolver(server: Option<IpAddr>, timeout: Duration) -> Result<TokioResolver, DnsError> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = match server {
        Some(ip) => TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![NameServerConfig::udp_and_tcp(ip)]),
            provider,
        ),
        None => TokioResolver::builder(provider).map_err(|e| DnsError::NoServer(e.to_string()))?,
    };
    builder.options_mut().timeout = timeout;
    builder.options_mut().attempts = 2;
    builder
        .build()
        .map_err(|e| DnsError::NoServer(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, host: &str) -> SrvTarget {
        SrvTarget {
            priority,
            weight,
            port: 389,
            host: host.into(),
            addresses: Vec::new(),
        }
    }

    #[test]
    fn targets_are_ordered_by_priority_then_weight() {
        let targets = vec![srv(10, 0, "backup"), srv(0, 100, "big"), srv(0, 0, "small")];
        // A draw of 0 picks the first of the group in weight order of appearance.
        let ordered = order_targets(targets.clone(), |_| 0);
        assert_eq!(
            ordered.iter().map(|t| t.host.as_str()).collect::<Vec<_>>(),
            ["big", "small", "backup"]
        );
        // A draw past the big target's share picks the small one first.
        let ordered = order_targets(targets, |total| total - 1);
        assert_eq!(
            ordered.iter().map(|t| t.host.as_str()).collect::<Vec<_>>(),
            ["small", "big", "backup"]
        );
    }
}
