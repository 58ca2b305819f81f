//! GUIDs as AD stores them (`objectGUID`, ACE object types): 16 bytes whose first three fields
//! are little-endian (MS-DTYP 2.3.4).

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
        Guid::from_text_const(*b"ab721a53-1e2f-11d0-9819-00aa0040529b");

    /// Reads 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 16]>::try_from(bytes).ok().map(Guid)
    }

    const fn from_text_const(text: [u8; 36]) -> Guid {
        const fn hex(c: u8) -> u8 {
            match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => panic!("not a hex digit"),
            }
        }
        const fn byte(text: &[u8; 36], at: usize) -> u8 {
            hex(text[at]) << 4 | hex(text[at + 1])
        }
        // Text positions of each stored byte: data1..data3 reversed, data4 in order.
        const ORDER: [usize; 16] = [6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34];
        let mut out = [0u8; 16];
        let mut i = 0;
        while i < 16 {
            out[i] = byte(&text, ORDER[i]);
            i += 1;
        }
        Guid(out)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[3],
            b[2],
            b[1],
            b[0],
            b[5],
            b[4],
            b[7],
            b[6],
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl FromStr for Guid {
    type Err = GuidError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim().trim_start_matches('{').trim_end_matches('}');
        let bytes = trimmed.as_bytes();
        let shape_ok = bytes.len() == 36
            && bytes.iter().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    *c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if !shape_ok {
            return Err(GuidError(text.to_owned()));
        }
        let mut fixed = [0u8; 36];
        fixed.copy_from_slice(bytes);
        Ok(Guid::from_text_const(fixed))
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
