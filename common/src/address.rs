//! SMTP addresses, checked once where they come in (a command line, a CSV cell, a line of a
//! mailbox list) and carried as [`SmtpAddress`] from there on. User principal names have the
//! same shape with a looser domain, and are checked by the same rules through [`problem`].

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The longest address SMTP carries (RFC 5321: a 256-octet path less its angle brackets).
pub const MAX_LEN: usize = 254;

/// Characters that cannot stand unquoted in an address and that a pasted display form
/// (`"Anna" <anna@corp.example>`, a list with commas) would bring along.
const SPECIALS: &str = "<>\"(),;:[]\\";

/// Whether the domain part may be a single label (`name@corp`), as a UPN suffix may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// At least two labels, as mail domains have.
    Dotted,
    /// One label is enough.
    AnyLabels,
}

/// Why text is not an address, in words: `None` when it is one.
pub fn problem(text: &str, domain_rule: Domain) -> Option<String> {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return Some("it needs the form name@domain".to_owned());
    };
    if local.is_empty() || domain.is_empty() || local.contains('@') {
        return Some("it needs the form name@domain".to_owned());
    }
    if let Err(reason) = crate::text::check_visible(text) {
        return Some(reason);
    }
    if text.chars().any(char::is_whitespace) {
        return Some("it contains a space".to_owned());
    }
    if let Some(c) = text.chars().find(|c| SPECIALS.contains(*c)) {
        return Some(format!("it contains {c}, which an address cannot hold"));
    }
    if domain.split('.').any(str::is_empty) {
        return Some(format!("its domain {domain} has an empty part"));
    }
    if domain_rule == Domain::Dotted && !domain.contains('.') {
        return Some(format!(
            "its domain {domain} is a single name; give the full mail domain"
        ));
    }
    if text.len() > MAX_LEN {
        return Some(format!("it is longer than {MAX_LEN} characters"));
    }
    None
}

/// An SMTP address (`name@mail.domain`). Two addresses are equal when they differ only in
/// ASCII case, as Exchange and Active Directory compare them; the text keeps the case given.
#[derive(Clone)]
pub struct SmtpAddress(String);

/// Text that is not an SMTP address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not an SMTP address: {reason}")]
pub struct AddressError {
    /// The text.
    pub text: String,
    /// Why, in words.
    pub reason: String,
}

impl SmtpAddress {
    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// Whether `text` names this address (ASCII case ignored).
    pub fn is(&self, text: &str) -> bool {
        self.0.eq_ignore_ascii_case(text)
    }
}

impl FromStr for SmtpAddress {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match problem(text, Domain::Dotted) {
            None => Ok(SmtpAddress(text.to_owned())),
            Some(reason) => Err(AddressError {
                text: text.to_owned(),
                reason,
            }),
        }
    }
}

impl PartialEq for SmtpAddress {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for SmtpAddress {}

impl Hash for SmtpAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for byte in self.0.bytes() {
            state.write_u8(byte.to_ascii_lowercase());
        }
    }
}

impl fmt::Display for SmtpAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SmtpAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpAddress({})", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SmtpAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for SmtpAddress {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn addresses_are_checked_once_by_one_set_of_rules() {
        for good in [
            "a@b.c",
            "first.last+tag@sub.lab.example",
            "o'brien@lab.example",
            "o'brien&co@lab.example",
        ] {
            assert!(good.parse::<SmtpAddress>().is_ok(), "{good}");
        }
        for (bad, reason) in [
            ("", "name@domain"),
            ("a", "name@domain"),
            ("@b.c", "name@domain"),
            ("a@", "name@domain"),
            ("a@b@c.d", "name@domain"),
            ("a@b", "single name"),
            ("a b@c.d", "a space"),
            ("a@.c", "empty part"),
            ("a@c..d", "empty part"),
            ("<a@b.c>", "contains <"),
            ("a,b@c.d", "contains ,"),
            ("a\u{200b}@b.c", "zero-width"),
            ("a\t@b.c", "control character"),
        ] {
            let error = bad.parse::<SmtpAddress>().unwrap_err();
            assert!(error.reason.contains(reason), "{bad}: {error}");
            assert!(error.to_string().contains("is not an SMTP address"));
        }
        let long = format!("{}@lab.example", "a".repeat(250));
        assert!(long.parse::<SmtpAddress>().is_err());
    }

    #[test]
    fn a_principal_name_may_have_a_single_label_suffix() {
        assert_eq!(problem("svc@corp", Domain::AnyLabels), None);
        assert!(problem("svc@corp", Domain::Dotted).is_some());
        assert!(problem("svc corp@corp", Domain::AnyLabels).is_some());
    }

    #[test]
    fn case_does_not_make_another_address() {
        let a: SmtpAddress = "Anna@Lab.Example".parse().unwrap();
        let b: SmtpAddress = "anna@lab.example".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(HashSet::from([a.clone(), b]).len(), 1);
        assert_eq!(a.to_string(), "Anna@Lab.Example", "the case given is kept");
        assert_eq!(a.domain(), "Lab.Example");
    }
}
