//! The cloud service account, decided without talking to Graph: the `user` a creation sends
//! (enabled, password never expires, no change at first sign-in, a usage location so it can be
//! licensed) and, for an account that exists, the properties that differ from what was asked.

use common::secret::Secret;
use serde_json::{Map, Value, json};

/// `passwordPolicies` value that makes the password never expire.
pub const NEVER_EXPIRES: &str = "DisablePasswordExpiration";

/// The properties read back to converge an account.
pub const SELECT: &str =
    "id,userPrincipalName,displayName,mailNickname,accountEnabled,usageLocation,passwordPolicies";

/// The account asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// `userPrincipalName`.
    pub upn: String,
    /// `displayName`.
    pub display_name: String,
    /// `mailNickname`.
    pub mail_nickname: String,
    /// `usageLocation` (ISO 3166 alpha-2), needed before a licence can be assigned.
    pub usage_location: Option<String>,
}

/// Why an option cannot make an account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Not `name@domain`.
    #[error(
        "\"{0}\" is not a user principal name: use name@domain (svc-mytt@contoso.onmicrosoft.com)"
    )]
    Upn(String),
    /// Not two letters.
    #[error("\"{0}\" is not a usage location: use a two-letter country code (NL, US, DE)")]
    UsageLocation(String),
    /// A mail nickname Exchange refuses.
    #[error("\"{0}\" cannot be a mail nickname: use letters, digits and . - _ only, up to 64")]
    MailNickname(String),
}

impl AccountSpec {
    /// Checks the options; the mail nickname defaults to the UPN's name and the display name
    /// to the nickname.
    pub fn new(
        upn: &str,
        display_name: Option<&str>,
        mail_nickname: Option<&str>,
        usage_location: Option<&str>,
    ) -> Result<Self, SpecError> {
        let upn = upn.trim();
        let Some((name, domain)) = upn.split_once('@') else {
            return Err(SpecError::Upn(upn.to_owned()));
        };
        if name.is_empty() || !domain.contains('.') || domain.contains('@') || upn.contains(' ') {
            return Err(SpecError::Upn(upn.to_owned()));
        }
        let nickname = mail_nickname.unwrap_or(name).to_owned();
        if nickname.is_empty()
            || nickname.len() > 64
            || !nickname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(SpecError::MailNickname(nickname));
        }
        let usage_location = usage_location
            .map(|l| {
                let l = l.trim().to_ascii_uppercase();
                if l.len() == 2 && l.chars().all(|c| c.is_ascii_alphabetic()) {
                    Ok(l)
                } else {
                    Err(SpecError::UsageLocation(l))
                }
            })
            .transpose()?;
        Ok(Self {
            upn: upn.to_owned(),
            display_name: display_name.unwrap_or(&nickname).to_owned(),
            mail_nickname: nickname,
            usage_location,
        })
    }

    /// The body of `POST /users`.
    pub fn create_body(&self, password: &Secret) -> Value {
        let mut body = json!({
            "accountEnabled": true,
            "displayName": self.display_name,
            "mailNickname": self.mail_nickname,
            "userPrincipalName": self.upn,
            "passwordPolicies": NEVER_EXPIRES,
            "passwordProfile": {
                "forceChangePasswordNextSignIn": false,
                "password": password.expose(),
            },
        });
        if let Some(location) = &self.usage_location {
            body["usageLocation"] = json!(location);
        }
        body
    }

    /// The body of `PATCH /users/{id}` that makes `existing` what was asked: only the
    /// properties that differ (an empty object when none do). Other password policies the
    /// account has are kept.
    pub fn changes(&self, existing: &Value) -> Map<String, Value> {
        let mut changes = Map::new();
        let text = |name: &str| existing.get(name).and_then(Value::as_str);
        if existing.get("accountEnabled").and_then(Value::as_bool) != Some(true) {
            changes.insert("accountEnabled".into(), json!(true));
        }
        if text("displayName") != Some(self.display_name.as_str()) {
            changes.insert("displayName".into(), json!(self.display_name));
        }
        if text("mailNickname") != Some(self.mail_nickname.as_str()) {
            changes.insert("mailNickname".into(), json!(self.mail_nickname));
        }
        if let Some(location) = &self.usage_location
            && text("usageLocation") != Some(location.as_str())
        {
            changes.insert("usageLocation".into(), json!(location));
        }
        let policies = text("passwordPolicies").unwrap_or("");
        if !has_never_expires(policies) {
            let merged = policies
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && *p != "None")
                .chain(std::iter::once(NEVER_EXPIRES))
                .collect::<Vec<_>>()
                .join(", ");
            changes.insert("passwordPolicies".into(), json!(merged));
        }
        changes
    }
}

/// Whether a `passwordPolicies` value makes the password never expire.
pub fn has_never_expires(policies: &str) -> bool {
    policies
        .split(',')
        .any(|p| p.trim().eq_ignore_ascii_case(NEVER_EXPIRES))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AccountSpec {
        AccountSpec::new(
            "svc-mytt@contoso.onmicrosoft.com",
            Some("MyTimetable Service"),
            None,
            Some("nl"),
        )
        .unwrap()
    }

    #[test]
    fn the_creation_is_what_the_setup_guide_asks_for() {
        let body = spec().create_body(&Secret::new("Pw-1234567890!".into()));
        assert_eq!(body["accountEnabled"], true);
        assert_eq!(body["mailNickname"], "svc-mytt");
        assert_eq!(body["usageLocation"], "NL");
        assert_eq!(body["passwordPolicies"], "DisablePasswordExpiration");
        assert_eq!(
            body["passwordProfile"]["forceChangePasswordNextSignIn"],
            false
        );
        assert_eq!(body["passwordProfile"]["password"], "Pw-1234567890!");
    }

    #[test]
    fn only_what_differs_is_patched_and_other_policies_stay() {
        let spec = spec();
        let same = json!({"accountEnabled": true, "displayName": "MyTimetable Service",
            "mailNickname": "svc-mytt", "usageLocation": "NL",
            "passwordPolicies": "DisablePasswordExpiration"});
        assert!(spec.changes(&same).is_empty());
        let drifted = json!({"accountEnabled": false, "displayName": "Old",
            "mailNickname": "svc-mytt", "usageLocation": null,
            "passwordPolicies": "DisableStrongPassword"});
        let changes = spec.changes(&drifted);
        assert_eq!(changes["accountEnabled"], true);
        assert_eq!(changes["displayName"], "MyTimetable Service");
        assert_eq!(changes["usageLocation"], "NL");
        assert_eq!(
            changes["passwordPolicies"],
            "DisableStrongPassword, DisablePasswordExpiration"
        );
        assert!(!changes.contains_key("mailNickname"));
    }

    #[test]
    fn bad_options_are_named() {
        assert!(matches!(
            AccountSpec::new("svc", None, None, None),
            Err(SpecError::Upn(_))
        ));
        assert!(matches!(
            AccountSpec::new("svc@contoso.com", None, None, Some("NLD")),
            Err(SpecError::UsageLocation(_))
        ));
        assert!(matches!(
            AccountSpec::new("svc@contoso.com", None, Some("a b"), None),
            Err(SpecError::MailNickname(_))
        ));
    }
}
