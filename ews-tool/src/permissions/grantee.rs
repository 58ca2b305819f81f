//! Who a grant or revoke is for: a user or group by address or SID, or the Default or
//! Anonymous entry; parsed once from the command line.

use std::fmt;
use std::str::FromStr;

use common::address::{AddressError, SmtpAddress};
use common::sid::Sid;

use super::{DistinguishedUser, UserId};

/// Who a grant or revoke is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// A user or group by SMTP address.
    Address(SmtpAddress),
    /// A user or group by SID (`S-1-5-21-…`).
    Sid(Sid),
    /// The Default or the Anonymous entry.
    Distinguished(DistinguishedUser),
}

/// Text that names no grantee.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GranteeError {
    /// Neither an address, a SID, Default nor Anonymous.
    #[error(
        "\"{0}\" is not a grantee: give an SMTP address (user or group), a SID, Default or Anonymous"
    )]
    Unknown(String),
    /// Looks like an address but is not one.
    #[error("{0}")]
    Address(#[from] AddressError),
    /// Looks like a SID but is not one.
    #[error("\"{0}\" is not a SID: it needs the form S-1-5-21-…")]
    Sid(String),
    /// Default and Anonymous always have an entry (for `revoke --from`).
    #[error("the {0} entry cannot be removed; grant it the level None instead")]
    NotRemovable(DistinguishedUser),
}

impl FromStr for Grantee {
    type Err = GranteeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if let Some(user) = DistinguishedUser::ALL
            .iter()
            .find(|u| u.name().eq_ignore_ascii_case(t))
        {
            return Ok(Grantee::Distinguished(*user));
        }
        if t.len() > 4 && t[..4].eq_ignore_ascii_case("S-1-") {
            return t
                .parse::<Sid>()
                .map(Grantee::Sid)
                .map_err(|_| GranteeError::Sid(text.to_owned()));
        }
        if t.contains('@') {
            return Ok(Grantee::Address(t.parse()?));
        }
        Err(GranteeError::Unknown(text.to_owned()))
    }
}

impl Grantee {
    /// Parses a grantee whose entry can be removed: any but Default and Anonymous (the
    /// value parser of `revoke --from`).
    pub fn removable(text: &str) -> Result<Grantee, GranteeError> {
        match text.parse()? {
            Grantee::Distinguished(user) => Err(GranteeError::NotRemovable(user)),
            grantee => Ok(grantee),
        }
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Address(a) => a.fmt(f),
            Grantee::Sid(s) => s.fmt(f),
            Grantee::Distinguished(user) => user.fmt(f),
        }
    }
}

impl Grantee {
    /// Whether an entry belongs to this grantee.
    pub fn matches(&self, user: &UserId) -> bool {
        match self {
            Grantee::Distinguished(distinguished) => {
                user.distinguished_user == Some(*distinguished)
            }
            Grantee::Address(address) => {
                user.distinguished_user.is_none()
                    && user
                        .primary_smtp_address
                        .as_deref()
                        .is_some_and(|a| address.is(a))
            }
            Grantee::Sid(sid) => {
                user.distinguished_user.is_none()
                    && user
                        .sid
                        .as_deref()
                        .and_then(|s| s.parse::<Sid>().ok())
                        .is_some_and(|s| s == *sid)
            }
        }
    }

    pub(super) fn user_id(&self) -> UserId {
        match self {
            Grantee::Address(a) => UserId {
                primary_smtp_address: Some(a.to_string()),
                ..UserId::default()
            },
            Grantee::Sid(s) => UserId {
                sid: Some(s.to_string()),
                ..UserId::default()
            },
            Grantee::Distinguished(user) => UserId {
                distinguished_user: Some(*user),
                ..UserId::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grantees() {
        assert_eq!(
            "svc@lab.example".parse::<Grantee>(),
            Ok(Grantee::Address("svc@lab.example".parse().unwrap()))
        );
        assert_eq!(
            "default".parse::<Grantee>(),
            Ok(Grantee::Distinguished(DistinguishedUser::Default))
        );
        assert_eq!(
            "s-1-5-21-1-2-3-1105".parse::<Grantee>(),
            Ok(Grantee::Sid("S-1-5-21-1-2-3-1105".parse().unwrap()))
        );
        assert_eq!(
            Grantee::removable("Anonymous"),
            Err(GranteeError::NotRemovable(DistinguishedUser::Anonymous))
        );
        assert!(Grantee::removable("svc@lab.example").is_ok());
        for bad in ["svc", "svc@", "a b@lab.example", "S-1-x", ""] {
            assert!(bad.parse::<Grantee>().is_err(), "{bad}");
        }
    }
}
