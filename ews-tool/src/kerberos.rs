//! Negotiate with Kerberos (SPNEGO, RFC 4559) from the session's ticket cache, through the
//! system's GSSAPI library: a service ticket for `HTTP/<host>`, the TLS channel binding in the
//! GSS channel bindings (so servers with Extended Protection accept it), one token per
//! connection. No password is involved.

use common::base64::encode as base64;
use common::kerberos::TicketError;
use common::secret::Secret;
use libgssapi::context::{ClientCtx, CtxFlags};
use libgssapi::error::{Error as GssError, MajorFlags};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_MECH_SPNEGO, GSS_NT_KRB5_PRINCIPAL};

use crate::auth::{AuthError, Authenticator, Leg, Mechanism};

/// MIT Kerberos error codes (`krb5_err.et`, base -1765328384) the messages name.
mod code {
    const BASE: i64 = -1_765_328_384;
    /// KDC_ERR_S_PRINCIPAL_UNKNOWN: the KDC knows no such service principal.
    pub const PRINCIPAL_UNKNOWN: i64 = BASE + 7;
    /// KRB_AP_ERR_TKT_EXPIRED.
    pub const TICKET_EXPIRED: i64 = BASE + 32;
    /// KRB_AP_ERR_SKEW: clocks too far apart.
    pub const SKEW: i64 = BASE + 37;
    /// KRB5_FCC_NOFILE: no credential cache file.
    pub const NO_CACHE_FILE: i64 = BASE + 189;
    /// KRB5_CC_NOTFOUND: no matching credential.
    pub const CACHE_NOT_FOUND: i64 = BASE + 243;
    /// KRB5KDC_ERR_SERVICE_EXP / TGT expired as the library reports it.
    pub const TGT_EXPIRED: i64 = BASE + 12;
}

/// The logon of the ticket cache's principal.
#[derive(Debug, Clone)]
pub struct Kerberos {
    /// The principal the ticket is for (`name@REALM`), for messages.
    pub principal: String,
    /// `--spn-from-cname`: the service principal names the host the URL's host is an alias
    /// of.
    pub spn_from_cname: Option<crate::auth::CnameLookup>,
}

impl Kerberos {
    /// The ticket cache's principal, when the cache holds a usable ticket-granting ticket.
    pub fn from_cache() -> Result<Self, AuthError> {
        common::kerberos::session_ticket()
            .map(|ticket| Self {
                principal: ticket.principal,
                spn_from_cname: None,
            })
            .map_err(ticket_error)
    }
}

/// A missing or expired ticket, said as `common::kerberos` says it.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(ticket_error)`
fn ticket_error(error: TicketError) -> AuthError {
    AuthError::Kerberos {
        message: error.to_string(),
        hint: error.hint(),
    }
}

/// An administrator's reading of a GSSAPI failure of `principal` asking for a ticket to `spn`.
fn explain(error: GssError, principal: &str, spn: &str) -> AuthError {
    let minor = i64::from(error.minor.cast_signed());
    if matches!(minor, code::TICKET_EXPIRED | code::TGT_EXPIRED)
        || error.major.contains(MajorFlags::GSS_S_CREDENTIALS_EXPIRED)
    {
        return ticket_error(TicketError::Expired {
            principal: principal.to_owned(),
        });
    }
    if matches!(minor, code::NO_CACHE_FILE | code::CACHE_NOT_FOUND)
        || error.major.contains(MajorFlags::GSS_S_NO_CRED)
    {
        return ticket_error(TicketError::None);
    }
    let (message, hint) = match minor {
        code::PRINCIPAL_UNKNOWN => (
            format!("the domain knows no service principal {spn}"),
            format!(
                "register it on the account Exchange's web site runs as (setspn -S {spn} ACCOUNT), or use the host name it is registered for in --url"
            ),
        ),
        code::SKEW => (
            "this machine's clock and the domain controller's differ by more than Kerberos allows"
                .to_owned(),
            "synchronise the clock (chrony or systemd-timesyncd against the domain's time source)"
                .to_owned(),
        ),
        _ => (
            format!("GSSAPI failed: {error}"),
            "klist shows the tickets; KRB5_TRACE=/dev/stderr shows the exchange with the KDC"
                .to_owned(),
        ),
    };
    AuthError::Kerberos { message, hint }
}

impl Mechanism for Kerberos {
    fn scheme(&self) -> &'static str {
        "Negotiate"
    }

    fn user(&self) -> &str {
        &self.principal
    }

    fn per_connection(&self) -> bool {
        true
    }

    fn ticket(&self) -> bool {
        true
    }

    fn spn_from_cname(&self) -> Option<crate::auth::CnameLookup> {
        self.spn_from_cname
    }

    fn start(&self, host: &str, binding: Option<&[u8]>) -> Box<dyn Authenticator> {
        Box::new(KerberosLogon {
            principal: self.principal.clone(),
            spn: format!("HTTP/{host}"),
            binding: binding.map(<[u8]>::to_vec),
            sent: false,
        })
    }
}

struct KerberosLogon {
    principal: String,
    spn: String,
    binding: Option<Vec<u8>>,
    sent: bool,
}

impl Authenticator for KerberosLogon {
    fn next(&mut self, challenge: Option<&[u8]>) -> Result<Leg, AuthError> {
        if self.sent || challenge.is_some() {
            return Err(AuthError::OutOfStep(
                "the server asked for more after the Kerberos ticket",
            ));
        }
        let token = first_token(&self.spn, self.binding.as_deref(), &GSS_MECH_SPNEGO)
            .map_err(|e| {
                // SPNEGO reports its own minor code; Kerberos alone names the cause.
                let cause = first_token(&self.spn, self.binding.as_deref(), &GSS_MECH_KRB5)
                    .err()
                    .unwrap_or(e);
                explain(cause, &self.principal, &self.spn)
            })?
            .ok_or(AuthError::OutOfStep("GSSAPI made no token"))?;
        self.sent = true;
        // The ticket goes with the request itself: its answer is the request's.
        Ok(Leg::Last(Secret::new(format!(
            "Negotiate {}",
            base64(&token)
        ))))
    }
}

/// The first token of a context with `mech` for `spn` (the service principal exactly as named,
/// no DNS canonicalisation), with the channel binding.
fn first_token(
    spn: &str,
    binding: Option<&[u8]>,
    mech: &'static libgssapi::oid::Oid,
) -> Result<Option<libgssapi::util::Buf>, GssError> {
    let target = Name::new(spn.as_bytes(), Some(&GSS_NT_KRB5_PRINCIPAL))?;
    let mut context = ClientCtx::new(
        None,
        target,
        CtxFlags::GSS_C_MUTUAL_FLAG | CtxFlags::GSS_C_SEQUENCE_FLAG,
        Some(mech),
    );
    context.step(None, binding)
}
