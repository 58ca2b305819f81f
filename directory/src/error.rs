//! Why talking to the directory failed, with what is known about whether a write was made.

use common::net::ReachError;
use common::tls::TlsSetupError;

use crate::diagnostic::LdapFailure;

/// Why talking to the directory failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The domain controller could not be reached (DNS, TCP, TLS).
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// The server refused StartTLS.
    #[error("{address} refused StartTLS: {failure}")]
    StartTlsRefused {
        /// Where.
        address: String,
        /// The server's answer.
        failure: LdapFailure,
    },
    /// A plain-text connection was asked for.
    #[error("refusing to send a password to {address} over plain LDAP")]
    PlaintextRefused {
        /// Where.
        address: String,
    },
    /// Kerberos could not get or use a ticket for the DC.
    #[error("Kerberos logon to {address} as {principal} failed: {reason}")]
    Kerberos {
        /// Where.
        address: String,
        /// The service principal asked for.
        principal: String,
        /// What the GSSAPI library or the server said.
        reason: String,
    },
    /// The DC wants Kerberos over TLS to add a SASL layer, which TLS excludes (Samba before 4.20
    /// with `ldap server require strong auth = yes`).
    #[error("{address} refuses Kerberos over TLS without a SASL security layer: {failure}")]
    KerberosOverTlsRefused {
        /// Where.
        address: String,
        /// The server's answer.
        failure: LdapFailure,
    },
    /// The bind was refused.
    #[error("{address} refused the logon of {user}: {failure}")]
    Bind {
        /// Where.
        address: String,
        /// Who.
        user: String,
        /// The server's answer.
        failure: LdapFailure,
    },
    /// An operation was refused.
    #[error("{operation} of {dn} failed: {failure}")]
    Operation {
        /// Which operation.
        operation: &'static str,
        /// On which entry.
        dn: String,
        /// The server's answer.
        failure: LdapFailure,
    },
    /// A stored value (a security descriptor, say) could not be parsed.
    #[error("the {what} of {dn} cannot be read: {reason}")]
    Unreadable {
        /// The entry.
        dn: String,
        /// Which value, in admin words ("permissions").
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection broke or the server answered nonsense.
    #[error("the connection to {address} failed during {operation}: {reason}")]
    Broken {
        /// Where.
        address: String,
        /// Which operation.
        operation: &'static str,
        /// What happened.
        reason: String,
    },
}

impl DirectoryError {
    /// Whether an operation that failed this way may still have been carried out: the request
    /// was sent, and the answer was lost (a timeout, a broken connection). Only a read of the
    /// directory can tell.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            DirectoryError::Broken { .. } | DirectoryError::Reach(ReachError::Timeout { .. })
        )
    }
}

impl From<TlsSetupError> for DirectoryError {
    fn from(error: TlsSetupError) -> Self {
        DirectoryError::Reach(ReachError::TlsSetup(error))
    }
}
