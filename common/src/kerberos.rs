//! The session's Kerberos ticket: whether the credential cache (`KRB5CCNAME`, or the login's)
//! holds a ticket-granting ticket that is still valid, and whose. The tools use it to log on
//! with Kerberos by default on a domain-joined jump host when no password is given.

use std::time::Duration;

use libgssapi::credential::{Cred, CredUsage};
use libgssapi::error::MajorFlags;

/// A usable ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Whose: `name@REALM`.
    pub principal: String,
    /// How long it is still valid.
    pub left: Duration,
}

/// Why there is no usable ticket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The cache is missing or empty.
    #[error("there is no Kerberos ticket (the credential cache is empty or missing)")]
    None,
    /// The ticket has run out.
    #[error("the Kerberos ticket of {principal} has expired")]
    Expired {
        /// Whose.
        principal: String,
    },
    /// The library could not read the cache.
    #[error("the Kerberos credential cache cannot be used: {0}")]
    Unusable(String),
}

impl TicketError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            TicketError::Expired { principal } => {
                format!("run kinit {principal} again (klist shows the ticket's end time)")
            }
            _ => "run kinit NAME@REALM first (klist shows the cache), or give a password".into(),
        }
    }
}

/// The session's ticket, if it has a usable one.
pub fn session_ticket() -> Result<Ticket, TicketError> {
    let cred = Cred::acquire(None, None, CredUsage::Initiate, None).map_err(|e| {
        if e.major.contains(MajorFlags::GSS_S_NO_CRED) {
            TicketError::None
        } else if e.major.contains(MajorFlags::GSS_S_CREDENTIALS_EXPIRED) {
            TicketError::Expired {
                principal: "the session".into(),
            }
        } else {
            TicketError::Unusable(e.to_string())
        }
    })?;
    let principal = cred
        .name()
        .map_err(|e| TicketError::Unusable(e.to_string()))?
        .to_string();
    match cred.lifetime() {
        Ok(left) if !left.is_zero() => Ok(Ticket { principal, left }),
        Ok(_) => Err(TicketError::Expired { principal }),
        Err(e) if e.major.contains(MajorFlags::GSS_S_CREDENTIALS_EXPIRED) => {
            Err(TicketError::Expired { principal })
        }
        Err(e) => Err(TicketError::Unusable(e.to_string())),
    }
}
