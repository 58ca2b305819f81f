//! The token endpoint (`POST /{tenant}/oauth2/v2.0/token`) for client credentials, refusing as
//! the identity platform refuses: an unknown tenant (AADSTS90002) or app (AADSTS700016), a
//! wrong secret (AADSTS7000215), an assertion whose thumbprint names no registered certificate
//! or whose signature does not verify (AADSTS700027), one outside its lifetime (AADSTS700024),
//! for another audience (AADSTS700021 here); and an administrator's own sign-in through the
//! device code flow (pending until the code is entered, declined, expired) with refresh tokens.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::tenant::{App, CLIENT_ID, DOMAINS, TENANT_ID};

/// A refusal: the HTTP status and the OAuth error body.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// 400 or 401.
    pub status: u16,
    /// The body.
    pub body: Value,
}

fn refuse(status: u16, error: &str, aadsts: u64, text: &str) -> Refusal {
    Refusal {
        status,
        body: json!({
            "error": error,
            "error_description": format!("AADSTS{aadsts}: {text} Trace ID: {} Correlation ID: {} Timestamp: 2026-12-03 10:00:00Z", super::guid(), super::guid()),
            "error_codes": [aadsts],
            "timestamp": "2026-12-03 10:00:00Z",
            "trace_id": super::guid(),
            "correlation_id": super::guid(),
        }),
    }
}

/// Decodes an `application/x-www-form-urlencoded` body.
pub fn form(body: &[u8]) -> HashMap<String, String> {
    let decode = |text: &str| {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// The tenant a sign-in names (its ID or one of its domains), or the platform's refusal.
fn known_tenant(tenant: &str) -> Result<(), Refusal> {
    if tenant.eq_ignore_ascii_case(TENANT_ID)
        || DOMAINS.iter().any(|d| d.eq_ignore_ascii_case(tenant))
    {
        return Ok(());
    }
    Err(refuse(
        400,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    ))
}

/// Checks a token request for `tenant` (the path's segment) made to `audience` (the
/// endpoint's URL as the client addressed it).
pub fn check<S: std::hash::BuildHasher>(
    form: &HashMap<String, String, S>,
    tenant: &str,
    audience: &str,
    app: &App,
) -> Result<(), Refusal> {
    known_tenant(tenant)?;
    let get = |name: &str| form.get(name).map_or("", String::as_str);
    if get("grant_type") != "client_credentials" {
        return Err(refuse(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ));
    }
    if !get("scope").ends_with("/.default") {
        return Err(refuse(
            400,
            "invalid_scope",
            1_002_012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        ));
    }
    if get("client_id") != CLIENT_ID {
        return Err(refuse(
            400,
            "unauthorized_client",
            700_016,
            &format!(
                "Application with identifier '{}' was not found in the directory 'Lab'.",
                get("client_id")
            ),
        ));
    }
    if let Some(secret) = form.get("client_secret") {
        if app.secret.is_empty() || *secret != app.secret {
            return Err(refuse(
                401,
                "invalid_client",
                7_000_215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '9b2f6c1d-51a4-4b6e-8f0d-3c7e2a9d1b44'.",
            ));
        }
        return Ok(());
    }
    if get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return Err(refuse(
            401,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    check_assertion(get("client_assertion"), audience, app)
}

/// The device code grant's `grant_type`.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A device code handed out: the code to enter, and what became of it.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    /// The code the administrator enters (`ABCD-EFGH`).
    pub user_code: String,
    /// `pending`, `approved`, `declined` or `used`.
    pub status: &'static str,
    /// Until when it may be entered.
    pub expires: std::time::Instant,
}

impl DeviceGrant {
    /// A new pending grant.
    pub fn new(expires: std::time::Instant) -> Self {
        let letters: String = super::guid()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect::<String>()
            .to_ascii_uppercase();
        Self {
            user_code: format!("{}-{}", &letters[..4], &letters[4..]),
            status: "pending",
            expires,
        }
    }
}

/// Checks a public client's request (device code, refresh token): the tenant and the app.
pub fn check_public<S: std::hash::BuildHasher>(
    form: &HashMap<String, String, S>,
    tenant: &str,
) -> Result<(), Refusal> {
    known_tenant(tenant)?;
    let client_id = form.get("client_id").map_or("", String::as_str);
    if client_id != CLIENT_ID {
        return Err(refuse(
            400,
            "unauthorized_client",
            700_016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory 'Lab'."
            ),
        ));
    }
    Ok(())
}

/// A device code or refresh token redeemed: the new refresh token, or the platform's refusal
/// (`authorization_pending` until the code is entered, `authorization_declined`,
/// `expired_token`, `invalid_grant`).
pub fn check_delegated<S: std::hash::BuildHasher, T: std::hash::BuildHasher>(
    form: &HashMap<String, String, S>,
    device_codes: &mut HashMap<String, DeviceGrant, T>,
    refresh_tokens: &mut std::collections::HashSet<String, T>,
    refresh_grants: &mut u64,
) -> Result<Option<String>, Refusal> {
    let get = |name: &str| form.get(name).map_or("", String::as_str);
    if get("grant_type") == "refresh_token" {
        if !refresh_tokens.remove(get("refresh_token")) {
            return Err(refuse(
                400,
                "invalid_grant",
                700_082,
                "The refresh token has expired or is invalid.",
            ));
        }
        *refresh_grants += 1;
    } else {
        let Some(grant) = device_codes.get_mut(get("device_code")) else {
            return Err(refuse(
                400,
                "invalid_grant",
                70000,
                "The provided value for the input parameter 'device_code' is not valid.",
            ));
        };
        if std::time::Instant::now() > grant.expires {
            return Err(refuse(
                400,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            ));
        }
        match grant.status {
            "pending" => {
                return Err(refuse(
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ));
            }
            "declined" => {
                return Err(refuse(
                    400,
                    "authorization_declined",
                    70000,
                    "The user declined to authorize the application.",
                ));
            }
            "used" => {
                return Err(refuse(
                    400,
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed.",
                ));
            }
            _ => grant.status = "used",
        }
    }
    let refresh = format!("rt.{}", super::guid());
    refresh_tokens.insert(refresh.clone());
    Ok(Some(refresh))
}

fn check_assertion(assertion: &str, audience: &str, app: &App) -> Result<(), Refusal> {
    let invalid = |reason: &str| {
        refuse(
            401,
            "invalid_client",
            700_027,
            &format!("Client assertion failed signature validation. [Reason - {reason}]"),
        )
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| invalid("The assertion is not a JWT."))?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid("The algorithm is not RS256."));
    }
    if app.x5t.is_empty() || header.x5t.as_deref() != Some(app.x5t.as_str()) {
        return Err(invalid("The key was not found."));
    }
    let key = DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes())
        .map_err(|_| invalid("The registered key is unreadable."))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.sub = Some(CLIENT_ID.to_owned());
    validation.validate_nbf = true;
    validation.leeway = 300;
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
        Ok(_) => Ok(()),
        Err(e) => Err(match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature
            | jsonwebtoken::errors::ErrorKind::ImmatureSignature => refuse(
                401,
                "invalid_client",
                700_024,
                "Client assertion is not within its valid time range.",
            ),
            jsonwebtoken::errors::ErrorKind::InvalidAudience => refuse(
                401,
                "invalid_client",
                700_021,
                &format!(
                    "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com. Expected {audience}."
                ),
            ),
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                invalid("The signature does not verify against the registered key.")
            }
            other => invalid(&format!("{other:?}")),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded() {
        let form = form(b"grant_type=client_credentials&scope=https%3A%2F%2Fg%2F.default&x=a+b%21");
        assert_eq!(form["scope"], "https://g/.default");
        assert_eq!(form["x"], "a b!");
    }
}
