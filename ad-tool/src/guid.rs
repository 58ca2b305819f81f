//! GUIDs as AD stores them (`objectGUID`, ACE object types): 16 bytes whose first three fields
//! are little-endian (MS-DTYP 2.3.4); the uuid crate reads and writes that order.

use std::fmt;
use std::str::FromStr;

/// A GUID in its binary (mixed-endian) form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid(pub [u8; 16]);

/// Why text is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")]
pub struct GuidError(String);

impl Guid {
    /// User-Change-Password, the control access right behind "User cannot change password"
    /// (MS-ADTS 5.1.3.2.1).
    pub const USER_CHANGE_PASSWORD: Guid =
        Guid(uuid::uuid!("ab721a53-1e2f-11d0-9819-00aa0040529b").to_bytes_le());

    /// Reads 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 16]>::try_from(bytes).ok().map(Guid)
    }

    fn uuid(self) -> uuid::Uuid {
        uuid::Uuid::from_bytes_le(self.0)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uuid().hyphenated().fmt(f)
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl FromStr for Guid {
    type Err = GuidError;

    /// The hyphenated form, with or without braces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let bare = trimmed
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(trimmed);
        if bare.len() != 36 {
            return Err(GuidError(text.to_owned()));
        }
        uuid::Uuid::try_parse(bare)
            .map(|u| Guid(u.to_bytes_le()))
            .map_err(|_| GuidError(text.to_owned()))
    }
}

impl serde::Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_password_guid_has_the_documented_bytes() {
        assert_eq!(
            Guid::USER_CHANGE_PASSWORD.0,
            [
                0x53, 0x1a, 0x72, 0xab, 0x2f, 0x1e, 0xd0, 0x11, 0x98, 0x19, 0x00, 0xaa, 0x00, 0x40,
                0x52, 0x9b
            ]
        );
        assert_eq!(
            Guid::USER_CHANGE_PASSWORD.to_string(),
            "ab721a53-1e2f-11d0-9819-00aa0040529b"
        );
    }

    #[test]
    fn text_round_trips() {
        let text = "bf967aba-0de6-11d0-a285-00aa003049e2";
        assert_eq!(text.parse::<Guid>().unwrap().to_string(), text);
        assert_eq!(
            "{BF967ABA-0DE6-11D0-A285-00AA003049E2}"
                .parse::<Guid>()
                .unwrap()
                .to_string(),
            text
        );
        assert!(
            "bf967aba-0de6-11d0-a285-00aa003049e"
                .parse::<Guid>()
                .is_err()
        );
        assert!(
            "bf967abax0de6-11d0-a285-00aa003049e2"
                .parse::<Guid>()
                .is_err()
        );
    }
}
