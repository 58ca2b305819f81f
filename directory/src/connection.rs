//! Opening a session: TCP to the DC (its known addresses first), TLS (LDAPS or StartTLS), and
//! the bind (simple, or Kerberos with the ticket cache); closing it again.

use std::time::Duration;

use common::net::ReachError;
use common::secret::Secret;
use common::tls::TlsOptions;
use ldap3::{LdapConnAsync, LdapConnSettings, StdStream};

use super::tls_diagnosis::connect_error;
use super::{Directory, DirectoryError, Endpoint, Transport, broken, with_timeout};
use crate::diagnostic::LdapFailure;
use crate::dn::Dn;

/// Who binds.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Simple bind with a UPN, `DOMAIN\name` or DN and a password.
    Simple {
        /// The bind name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// Kerberos (SASL GSSAPI) with the default ticket cache, over TLS with channel binding.
    #[cfg(feature = "kerberos")]
    Kerberos,
}

impl Credentials {
    /// Whether the bind encrypts a plain LDAP session by itself (Kerberos with the SASL privacy
    /// layer), so no password or data travels in clear without TLS.
    fn seals_plain_ldap(&self) -> bool {
        match self {
            Credentials::Simple { .. } => false,
            #[cfg(feature = "kerberos")]
            Credentials::Kerberos => true,
        }
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Where.
    pub endpoint: Endpoint,
    /// Trust settings.
    pub tls: TlsOptions,
    /// Longest wait for any one step.
    pub timeout: Duration,
}

impl Directory {
    /// Connects, sets up TLS and binds.
    pub async fn connect(
        options: &ConnectOptions,
        credentials: &Credentials,
    ) -> Result<Self, DirectoryError> {
        let endpoint = &options.endpoint;
        let address = endpoint.address();
        if endpoint.transport == Transport::Plain && !credentials.seals_plain_ldap() {
            return Err(DirectoryError::PlaintextRefused { address });
        }
        let connector = options.tls.native_connector()?;
        let stream = tcp_connect(endpoint, options.timeout).await?;
        let peer = stream.peer_addr().ok();
        let settings = LdapConnSettings::new()
            .set_std_stream(StdStream::Tcp(stream))
            .set_connector(connector)
            .set_starttls(endpoint.transport == Transport::StartTls)
            .set_conn_timeout(options.timeout);
        let opened = LdapConnAsync::with_settings(settings, &endpoint.url()).await;
        let (conn, mut ldap) = match opened {
            Ok(pair) => pair,
            Err(error) => return Err(connect_error(error, options, peer).await),
        };
        ldap3::drive!(conn);
        log::info!(
            "connected to {address} ({})",
            match endpoint.transport {
                Transport::Ldaps => "LDAPS",
                Transport::StartTls => "StartTLS",
                Transport::Plain => "plain LDAP, to be sealed by Kerberos",
            }
        );

        match credentials {
            Credentials::Simple { user, password } => {
                let result = with_timeout(
                    &address,
                    options.timeout,
                    ldap.simple_bind(user, password.expose()),
                )
                .await?
                .map_err(|e| broken(&address, "bind", &e))?;
                if result.rc != 0 {
                    return Err(DirectoryError::Bind {
                        address,
                        user: user.clone(),
                        failure: LdapFailure::new(result.rc, &result.text),
                    });
                }
                log::info!("bound as {user}");
            }
            #[cfg(feature = "kerberos")]
            Credentials::Kerberos => {
                super::kerberos::kerberos_bind(&mut ldap, endpoint, &address, options.timeout)
                    .await?;
            }
        }
        let mut directory = Directory {
            ldap,
            address,
            timeout: options.timeout,
            naming_context: Dn::root(),
            dns_host_name: None,
        };
        let root = directory
            .read_raw("", &["defaultNamingContext", "dnsHostName"], false)
            .await?
            .ok_or_else(|| DirectoryError::Broken {
                address: directory.address.clone(),
                operation: "reading the root DSE",
                reason: "the server returned no root DSE".into(),
            })?;
        directory.naming_context = root.text("defaultNamingContext").and_then(|t| t.parse().ok()).ok_or_else(|| DirectoryError::Broken {
            address: directory.address.clone(),
            operation: "reading the root DSE",
            reason: "it names no defaultNamingContext; is this an Active Directory domain controller?".into(),
        })?;
        directory.dns_host_name = root.text("dnsHostName");
        log::debug!("naming context {}", directory.naming_context);
        Ok(directory)
    }

    /// `host:port` of the server.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Ends the session politely.
    pub async fn unbind(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ldap.unbind()).await;
    }
}

async fn tcp_connect(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<std::net::TcpStream, DirectoryError> {
    let stream =
        common::net::connect_tcp(&endpoint.host, endpoint.port, &endpoint.addresses, timeout)
            .await?;
    stream.into_std().map_err(|source| {
        DirectoryError::from(ReachError::Connect {
            address: endpoint.address(),
            source,
        })
    })
}
