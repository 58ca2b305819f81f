//! Asking one Autodiscover URL: a POST of the POX or SOAP request over TLS, logged on as EWS
//! requests are (the same mechanism, the same channel binding), or the unauthenticated GET of
//! the HTTP redirect method, which carries nothing but the path and whose answer is only used
//! for its `Location`.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use super::answer::{self, Answer};
use crate::auth::Mechanism;
use crate::endpoint::Endpoint;
use crate::transport::{Connection, Tls, TransportError};

/// What one URL gave.
#[derive(Debug)]
pub enum Reply {
    /// An Autodiscover answer.
    Answer(Answer),
    /// An HTTP redirect to this location.
    Moved(String),
    /// No Autodiscover here (an HTTP status such as 404, or a page that is not Autodiscover).
    NotHere(String),
    /// The URL could not be asked (DNS, TCP, TLS, a Kerberos ticket for this host).
    Failed(String),
    /// The server refused the operator's password: asking elsewhere would only add failed
    /// logons towards a lockout.
    Refused(TransportError),
}

/// Whether `url`'s path is the SOAP service (`…/autodiscover.svc`) rather than POX.
pub fn is_soap(url: &Endpoint) -> bool {
    url.path
        .split('?')
        .next()
        .is_some_and(|p| p.to_ascii_lowercase().ends_with(".svc"))
}

/// POSTs the request for `address` to `url`, in the form its path names.
pub async fn ask(
    url: &Endpoint,
    address: &str,
    mechanism: &dyn Mechanism,
    tls: &Tls,
    timeout: Duration,
) -> Reply {
    let soap = is_soap(url);
    let body = if soap {
        answer::soap_request(address, &url.url())
    } else {
        answer::pox_request(address)
    };
    let mut connection = match Connection::open(url, tls, timeout).await {
        Ok(connection) => connection,
        Err(e) => return Reply::Failed(common::error::one_line(&e.to_string())),
    };
    let response = match connection.post(url, mechanism, &body, None, timeout).await {
        Ok(response) => response,
        Err(e @ TransportError::Refused { .. }) if !mechanism.ticket() => return Reply::Refused(e),
        Err(e) => {
            let hint = match &e {
                TransportError::Kerberos { hint, .. } if !hint.is_empty() => format!("; {hint}"),
                _ => String::new(),
            };
            return Reply::Failed(format!("{}{hint}", common::error::one_line(&e.to_string())));
        }
    };
    if response.status.is_redirection() {
        return match location(&response.headers) {
            Some(to) => Reply::Moved(to),
            None => Reply::NotHere(format!("HTTP {} without a Location", response.status)),
        };
    }
    let read = if soap {
        answer::read_soap(&response.body)
    } else {
        answer::read_pox(&response.body)
    };
    match read {
        Ok(answer) => Reply::Answer(answer),
        Err(_) if !response.status.is_success() => {
            Reply::NotHere(format!("HTTP {}", response.status.as_u16()))
        }
        Err(e) => Reply::NotHere(e.to_string()),
    }
}

fn location(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The HTTP redirect method: `GET http://HOST/autodiscover/autodiscover.xml` without any
/// credentials; `Ok(Some(location))` for a redirect, `Ok(None)` for any other answer.
pub async fn redirect_location(host: &str, timeout: Duration) -> Result<Option<String>, String> {
    let address = format!("{host}:80");
    let tcp = common::net::connect_tcp(host, 80, &[], timeout)
        .await
        .map_err(|e| common::error::one_line(&e.to_string()))?;
    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = Request::builder()
            .method(Method::GET)
            .uri("/autodiscover/autodiscover.xml")
            .header(header::HOST, host)
            .header(
                header::USER_AGENT,
                concat!("ews-tool/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let moved = location(response.headers());
        // Read (a bounded amount of) the body so the server sees a complete exchange.
        let _ = Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await;
        Ok::<_, String>((status, moved))
    };
    let (status, moved) = common::net::within(&address, timeout, exchange)
        .await
        .map_err(|e| e.to_string())??;
    Ok(match (status, moved) {
        (
            StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT,
            Some(to),
        ) => Some(to),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_names_the_form() {
        let soap: Endpoint = "https://corp.example/autodiscover/autodiscover.svc"
            .parse()
            .unwrap();
        let pox: Endpoint = "https://corp.example/Autodiscover/Autodiscover.xml"
            .parse()
            .unwrap();
        assert!(is_soap(&soap));
        assert!(!is_soap(&pox));
    }
}
