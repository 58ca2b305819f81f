//! Autodiscover as Exchange serves it, behind the same logon as EWS: the POX form
//! (`/autodiscover/autodiscover.xml`, Outlook's) and the SOAP form
//! (`/autodiscover/autodiscover.svc`, `GetUserSettings`), each answering with the EWS URLs of a
//! mailbox, a redirect, or the error Exchange gives for an address without a mailbox; and the
//! plain-HTTP site of the redirect method, which answers a GET with a 302 and nothing else.

use std::collections::HashMap;
use std::fmt::Write as _;

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::super::soap::{self, escape};
use super::{Body, Simulator, respond};
use common::sync::lock;

/// How Autodiscover answers (part of the settings tests may change).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AutodiscoverSettings {
    /// `InternalEwsUrl` (the `EXCH` protocol's `EwsUrl`).
    pub internal_url: Option<String>,
    /// `ExternalEwsUrl` (the `EXPR` protocol's `EwsUrl`).
    pub external_url: Option<String>,
    /// Host names (of the `Host` header) that serve Autodiscover; any other gets the 404 of a
    /// web site that is not Exchange. Empty: every name.
    pub hosts: Vec<String>,
    /// Serve the POX form.
    pub pox: bool,
    /// Serve the SOAP form.
    pub soap: bool,
    /// Addresses (lower case) answered with a redirect to another address.
    pub redirect_addresses: HashMap<String, String>,
    /// Host names (lower case) whose requests are answered with a redirect to another
    /// Autodiscover URL.
    pub redirect_urls: HashMap<String, String>,
    /// Where the plain-HTTP site redirects (`Location`); `None`: it answers 404.
    pub http_redirect: Option<String>,
}

impl Default for AutodiscoverSettings {
    fn default() -> Self {
        Self {
            internal_url: Some(format!(
                "https://{}/EWS/Exchange.asmx",
                crate::kerberos::WEB_HOST
            )),
            external_url: None,
            hosts: Vec::new(),
            pox: true,
            soap: true,
            redirect_addresses: HashMap::new(),
            redirect_urls: HashMap::new(),
            http_redirect: None,
        }
    }
}

/// Which form a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `/autodiscover/autodiscover.xml`.
    Pox,
    /// `/autodiscover/autodiscover.svc`.
    Soap,
}

impl Form {
    /// The form of an Autodiscover path, if it is one.
    pub fn of_path(path: &str) -> Option<Self> {
        let path = path.to_ascii_lowercase();
        match path.as_str() {
            "/autodiscover/autodiscover.xml" => Some(Form::Pox),
            "/autodiscover/autodiscover.svc" => Some(Form::Soap),
            _ => None,
        }
    }
}

const NOT_FOUND: &str = "404 - File or directory not found.";

/// What the answer comes to, before it is written in a form.
enum Outcome {
    Settings {
        internal: Option<String>,
        external: Option<String>,
    },
    RedirectAddress(String),
    RedirectUrl(String),
    NoMailbox(String),
}

impl Simulator {
    /// Whether `headers` name a host that serves Autodiscover in `form`.
    pub(super) fn serves_autodiscover(&self, headers: &HeaderMap, form: Form) -> bool {
        let settings = lock(&self.state).settings.autodiscover.clone();
        let host = host(headers);
        let served = match form {
            Form::Pox => settings.pox,
            Form::Soap => settings.soap,
        };
        served
            && (settings.hosts.is_empty()
                || settings.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)))
    }

    /// The 404 of a site without Autodiscover.
    pub(super) fn not_found() -> http::Response<Body> {
        respond(StatusCode::NOT_FOUND, "text/html", NOT_FOUND)
    }

    /// Answers an Autodiscover request (already logged on).
    pub(super) fn autodiscover(
        &self,
        form: Form,
        headers: &HeaderMap,
        body: &[u8],
    ) -> http::Response<Body> {
        lock(&self.state).stats.autodiscover_requests += 1;
        let Ok(document) = soap::parse_document(body) else {
            return respond(StatusCode::BAD_REQUEST, "text/html", "400 - Bad Request");
        };
        let address = match form {
            Form::Pox => document.path(&["Autodiscover", "Request", "EMailAddress"]),
            Form::Soap => document.path(&[
                "Envelope",
                "Body",
                "GetUserSettingsRequestMessage",
                "Request",
                "Users",
                "User",
                "Mailbox",
            ]),
        }
        .map(|e| e.text.trim().to_owned());
        let Some(address) = address.filter(|a| !a.is_empty()) else {
            return respond(StatusCode::BAD_REQUEST, "text/html", "400 - Bad Request");
        };
        let settings = lock(&self.state).settings.autodiscover.clone();
        let outcome = if let Some(url) = settings.redirect_urls.get(&host(headers)) {
            Outcome::RedirectUrl(url.clone())
        } else if let Some(to) = settings
            .redirect_addresses
            .get(&address.to_ascii_lowercase())
        {
            Outcome::RedirectAddress(to.clone())
        } else if self
            .directory
            .by_mail(&address)
            .is_some_and(|p| p.has_mailbox())
        {
            Outcome::Settings {
                internal: settings.internal_url,
                external: settings.external_url,
            }
        } else {
            Outcome::NoMailbox(address)
        };
        let xml = match form {
            Form::Pox => pox(&outcome),
            Form::Soap => soap_answer(&outcome),
        };
        respond(StatusCode::OK, "text/xml; charset=utf-8", xml)
    }

    /// The plain-HTTP site: a redirect for the Autodiscover path when one is set.
    pub(super) fn http_site(&self, path: &str) -> http::Response<Body> {
        let location = lock(&self.state)
            .settings
            .autodiscover
            .http_redirect
            .clone();
        match (Form::of_path(path), location) {
            (Some(Form::Pox), Some(location)) => {
                lock(&self.state).stats.http_redirects += 1;
                let mut response = respond(StatusCode::FOUND, "text/html", "Object moved");
                if let Ok(value) = location.parse() {
                    response.headers_mut().insert(http::header::LOCATION, value);
                }
                response
            }
            _ => Self::not_found(),
        }
    }
}

/// The host a request names (its `Host` header without the port), lower case.
fn host(headers: &HeaderMap) -> String {
    headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
        .unwrap_or_default()
        .to_ascii_lowercase()
}

const POX_OPEN: &str = r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">"#;

fn pox(outcome: &Outcome) -> String {
    let mut xml = String::from(POX_OPEN);
    match outcome {
        Outcome::NoMailbox(_) => xml.push_str(r#"<Response><Error Time="10:00:00.0000000" Id="2477921372"><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message><DebugData /></Error></Response>"#),
        other => {
            xml.push_str(r#"<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account><AccountType>email</AccountType>"#);
            match other {
                Outcome::RedirectAddress(to) => {
                    let _ = write!(xml, "<Action>redirectAddr</Action><RedirectAddr>{}</RedirectAddr>", escape(to));
                }
                Outcome::RedirectUrl(to) => {
                    let _ = write!(xml, "<Action>redirectUrl</Action><RedirectUrl>{}</RedirectUrl>", escape(to));
                }
                Outcome::Settings { internal, external } => {
                    xml.push_str("<Action>settings</Action>");
                    for (kind, url) in [("EXCH", internal), ("EXPR", external)] {
                        if let Some(url) = url {
                            let _ = write!(xml, "<Protocol><Type>{kind}</Type><Server>{}</Server><EwsUrl>{}</EwsUrl></Protocol>", crate::kerberos::WEB_HOST, escape(url));
                        }
                    }
                }
                Outcome::NoMailbox(_) => {}
            }
            xml.push_str("</Account></Response>");
        }
    }
    xml.push_str("</Autodiscover>");
    xml
}

fn soap_answer(outcome: &Outcome) -> String {
    let user = match outcome {
        Outcome::Settings { internal, external } => {
            let mut settings = String::new();
            for (name, url) in [("InternalEwsUrl", internal), ("ExternalEwsUrl", external)] {
                if let Some(url) = url {
                    let _ = write!(
                        settings,
                        r#"<UserSetting i:type="StringSetting"><Name>{name}</Name><Value>{}</Value></UserSetting>"#,
                        escape(url)
                    );
                }
            }
            format!(
                r#"<ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings>{settings}</UserSettings>"#
            )
        }
        Outcome::RedirectAddress(to) => format!(
            "<ErrorCode>RedirectAddress</ErrorCode><ErrorMessage>Redirection address.</ErrorMessage><RedirectTarget>{}</RedirectTarget><UserSettingErrors/><UserSettings/>",
            escape(to)
        ),
        Outcome::RedirectUrl(to) => format!(
            "<ErrorCode>RedirectUrl</ErrorCode><ErrorMessage>Redirection URL.</ErrorMessage><RedirectTarget>{}</RedirectTarget><UserSettingErrors/><UserSettings/>",
            escape(to)
        ),
        Outcome::NoMailbox(address) => format!(
            "<ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user: '{}'</ErrorMessage><RedirectTarget i:nil=\"true\"/><UserSettingErrors/><UserSettings/>",
            escape(address)
        ),
    };
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse</a:Action></s:Header><s:Body><GetUserSettingsResponseMessage xmlns="http://schemas.microsoft.com/exchange/2010/Autodiscover"><Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ErrorCode>NoError</ErrorCode><ErrorMessage/><UserResponses><UserResponse>{user}</UserResponse></UserResponses></Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>"#
    )
}
