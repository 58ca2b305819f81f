//! Where a domain controller is: `--server HOST[:PORT]` or `--uri ldaps://HOST[:PORT]`, and the
//! transport (LDAPS, StartTLS, or plain LDAP sealed by Kerberos).

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

    /// A domain controller found through DNS: LDAPS on 636, or StartTLS on 389.
    pub fn from_srv(target: crate::dns::SrvTarget, starttls: bool) -> Self {
        Self {
            transport: if starttls {
                Transport::StartTls
            } else {
                Transport::Ldaps
            },
            host: target.host,
            port: if starttls { 389 } else { 636 },
            addresses: target.addresses,
        }
    }

    /// `host:port` for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub(super) fn url(&self) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
