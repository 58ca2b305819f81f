//! An LDAPS proxy in front of the lab's DC that forwards every request but refuses chosen ones:
//! fault injection on real traffic. A refused request never reaches the DC; everything else
//! (the Add before it, the rollback after it) really happens there.
//!
//! It serves one request at a time per connection, which is how the tools talk to a DC.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use openssl::ssl::{SslAcceptor, SslConnector, SslMethod, SslStream, SslVerifyMode};

use crate::samba::SambaDc;

/// LDAP protocol-op tags (RFC 4511, BER application tags).
pub mod op {
    /// ModifyRequest.
    pub const MODIFY: u8 = 0x66;
    /// DelRequest.
    pub const DELETE: u8 = 0x4a;
    /// AddRequest.
    pub const ADD: u8 = 0x68;
    /// SearchRequest.
    pub const SEARCH: u8 = 0x63;
}

/// Refuse requests of one operation whose bytes contain a marker.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The operation's tag ([`op`]).
    pub operation: u8,
    /// Bytes the request must contain (an attribute name, a DN).
    pub containing: Vec<u8>,
    /// The answer.
    pub answer: Answer,
    /// Matching requests to let through before the fault applies.
    pub skip: usize,
    /// Apply once, then pass everything.
    pub once: bool,
}

impl Fault {
    /// A fault on every request of `operation` containing `containing`.
    pub fn new(operation: u8, containing: impl Into<Vec<u8>>, answer: Answer) -> Self {
        Self {
            operation,
            containing: containing.into(),
            answer,
            skip: 0,
            once: false,
        }
    }

    /// Lets `n` matching requests through first.
    #[must_use]
    pub fn after(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }

    /// Applies once only.
    #[must_use]
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }
}

/// How a refused request is answered.
#[derive(Debug, Clone)]
pub enum Answer {
    /// An LDAP result with this code and diagnostic message.
    Result(u8, String),
    /// A response the client cannot parse (a primitive where LDAPResult is constructed).
    Garbage,
    /// The request reaches the DC and is carried out, then the connection is cut before the
    /// answer gets back: the client cannot know what happened.
    CutAfterForward,
}

/// A running proxy.
#[derive(Debug)]
pub struct LdapFaultProxy {
    /// Where clients connect (`127.0.0.1:port`, in the proxy's certificate).
    pub address: SocketAddr,
    injected: Arc<AtomicUsize>,
}

impl LdapFaultProxy {
    /// Starts a proxy to `dc` that refuses requests matching any of `faults`.
    pub fn start(dc: &SambaDc, faults: Vec<Fault>) -> Result<Self, Box<dyn std::error::Error>> {
        let (cert, key) = dc
            .pki
            .issue_server("ldap-proxy.lab.example", Ipv4Addr::LOCALHOST)?;
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
        acceptor.set_certificate(&cert)?;
        acceptor.set_private_key(&key)?;
        let acceptor = Arc::new(acceptor.build());
        let mut connector = SslConnector::builder(SslMethod::tls_client())?;
        connector.set_ca_file(&dc.pki.ca_file)?;
        connector.set_verify(SslVerifyMode::PEER);
        let connector = Arc::new(connector.build());
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let address = listener.local_addr()?;
        let upstream = SocketAddr::from((dc.address, 636));
        let upstream_name = dc.address.to_string();
        let injected = Arc::new(AtomicUsize::new(0));
        let faults = Arc::new(Mutex::new(faults));
        let counter = Arc::clone(&injected);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (acceptor, connector, faults, counter, name) = (
                    Arc::clone(&acceptor),
                    Arc::clone(&connector),
                    Arc::clone(&faults),
                    Arc::clone(&counter),
                    upstream_name.clone(),
                );
                std::thread::spawn(move || {
                    let Ok(mut client) = acceptor.accept(client) else {
                        return;
                    };
                    let Ok(server) = TcpStream::connect(upstream) else {
                        return;
                    };
                    let Ok(mut server) = connector.connect(&name, server) else {
                        return;
                    };
                    let _ = serve(&mut client, &mut server, &faults, &counter);
                });
            }
        });
        Ok(Self { address, injected })
    }

    /// How many requests were refused so far.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }
}

fn serve(
    client: &mut SslStream<TcpStream>,
    server: &mut SslStream<TcpStream>,
    faults: &Mutex<Vec<Fault>>,
    counter: &AtomicUsize,
) -> std::io::Result<()> {
    while let Some(request) = read_message(client)? {
        let Some((message_id, operation)) = envelope(&request) else {
            return Ok(());
        };
        let refusal = faults.lock().ok().and_then(|mut faults| {
            let index = faults.iter().position(|fault| {
                fault.operation == operation && contains(&request, &fault.containing)
            })?;
            if faults[index].skip > 0 {
                faults[index].skip -= 1;
                return None;
            }
            let fault = faults[index].clone();
            if fault.once {
                faults.remove(index);
            }
            Some(fault)
        });
        if let Some(fault) = refusal {
            counter.fetch_add(1, Ordering::SeqCst);
            // The response is the request's application tag + 1, always constructed (DelRequest is primitive).
            let response_tag = if operation == op::SEARCH {
                0x65 // SearchResultDone
            } else {
                (operation | 0x20) + 1
            };
            let answer = match &fault.answer {
                Answer::Result(code, message) => {
                    result_message(message_id, response_tag, *code, message)
                }
                Answer::Garbage => {
                    let mut body = message_id.to_vec();
                    body.extend(tlv(response_tag & !0x20, &[0]));
                    tlv(0x30, &body)
                }
                Answer::CutAfterForward => {
                    server.write_all(&request)?;
                    let _ = read_message(server)?;
                    let _ = client.get_ref().shutdown(std::net::Shutdown::Both);
                    return Ok(());
                }
            };
            client.write_all(&answer)?;
            continue;
        }
        server.write_all(&request)?;
        match operation {
            0x42 => return Ok(()), // UnbindRequest: no answer
            0x50 => continue,      // AbandonRequest: no answer
            _ => {}
        }
        // A search answers with entries and references until SearchResultDone; the rest answer once.
        loop {
            let Some(response) = read_message(server)? else {
                return Ok(());
            };
            client.write_all(&response)?;
            let done = envelope(&response).is_none_or(|(_, tag)| operation != 0x63 || tag == 0x65);
            if done {
                break;
            }
        }
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads one BER-framed LDAPMessage; `None` at end of stream.
fn read_message(stream: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; 2];
    match stream.read_exact(&mut head) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    let mut message = head.to_vec();
    let len = if head[1] < 0x80 {
        usize::from(head[1])
    } else {
        let mut len_bytes = vec![0u8; usize::from(head[1] & 0x7F)];
        stream.read_exact(&mut len_bytes)?;
        message.extend_from_slice(&len_bytes);
        len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let start = message.len();
    message.resize(start + len, 0);
    stream.read_exact(&mut message[start..])?;
    Ok(Some(message))
}

/// The messageID TLV and the protocol-op tag of an LDAPMessage.
fn envelope(message: &[u8]) -> Option<(&[u8], u8)> {
    let body_start = if message.get(1)? & 0x80 == 0 {
        2
    } else {
        2 + usize::from(message[1] & 0x7F)
    };
    let id_len = usize::from(*message.get(body_start + 1)?);
    let id = message.get(body_start..body_start + 2 + id_len)?;
    let operation = *message.get(body_start + 2 + id_len)?;
    Some((id, operation))
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match value.len() {
        n if n < 0x80 => out.push(u8::try_from(n).unwrap_or(0)),
        n if n < 0x100 => out.extend_from_slice(&[0x81, u8::try_from(n).unwrap_or(0)]),
        n => out.extend_from_slice(&[
            0x82,
            u8::try_from(n >> 8).unwrap_or(0),
            u8::try_from(n & 0xFF).unwrap_or(0),
        ]),
    }
    out.extend_from_slice(value);
    out
}

/// An LDAPResult-shaped response: `SEQUENCE { messageID, [APPLICATION n] { resultCode, matchedDN, diagnosticMessage } }`.
fn result_message(message_id: &[u8], response_tag: u8, result_code: u8, text: &str) -> Vec<u8> {
    let mut result = tlv(0x0a, &[result_code]);
    result.extend(tlv(0x04, b""));
    result.extend(tlv(0x04, text.as_bytes()));
    let mut body = message_id.to_vec();
    body.extend(tlv(response_tag, &result));
    tlv(0x30, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_and_results() {
        // ModifyRequest, message id 5.
        let request = [
            0x30, 0x0a, 0x02, 0x01, 0x05, 0x66, 0x05, 0x04, 0x00, 0x30, 0x00, 0x00,
        ];
        assert_eq!(envelope(&request), Some((&[0x02, 0x01, 0x05][..], 0x66)));
        let response = result_message(&[0x02, 0x01, 0x05], 0x67, 50, "no");
        assert_eq!(
            response,
            [
                0x30, 0x0e, 0x02, 0x01, 0x05, 0x67, 0x09, 0x0a, 0x01, 0x32, 0x04, 0x00, 0x04, 0x02,
                b'n', b'o'
            ]
        );
        let mut reader = &response[..];
        assert_eq!(read_message(&mut reader).unwrap().unwrap(), response);
        assert_eq!(read_message(&mut reader).unwrap(), None);
    }
}
