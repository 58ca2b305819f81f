//! What can go wrong talking to Exchange, and the one place those errors become the line the
//! operator reads: what failed, the cause in admin words, what to do, and the exit code.

use common::net::ReachHints;
use common::{CommandError, ExitStatus};

use crate::response::{ParseError, SoapFault};
use crate::response_code::ResponseCode;
use crate::transport::TransportError;

/// A failed EWS call.
#[derive(Debug, thiserror::Error)]
pub enum EwsError {
    /// No HTTP answer, or authentication failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// An HTTP status that is not a SOAP answer.
    #[error("{address} answered HTTP {status}")]
    Http {
        /// Where.
        address: String,
        /// The status.
        status: u16,
    },
    /// A SOAP fault.
    #[error("the server answered with a fault: {}", fault.response_code.as_ref().map(ToString::to_string).or_else(|| fault.fault_string.clone()).unwrap_or_default())]
    Fault {
        /// The fault.
        fault: SoapFault,
    },
    /// An error response message for one mailbox.
    #[error("{code}: {text}")]
    Exchange {
        /// The mailbox.
        mailbox: String,
        /// `ResponseCode`.
        code: ResponseCode,
        /// `MessageText`.
        text: String,
    },
    /// The answer was not a readable envelope.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The server kept saying it is busy.
    #[error("the server stayed busy after {attempts} tries")]
    Busy {
        /// How often it was tried.
        attempts: u32,
    },
    /// The server refused every request version down to the oldest this tool speaks.
    #[error("the server refused the request version {tried}")]
    NoVersion {
        /// The last one tried.
        tried: &'static str,
    },
    /// The calendar kept changing between reading and writing.
    #[error("the calendar changed under every attempt to update it ({attempts} tries)")]
    KeptChanging {
        /// How often it was tried.
        attempts: u32,
    },
    /// The answer lacked what was asked for.
    #[error("the server's answer lacks {0}")]
    Incomplete(&'static str),
    /// The server asked to wait longer than `--max-backoff`.
    #[error("the server asks to wait {} s, longer than --max-backoff ({} s)", asked.as_secs(), limit.as_secs())]
    BackoffTooLong {
        /// What it asked for.
        asked: std::time::Duration,
        /// The limit.
        limit: std::time::Duration,
    },
}

impl EwsError {
    /// The `ResponseCode` of an error message or fault, if that is what it is.
    pub fn response_code(&self) -> Option<&ResponseCode> {
        match self {
            EwsError::Exchange { code, .. } => Some(code),
            EwsError::Fault { fault } => fault.response_code.as_ref(),
            _ => None,
        }
    }
}

/// The context an explanation may name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Who<'a> {
    /// Who logs on.
    pub user: &'a str,
    /// The grantee, for grant and revoke.
    pub grantee: Option<&'a str>,
}

/// Explains an EWS error for the operator.
pub fn explain(error: &EwsError, who: Who<'_>) -> CommandError {
    match error {
        EwsError::Transport(e) => explain_transport(e),
        EwsError::Http { address, status } => match status {
            403 => CommandError::new(ExitStatus::Denied, format!("{address} forbids EWS to {} (HTTP 403)", who.user))
                .with_hint("EWS may be disabled for the account or the organisation (Set-CASMailbox -EwsEnabled, EwsApplicationAccessPolicy)")
                .with_code("forbidden"),
            404 => CommandError::usage(format!("{address} has no EWS at this path (HTTP 404)")).with_hint("check --url: https://HOST/EWS/Exchange.asmx").with_code("not-found"),
            503 => CommandError::new(ExitStatus::Connect, format!("{address} is unavailable (HTTP 503) and stayed so")).with_hint("try again later").with_code("unavailable"),
            _ => CommandError::new(ExitStatus::ItemsFailed, format!("{address} answered HTTP {status}")).with_code("http"),
        },
        EwsError::Fault { fault } => {
            let code = fault.response_code.as_ref().map_or("a SOAP fault", ResponseCode::as_str);
            let text = fault.message.clone().or_else(|| fault.fault_string.clone()).unwrap_or_default();
            CommandError::new(ExitStatus::ItemsFailed, format!("the server refused the request ({code})")).with_detail(text).with_code("fault")
        }
        EwsError::Exchange { mailbox, code, text } => explain_code(mailbox, code, text, who).with_detail(text.clone()),
        EwsError::Parse(e) => CommandError::new(ExitStatus::ItemsFailed, e.to_string()).with_hint("is --url an EWS endpoint?").with_code("parse"),
        EwsError::Busy { attempts } => CommandError::new(ExitStatus::ItemsFailed, format!("the server stayed busy (throttled) after {attempts} tries"))
            .with_hint("lower --concurrency, or raise the account's EWS throttling limits")
            .with_code("busy"),
        EwsError::NoVersion { tried } => CommandError::new(ExitStatus::Connect, format!("the server refuses the request version {tried}, the oldest this tool speaks"))
            .with_hint("this tool needs Exchange 2010 SP2 or later")
            .with_code("version"),
        EwsError::KeptChanging { attempts } => CommandError::new(ExitStatus::ItemsFailed, format!("the calendar's permissions changed under each of {attempts} attempts to update them"))
            .with_hint("someone else is editing them; run again")
            .with_code("conflict"),
        EwsError::Incomplete(what) => CommandError::new(ExitStatus::ItemsFailed, format!("the server's answer lacks {what}")).with_code("incomplete"),
        EwsError::BackoffTooLong { asked, limit } => CommandError::new(
            ExitStatus::Connect,
            format!("the server is throttling and asks to wait {}, longer than --max-backoff ({}); stopped", human_duration(*asked), human_duration(*limit)),
        )
        .with_hint("run the same command again later (or allow a longer wait with --max-backoff)")
        .with_code("backoff"),
    }
}

fn explain_code(mailbox: &str, code: &ResponseCode, text: &str, who: Who<'_>) -> CommandError {
    let grantee = who.grantee.unwrap_or("the grantee");
    let (status, message, hint, short) = match code {
        ResponseCode::ErrorNonExistentMailbox => (
            ExitStatus::ItemsFailed,
            format!("there is no mailbox {mailbox}"),
            "check the address: it must be the mailbox's SMTP address",
            "no-mailbox",
        ),
        ResponseCode::ErrorAccessDenied => (
            ExitStatus::Denied,
            format!(
                "{} may not open the calendar of {mailbox} (no FullAccess)",
                who.user
            ),
            "give the account FullAccess on the mailbox (Add-MailboxPermission), or use --impersonate with the ApplicationImpersonation role",
            "access-denied",
        ),
        ResponseCode::ErrorImpersonateUserDenied => (
            ExitStatus::Denied,
            format!("{} may not impersonate {mailbox}", who.user),
            "assign the ApplicationImpersonation role to the account (New-ManagementRoleAssignment), or drop --impersonate for delegate access",
            "impersonation-denied",
        ),
        ResponseCode::ErrorInvalidUserInfo => (
            ExitStatus::ItemsFailed,
            format!("Exchange does not know the grantee {grantee}"),
            "give the primary SMTP address of a mail-enabled user or group",
            "unknown-grantee",
        ),
        ResponseCode::ErrorDuplicateUserIdsSpecified => (
            ExitStatus::ItemsFailed,
            format!("the calendar of {mailbox} would hold two entries for one user"),
            "two entries name the same person (by SID and by address): remove one with Remove-MailboxFolderPermission",
            "duplicate-entries",
        ),
        ResponseCode::ErrorInvalidPermissionSettings => (
            ExitStatus::ItemsFailed,
            format!("Exchange refused the permission list of {mailbox}"),
            "see the server's text with -v",
            "invalid-permissions",
        ),
        ResponseCode::ErrorMailboxMoveInProgress | ResponseCode::ErrorMailboxStoreUnavailable => (
            ExitStatus::ItemsFailed,
            format!("the mailbox {mailbox} is not available right now ({code})"),
            "try again later",
            "mailbox-unavailable",
        ),
        ResponseCode::ErrorFolderNotFound => (
            ExitStatus::ItemsFailed,
            format!("the mailbox {mailbox} has no calendar"),
            "the mailbox may not be initialised yet: log on to it once",
            "no-calendar",
        ),
        _ => {
            return CommandError::new(
                ExitStatus::ItemsFailed,
                format!(
                    "Exchange refused it for {mailbox}: {code}{}",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(" ({text})")
                    }
                ),
            )
            .with_code("exchange");
        }
    };
    CommandError::new(status, message)
        .with_hint(hint)
        .with_code(short)
}

/// "1 h", "5 min", "30 s".
fn human_duration(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// Whether a failure ends the whole run rather than one mailbox: a failed logon (another
/// attempt only adds a failed logon towards the account's lockout), or a back-off longer than
/// allowed.
pub fn ends_the_run(error: &CommandError) -> bool {
    matches!(
        error.code,
        "auth" | "auth-scheme" | "auth-protocol" | "kerberos" | "backoff" | "journal"
    )
}

/// What to check when Exchange cannot be reached.
const REACH_HINTS: ReachHints = ReachHints {
    resolve: "check --url and this machine's DNS",
    connect: "check --url and that HTTPS is reachable from here",
    timeout: "check the network path, or raise --timeout",
};

fn explain_transport(error: &TransportError) -> CommandError {
    match error {
        TransportError::Reach(e) => e.explain(&REACH_HINTS),
        TransportError::ConnectionLost { address, reason } => CommandError::new(ExitStatus::Connect, format!("the connection to {address} broke ({reason})")).with_code("connection"),
        TransportError::SchemeNotOffered { address, scheme, offered } => {
            CommandError::new(ExitStatus::Denied, format!("{address} does not offer {scheme} authentication (it offers {offered})"))
                .with_hint("choose another --auth")
                .with_code("auth-scheme")
        }
        TransportError::Refused { address, user, scheme } => CommandError::new(
            ExitStatus::Denied,
            format!("{address} refused the logon of {user} ({scheme}): the password is wrong, or the account is locked out, disabled or expired; the run stopped after this one attempt, so it added at most one failed logon"),
        )
        .with_hint("check --user (DOMAIN\\name or UPN) and the password; `ad-tool show-user NAME` tells whether the account is locked out or disabled; a TLS-inspecting proxy also breaks Extended Protection")
        .with_code("auth"),
        TransportError::TicketRefused {
            address,
            principal,
            spn,
        } => CommandError::new(
            ExitStatus::Denied,
            format!("{address} refused the Kerberos ticket of {principal} for {spn}: the web site cannot read tickets for that name (the name is registered on another account than the one the site runs as, or its keys changed), or a TLS-inspecting proxy in between breaks Extended Protection; the run stopped"),
        )
        .with_hint(format!("setspn -Q {spn} shows which account holds the name; it must be the one Exchange's web site runs as (or the Exchange servers' alternate service account)"))
        .with_code("auth"),
        TransportError::BadChallenge { address, reason } => CommandError::new(
            ExitStatus::Denied,
            format!("{address} answered the logon with something that is not an NTLM challenge ({reason})"),
        )
        .with_hint("is --url the Exchange server itself? a proxy in between may be answering instead")
        .with_code("auth-protocol"),
        TransportError::Kerberos {
            address,
            message,
            hint,
        } => CommandError::new(
            ExitStatus::Denied,
            format!("cannot log on to {address} with Kerberos: {message}"),
        )
        .with_hint(hint.clone())
        .with_code("kerberos"),
        TransportError::TooLarge { address } => CommandError::new(ExitStatus::ItemsFailed, format!("the answer from {address} is too large")).with_code("too-large"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_errors_are_one_line_with_a_hint_and_their_status() {
        let who = Who {
            user: "svc@lab.example",
            grantee: Some("team@lab.example"),
        };
        let error = |code: &str| {
            explain(
                &EwsError::Exchange {
                    mailbox: "anna@lab.example".into(),
                    code: ResponseCode::parse(code),
                    text: "text".into(),
                },
                who,
            )
        };
        assert_eq!(error("ErrorAccessDenied").status, ExitStatus::Denied);
        assert!(
            error("ErrorAccessDenied")
                .to_string()
                .contains("FullAccess")
        );
        assert_eq!(
            error("ErrorImpersonateUserDenied").code,
            "impersonation-denied"
        );
        assert_eq!(
            error("ErrorNonExistentMailbox").to_string(),
            "there is no mailbox anna@lab.example; check the address: it must be the mailbox's SMTP address"
        );
        assert!(
            error("ErrorInvalidUserInfo")
                .to_string()
                .contains("team@lab.example")
        );
        assert_eq!(error("ErrorSomethingNew").code, "exchange");
        for code in [
            "ErrorAccessDenied",
            "ErrorInvalidPermissionSettings",
            "ErrorSomethingNew",
        ] {
            assert!(!error(code).to_string().contains('\n'));
        }
    }

    #[test]
    fn http_statuses() {
        let e = explain(
            &EwsError::Http {
                address: "mail:443".into(),
                status: 403,
            },
            Who::default(),
        );
        assert_eq!(e.status, ExitStatus::Denied);
        assert!(e.hint.unwrap().contains("EwsEnabled"));
    }
}
