//! The EWS client: a bounded pool of authenticated connections, throttling that pauses every
//! request for as long as the server asks, reconnection when a connection drops, and stepping
//! down the request version when the server refuses it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::address::SmtpAddress;
use common::sync::lock;
use std::sync::Arc;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::auth::Mechanism;
use crate::endpoint::Endpoint;
use crate::error::EwsError;
use crate::permissions::PermissionSet;
use crate::policy::{self, Verdict};
use crate::request::{self, FolderId, RequestHeader};
use crate::response::{self, CalendarFolder, Envelope, ResponseClass, ServerVersionInfo};
use crate::response_code::ResponseCode;
use crate::transport::{Connection, Tls, TransportError};
use crate::version::ExchangeVersion;

/// How often a request is tried when the server is busy or a connection drops.
const MAX_BUSY_RETRIES: u32 = 8;
const MAX_RECONNECTS: u32 = 3;
/// Back-off when the server does not say how long: 0.5 s, doubling, at most 30 s.
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// What the client needs to know.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// How to log on.
    pub auth: Arc<dyn Mechanism>,
    /// The TLS connector every connection shares, and its settings.
    pub tls: Tls,
    /// Longest wait for any one step.
    pub timeout: Duration,
    /// Connections open at once (and so requests in flight).
    pub connections: usize,
    /// The request version to start with.
    pub version: ExchangeVersion,
    /// Impersonate each mailbox instead of delegate access.
    pub impersonate: bool,
    /// The longest back-off the server may ask for; a longer one ends the run.
    pub max_backoff: Duration,
}

/// Waits longer than this are announced on stderr, whatever the verbosity.
const ANNOUNCED_WAIT: Duration = Duration::from_secs(5);

/// When the server was last busy, and when the number in flight last changed.
#[derive(Debug)]
struct ThrottleMarks {
    last_busy: Instant,
    last_change: Instant,
}

/// What ends a whole run, remembered so every later request gets the same answer at once.
#[derive(Debug)]
enum RunEnding {
    /// The logon failed: another attempt would only add a failed logon.
    Logon(TransportError),
    /// The server asked to wait longer than `--max-backoff`.
    Backoff {
        /// What it asked for.
        asked: Duration,
        /// The limit.
        limit: Duration,
    },
}

impl RunEnding {
    fn error(&self) -> EwsError {
        match self {
            RunEnding::Logon(e) => e
                .repeat()
                .map_or(EwsError::Incomplete("a logon"), EwsError::Transport),
            RunEnding::Backoff { asked, limit } => EwsError::BackoffTooLong {
                asked: *asked,
                limit: *limit,
            },
        }
    }
}

/// Counts of what happened, for the summary.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent (not counting authentication legs).
    pub requests: AtomicU64,
    /// Connections opened.
    pub connections: AtomicU64,
    /// Times the server said it was busy.
    pub busy: AtomicU64,
    /// Connections that broke and were replaced.
    pub reconnects: AtomicU64,
    /// Requests allowed in flight at once: starts at the configured number, drops by one with
    /// each busy answer, down to one, and climbs back one at a time after quiet periods.
    pub in_flight_limit: AtomicUsize,
}

/// The client. Shared by all concurrent work through `&`.
pub struct EwsClient {
    settings: ClientSettings,
    idle: Mutex<Vec<Connection>>,
    slots: Semaphore,
    version: Mutex<ExchangeVersion>,
    paused_until: Mutex<Option<Instant>>,
    server: Mutex<Option<ServerVersionInfo>>,
    /// Held by the one request that goes first, until a logon has succeeded: a wrong password
    /// is then tried on one connection, not on every connection at once.
    first_logon: tokio::sync::Mutex<()>,
    logged_on: std::sync::atomic::AtomicBool,
    ending: Mutex<Option<RunEnding>>,
    throttle_marks: Mutex<ThrottleMarks>,
    /// What happened.
    pub counters: Counters,
}

impl std::fmt::Debug for EwsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EwsClient")
            .field("endpoint", &self.settings.endpoint.url())
            .finish_non_exhaustive()
    }
}

impl EwsClient {
    /// A client; connections open on first use.
    pub fn new(settings: ClientSettings) -> Self {
        let connections = settings.connections.max(1);
        let version = settings.version;
        Self {
            settings,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(connections),
            version: Mutex::new(version),
            paused_until: Mutex::new(None),
            server: Mutex::new(None),
            first_logon: tokio::sync::Mutex::new(()),
            logged_on: std::sync::atomic::AtomicBool::new(false),
            ending: Mutex::new(None),
            throttle_marks: Mutex::new(ThrottleMarks {
                last_busy: Instant::now(),
                last_change: Instant::now(),
            }),
            counters: Counters {
                in_flight_limit: AtomicUsize::new(connections),
                ..Counters::default()
            },
        }
    }

    /// The server's version, once a response told it.
    pub fn server_version(&self) -> Option<ServerVersionInfo> {
        lock(&self.server).clone()
    }

    /// The request version in use.
    pub fn request_version(&self) -> ExchangeVersion {
        *lock(&self.version)
    }

    /// Who logs on: `--user`, or the principal of the Kerberos ticket.
    pub fn logon(&self) -> &str {
        self.settings.auth.user()
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.settings.endpoint
    }

    async fn connection(&self) -> Result<(SemaphorePermit<'_>, Connection), EwsError> {
        let permit = self
            .slots
            .acquire()
            .await
            .map_err(|_| EwsError::Incomplete("a connection slot"))?;
        // A back-off may have begun while this request waited for its slot.
        self.wait_if_paused().await;
        loop {
            let Some(connection) = lock(&self.idle).pop() else {
                break;
            };
            if connection.is_open() {
                return Ok((permit, connection));
            }
        }
        let connection = Connection::open(
            &self.settings.endpoint,
            &self.settings.tls,
            self.settings.timeout,
        )
        .await?;
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        Ok((permit, connection))
    }

    fn give_back(&self, connection: Connection) {
        if connection.is_open() {
            lock(&self.idle).push(connection);
        }
    }

    /// Holds every request back for `wait` (the server's BackOffMilliseconds): throttling is
    /// per account, so one busy answer speaks for all connections. A wait longer than
    /// `--max-backoff` ends the run instead; one longer than a few seconds is announced.
    fn pause(&self, wait: Duration) -> Result<(), EwsError> {
        if wait > self.settings.max_backoff {
            let ending = RunEnding::Backoff {
                asked: wait,
                limit: self.settings.max_backoff,
            };
            let error = ending.error();
            self.end_run(ending);
            return Err(error);
        }
        let until = Instant::now() + wait;
        let mut paused = lock(&self.paused_until);
        if paused.is_none_or(|current| current < until) {
            if wait > ANNOUNCED_WAIT {
                log::warn!(
                    "server busy: waiting {:.1} s before the next request",
                    wait.as_secs_f64()
                );
            } else {
                log::info!(
                    "the server is busy: pausing all requests for {} ms",
                    wait.as_millis()
                );
            }
            *paused = Some(until);
            common::progress::server_busy_until(until);
        }
        Ok(())
    }

    fn end_run(&self, ending: RunEnding) {
        let mut current = lock(&self.ending);
        if current.is_none() {
            *current = Some(ending);
        }
    }

    /// The error every request gets once the run has ended.
    fn run_ended(&self) -> Option<EwsError> {
        lock(&self.ending).as_ref().map(RunEnding::error)
    }

    /// After a busy answer: one request fewer in flight from now on (down to one), so a
    /// concurrency above the account's throttling limit settles at the limit instead of
    /// exhausting its retries.
    async fn slow_down(&self) {
        {
            let now = Instant::now();
            let mut marks = lock(&self.throttle_marks);
            marks.last_busy = now;
            marks.last_change = now;
        }
        let lowered =
            self.counters
                .in_flight_limit
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n > 1).then(|| n - 1)
                });
        if let Ok(before) = lowered {
            if let Ok(permit) = self.slots.acquire().await {
                permit.forget();
            }
            log::info!(
                "the server throttles: {} requests at once from now on",
                before - 1
            );
        }
    }

    /// After an answer that was not busy: one more request in flight again, up to the
    /// configured number, once the server has been quiet for a while ([`policy::may_raise`]).
    fn after_quiet_answer(&self) {
        let limit = self.counters.in_flight_limit.load(Ordering::SeqCst);
        if limit >= self.settings.connections.max(1) {
            return;
        }
        let now = Instant::now();
        let mut marks = lock(&self.throttle_marks);
        if policy::may_raise(
            limit,
            self.settings.connections.max(1),
            now - marks.last_busy,
            now - marks.last_change,
        ) && self
            .counters
            .in_flight_limit
            .compare_exchange(limit, limit + 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            marks.last_change = now;
            self.slots.add_permits(1);
            log::info!(
                "the server has been quiet: {} requests at once again",
                limit + 1
            );
        }
    }

    /// After a busy answer (the `busy`-th for this request): give up past the limit, else
    /// hold every request back for the server's `BackOffMilliseconds` (or an exponential
    /// back-off when it names none).
    fn busy(&self, busy: &mut u32, wait: Option<Duration>) -> Result<(), EwsError> {
        *busy += 1;
        self.counters.busy.fetch_add(1, Ordering::Relaxed);
        if *busy > MAX_BUSY_RETRIES {
            return Err(EwsError::Busy { attempts: *busy });
        }
        let attempt = *busy;
        self.pause(wait.unwrap_or_else(|| Self::backoff(attempt)))
    }

    /// Waits out the back-off in force, and any that began while waiting.
    async fn wait_if_paused(&self) {
        loop {
            let until = *lock(&self.paused_until);
            match until {
                Some(until) if until > Instant::now() => {
                    tokio::time::sleep_until(until.into()).await;
                }
                _ => return,
            }
        }
    }

    fn backoff(attempt: u32) -> Duration {
        let base = BACKOFF_START
            .saturating_mul(1u32 << attempt.min(10))
            .min(BACKOFF_MAX);
        let mut jitter = [0u8; 2];
        let _ = getrandom::fill(&mut jitter);
        base + Duration::from_millis(u64::from(u16::from_le_bytes(jitter) % 250))
    }

    /// Steps the request version down after the server refused `refused`; false when there
    /// is nothing older to try.
    fn step_down(&self, refused: ExchangeVersion) -> bool {
        let mut version = lock(&self.version);
        if *version != refused {
            return true; // another request already stepped
        }
        match refused.step_down() {
            Some(older) => {
                log::info!("the server refuses {refused}; trying {older}");
                *version = older;
                true
            }
            None => false,
        }
    }

    /// Sends one SOAP request for `mailbox` and returns the parsed envelope, retrying through
    /// busy answers, version refusals and (when `resend` allows it: reads, not writes, whose
    /// first attempt may have been carried out) dropped connections. What an answer means is
    /// [`policy::classify`]'s to say.
    async fn call(
        &self,
        mailbox: Option<&SmtpAddress>,
        resend: bool,
        build: impl Fn(&RequestHeader) -> String,
    ) -> Result<Envelope, EwsError> {
        use std::sync::atomic::Ordering::SeqCst;
        let label = mailbox.map_or("the account's own mailbox", SmtpAddress::as_str);
        // Until a logon has succeeded, one request at a time: a wrong password is tried once.
        let mut first = if self.logged_on.load(SeqCst) {
            None
        } else {
            Some(self.first_logon.lock().await)
        };
        if self.logged_on.load(SeqCst) {
            first = None;
        }
        let (mut busy, mut reconnects) = (0u32, 0u32);
        loop {
            if let Some(error) = self.run_ended() {
                return Err(error);
            }
            self.wait_if_paused().await;
            let version = self.request_version();
            let header = RequestHeader {
                version,
                impersonate: mailbox.filter(|_| self.settings.impersonate).cloned(),
            };
            let soap = build(&header);
            log::debug!("request for {label}: {soap}");
            let (permit, mut connection) = self.connection().await?;
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let result = connection
                .post(
                    &self.settings.endpoint,
                    self.settings.auth.as_ref(),
                    &soap,
                    mailbox.map(SmtpAddress::as_str),
                    self.settings.timeout,
                )
                .await;
            let response = match result {
                Ok(response) => {
                    self.give_back(connection);
                    self.logged_on.store(true, SeqCst);
                    first = None;
                    response
                }
                Err(e) if e.is_logon_failure() => {
                    if let Some(copy) = e.repeat() {
                        self.end_run(RunEnding::Logon(copy));
                    }
                    drop(first);
                    return Err(e.into());
                }
                Err(TransportError::ConnectionLost { address, reason })
                    if resend && reconnects < MAX_RECONNECTS =>
                {
                    reconnects += 1;
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    log::info!(
                        "the connection to {address} broke ({reason}); retrying on a new one"
                    );
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            log::debug!(
                "response for {label}: HTTP {} {}",
                response.status.as_u16(),
                String::from_utf8_lossy(&response.body)
            );
            let body = response::parse(&response.body);
            if let Some(info) = body.as_ref().ok().and_then(|e| e.server_version.clone()) {
                *lock(&self.server) = Some(info);
            }
            let address = self.settings.endpoint.url();
            match policy::classify(
                response.status,
                &response.headers,
                body,
                version,
                mailbox.is_some(),
                &address,
            ) {
                Verdict::Answer(envelope) => {
                    drop(permit);
                    self.after_quiet_answer();
                    return Ok(envelope);
                }
                Verdict::Busy { wait } => {
                    // The pause is in place before the slot is free, so no other request
                    // slips out inside the back-off the server just asked for.
                    let paused = self.busy(&mut busy, wait);
                    drop(permit);
                    paused?;
                    self.slow_down().await;
                }
                Verdict::StepDown => {
                    if !self.step_down(version) {
                        return Err(EwsError::NoVersion {
                            tried: version.name(),
                        });
                    }
                }
                Verdict::MailboxFault { code, text } => {
                    return Err(EwsError::Exchange {
                        mailbox: label.to_owned(),
                        code,
                        text,
                    });
                }
                Verdict::Failed(error) => return Err(error),
            }
        }
    }

    /// The calendar folder of `mailbox`, with its permissions.
    pub async fn calendar(&self, mailbox: &SmtpAddress) -> Result<CalendarFolder, EwsError> {
        let envelope = self
            .call(Some(mailbox), true, |header| {
                request::get_calendar(header, mailbox)
            })
            .await?;
        let message = first_message(envelope, mailbox.as_str())?;
        message
            .folder
            .ok_or(EwsError::Incomplete("the calendar folder"))
    }

    /// The recipients Exchange resolves `text` to, as (address, mailbox type); none is an
    /// empty list.
    pub async fn resolve_names(&self, text: &str) -> Result<Vec<(String, String)>, EwsError> {
        let envelope = self
            .call(None, true, |header| request::resolve_names(header, text))
            .await?;
        let message = envelope
            .messages
            .into_iter()
            .next()
            .ok_or(EwsError::Incomplete("a response message"))?;
        match (message.class, message.code) {
            (ResponseClass::Error, Some(ResponseCode::ErrorNameResolutionNoResults)) => {
                Ok(Vec::new())
            }
            (ResponseClass::Error, code) => Err(EwsError::Exchange {
                mailbox: text.to_owned(),
                code: code.unwrap_or_else(|| ResponseCode::Other("an unnamed error".into())),
                text: message.text.unwrap_or_default(),
            }),
            _ => Ok(message.resolutions),
        }
    }

    /// The calendar of the account that logs on (for `check`: any EWS answer, even "no such
    /// mailbox" for an account without one, proves the logon and tells the server version).
    pub async fn own_calendar(&self) -> Result<Result<CalendarFolder, EwsError>, EwsError> {
        let envelope = self.call(None, true, request::get_own_calendar).await?;
        Ok(first_message(envelope, "the account's own mailbox")
            .and_then(|m| m.folder.ok_or(EwsError::Incomplete("the calendar folder"))))
    }

    /// Replaces the permission list of the calendar `folder` of `mailbox`; returns the folder's
    /// new id and change key.
    pub async fn set_permissions(
        &self,
        mailbox: &SmtpAddress,
        folder: &FolderId,
        set: &PermissionSet,
    ) -> Result<FolderId, EwsError> {
        let envelope = self
            .call(Some(mailbox), false, |header| {
                request::set_calendar_permissions(header, folder, set)
            })
            .await?;
        let message = first_message(envelope, mailbox.as_str())?;
        Ok(message.folder.map_or_else(|| folder.clone(), |f| f.id))
    }
}

fn first_message(envelope: Envelope, mailbox: &str) -> Result<response::ResponseMessage, EwsError> {
    let message = envelope
        .messages
        .into_iter()
        .next()
        .ok_or(EwsError::Incomplete("a response message"))?;
    if message.class == ResponseClass::Error {
        return Err(EwsError::Exchange {
            mailbox: mailbox.to_owned(),
            code: message
                .code
                .unwrap_or_else(|| ResponseCode::Other("an unnamed error".into())),
            text: message.text.unwrap_or_default(),
        });
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = EwsClient::backoff(1);
        assert!(first >= Duration::from_secs(1) && first < Duration::from_millis(1250));
        assert!(EwsClient::backoff(20) <= BACKOFF_MAX + Duration::from_millis(250));
    }
}
