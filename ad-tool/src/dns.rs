//! Finding domain controllers through DNS: the SRV records `_ldap._tcp.dc._msdcs.<domain>`
//! (MS-ADTS 6.3.2.3), asked of the system's name servers or of `--dns-server`. The message
//! format (RFC 1035) is built and parsed here; the standard library has no SRV lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_SRV: u16 = 33;
const CLASS_IN: u16 = 1;

/// One SRV target, with the addresses the answer carried for it.
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
    /// Addresses of the host found in the same answer (additional section).
    pub addresses: Vec<IpAddr>,
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The answer is malformed.
    #[error("malformed DNS answer ({0})")]
    Malformed(&'static str),
    /// The server answered with an error code.
    #[error("the DNS server answered {}", rcode_name(*.0))]
    Rcode(u8),
    /// No name server to ask.
    #[error("no DNS server is configured (no nameserver in /etc/resolv.conf); give --dns-server")]
    NoServer,
    /// No answer from any server.
    #[error("no DNS server answered ({0})")]
    NoAnswer(String),
    /// The name has no records of the asked type.
    #[error("{0} has no records")]
    NoRecords(String),
}

fn rcode_name(code: u8) -> &'static str {
    match code {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN (no such name)",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "an error",
    }
}

/// A query for `name` of type `qtype` with recursion desired.
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 18);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let bytes = label.as_bytes();
        out.push(u8::try_from(bytes.len().min(63)).unwrap_or(63));
        out.extend_from_slice(&bytes[..bytes.len().min(63)]);
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// A resource record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An SRV record.
    Srv {
        /// Owner name.
        name: String,
        /// The target.
        target: SrvTarget,
    },
    /// An address record.
    Address {
        /// Owner name.
        name: String,
        /// The address.
        address: IpAddr,
    },
    /// Any other type.
    Other,
}

/// The records of a response; checks the id and the response code. The truncation flag is
/// returned so the caller can retry over TCP.
pub fn parse_response(message: &[u8], id: u16) -> Result<(bool, Vec<Record>), DnsError> {
    if message.len() < 12 {
        return Err(DnsError::Malformed("shorter than a header"));
    }
    if u16::from_be_bytes([message[0], message[1]]) != id {
        return Err(DnsError::Malformed("answer to another query"));
    }
    let truncated = message[2] & 0x02 != 0;
    let rcode = message[3] & 0x0F;
    if rcode != 0 {
        return Err(DnsError::Rcode(rcode));
    }
    let count = |at: usize| usize::from(u16::from_be_bytes([message[at], message[at + 1]]));
    let (questions, answers, authority, additional) = (count(4), count(6), count(8), count(10));
    let mut at = 12;
    for _ in 0..questions {
        at = read_name(message, at)?.1 + 4;
    }
    let mut records = Vec::new();
    for _ in 0..answers + authority + additional {
        let (name, after_name) = read_name(message, at)?;
        let fixed = message
            .get(after_name..after_name + 10)
            .ok_or(DnsError::Malformed("record header"))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let length = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data_at = after_name + 10;
        let data = message
            .get(data_at..data_at + length)
            .ok_or(DnsError::Malformed("record data"))?;
        records.push(match (rtype, data.len()) {
            (TYPE_SRV, 7..) => {
                let (host, _) = read_name(message, data_at + 6)?;
                let field = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
                Record::Srv {
                    name,
                    target: SrvTarget {
                        priority: field(0),
                        weight: field(2),
                        port: field(4),
                        host,
                        addresses: Vec::new(),
                    },
                }
            }
            (TYPE_A, 4) => Record::Address {
                name,
                address: IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
            },
            (TYPE_AAAA, 16) => {
                let octets: [u8; 16] = data.try_into().map_err(|_| DnsError::Malformed("AAAA"))?;
                Record::Address {
                    name,
                    address: IpAddr::V6(Ipv6Addr::from(octets)),
                }
            }
            _ => Record::Other,
        });
        at = data_at + length;
    }
    Ok((truncated, records))
}

/// Reads a possibly compressed name at `at`; returns it and the offset after it.
fn read_name(message: &[u8], mut at: usize) -> Result<(String, usize), DnsError> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *message.get(at).ok_or(DnsError::Malformed("name"))?;
        match len {
            0 => {
                return Ok((labels.join("."), end.unwrap_or(at + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let low = *message
                    .get(at + 1)
                    .ok_or(DnsError::Malformed("name pointer"))?;
                end.get_or_insert(at + 2);
                at = usize::from(l & 0x3F) << 8 | usize::from(low);
            }
            l if l < 64 => {
                let label = message
                    .get(at + 1..at + 1 + usize::from(l))
                    .ok_or(DnsError::Malformed("label"))?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                at += 1 + usize::from(l);
            }
            _ => return Err(DnsError::Malformed("label type")),
        }
    }
    Err(DnsError::Malformed("name pointer loop"))
}

/// Name servers from `resolv.conf` text.
pub fn nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().split('%').next()?.parse().ok())
        .collect()
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

async fn ask(
    server: IpAddr,
    name: &str,
    qtype: u16,
    timeout: Duration,
) -> Result<Vec<Record>, DnsError> {
    let mut id_bytes = [0u8; 2];
    getrandom::fill(&mut id_bytes).map_err(|e| DnsError::NoAnswer(e.to_string()))?;
    let id = u16::from_be_bytes(id_bytes);
    let query = encode_query(id, name, qtype);
    let address = SocketAddr::new(server, 53);
    let failed = |e: std::io::Error| DnsError::NoAnswer(format!("{address}: {e}"));
    let udp = async {
        let bind: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = tokio::net::UdpSocket::bind(bind).await.map_err(failed)?;
        socket.connect(address).await.map_err(failed)?;
        socket.send(&query).await.map_err(failed)?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = socket.recv(&mut buf).await.map_err(failed)?;
            match parse_response(&buf[..n], id) {
                Err(DnsError::Malformed("answer to another query")) => {}
                other => return other,
            }
        }
    };
    let (truncated, records) = tokio::time::timeout(timeout, udp)
        .await
        .map_err(|_| DnsError::NoAnswer(format!("{address} did not answer")))??;
    if !truncated {
        return Ok(records);
    }
    // Too big for UDP: ask again over TCP, with the two-byte length prefix (RFC 1035 4.2.2).
    let tcp = async {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(failed)?;
        let mut framed = u16::try_from(query.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes()
            .to_vec();
        framed.extend_from_slice(&query);
        stream.write_all(&framed).await.map_err(failed)?;
        let len = stream.read_u16().await.map_err(failed)?;
        let mut buf = vec![0u8; usize::from(len)];
        stream.read_exact(&mut buf).await.map_err(failed)?;
        parse_response(&buf, id).map(|(_, records)| records)
    };
    tokio::time::timeout(timeout, tcp)
        .await
        .map_err(|_| DnsError::NoAnswer(format!("{address} did not answer over TCP")))?
}

/// Asks each server in turn until one answers.
async fn ask_any(
    servers: &[IpAddr],
    name: &str,
    qtype: u16,
    timeout: Duration,
) -> Result<Vec<Record>, DnsError> {
    let mut last = DnsError::NoServer;
    for server in servers {
        match ask(*server, name, qtype, timeout).await {
            Ok(records) => return Ok(records),
            Err(e @ DnsError::Rcode(3)) => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The domain controllers of `domain`, in the order to try them, with their addresses.
pub async fn domain_controllers(
    domain: &str,
    servers: &[IpAddr],
    timeout: Duration,
) -> Result<Vec<SrvTarget>, DnsError> {
    let name = format!("_ldap._tcp.dc._msdcs.{}", domain.trim_end_matches('.'));
    let records = ask_any(servers, &name, TYPE_SRV, timeout).await?;
    let addresses: Vec<(String, IpAddr)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Address { name, address } => Some((name.to_ascii_lowercase(), *address)),
            _ => None,
        })
        .collect();
    let mut targets: Vec<SrvTarget> = records
        .into_iter()
        .filter_map(|r| match r {
            Record::Srv { target, .. } if target.host != "." && !target.host.is_empty() => {
                Some(target)
            }
            _ => None,
        })
        .collect();
    if targets.is_empty() {
        return Err(DnsError::NoRecords(name));
    }
    for target in &mut targets {
        target.addresses = addresses
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&target.host))
            .map(|(_, a)| *a)
            .collect();
        if target.addresses.is_empty() {
            // Not in the additional section: ask for the host's addresses.
            for qtype in [TYPE_A, TYPE_AAAA] {
                if let Ok(found) = ask_any(servers, &target.host, qtype, timeout).await {
                    target
                        .addresses
                        .extend(found.into_iter().filter_map(|r| match r {
                            Record::Address { address, .. } => Some(address),
                            _ => None,
                        }));
                }
            }
        }
    }
    Ok(order_targets(targets, |bound| {
        let mut bytes = [0u8; 4];
        let _ = getrandom::fill(&mut bytes);
        u32::from_le_bytes(bytes) % bound.max(1)
    }))
}

/// The system's name servers (`/etc/resolv.conf`); none on systems without that file.
pub fn system_nameservers() -> Vec<IpAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|text| nameservers(&text))
        .unwrap_or_default()
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
    fn query_encoding() {
        let query = encode_query(0xBEEF, "_ldap._tcp.dc._msdcs.corp.example", TYPE_SRV);
        assert_eq!(
            &query[..12],
            &[0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(&query[12..18], b"\x05_ldap");
        assert_eq!(&query[query.len() - 5..], &[0, 0, 33, 0, 1]);
    }

    /// A response built by hand: one SRV answer whose target is a compressed name, and an A record
    /// for it in the additional section.
    fn response(id: u16) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 1]);
        let question_name = 12;
        for label in ["_ldap", "_tcp", "dc", "_msdcs", "corp", "example"] {
            m.push(u8::try_from(label.len()).unwrap());
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&[0, 33, 0, 1]);
        // Answer: name pointer to the question, SRV, IN, TTL, rdata.
        m.extend_from_slice(&[
            0xC0,
            u8::try_from(question_name).unwrap(),
            0,
            33,
            0,
            1,
            0,
            0,
            2,
            88,
        ]);
        let rdata_start = m.len() + 2;
        let mut rdata = vec![0, 0, 0, 100, 1, 133];
        rdata.extend_from_slice(b"\x03dc1");
        // "corp.example" lies at the question's fifth label.
        let corp_offset = question_name + 1 + 5 + 1 + 4 + 1 + 2 + 1 + 6;
        rdata.extend_from_slice(&[0xC0, u8::try_from(corp_offset).unwrap()]);
        m.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
        m.extend_from_slice(&rdata);
        let dc1_offset = rdata_start + 6;
        m.extend_from_slice(&[
            0xC0,
            u8::try_from(dc1_offset).unwrap(),
            0,
            1,
            0,
            1,
            0,
            0,
            2,
            88,
            0,
            4,
            10,
            0,
            0,
            5,
        ]);
        m
    }

    #[test]
    fn srv_answers_parse_with_compression() {
        let (truncated, records) = parse_response(&response(7), 7).unwrap();
        assert!(!truncated);
        assert_eq!(
            records,
            vec![
                Record::Srv {
                    name: "_ldap._tcp.dc._msdcs.corp.example".into(),
                    target: SrvTarget {
                        priority: 0,
                        weight: 100,
                        port: 389,
                        host: "dc1.corp.example".into(),
                        addresses: vec![]
                    }
                },
                Record::Address {
                    name: "dc1.corp.example".into(),
                    address: "10.0.0.5".parse().unwrap()
                },
            ]
        );
    }

    #[test]
    fn bad_answers_are_errors_not_panics() {
        assert_eq!(
            parse_response(&response(7), 8),
            Err(DnsError::Malformed("answer to another query"))
        );
        let mut nx = response(7);
        nx[3] = 0x83;
        assert_eq!(parse_response(&nx, 7), Err(DnsError::Rcode(3)));
        let full = response(7);
        for len in 0..full.len() {
            let _ = parse_response(&full[..len], 7);
        }
        // A pointer to itself loops: refused.
        let mut looping = response(7);
        let at = looping.len() - 16;
        looping[at] = 0xC0;
        looping[at + 1] = u8::try_from(at).unwrap();
        assert!(parse_response(&looping, 7).is_err());
    }

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nsearch corp.example\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nnameserver junk\n";
        assert_eq!(
            nameservers(text),
            vec![
                "10.0.0.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
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
