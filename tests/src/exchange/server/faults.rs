//! Faults tests inject (each counting down) and the throttling Exchange applies to one account's
//! concurrent requests (EWSMaxConcurrency): what a request meets before it is served.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::super::soap::{self, Element};
use super::{Profile, State};

/// Faults to inject, each counting down.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before answering each SOAP request.
    pub latency_ms: u64,
    /// Answer this many SOAP requests with HTTP 503.
    pub http_503: u32,
    /// Close this many connections instead of answering.
    pub drop_connections: u32,
    /// Answer this many SOAP requests with `ErrorServerBusy`.
    pub busy: u32,
    /// Give those busy answers as response messages (HTTP 200) instead of faults.
    pub busy_as_message: bool,
    /// Another editor changes a calendar right after a client read it.
    pub conflicts: Vec<Conflict>,
    /// Answer the next requests of an operation with an error response message, once each.
    pub errors: Vec<InjectedError>,
    /// Carry out this many UpdateFolders, then close the connection instead of answering.
    pub drop_after_update: u32,
    /// Answer this many GetFolders without the folder's ChangeKey.
    pub omit_change_key: u32,
    /// Mailbox address → milliseconds to hold every request naming it (a slow mailbox
    /// database), on top of `latency_ms`.
    pub slow_mailboxes: HashMap<String, u64>,
    /// A throttling storm: this share of requests (percent, spread evenly) answered busy.
    pub busy_percent: u32,
    /// The web site's keytab lacks the key its service principal's tickets are made with (the
    /// name registered on another account, or the account's password changed since): every
    /// Kerberos logon is refused.
    pub stale_keytab: bool,
}

/// An error response message to give instead of doing the operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InjectedError {
    /// `GetFolder` or `UpdateFolder`.
    pub operation: String,
    /// The `ResponseCode`.
    pub code: String,
    /// The `MessageText`.
    pub text: String,
    /// A `BackOffMilliseconds` to add to the `MessageXml`.
    #[serde(default)]
    pub back_off_ms: Option<u64>,
}

/// "Someone else changed the list between your read and your write."
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conflict {
    /// The mailbox.
    pub mailbox: String,
    /// After how many more reads (each read triggers one change while this is positive).
    pub times: u32,
    /// The entry the other editor adds or changes: an address and a level.
    pub user: String,
    /// Its level.
    pub level: String,
}

/// What the connection-level faults make of a request.
pub(super) enum Fate {
    /// Serve it.
    Serve,
    /// Close the connection without an answer.
    Drop,
    /// Answer HTTP 503.
    Unavailable,
}

/// Takes one from a counting-down fault; whether it was still set.
fn take(count: &mut u32) -> bool {
    let set = *count > 0;
    if set {
        *count -= 1;
    }
    set
}

impl Faults {
    /// The connection-level faults for the next request, counted down.
    pub(super) fn fate(&mut self) -> Fate {
        if take(&mut self.drop_connections) {
            Fate::Drop
        } else if take(&mut self.http_503) {
            Fate::Unavailable
        } else {
            Fate::Serve
        }
    }

    /// How long to hold a request naming `mailboxes` before answering it.
    pub(super) fn hold(&self, mailboxes: &[&str]) -> Duration {
        let slow = self
            .slow_mailboxes
            .iter()
            .filter(|(slow, _)| mailboxes.iter().any(|m| m.eq_ignore_ascii_case(slow)))
            .map(|(_, ms)| *ms)
            .max()
            .unwrap_or(0);
        Duration::from_millis(self.latency_ms + slow)
    }

    /// Whether the next UpdateFolder's connection is to be closed once it is carried out.
    pub(super) fn take_drop_after_update(&mut self) -> bool {
        take(&mut self.drop_after_update)
    }

    /// Whether the next GetFolder answers without the ChangeKey.
    pub(super) fn take_omit_change_key(&mut self) -> bool {
        take(&mut self.omit_change_key)
    }

    /// The error response to give instead of doing `operation`, once.
    pub(super) fn take_error(&mut self, operation: &str) -> Option<InjectedError> {
        let index = self.errors.iter().position(|e| e.operation == operation)?;
        Some(self.errors.remove(index))
    }

    /// The other editor's change after a read of `mailbox`: the address and the level.
    pub(super) fn take_conflict(&mut self, mailbox: &str) -> Option<(String, String)> {
        let conflict = self
            .conflicts
            .iter_mut()
            .find(|c| c.mailbox.eq_ignore_ascii_case(mailbox) && c.times > 0)?;
        conflict.times -= 1;
        Some((conflict.user.clone(), conflict.level.clone()))
    }
}

/// How long after a busy answer went out a request may still arrive without counting as sent
/// inside the back-off: it may have left before the client read the answer.
const BACKOFF_GRACE: Duration = Duration::from_millis(20);

/// A back-off the server asked an account for: from when its answer went out until when.
pub(super) struct Backoff {
    from: Instant,
    until: Instant,
}

impl Backoff {
    /// Whether a request sent at `sent` was sent inside it (past the grace).
    fn holds(&self, sent: Instant) -> bool {
        sent > self.from + BACKOFF_GRACE && sent < self.until
    }
}

/// A busy answer: its `BackOffMilliseconds` and whether it comes as a response message
/// (HTTP 200) rather than a fault.
pub(super) struct Busy {
    back_off_ms: u64,
    as_message: bool,
}

impl State {
    /// Counts a request of `account` in; a busy answer when it is one too many at once
    /// (EWSMaxConcurrency) or an injected busy answer is due. Every admitted request is let out
    /// again with [`State::release`], busy or not. `sent` is when the client sent it and `hold`
    /// how long its answer will be held, for telling a request sent inside a back-off the
    /// server asked for.
    pub(super) fn admit(&mut self, account: &str, sent: Instant, hold: Duration) -> Option<Busy> {
        let key = account.to_ascii_lowercase();
        let in_flight = self.in_flight.entry(key.clone()).or_default();
        *in_flight += 1;
        let now = *in_flight;
        self.stats.max_in_flight = self.stats.max_in_flight.max(now);
        if let Some(window) = self.backoffs.get(&key)
            && window.holds(sent)
        {
            self.stats.inside_backoff += 1;
        }
        self.storm_counter += 1;
        let storm = self.faults.busy_percent > 0
            && (self.storm_counter * u64::from(self.faults.busy_percent)) % 100
                < u64::from(self.faults.busy_percent);
        let injected = take(&mut self.faults.busy) || storm;
        if !injected && now <= self.settings.max_concurrency {
            return None;
        }
        self.stats.busy_answers += 1;
        let from = Instant::now() + hold;
        let window = Backoff {
            from,
            until: from + Duration::from_millis(self.settings.back_off_ms),
        };
        self.backoffs.insert(key, window);
        Some(Busy {
            back_off_ms: self.settings.back_off_ms,
            as_message: injected && self.faults.busy_as_message,
        })
    }

    /// Counts a request of `account` out.
    pub(super) fn release(&mut self, account: &str) {
        if let Some(n) = self.in_flight.get_mut(&account.to_ascii_lowercase()) {
            *n = n.saturating_sub(1);
        }
    }
}

impl Busy {
    /// The answer: status, body and what the capture calls it.
    pub(super) fn answer(
        &self,
        profile: Profile,
        envelope: Option<&Element>,
    ) -> (StatusCode, String, String) {
        let text = "The server cannot service this request right now. Try again later.";
        if !self.as_message {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                soap::fault("ErrorServerBusy", text, Some(self.back_off_ms)),
                "busy".to_owned(),
            );
        }
        let asked = envelope
            .and_then(|e| e.child("Body").and_then(|b| b.children.first()))
            .map_or_else(|| "GetFolder".to_owned(), |o| o.name.clone());
        let answer = super::super::responses::folder_response(
            &asked,
            &[Err(("ErrorServerBusy".to_owned(), text.to_owned()))],
            Some(self.back_off_ms),
        );
        (
            StatusCode::OK,
            soap::envelope(&profile.server_version(), &answer),
            "busy".to_owned(),
        )
    }
}
