//! Distinguished names (RFC 4514): parsed once at the edge, compared case-insensitively as AD
//! does, written back with the escaping the RFC requires.

use std::fmt::{self, Write as _};
use std::str::FromStr;

/// One `type=value` pair of a relative distinguished name.
#[derive(Debug, Clone)]
pub struct Ava {
    /// The attribute type (`CN`, `OU`, `DC`).
    pub attribute: String,
    /// The value, unescaped.
    pub value: String,
}

/// A distinguished name: RDNs from the entry up to the root.
#[derive(Debug, Clone, Default)]
pub struct Dn {
    rdns: Vec<Vec<Ava>>,
}

/// Why a string is not a DN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not a distinguished name: {reason}")]
pub struct DnError {
    text: String,
    reason: &'static str,
}

impl Dn {
    /// The empty DN (the root DSE).
    pub fn root() -> Self {
        Self::default()
    }

    /// The DN of a child entry `attribute=value,<self>`; the value is taken literally.
    #[must_use]
    pub fn child(&self, attribute: &str, value: &str) -> Self {
        let mut rdns = Vec::with_capacity(self.rdns.len() + 1);
        rdns.push(vec![Ava {
            attribute: attribute.to_owned(),
            value: value.to_owned(),
        }]);
        rdns.extend(self.rdns.iter().cloned());
        Self { rdns }
    }

    /// The parent entry's DN, if there is one.
    pub fn parent(&self) -> Option<Self> {
        (!self.rdns.is_empty()).then(|| Self {
            rdns: self.rdns[1..].to_vec(),
        })
    }

    /// The value of the first RDN (the CN of `CN=x,OU=y`).
    pub fn rdn_value(&self) -> Option<&str> {
        self.rdns
            .first()
            .and_then(|rdn| rdn.first())
            .map(|ava| ava.value.as_str())
    }

    /// Whether the DN has no RDNs.
    pub fn is_root(&self) -> bool {
        self.rdns.is_empty()
    }

    /// Whether `self` is `other` or lies below it.
    pub fn is_within(&self, other: &Dn) -> bool {
        self.rdns.len() >= other.rdns.len()
            && self.rdns[self.rdns.len() - other.rdns.len()..]
                .iter()
                .zip(&other.rdns)
                .all(|(a, b)| rdn_eq(a, b))
    }

    /// The DNS name of a domain DN (`DC=corp,DC=example` → `corp.example`), if it is only DCs.
    pub fn dns_domain(&self) -> Option<String> {
        let labels: Option<Vec<&str>> = self
            .rdns
            .iter()
            .map(|rdn| match rdn.as_slice() {
                [ava] if ava.attribute.eq_ignore_ascii_case("DC") => Some(ava.value.as_str()),
                _ => None,
            })
            .collect();
        labels.filter(|l| !l.is_empty()).map(|l| l.join("."))
    }
}

fn rdn_eq(a: &[Ava], b: &[Ava]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.attribute.eq_ignore_ascii_case(&y.attribute)
                && x.value.to_lowercase() == y.value.to_lowercase()
        })
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.rdns.len() == other.rdns.len()
            && self.rdns.iter().zip(&other.rdns).all(|(a, b)| rdn_eq(a, b))
    }
}

impl Eq for Dn {}

/// Escapes an attribute value for a DN string (RFC 4514 section 2.4).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, ava) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}={}", ava.attribute, escape_value(&ava.value))?;
            }
        }
        Ok(())
    }
}

impl FromStr for Dn {
    type Err = DnError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason| DnError {
            text: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Dn::root());
        }
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        let mut chars = trimmed.chars().peekable();
        loop {
            // Attribute type up to '='.
            let mut attribute = String::new();
            for c in chars.by_ref() {
                if c == '=' {
                    break;
                }
                attribute.push(c);
            }
            let attribute = attribute.trim().to_owned();
            if attribute.is_empty()
                || !attribute
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(err("each part must be TYPE=value, e.g. OU=Staff"));
            }
            // Value up to an unescaped ',' or '+'.
            let mut bytes: Vec<u8> = Vec::new();
            let mut separator = None;
            let mut trailing_escaped_space = 0usize;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        let Some(next) = chars.next() else {
                            return Err(err("it ends in a lone backslash"));
                        };
                        if next.is_ascii_hexdigit() {
                            let Some(low) = chars.next().filter(char::is_ascii_hexdigit) else {
                                return Err(err("a \\XX escape needs two hex digits"));
                            };
                            let hex = [next, low].iter().collect::<String>();
                            bytes.push(
                                u8::from_str_radix(&hex, 16).map_err(|_| err("bad hex escape"))?,
                            );
                            trailing_escaped_space = 0;
                        } else {
                            let mut buf = [0u8; 4];
                            bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                            trailing_escaped_space = usize::from(next == ' ');
                        }
                    }
                    ',' | ';' | '+' => {
                        separator = Some(c);
                        break;
                    }
                    c => {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        trailing_escaped_space = 0;
                    }
                }
            }
            let value =
                String::from_utf8(bytes).map_err(|_| err("an escaped value is not UTF-8"))?;
            // Unescaped spaces around a value are not part of it; an escaped trailing space is.
            let kept_trailing = if trailing_escaped_space > 0 { " " } else { "" };
            let value = format!("{}{}", value.trim_start().trim_end(), kept_trailing);
            if value.trim().is_empty() && kept_trailing.is_empty() {
                return Err(err("a value is empty"));
            }
            rdn.push(Ava { attribute, value });
            match separator {
                Some('+') => {}
                Some(_) => rdns.push(std::mem::take(&mut rdn)),
                None => {
                    rdns.push(rdn);
                    break;
                }
            }
        }
        Ok(Dn { rdns })
    }
}

impl serde::Serialize for Dn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Parsed like `--base` or a CSV cell, so both are checked the same way.
impl<'de> serde::Deserialize<'de> for Dn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(text: &str) -> Dn {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_plain_dns() {
        let d = dn("CN=SAMyTTExch,CN=Users,DC=corp,DC=example");
        assert_eq!(d.to_string(), "CN=SAMyTTExch,CN=Users,DC=corp,DC=example");
        assert_eq!(d.rdn_value(), Some("SAMyTTExch"));
        assert_eq!(
            d.parent().unwrap().to_string(),
            "CN=Users,DC=corp,DC=example"
        );
        assert_eq!(
            d.parent()
                .unwrap()
                .parent()
                .unwrap()
                .dns_domain()
                .as_deref(),
            Some("corp.example")
        );
    }

    #[test]
    fn escapes_special_characters_in_values() {
        let parent = dn("OU=Staff,DC=corp,DC=example");
        let child = parent.child("CN", "Doe, Jane + \"J\" #1 ");
        assert_eq!(
            child.to_string(),
            "CN=Doe\\, Jane \\+ \\\"J\\\" #1\\ ,OU=Staff,DC=corp,DC=example"
        );
        assert_eq!(dn(&child.to_string()), child);
        assert_eq!(
            dn(&child.to_string()).rdn_value(),
            Some("Doe, Jane + \"J\" #1 ")
        );
        assert_eq!(escape_value("#lead"), "\\#lead");
        assert_eq!(escape_value(" a=b;c<d>e\\"), "\\ a\\=b\\;c\\<d\\>e\\\\");
    }

    #[test]
    fn hex_escapes_decode_as_utf8() {
        assert_eq!(dn("CN=J\\C3\\BCrgen,DC=x").rdn_value(), Some("Jürgen"));
        assert_eq!(dn("CN=Jürgen,DC=x").rdn_value(), Some("Jürgen"));
    }

    #[test]
    fn comparison_ignores_case_and_spacing() {
        assert_eq!(
            dn("cn=Jane Doe, ou=Staff,dc=CORP,dc=example"),
            dn("CN=jane doe,OU=staff,DC=corp,DC=example")
        );
        assert_ne!(dn("CN=a,DC=x"), dn("CN=b,DC=x"));
    }

    #[test]
    fn within() {
        let base = dn("OU=Staff,DC=corp,DC=example");
        assert!(dn("CN=x,OU=Amsterdam,OU=Staff,DC=corp,DC=example").is_within(&base));
        assert!(base.is_within(&base));
        assert!(!dn("CN=x,OU=Other,DC=corp,DC=example").is_within(&base));
    }

    #[test]
    fn multi_valued_rdn() {
        let d = dn("CN=a+UID=b,DC=x");
        assert_eq!(d.to_string(), "CN=a+UID=b,DC=x");
    }

    #[test]
    fn malformed_dns_are_refused() {
        for text in [
            "Users",
            "CN=,DC=x",
            "=x",
            "CN=a\\",
            "CN=a\\4",
            "CN=a\\FF,DC=x",
            "C N=a",
        ] {
            assert!(text.parse::<Dn>().is_err(), "{text}");
        }
    }
}
