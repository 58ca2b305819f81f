//! The one place where the directory's errors become what the operator reads: one line naming
//! what failed, the cause in admin words, what to do, and the exit code.

use common::net::ReachHints;
use common::{CommandError, ExitStatus};

use crate::diagnostic::{rc, win32};
use crate::directory::DirectoryError;

/// What to check when the domain controller cannot be reached.
const REACH_HINTS: ReachHints = ReachHints {
    resolve: "check --server and this machine's DNS",
    connect: "check --server and that the domain controller accepts LDAPS (636) from here; with --starttls the port is 389",
    timeout: "check the network path to the domain controller, or raise --timeout",
};

/// Explains a directory error. `item` names what the command was working on.
pub fn explain(error: &DirectoryError) -> CommandError {
    match error {
        DirectoryError::Reach(e) => e.explain(&REACH_HINTS),
        DirectoryError::StartTlsRefused { address, failure } => {
            CommandError::new(ExitStatus::Connect, format!("{address} refused StartTLS ({})", failure.rc_name()))
                .with_hint("use LDAPS on port 636 (drop --starttls), or have TLS enabled on the domain controller")
                .with_detail(failure.text.clone())
                .with_code("starttls")
        }
        DirectoryError::PlaintextRefused { address } => {
            CommandError::usage(format!("refusing to send a password to {address} over plain, unencrypted LDAP"))
                .with_hint("use ldaps:// (port 636) or add --starttls")
                .with_code("plaintext")
        }
        DirectoryError::Kerberos { address, principal, reason } => CommandError::new(
            ExitStatus::Denied,
            format!("Kerberos logon to {address} failed for {principal} ({reason})"),
        )
        .with_hint("check `klist` for a ticket of your account (kinit gets one) and that the DC has the service principal")
        .with_code("kerberos"),
        DirectoryError::KerberosOverTlsRefused { address, failure } => CommandError::new(
            ExitStatus::Denied,
            format!("{address} refuses Kerberos over TLS without a SASL security layer (a Samba DC before 4.20 does)"),
        )
        .with_hint("use --uri ldap://HOST, where Kerberos seals the session, or set `ldap server require strong auth = allow_sasl_over_tls` on the DC")
        .with_detail(failure.text.clone())
        .with_code("kerberos"),
        DirectoryError::Bind { address, user, failure } => {
            let message = match failure.rc {
                rc::INVALID_CREDENTIALS => format!("{address} refused the logon of {user}: {}", failure.bind_reason()),
                rc::STRONGER_AUTH_REQUIRED => format!("{address} requires a signed or encrypted connection for the logon of {user}"),
                _ => format!("{address} refused the logon of {user}: {}", failure.rc_name()),
            };
            let hint = match failure.diagnostic.data {
                Some(crate::diagnostic::bind_data::ACCOUNT_LOCKED_OUT) => "wait for the lockout to end or have it unlocked",
                Some(crate::diagnostic::bind_data::PASSWORD_EXPIRED | crate::diagnostic::bind_data::PASSWORD_MUST_CHANGE) => {
                    "change the operator account's password first"
                }
                _ => "check --user (UPN, DOMAIN\\name or DN) and the password source",
            };
            CommandError::new(ExitStatus::Denied, message).with_hint(hint).with_detail(failure.text.clone()).with_code("auth")
        }
        DirectoryError::Operation { operation, dn, failure } => {
            let detail = failure.text.clone();
            let error = match failure.rc {
                rc::INSUFFICIENT_ACCESS_RIGHTS => CommandError::new(
                    ExitStatus::Denied,
                    format!("not allowed to {} {dn} (insufficient access rights)", verb(operation)),
                )
                .with_hint("use an account with the right, or have it delegated on the OU")
                .with_code("rights"),
                rc::ENTRY_ALREADY_EXISTS => {
                    CommandError::new(ExitStatus::Exists, format!("{dn} already exists")).with_hint("use --if-exists skip or update").with_code("exists")
                }
                rc::NO_SUCH_OBJECT if *operation == "add" => CommandError::new(
                    ExitStatus::ItemsFailed,
                    format!("the parent container of {dn} does not exist"),
                )
                .with_hint("check --path: it must name an existing OU or container")
                .with_code("no-parent"),
                rc::NO_SUCH_OBJECT => CommandError::new(ExitStatus::ItemsFailed, format!("{dn} does not exist")).with_code("not-found"),
                rc::INVALID_DN_SYNTAX | rc::NAMING_VIOLATION => {
                    CommandError::usage(format!("the directory refuses the name {dn} ({})", failure.rc_name())).with_code("invalid-name")
                }
                rc::CONSTRAINT_VIOLATION if failure.diagnostic.code == Some(win32::PASSWORD_RESTRICTION) => {
                    CommandError::new(ExitStatus::ItemsFailed, "the password does not meet the domain's password policy")
                        .with_hint("choose a longer or more varied password, or use --generate-password")
                        .with_code("password-policy")
                }
                rc::CONSTRAINT_VIOLATION | rc::OBJECT_CLASS_VIOLATION | rc::ATTRIBUTE_OR_VALUE_EXISTS | rc::INVALID_ATTRIBUTE_SYNTAX => {
                    CommandError::new(ExitStatus::ItemsFailed, format!("the directory refused to {} {dn} ({})", verb(operation), failure.rc_name()))
                        .with_code("constraint")
                }
                rc::UNWILLING_TO_PERFORM => {
                    CommandError::new(ExitStatus::ItemsFailed, format!("the directory is unwilling to {} {dn}", verb(operation))).with_code("unwilling")
                }
                rc::BUSY | rc::UNAVAILABLE => CommandError::new(ExitStatus::Connect, format!("the domain controller is busy or unavailable ({})", failure.rc_name()))
                    .with_hint("try again later or another domain controller")
                    .with_code("unavailable"),
                _ => CommandError::new(ExitStatus::ItemsFailed, format!("{} of {dn} failed ({})", operation, failure.rc_name())).with_code("ldap"),
            };
            error.with_detail(detail)
        }
        DirectoryError::Unreadable { dn, what, reason } => {
            CommandError::new(ExitStatus::ItemsFailed, format!("the {what} of {dn} cannot be read ({reason})")).with_code("descriptor")
        }
        DirectoryError::Broken { address, operation, reason } => {
            CommandError::new(ExitStatus::Connect, format!("the connection to {address} broke during {operation}"))
                .with_detail(reason.clone())
                .with_code("connection")
        }
    }
}

fn verb(operation: &str) -> &str {
    match operation {
        "add" => "create",
        "search" => "read",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::LdapFailure;
    use common::tls::TlsProblem;

    #[test]
    fn unknown_ca_points_at_ca_file() {
        let err = explain(&DirectoryError::Reach(common::net::ReachError::Tls {
            address: "dc1:636".into(),
            problem: Some(TlsProblem::UnknownCa {
                issuer: "CN=Lab CA".into(),
            }),
            reason: "certificate verify failed".into(),
        }));
        assert_eq!(err.status, ExitStatus::Connect);
        assert!(err.to_string().contains("--ca-file"), "{err}");
        assert!(!err.to_string().contains('\n'));
    }

    #[test]
    fn bad_credentials_are_exit_4_with_the_reason() {
        let err = explain(&DirectoryError::Bind {
            address: "dc1:636".into(),
            user: "admin@corp.example".into(),
            failure: LdapFailure::new(
                49,
                "80090308: LdapErr: DSID-0C0904DC, comment: AcceptSecurityContext error, data 52e, v1db1",
            ),
        });
        assert_eq!(err.status, ExitStatus::Denied);
        assert_eq!(err.code, "auth");
        assert!(
            err.message.ends_with("the user name or password is wrong"),
            "{}",
            err.message
        );
    }

    #[test]
    fn operation_failures_map_to_exit_codes() {
        let op = |rc, text: &str| DirectoryError::Operation {
            operation: "add",
            dn: "CN=x,OU=y".into(),
            failure: LdapFailure::new(rc, text),
        };
        assert_eq!(explain(&op(68, "")).status, ExitStatus::Exists);
        assert_eq!(explain(&op(50, "")).status, ExitStatus::Denied);
        assert_eq!(explain(&op(32, "")).code, "no-parent");
        assert_eq!(
            explain(&op(19, "0000052D: Constraint violation")).code,
            "password-policy"
        );
        assert_eq!(explain(&op(19, "00002082: other")).code, "constraint");
        assert_eq!(explain(&op(34, "")).status, ExitStatus::Usage);
    }
}
