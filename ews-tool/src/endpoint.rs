//! The EWS endpoint: an `https://` URL, parsed once (with `http::Uri`) when the command line
//! is read, so a URL that cannot work is refused before anything is sent.

use std::fmt;
use std::str::FromStr;

use http::Uri;

/// Where EWS answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path and query (`/EWS/Exchange.asmx`).
    pub path: String,
}

/// Why a URL is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{url}\" is not a usable EWS URL: {reason}")]
pub struct UrlError {
    url: String,
    reason: &'static str,
}

impl FromStr for Endpoint {
    type Err = UrlError;

    /// `https://HOST[:PORT][/PATH]`; plain `http://` is refused: credentials and mailbox data
    /// would cross the network in clear. Without a path, Exchange's `/EWS/Exchange.asmx`.
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let err = |reason| UrlError {
            url: url.to_owned(),
            reason,
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| err("use https://HOST/EWS/Exchange.asmx"))?;
        match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => {}
            Some(s) if s.eq_ignore_ascii_case("http") => {
                return Err(err("plain http is refused; use https://"));
            }
            _ => return Err(err("use https://HOST/EWS/Exchange.asmx")),
        }
        let authority = uri.authority().ok_or_else(|| err("no host"))?;
        if authority.as_str().contains('@') {
            return Err(err("credentials do not belong in the URL"));
        }
        // `http::Uri` keeps a port that is not a number; a colon after the host must be one.
        let after_host = authority
            .as_str()
            .rsplit_once(']')
            .map_or(authority.as_str(), |(_, rest)| rest);
        if after_host.contains(':') && authority.port_u16().is_none() {
            return Err(err("the port is not a number"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(err("no host"));
        }
        let path = match uri.path_and_query().map(http::uri::PathAndQuery::as_str) {
            None | Some("" | "/") => "/EWS/Exchange.asmx",
            Some(path) => path,
        };
        Ok(Self {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(443),
            path: path.to_owned(),
        })
    }
}

impl Endpoint {
    /// `HOST[:PORT]` as the `Host` header carries it.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// `https://host[:port]/path`, for messages.
    pub fn url(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}{}", self.authority(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e: Endpoint = "https://mail.corp.example/EWS/Exchange.asmx"
            .parse()
            .unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("mail.corp.example", 443, "/EWS/Exchange.asmx")
        );
        assert_eq!(e.url(), "https://mail.corp.example/EWS/Exchange.asmx");
        let e: Endpoint = "https://127.0.0.1:8443".parse().unwrap();
        assert_eq!((e.port, e.path.as_str()), (8443, "/EWS/Exchange.asmx"));
        let v6: Endpoint = "https://[::1]:8443/x".parse().unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.authority()),
            ("::1", "[::1]:8443".into())
        );
        for bad in [
            "http://mail/EWS/Exchange.asmx",
            "mail.corp.example",
            "ftp://x",
            "https://user:pw@mail/",
            "https://:443/",
            "https://mail:notaport/",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }
}
