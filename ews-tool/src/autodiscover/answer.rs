//! Autodiscover's two forms, asked and read: the POX request of Outlook
//! (`/autodiscover/autodiscover.xml`, MS-OXDSCLI) and the SOAP `GetUserSettings` of EWS clients
//! (`/autodiscover/autodiscover.svc`, MS-OXWSADISC). Both answers come down to one [`Answer`]:
//! the EWS URLs, a redirect to another address or URL, or the server's error. Namespace
//! prefixes, a byte-order mark and elements this tool does not need are accepted.

use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::request::escape;

/// The response schema a POX request asks for.
pub const POX_RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// The SOAP action of `GetUserSettings`.
pub const GET_USER_SETTINGS_ACTION: &str =
    "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings";

/// What an Autodiscover server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The EWS URLs: inside the organisation (`EXCH`, `InternalEwsUrl`) and from outside
    /// (`EXPR`, `ExternalEwsUrl`).
    Settings {
        /// `InternalEwsUrl`, or the `EwsUrl` of the `EXCH` protocol.
        internal: Option<String>,
        /// `ExternalEwsUrl`, or the `EwsUrl` of the `EXPR` protocol.
        external: Option<String>,
    },
    /// Ask again for this address (`redirectAddr`, `RedirectAddress`).
    RedirectAddress(String),
    /// Ask this Autodiscover URL instead (`redirectUrl`, `RedirectUrl`).
    RedirectUrl(String),
    /// The server's error: its code and message.
    Error {
        /// `ErrorCode` (`500`, `InvalidUser`).
        code: String,
        /// `Message` or `ErrorMessage`.
        message: String,
    },
}

impl Answer {
    /// The URL to use from a domain-joined host: the internal one, else the external one.
    pub fn ews_url(&self) -> Option<&str> {
        match self {
            Answer::Settings { internal, external } => internal.as_deref().or(external.as_deref()),
            _ => None,
        }
    }
}

/// The POX request for `address`.
pub fn pox_request(address: &str) -> String {
    let mut xml = String::with_capacity(400);
    xml.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    xml.push_str(r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request>"#);
    let _ = write!(
        xml,
        "<EMailAddress>{}</EMailAddress><AcceptableResponseSchema>{POX_RESPONSE_SCHEMA}</AcceptableResponseSchema>",
        escape(address)
    );
    xml.push_str("</Request></Autodiscover>");
    xml
}

/// The SOAP `GetUserSettings` request for `address`, sent to `url`, asking for both EWS URLs.
pub fn soap_request(address: &str, url: &str) -> String {
    let mut xml = String::with_capacity(1200);
    xml.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    xml.push_str(r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover" xmlns:wsa="http://www.w3.org/2005/08/addressing">"#);
    let _ = write!(
        xml,
        "<soap:Header><a:RequestedServerVersion>Exchange2010</a:RequestedServerVersion><wsa:Action>{GET_USER_SETTINGS_ACTION}</wsa:Action><wsa:To>{}</wsa:To></soap:Header>",
        escape(url)
    );
    let _ = write!(
        xml,
        "<soap:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User><a:Mailbox>{}</a:Mailbox></a:User></a:Users>",
        escape(address)
    );
    xml.push_str("<a:RequestedSettings><a:Setting>InternalEwsUrl</a:Setting><a:Setting>ExternalEwsUrl</a:Setting></a:RequestedSettings>");
    xml.push_str("</a:Request></a:GetUserSettingsRequestMessage></soap:Body></soap:Envelope>");
    xml
}

/// Why an answer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the answer is not Autodiscover XML ({0})")]
pub struct AnswerError(String);

/// One element's text, with the local names of the elements around it.
#[derive(Debug)]
struct Text {
    path: Vec<String>,
    value: String,
    /// Which occurrence of the innermost repeated group (`Protocol`, `UserSetting`) it is in.
    group: usize,
}

/// Reads `body` into its texts; `group` names the element whose occurrences are counted, and
/// its `Type` attribute (MAPI/HTTP's `<Protocol Type="mapiHttp">`) is kept as a `Type` text.
fn texts(body: &[u8], group: &str) -> Result<Vec<Text>, AnswerError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut found = Vec::new();
    let mut groups = 0;
    let mut pending = String::new();
    let mut flush = |path: &[String], pending: &mut String, groups: usize| {
        let text = pending.trim();
        if !text.is_empty() {
            found.push(Text {
                path: path.to_vec(),
                value: text.to_owned(),
                group: groups,
            });
        }
        pending.clear();
    };
    let mut types = Vec::new();
    let mut buf = Vec::new();
    let mut elements = 0;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| AnswerError(e.to_string()))?;
        match event {
            Event::Start(start) => {
                flush(&path, &mut pending, groups);
                elements += 1;
                let name = start.local_name().as_ref().to_owned();
                if name == group {
                    groups += 1;
                    // MAPI/HTTP's `<Protocol Type="mapiHttp">` names its type in an attribute.
                    if let Some(kind) = start
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == "Type")
                    {
                        let mut inner = path.clone();
                        inner.extend([name.clone(), "Type".to_owned()]);
                        types.push(Text {
                            path: inner,
                            value: kind.value.to_string(),
                            group: groups,
                        });
                    }
                }
                path.push(name);
            }
            Event::Empty(_) => {
                flush(&path, &mut pending, groups);
                elements += 1;
            }
            Event::End(_) => {
                flush(&path, &mut pending, groups);
                path.pop();
            }
            Event::Text(text) => pending.push_str(&text.xml10_content()),
            Event::CData(data) => pending.push_str(&data.into_inner()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => pending.push(c),
                _ => match &*r.xml10_content() {
                    "amp" => pending.push('&'),
                    "lt" => pending.push('<'),
                    "gt" => pending.push('>'),
                    "quot" => pending.push('"'),
                    "apos" => pending.push('\''),
                    other => return Err(AnswerError(format!("unknown entity &{other};"))),
                },
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if elements == 0 {
        return Err(AnswerError("no XML elements".into()));
    }
    if !path.is_empty() {
        return Err(AnswerError("the XML ends early".into()));
    }
    found.extend(types);
    Ok(found)
}

fn ends_with(text: &Text, suffix: &[&str]) -> bool {
    text.path.len() >= suffix.len()
        && text.path[text.path.len() - suffix.len()..]
            .iter()
            .zip(suffix)
            .all(|(a, b)| a == b)
}

fn first<'a>(texts: &'a [Text], suffix: &[&str]) -> Option<&'a str> {
    texts
        .iter()
        .find(|t| ends_with(t, suffix) && !t.value.is_empty())
        .map(|t| t.value.as_str())
}

/// The `wanted` text of the repeated `group` element whose `key` text is `value`
/// (`<Protocol><Type>EXCH</Type>…<EwsUrl>` or `<UserSetting><Name>…</Name><Value>`).
fn in_group(
    texts: &[Text],
    (group, key, value): (&str, &str, &str),
    wanted: &str,
) -> Option<String> {
    let number = texts
        .iter()
        .find(|t| ends_with(t, &[group, key]) && t.value == value)?
        .group;
    texts
        .iter()
        .find(|t| t.group == number && ends_with(t, &[group, wanted]))
        .map(|t| t.value.clone())
}

/// Reads a POX answer.
pub fn read_pox(body: &[u8]) -> Result<Answer, AnswerError> {
    let texts = texts(body, "Protocol")?;
    if !texts
        .iter()
        .any(|t| t.path.first().is_some_and(|r| r == "Autodiscover"))
    {
        return Err(AnswerError("no Autodiscover element".into()));
    }
    if let Some(code) = first(&texts, &["Error", "ErrorCode"]) {
        return Ok(Answer::Error {
            code: code.to_owned(),
            message: first(&texts, &["Error", "Message"])
                .unwrap_or_default()
                .to_owned(),
        });
    }
    match first(&texts, &["Account", "Action"]) {
        Some("redirectAddr") => {
            return first(&texts, &["Account", "RedirectAddr"])
                .map(|a| Answer::RedirectAddress(a.to_owned()))
                .ok_or_else(|| AnswerError("redirectAddr without RedirectAddr".into()));
        }
        Some("redirectUrl") => {
            return first(&texts, &["Account", "RedirectUrl"])
                .map(|u| Answer::RedirectUrl(u.to_owned()))
                .ok_or_else(|| AnswerError("redirectUrl without RedirectUrl".into()));
        }
        _ => {}
    }
    let url = |kind| in_group(&texts, ("Protocol", "Type", kind), "EwsUrl");
    Ok(Answer::Settings {
        internal: url("EXCH"),
        external: url("EXPR"),
    })
}

/// Reads a SOAP `GetUserSettings` answer.
pub fn read_soap(body: &[u8]) -> Result<Answer, AnswerError> {
    let texts = texts(body, "UserSetting")?;
    if let Some(fault) = first(&texts, &["Fault", "faultstring"]) {
        return Ok(Answer::Error {
            code: "SOAP fault".into(),
            message: fault.to_owned(),
        });
    }
    if !texts
        .iter()
        .any(|t| t.path.iter().any(|p| p == "GetUserSettingsResponseMessage"))
    {
        return Err(AnswerError("no GetUserSettingsResponseMessage".into()));
    }
    // The whole request's error first, then the user's.
    for scope in [
        &["GetUserSettingsResponseMessage", "Response"][..],
        &["UserResponses", "UserResponse"][..],
    ] {
        let code_path = [scope, &["ErrorCode"]].concat();
        let Some(code) = first(&texts, &code_path) else {
            continue;
        };
        let target = first(&texts, &[scope, &["RedirectTarget"]].concat());
        match (code, target) {
            ("NoError", _) => {}
            ("RedirectAddress", Some(target)) => {
                return Ok(Answer::RedirectAddress(target.to_owned()));
            }
            ("RedirectUrl", Some(target)) => return Ok(Answer::RedirectUrl(target.to_owned())),
            (code, _) => {
                return Ok(Answer::Error {
                    code: code.to_owned(),
                    message: first(&texts, &[scope, &["ErrorMessage"]].concat())
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
        }
    }
    let setting = |name| in_group(&texts, ("UserSetting", "Name", name), "Value");
    Ok(Answer::Settings {
        internal: setting("InternalEwsUrl"),
        external: setting("ExternalEwsUrl"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POX_SETTINGS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User><DisplayName>Anna</DisplayName></User>
    <Account>
      <AccountType>email</AccountType><Action>settings</Action>
      <Protocol Type="mapiHttp" Version="1"><Internal><OWAUrl>https://x/owa</OWAUrl></Internal></Protocol>
      <Protocol><Type>EXCH</Type><Server>guid@corp.example</Server><EwsUrl>https://mail.corp.example/EWS/Exchange.asmx</EwsUrl></Protocol>
      <Protocol><Type>EXPR</Type><Server>mail.corp.example</Server><EwsUrl>https://webmail.corp.example/EWS/Exchange.asmx</EwsUrl></Protocol>
    </Account>
  </Response>
</Autodiscover>"#;

    #[test]
    fn pox_settings_give_both_urls_and_internal_first() {
        let answer = read_pox(POX_SETTINGS.as_bytes()).unwrap();
        assert_eq!(
            answer,
            Answer::Settings {
                internal: Some("https://mail.corp.example/EWS/Exchange.asmx".into()),
                external: Some("https://webmail.corp.example/EWS/Exchange.asmx".into()),
            }
        );
        assert_eq!(
            answer.ews_url(),
            Some("https://mail.corp.example/EWS/Exchange.asmx")
        );
        let external_only = POX_SETTINGS.replace(
            "<EwsUrl>https://mail.corp.example/EWS/Exchange.asmx</EwsUrl>",
            "",
        );
        assert_eq!(
            read_pox(external_only.as_bytes()).unwrap().ews_url(),
            Some("https://webmail.corp.example/EWS/Exchange.asmx")
        );
    }

    #[test]
    fn pox_redirects_and_errors() {
        let account = |inner: &str| {
            format!(
                r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="{POX_RESPONSE_SCHEMA}"><Account><AccountType>email</AccountType>{inner}</Account></Response></Autodiscover>"#
            )
        };
        assert_eq!(
            read_pox(
                account(
                    "<Action>redirectAddr</Action><RedirectAddr>anna@corp.example</RedirectAddr>"
                )
                .as_bytes()
            )
            .unwrap(),
            Answer::RedirectAddress("anna@corp.example".into())
        );
        assert_eq!(
            read_pox(account("<Action>redirectUrl</Action><RedirectUrl>https://ad.corp.example/autodiscover/autodiscover.xml</RedirectUrl>").as_bytes()).unwrap(),
            Answer::RedirectUrl("https://ad.corp.example/autodiscover/autodiscover.xml".into())
        );
        assert!(read_pox(account("<Action>redirectAddr</Action>").as_bytes()).is_err());
        let error = r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response><Error Time="10:00:00" Id="1"><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message><DebugData /></Error></Response></Autodiscover>"#;
        assert_eq!(
            read_pox(error.as_bytes()).unwrap(),
            Answer::Error {
                code: "500".into(),
                message: "The email address can't be found.".into()
            }
        );
        for bad in ["", "<html>404</html>", "<Autodiscover><Response>"] {
            assert!(read_pox(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    fn soap_answer(user_response: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse</a:Action></s:Header><s:Body><GetUserSettingsResponseMessage xmlns="http://schemas.microsoft.com/exchange/2010/Autodiscover"><Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ErrorCode>NoError</ErrorCode><ErrorMessage/><UserResponses><UserResponse>{user_response}</UserResponse></UserResponses></Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>"#
        )
    }

    #[test]
    fn soap_settings_redirects_and_errors() {
        let settings = soap_answer(
            r#"<ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings><UserSetting i:type="StringSetting"><Name>ExternalEwsUrl</Name><Value>https://webmail.corp.example/EWS/Exchange.asmx</Value></UserSetting><UserSetting i:type="StringSetting"><Name>InternalEwsUrl</Name><Value>https://mail.corp.example/EWS/Exchange.asmx</Value></UserSetting></UserSettings>"#,
        );
        assert_eq!(
            read_soap(settings.as_bytes()).unwrap(),
            Answer::Settings {
                internal: Some("https://mail.corp.example/EWS/Exchange.asmx".into()),
                external: Some("https://webmail.corp.example/EWS/Exchange.asmx".into()),
            }
        );
        let redirect = soap_answer(
            "<ErrorCode>RedirectAddress</ErrorCode><ErrorMessage>Redirection address.</ErrorMessage><RedirectTarget>anna@corp.example</RedirectTarget>",
        );
        assert_eq!(
            read_soap(redirect.as_bytes()).unwrap(),
            Answer::RedirectAddress("anna@corp.example".into())
        );
        let invalid = soap_answer(
            "<ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user: 'x@corp.example'</ErrorMessage>",
        );
        assert_eq!(
            read_soap(invalid.as_bytes()).unwrap(),
            Answer::Error {
                code: "InvalidUser".into(),
                message: "Invalid user: 'x@corp.example'".into()
            }
        );
        assert!(read_soap(POX_SETTINGS.as_bytes()).is_err());
    }

    #[test]
    fn requests_carry_the_address_escaped() {
        let pox = pox_request("o'neil@corp.example");
        assert!(pox.contains("<EMailAddress>o&apos;neil@corp.example</EMailAddress>"));
        assert!(pox.contains(POX_RESPONSE_SCHEMA));
        let soap = soap_request(
            "anna@corp.example",
            "https://corp.example/autodiscover/autodiscover.svc",
        );
        assert!(soap.contains("<a:Mailbox>anna@corp.example</a:Mailbox>"));
        assert!(soap.contains("<a:Setting>InternalEwsUrl</a:Setting>"));
    }
}
