//! What an answer from Exchange means for the request that got it, and how many requests to
//! keep in flight: pure functions of the HTTP status, the headers, the parsed body and the
//! clock, tested branch by branch without a server. The client ([`crate::client`]) is a short
//! loop around [`classify`].

use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::error::EwsError;
use crate::response::{Envelope, ParseError, ResponseClass};
use crate::response_code::ResponseCode;
use crate::version::ExchangeVersion;

/// What to do with an answer.
#[derive(Debug)]
pub enum Verdict {
    /// The answer: its response messages are read by the caller (each may still be an error
    /// for its own mailbox).
    Answer(Envelope),
    /// The server is busy: HTTP 503 from IIS's queue, `ErrorServerBusy` as a fault or a
    /// message, or an internal error that carries a back-off. Wait what it names (else back
    /// off) and send again.
    Busy {
        /// `BackOffMilliseconds` or `Retry-After`.
        wait: Option<Duration>,
    },
    /// The request version is not one the server takes: ask again with an older one.
    StepDown,
    /// A fault about the mailbox the request was for (impersonation refused, no such
    /// mailbox): that mailbox's failure.
    MailboxFault {
        /// The code.
        code: ResponseCode,
        /// The server's text.
        text: String,
    },
    /// Nothing to send again: the request failed.
    Failed(EwsError),
}

/// Classifies the answer to a request sent with `version`; `for_mailbox` when the request
/// named a mailbox; `address` names the server in errors.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: Result<Envelope, ParseError>,
    version: ExchangeVersion,
    for_mailbox: bool,
    address: &str,
) -> Verdict {
    let http = |status: StatusCode| {
        Verdict::Failed(EwsError::Http {
            address: address.to_owned(),
            status: status.as_u16(),
        })
    };
    match status {
        StatusCode::OK => {
            let envelope = match body {
                Ok(envelope) => envelope,
                Err(e) => return Verdict::Failed(EwsError::Parse(e)),
            };
            // A busy answer can come as a message, or wrapped in ErrorInternalServerError.
            let busy = envelope.messages.iter().find(|m| {
                m.class == ResponseClass::Error
                    && match &m.code {
                        Some(ResponseCode::ErrorServerBusy) => true,
                        Some(ResponseCode::ErrorInternalServerError) => m.back_off_ms.is_some(),
                        _ => false,
                    }
            });
            match busy {
                Some(message) => Verdict::Busy {
                    wait: message.back_off_ms.map(Duration::from_millis),
                },
                None => Verdict::Answer(envelope),
            }
        }
        StatusCode::INTERNAL_SERVER_ERROR => {
            let Some(fault) = body.ok().and_then(|e| e.fault) else {
                return http(status);
            };
            match fault.response_code.clone() {
                Some(ResponseCode::ErrorServerBusy) => Verdict::Busy {
                    wait: fault.back_off_ms.map(Duration::from_millis),
                },
                Some(ResponseCode::ErrorInvalidServerVersion) => Verdict::StepDown,
                // Exchange 2019 refuses a version it does not know with ErrorInvalidRequest.
                Some(ResponseCode::ErrorInvalidRequest)
                    if version > ExchangeVersion::Exchange2010Sp2 =>
                {
                    Verdict::StepDown
                }
                Some(code) if for_mailbox => Verdict::MailboxFault {
                    code,
                    text: fault
                        .message
                        .clone()
                        .or_else(|| fault.fault_string.clone())
                        .unwrap_or_default(),
                },
                _ => Verdict::Failed(EwsError::Fault { fault }),
            }
        }
        StatusCode::SERVICE_UNAVAILABLE => Verdict::Busy {
            wait: headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        other => http(other),
    }
}

/// How long a run must go without a busy answer before one more request may be in flight
/// again (and between two such raises).
pub const QUIET_PERIOD: Duration = Duration::from_secs(5);

/// Whether to allow one more request in flight: below the configured number, and quiet
/// (no busy answer, no raise) for [`QUIET_PERIOD`]. A busy answer lowers the number by one;
/// this lets a long run climb back after a passing storm instead of paying for it to the end.
pub fn may_raise(
    limit: usize,
    configured: usize,
    since_busy: Duration,
    since_change: Duration,
) -> bool {
    limit < configured && since_busy >= QUIET_PERIOD && since_change >= QUIET_PERIOD
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{ResponseMessage, SoapFault};

    const ADDRESS: &str = "mail:443";

    fn message(code: ResponseCode, back_off_ms: Option<u64>) -> Envelope {
        Envelope {
            messages: vec![ResponseMessage {
                class: if code == ResponseCode::NoError {
                    ResponseClass::Success
                } else {
                    ResponseClass::Error
                },
                code: Some(code),
                text: None,
                back_off_ms,
                folder: None,
                resolutions: Vec::new(),
            }],
            ..Envelope::default()
        }
    }

    fn fault(code: ResponseCode, back_off_ms: Option<u64>) -> Envelope {
        Envelope {
            fault: Some(SoapFault {
                response_code: Some(code),
                back_off_ms,
                message: Some("text".into()),
                ..SoapFault::default()
            }),
            ..Envelope::default()
        }
    }

    fn verdict(status: u16, body: Result<Envelope, ParseError>, for_mailbox: bool) -> Verdict {
        classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body,
            ExchangeVersion::Exchange2016,
            for_mailbox,
            ADDRESS,
        )
    }

    #[test]
    fn answers_and_their_mailbox_errors_go_to_the_caller() {
        assert!(matches!(
            verdict(200, Ok(message(ResponseCode::NoError, None)), true),
            Verdict::Answer(_)
        ));
        assert!(matches!(
            verdict(
                200,
                Ok(message(ResponseCode::ErrorAccessDenied, None)),
                true
            ),
            Verdict::Answer(_)
        ));
        // An internal error without a back-off is an answer too (its mailbox's failure).
        assert!(matches!(
            verdict(
                200,
                Ok(message(ResponseCode::ErrorInternalServerError, None)),
                true
            ),
            Verdict::Answer(_)
        ));
    }

    #[test]
    fn every_busy_answer_takes_the_one_busy_path() {
        for (status, body) in [
            (200, Ok(message(ResponseCode::ErrorServerBusy, Some(1500)))),
            (
                200,
                Ok(message(ResponseCode::ErrorInternalServerError, Some(1500))),
            ),
            (500, Ok(fault(ResponseCode::ErrorServerBusy, Some(1500)))),
        ] {
            assert!(
                matches!(
                    verdict(status, body, true),
                    Verdict::Busy { wait: Some(w) } if w == Duration::from_millis(1500)
                ),
                "{status}"
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert!(matches!(
            classify(
                StatusCode::SERVICE_UNAVAILABLE,
                &headers,
                Err(ParseError::default()),
                ExchangeVersion::Exchange2016,
                true,
                ADDRESS
            ),
            Verdict::Busy { wait: Some(w) } if w == Duration::from_secs(7)
        ));
        assert!(matches!(
            verdict(503, Err(ParseError::default()), true),
            Verdict::Busy { wait: None }
        ));
    }

    #[test]
    fn version_refusals_step_down() {
        assert!(matches!(
            verdict(
                500,
                Ok(fault(ResponseCode::ErrorInvalidServerVersion, None)),
                true
            ),
            Verdict::StepDown
        ));
        assert!(matches!(
            verdict(
                500,
                Ok(fault(ResponseCode::ErrorInvalidRequest, None)),
                false
            ),
            Verdict::StepDown
        ));
        // At the oldest version, ErrorInvalidRequest is a plain failure.
        assert!(matches!(
            classify(
                StatusCode::INTERNAL_SERVER_ERROR,
                &HeaderMap::new(),
                Ok(fault(ResponseCode::ErrorInvalidRequest, None)),
                ExchangeVersion::Exchange2010Sp2,
                false,
                ADDRESS
            ),
            Verdict::Failed(EwsError::Fault { .. })
        ));
    }

    #[test]
    fn faults_are_the_mailboxs_or_the_requests() {
        assert!(matches!(
            verdict(
                500,
                Ok(fault(ResponseCode::ErrorImpersonateUserDenied, None)),
                true
            ),
            Verdict::MailboxFault {
                code: ResponseCode::ErrorImpersonateUserDenied,
                ..
            }
        ));
        assert!(matches!(
            verdict(
                500,
                Ok(fault(ResponseCode::ErrorImpersonateUserDenied, None)),
                false
            ),
            Verdict::Failed(EwsError::Fault { .. })
        ));
        assert!(matches!(
            verdict(500, Err(ParseError::default()), true),
            Verdict::Failed(EwsError::Http { status: 500, .. })
        ));
        assert!(matches!(
            verdict(200, Err(ParseError::default()), true),
            Verdict::Failed(EwsError::Parse(_))
        ));
        assert!(matches!(
            verdict(403, Err(ParseError::default()), true),
            Verdict::Failed(EwsError::Http { status: 403, .. })
        ));
    }

    #[test]
    fn concurrency_climbs_back_after_a_quiet_period_only() {
        let quiet = QUIET_PERIOD;
        let short = Duration::from_millis(100);
        assert!(may_raise(3, 8, quiet, quiet));
        assert!(
            !may_raise(8, 8, quiet, quiet),
            "never above the configured number"
        );
        assert!(
            !may_raise(3, 8, short, quiet),
            "not right after a busy answer"
        );
        assert!(!may_raise(3, 8, quiet, short), "one step per quiet period");
    }
}
