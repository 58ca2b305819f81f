//! Windows security identifiers (MS-DTYP 2.4.2): the binary form found in `objectSid` and in
//! ACEs, and the `S-1-5-21-…` string form.

use std::fmt;
use std::str::FromStr;

/// A security identifier.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    revision: u8,
    authority: u64,
    sub_authorities: Vec<u32>,
}

/// Why bytes or text are not a SID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    /// Fewer bytes than the header or its sub-authority count needs.
    #[error("SID is truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the SID needs.
        needed: usize,
        /// Bytes there were.
        available: usize,
    },
    /// More than 15 sub-authorities.
    #[error("SID has {0} sub-authorities; at most 15 are allowed")]
    TooManySubAuthorities(usize),
    /// Not of the form `S-1-<authority>-<sub>…`.
    #[error("\"{0}\" is not a SID (expected S-1-<authority>-<sub-authority>…)")]
    BadText(String),
}

impl Sid {
    /// The most sub-authorities a SID may have (MS-DTYP 2.4.2.2).
    pub const MAX_SUB_AUTHORITIES: usize = 15;

    /// Builds a revision-1 SID.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Self {
        Self {
            revision: 1,
            authority: authority & 0xFFFF_FFFF_FFFF,
            sub_authorities: sub_authorities.to_vec(),
        }
    }

    /// The SID of an account or group of this domain: this SID with `rid` appended.
    #[must_use]
    pub fn child(&self, rid: u32) -> Self {
        let mut sub_authorities = self.sub_authorities.clone();
        sub_authorities.push(rid);
        Self {
            revision: self.revision,
            authority: self.authority,
            sub_authorities,
        }
    }

    /// Everyone, `S-1-1-0` (SDDL `WD`).
    pub fn everyone() -> Self {
        Self::new(1, &[0])
    }

    /// The principal itself, `S-1-5-10` (SDDL `PS`, "SELF").
    pub fn principal_self() -> Self {
        Self::new(5, &[10])
    }

    /// Parses a binary SID at the start of `bytes`; returns it and the bytes it used.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, usize), SidError> {
        if bytes.len() < 8 {
            return Err(SidError::Truncated {
                needed: 8,
                available: bytes.len(),
            });
        }
        let count = usize::from(bytes[1]);
        if count > Self::MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities(count));
        }
        let len = 8 + 4 * count;
        if bytes.len() < len {
            return Err(SidError::Truncated {
                needed: len,
                available: bytes.len(),
            });
        }
        // The identifier authority is 48 bits, big-endian; sub-authorities are little-endian.
        let authority = bytes[2..8]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let sub_authorities = bytes[8..len]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok((
            Self {
                revision: bytes[0],
                authority,
                sub_authorities,
            },
            len,
        ))
    }

    /// The binary form's length.
    pub fn encoded_len(&self) -> usize {
        8 + 4 * self.sub_authorities.len()
    }

    /// Appends the binary form.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.push(self.revision);
        out.push(u8::try_from(self.sub_authorities.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for sub in &self.sub_authorities {
            out.extend_from_slice(&sub.to_le_bytes());
        }
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }

    /// The last sub-authority: the relative id of a domain account.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// The name of a well-known SID, as Windows shows it, if this is one.
    pub fn well_known_name(&self) -> Option<&'static str> {
        let name = match (self.authority, self.sub_authorities.as_slice()) {
            (1, [0]) => "Everyone",
            (3, [0]) => "CREATOR OWNER",
            (3, [4]) => "OWNER RIGHTS",
            (5, [7]) => "ANONYMOUS LOGON",
            (5, [9]) => "ENTERPRISE DOMAIN CONTROLLERS",
            (5, [10]) => "SELF",
            (5, [11]) => "Authenticated Users",
            (5, [18]) => "SYSTEM",
            (5, [32, 544]) => "BUILTIN\\Administrators",
            (5, [32, 548]) => "BUILTIN\\Account Operators",
            (5, [32, 554]) => "BUILTIN\\Pre-Windows 2000 Compatible Access",
            (5, [32, 560]) => "BUILTIN\\Windows Authorization Access Group",
            (5, [32, 561]) => "BUILTIN\\Terminal Server License Servers",
            (5, [21, _, _, _, 512]) => "Domain Admins",
            (5, [21, _, _, _, 517]) => "Cert Publishers",
            (5, [21, _, _, _, 519]) => "Enterprise Admins",
            (5, [21, _, _, _, 553]) => "RAS and IAS Servers",
            _ => return None,
        };
        Some(name)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-{}-", self.revision)?;
        // MS-DTYP 2.4.2.1: authorities of 2^32 and above are written in hex.
        if self.authority >> 32 == 0 {
            write!(f, "{}", self.authority)?;
        } else {
            write!(f, "0x{:012X}", self.authority)?;
        }
        for sub in &self.sub_authorities {
            write!(f, "-{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

impl FromStr for Sid {
    type Err = SidError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || SidError::BadText(text.to_owned());
        let mut parts = text.split('-');
        if !parts.next().is_some_and(|s| s.eq_ignore_ascii_case("S")) {
            return Err(bad());
        }
        let revision: u8 = parts
            .next()
            .and_then(|r| r.parse().ok())
            .filter(|r| *r == 1)
            .ok_or_else(bad)?;
        let authority_text = parts.next().ok_or_else(bad)?;
        let authority = match authority_text
            .strip_prefix("0x")
            .or_else(|| authority_text.strip_prefix("0X"))
        {
            Some(hex) => u64::from_str_radix(hex, 16).map_err(|_| bad())?,
            None => authority_text.parse().map_err(|_| bad())?,
        };
        if authority >> 48 != 0 {
            return Err(bad());
        }
        let sub_authorities: Vec<u32> = parts
            .map(|p| p.parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        if sub_authorities.len() > Self::MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities(sub_authorities.len()));
        }
        Ok(Self {
            revision,
            authority,
            sub_authorities,
        })
    }
}

impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyone_binary_form() {
        assert_eq!(
            Sid::everyone().to_bytes(),
            [1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
        );
    }

    #[test]
    fn domain_sid_round_trips_through_bytes_and_text() {
        let text = "S-1-5-21-1897993698-3093116838-2102500209-1105";
        let sid: Sid = text.parse().unwrap();
        assert_eq!(sid.to_string(), text);
        let bytes = sid.to_bytes();
        assert_eq!(bytes.len(), 28);
        let (back, used) = Sid::from_bytes(&bytes).unwrap();
        assert_eq!((back, used), (sid.clone(), 28));
        assert_eq!(sid.rid(), Some(1105));
    }

    #[test]
    fn large_authorities_are_hex() {
        let sid = Sid::new(0x1234_5678_9ABC, &[1]);
        assert_eq!(sid.to_string(), "S-1-0x123456789ABC-1");
        assert_eq!(sid.to_string().parse::<Sid>().unwrap(), sid);
    }

    #[test]
    fn malformed_input_is_refused() {
        assert!(matches!(
            Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 0]),
            Err(SidError::Truncated { .. })
        ));
        assert!(matches!(
            Sid::from_bytes(&[1, 16, 0, 0, 0, 0, 0, 5]),
            Err(SidError::TooManySubAuthorities(16))
        ));
        for text in [
            "",
            "S-1",
            "X-1-5",
            "S-2-5-1",
            "S-1-5-x",
            "S-1-281474976710656-1",
        ] {
            assert!(text.parse::<Sid>().is_err(), "{text}");
        }
    }

    #[test]
    fn well_known_names() {
        assert_eq!(Sid::everyone().well_known_name(), Some("Everyone"));
        assert_eq!(Sid::principal_self().well_known_name(), Some("SELF"));
        let da: Sid = "S-1-5-21-1-2-3-512".parse().unwrap();
        assert_eq!(da.well_known_name(), Some("Domain Admins"));
    }
}
