//! What Graph and the identity platform say when they refuse: the OData error body of Graph
//! (`{"error": {"code", "message"}}`) and the OAuth error of the token endpoint
//! (`{"error", "error_description", "error_codes"}`), turned into the administrator's line:
//! what failed, why, and what to do (for a 403, the permission the app lacks).

use serde_json::Value;

/// Graph's error: its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataError {
    /// `error.code` (`Authorization_RequestDenied`, `Request_ResourceNotFound`).
    pub code: String,
    /// `error.message`, on one line.
    pub message: String,
}

/// Reads Graph's error body; `None` when it is not one.
pub fn read_error(body: &[u8]) -> Option<ODataError> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    Some(ODataError {
        code: error.get("code")?.as_str()?.to_owned(),
        message: common::error::one_line(
            error.get("message").and_then(Value::as_str).unwrap_or(""),
        ),
    })
}

/// The token endpoint's refusal: the AADSTS number and its description's first sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInError {
    /// The first of `error_codes` (7000215 for a wrong secret), if given.
    pub aadsts: Option<u64>,
    /// `error` (`invalid_client`).
    pub error: String,
    /// The description's first line, without its trace and correlation ids.
    pub description: String,
}

/// Reads the token endpoint's error body.
pub fn read_sign_in_error(body: &[u8]) -> Option<SignInError> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let description = value
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let first = description
        .split(['\r', '\n'])
        .next()
        .unwrap_or("")
        .split(" Trace ID:")
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    Some(SignInError {
        aadsts: value
            .get("error_codes")
            .and_then(Value::as_array)
            .and_then(|codes| codes.first())
            .and_then(Value::as_u64),
        error: value.get("error")?.as_str()?.to_owned(),
        description: first,
    })
}

/// What to do about a refused sign-in, by its AADSTS number.
pub fn sign_in_hint(aadsts: Option<u64>) -> &'static str {
    match aadsts {
        Some(7_000_215) => {
            "the client secret is wrong: give the secret's value (not its ID), from the app registration's Certificates & secrets"
        }
        Some(7_000_222) => {
            "the client secret has expired: add a new one in the app registration and use it"
        }
        Some(700_027 | 700_023) => {
            "the certificate is not one of the app registration's: upload its public part under Certificates & secrets, or sign in with the one that is"
        }
        Some(700_024) => "the assertion's time is off: check this machine's clock",
        Some(700_016) => {
            "no app with this --client-id in the tenant: check --client-id and --tenant (an app registered elsewhere needs admin consent here)"
        }
        Some(90_002 | 900_023) => {
            "no such tenant: check --tenant (its ID, or a domain such as contoso.onmicrosoft.com)"
        }
        Some(7_000_112) => "the app is disabled in the tenant: enable its enterprise application",
        _ => "check --tenant, --client-id and the credential against the app registration",
    }
}

/// The line for a 403: the permission the app lacks (an application permission with admin
/// consent; signed in with a device code, the delegated permission and an admin role).
pub fn denied_hint(permission: &str, delegated: bool) -> String {
    if delegated {
        format!(
            "signed in as yourself, you need the delegated Microsoft Graph permission {permission} consented for the app, and an admin role that allows it (or the mailbox's own permission)"
        )
    } else {
        format!(
            "the app lacks the Microsoft Graph application permission {permission}: add it to the app registration's API permissions and grant admin consent"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_are_read() {
        let body = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2026-12-03T10:00:00","request-id":"x"}}}"#;
        assert_eq!(
            read_error(body).unwrap(),
            ODataError {
                code: "Authorization_RequestDenied".into(),
                message: "Insufficient privileges to complete the operation.".into()
            }
        );
        assert!(read_error(b"<html>").is_none());
        assert!(read_error(br#"{"value":[]}"#).is_none());
    }

    #[test]
    fn sign_in_errors_keep_their_number_and_lose_their_trace() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'x'. Trace ID: 1 Correlation ID: 2 Timestamp: 2026-12-03 10:00:00Z","error_codes":[7000215]}"#;
        let error = read_sign_in_error(body).unwrap();
        assert_eq!(error.aadsts, Some(7_000_215));
        assert_eq!(error.error, "invalid_client");
        assert!(
            error
                .description
                .starts_with("AADSTS7000215: Invalid client secret provided.")
        );
        assert!(!error.description.contains("Trace ID"));
        assert!(sign_in_hint(error.aadsts).contains("secret's value"));
    }
}
