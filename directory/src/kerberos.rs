//! The Kerberos bind: SASL GSSAPI with the operator's ticket cache (built with the `kerberos`
//! feature, against the system's GSSAPI library).

use std::time::Duration;

use ldap3::{Ldap, LdapError, Scope, SearchEntry};

use super::{DirectoryError, Endpoint, broken, with_timeout};
use crate::diagnostic::LdapFailure;

/// SASL GSSAPI bind with the ticket cache. The service principal is `ldap/<DNS name>`: the
/// name given with --server, or, when that is an address, the name the DC reports in its root
/// DSE (readable before binding).
pub(super) async fn kerberos_bind(
    ldap: &mut Ldap,
    endpoint: &Endpoint,
    address: &str,
    timeout: Duration,
) -> Result<(), DirectoryError> {
    let host = if endpoint.host.parse::<std::net::IpAddr>().is_ok() {
        let root = with_timeout(
            address,
            timeout,
            ldap.search("", Scope::Base, "(objectClass=*)", vec!["dnsHostName"]),
        )
        .await?
        .map_err(|e| broken(address, "reading the root DSE", &e))?;
        root.0
            .into_iter()
            .next()
            .and_then(|e| {
                SearchEntry::construct(e)
                    .attrs
                    .remove("dnsHostName")
                    .and_then(|mut v| v.pop())
            })
            .ok_or_else(|| DirectoryError::Kerberos {
                address: address.to_owned(),
                principal: "ldap/?".into(),
                reason: "the DC does not tell its DNS name; give --server by name".into(),
            })?
    } else {
        endpoint.host.clone()
    };
    let principal = format!("ldap/{host}");
    log::info!("Kerberos bind for {principal}");
    let kerberos_error = |reason: String| DirectoryError::Kerberos {
        address: address.to_owned(),
        principal: principal.clone(),
        reason,
    };
    let result = with_timeout(address, timeout, ldap.sasl_gssapi_bind(&host))
        .await?
        .map_err(|e| match e {
            LdapError::GssapiOperationError(text) => kerberos_error(common::error::one_line(&text)),
            other => broken(address, "Kerberos bind", &other),
        })?;
    if result.rc != 0 {
        return Err(kerberos_error(
            LdapFailure::new(result.rc, &result.text).to_string(),
        ));
    }
    log::info!("bound with Kerberos");
    Ok(())
}
