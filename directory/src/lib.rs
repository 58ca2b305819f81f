//! The connection to an Active Directory domain controller and the few LDAP operations
//! ad-tool and ews-tool need, with AD's controls (SD flags, paged results, server-side sort).
//! Bytes move here; decisions are made by the tools.
//!
//! - [`dns`]: domain controllers (and other services) found through SRV records.
//! - [`dn`]: distinguished names, parsed and escaped.
//! - [`diagnostic`]: an operation's failure, with AD's error codes decoded.
//! - [`endpoint`]: where the DC is and over which transport.
//! - [`connection`]: TCP, TLS and the bind (Kerberos's in `kerberos`).
//! - [`operations`]: searches, reads, adds, modifies, deletes.
//! - [`paging`]: paged and sorted searches.
//! - [`tls_diagnosis`]: connection failures in admin words.
//! - [`entry`] and [`error`]: what operations return.

pub mod connection;
pub mod diagnostic;
pub mod dn;
pub mod dns;
pub mod endpoint;
pub mod entry;
pub mod error;
#[cfg(feature = "kerberos")]
pub mod kerberos;
pub mod operations;
pub mod paging;
pub mod tls_diagnosis;

use std::fmt;
use std::time::Duration;

use ldap3::{Ldap, LdapError};

pub use connection::{ConnectOptions, Credentials};
pub use endpoint::{Endpoint, EndpointError, Transport};
pub use entry::Entry;
pub use error::DirectoryError;
pub use ldap3::Scope;

use dn::Dn;

/// An authenticated connection to a domain controller. Clones share the connection, and
/// operations from several clones run concurrently on it.
#[derive(Clone)]
pub struct Directory {
    ldap: Ldap,
    address: String,
    timeout: Duration,
    /// The domain's naming context (`defaultNamingContext`).
    pub naming_context: Dn,
    /// The DC's DNS name, as it reports it.
    pub dns_host_name: Option<String>,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("address", &self.address)
            .field("naming_context", &self.naming_context.to_string())
            .finish_non_exhaustive()
    }
}

async fn with_timeout<T>(
    address: &str,
    timeout: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, DirectoryError> {
    Ok(common::net::within(address, timeout, fut).await?)
}

fn broken(address: &str, operation: &'static str, error: &LdapError) -> DirectoryError {
    DirectoryError::Broken {
        address: address.to_owned(),
        operation,
        reason: error.to_string(),
    }
}
