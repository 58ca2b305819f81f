//! Progress of a long batch on stderr. On a terminal: one line redrawn in place with done /
//! total (a spinner and a count while the total is unknown), the rate, the time left, the count
//! of each outcome so far and, while the server has asked to back off, how long it still waits.
//! In a pipe, with `-q`, with `NO_COLOR` or on a dumb terminal: nothing, except a plain line
//! every 10 s under `-v`, for logs of scheduled runs.
//!
//! Whatever else goes to stderr while the line is shown (failures, log lines) goes through
//! [`stderr_line`], which lifts the line out of the way and draws it again after.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sync::lock;

/// How often a plain progress line is printed under `-v` when no terminal shows the live one.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// How often the live line's words (rate, time left, back-off) are brought up to date.
const REFRESH: Duration = Duration::from_millis(200);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not at all.
    Hidden,
    /// A live line on the terminal.
    Live,
    /// A plain line this often.
    Plain(Duration),
}

/// What decides the mode, as the environment gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Surroundings {
    /// `-q`.
    pub quiet: bool,
    /// `-v` (any number of them).
    pub verbose: bool,
    /// stderr is a terminal.
    pub terminal: bool,
    /// `NO_COLOR` is set (non-empty) or `TERM` is `dumb`: no cursor movement wanted.
    pub plain_terminal: bool,
}

impl Surroundings {
    /// The surroundings of this process, with the tool's `-q` and `-v`.
    pub fn detect(quiet: bool, verbose: bool) -> Self {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Self {
            quiet,
            verbose,
            terminal: std::io::stderr().is_terminal(),
            plain_terminal: no_color || dumb,
        }
    }

    /// The mode these surroundings call for.
    pub fn mode(self) -> Mode {
        match self {
            Self { quiet: true, .. } => Mode::Hidden,
            Self {
                terminal: true,
                plain_terminal: false,
                ..
            } => Mode::Live,
            Self { verbose: true, .. } => Mode::Plain(PLAIN_INTERVAL),
            _ => Mode::Hidden,
        }
    }
}

/// Until when the server asked to wait, as the client last heard it (process-wide: throttling
/// is per account, and one run is one account).
static BUSY_UNTIL: Mutex<Option<Instant>> = Mutex::new(None);

/// The live line being shown, for [`stderr_line`].
static LIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Tells the progress line that the server asked every request to wait until `until`.
pub fn server_busy_until(until: Instant) {
    let mut busy = lock(&BUSY_UNTIL);
    if busy.is_none_or(|current| current < until) {
        *busy = Some(until);
    }
}

/// Runs `write` (which writes to stderr) with the live line, if any, out of its way.
pub fn stderr_line<R>(write: impl FnOnce() -> R) -> R {
    let live = lock(&LIVE).clone();
    match live {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// What has been done so far.
#[derive(Debug, Clone)]
struct Tally {
    done: u64,
    total: Option<u64>,
    /// Outcome word → how many, in order of first appearance.
    counts: Vec<(&'static str, u64)>,
    started: Instant,
}

impl Tally {
    fn count(&mut self, outcome: &'static str) {
        self.done += 1;
        match self.counts.iter_mut().find(|(word, _)| *word == outcome) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((outcome, 1)),
        }
    }

    /// Items per second so far.
    fn rate(&self, now: Instant) -> f64 {
        let seconds = now.duration_since(self.started).as_secs_f64();
        if seconds < 0.5 {
            return 0.0;
        }
        // Counts fit losslessly far beyond any mailbox list.
        #[allow(clippy::cast_precision_loss)]
        let done = self.done as f64;
        done / seconds
    }

    /// The words after the numbers: rate, time left, outcomes, back-off.
    fn words(&self, now: Instant, busy_until: Option<Instant>) -> String {
        let mut parts = Vec::new();
        let rate = self.rate(now);
        if rate > 0.0 {
            parts.push(format!("{}/s", rounded(rate)));
            if let Some(total) = self.total {
                let left = total.saturating_sub(self.done);
                #[allow(clippy::cast_precision_loss)]
                let seconds = left as f64 / rate;
                if left > 0 {
                    parts.push(format!("{} left", about(seconds)));
                }
            }
        }
        let outcomes = self
            .counts
            .iter()
            .map(|(word, n)| format!("{n} {word}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !outcomes.is_empty() {
            parts.push(outcomes);
        }
        if let Some(until) = busy_until.filter(|u| *u > now) {
            parts.push(format!(
                "server busy: waiting {:.1} s",
                until.duration_since(now).as_secs_f64()
            ));
        }
        parts.join(" · ")
    }

    /// The plain line: "1200/10000 mailboxes · 95/s · about 1 min 32 s left · 1190 granted".
    fn plain(&self, noun: (&str, &str), now: Instant, busy_until: Option<Instant>) -> String {
        let noun = if self.total.unwrap_or(self.done) == 1 {
            noun.0
        } else {
            noun.1
        };
        let done = match self.total {
            Some(total) => format!("{}/{total} {noun}", self.done),
            None => format!("{} {noun}", self.done),
        };
        let words = self.words(now, busy_until);
        if words.is_empty() {
            done
        } else {
            format!("{done} · {words}")
        }
    }
}

/// A rate as people read it: whole numbers from 10 up, one decimal below.
fn rounded(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.1}")
    }
}

/// A time left as people read it: "about 40 s", "about 3 min 5 s", "about 2 h 10 min".
fn about(seconds: f64) -> String {
    // Rounded to whole seconds; anything past u64 is not a time anyone waits for.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = seconds.round().clamp(0.0, 1e9) as u64;
    match s {
        0 => "under 1 s".to_owned(),
        1..60 => format!("about {s} s"),
        60..3600 => format!("about {} min {} s", s / 60, s % 60),
        _ => format!("about {} h {} min", s / 3600, s % 3600 / 60),
    }
}

struct Shared {
    tool: &'static str,
    noun: (&'static str, &'static str),
    tally: Mutex<Tally>,
    bar: Option<ProgressBar>,
}

/// The progress of one batch. Dropping it (or [`Progress::finish`]) takes the live line away.
pub struct Progress {
    shared: Option<Arc<Shared>>,
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Progress {
    /// No progress at all.
    pub fn hidden() -> Self {
        Self {
            shared: None,
            ticker: None,
        }
    }

    /// Starts showing progress of `noun`s as `mode` says; `total` when known.
    pub fn start(
        mode: Mode,
        tool: &'static str,
        noun: (&'static str, &'static str),
        total: Option<u64>,
    ) -> Self {
        let tick = match mode {
            Mode::Hidden => return Self::hidden(),
            Mode::Live => REFRESH,
            Mode::Plain(every) => every,
        };
        let bar = (mode == Mode::Live).then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            bar.set_style(style(noun.1, total.is_some()));
            bar.enable_steady_tick(Duration::from_millis(100));
            *lock(&LIVE) = Some(bar.clone());
            bar
        });
        let shared = Arc::new(Shared {
            tool,
            noun,
            tally: Mutex::new(Tally {
                done: 0,
                total,
                counts: Vec::new(),
                started: Instant::now(),
            }),
            bar,
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let ticking = Arc::clone(&shared);
        let ticker = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    ticking.refresh();
                }
            })
            .ok()
            .map(|handle| (stop, handle));
        Self {
            shared: Some(shared),
            ticker,
        }
    }

    /// A handle that sets the total from wherever the input is read.
    pub fn total_setter(&self) -> TotalSetter {
        TotalSetter(self.shared.clone())
    }

    /// One more item done, with this outcome.
    pub fn item(&self, outcome: &'static str) {
        if let Some(shared) = &self.shared {
            let mut tally = lock(&shared.tally);
            tally.count(outcome);
            if let Some(bar) = &shared.bar {
                bar.inc(1);
                bar.set_message(tally.words(Instant::now(), *lock(&BUSY_UNTIL)));
            }
        }
    }

    /// Takes the live line away for good.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            drop(stop);
            let _ = handle.join();
        }
        if let Some(shared) = self.shared.take()
            && let Some(bar) = &shared.bar
        {
            *lock(&LIVE) = None;
            bar.finish_and_clear();
        }
    }
}

/// Sets a progress's total when the input has been read to its end (see
/// [`Progress::total_setter`]).
#[derive(Clone)]
pub struct TotalSetter(Option<Arc<Shared>>);

impl TotalSetter {
    /// The input held `total` items.
    pub fn set(&self, total: u64) {
        if let Some(shared) = &self.0 {
            let mut tally = lock(&shared.tally);
            if tally.total.is_some() {
                return;
            }
            tally.total = Some(total);
            if let Some(bar) = &shared.bar {
                bar.set_style(style(shared.noun.1, true));
                bar.set_length(total);
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    /// Brings the live line's words up to date, or prints the plain line.
    fn refresh(&self) {
        let tally = lock(&self.tally).clone();
        let busy = *lock(&BUSY_UNTIL);
        let now = Instant::now();
        match &self.bar {
            Some(bar) => bar.set_message(tally.words(now, busy)),
            None => eprintln!("{}: {}", self.tool, tally.plain(self.noun, now, busy)),
        }
    }
}

/// The live line's layout: with a total, a bar; without, a spinner and a count.
fn style(noun: &str, with_total: bool) -> ProgressStyle {
    let template = if with_total {
        format!("{{spinner}} {{pos}}/{{len}} {noun} [{{bar:24}}] {{wide_msg}}")
    } else {
        format!("{{spinner}} {{pos}} {noun} {{wide_msg}}")
    };
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_line_only_on_a_real_terminal_and_a_plain_one_only_under_verbose() {
        let cases = [
            // quiet, verbose, terminal, NO_COLOR/dumb → mode
            ((false, false, true, false), Mode::Live),
            ((false, true, true, false), Mode::Live),
            ((true, false, true, false), Mode::Hidden),
            ((true, true, false, false), Mode::Hidden),
            ((false, false, false, false), Mode::Hidden),
            ((false, true, false, false), Mode::Plain(PLAIN_INTERVAL)),
            ((false, false, true, true), Mode::Hidden),
            ((false, true, true, true), Mode::Plain(PLAIN_INTERVAL)),
        ];
        for ((quiet, verbose, terminal, plain_terminal), mode) in cases {
            let surroundings = Surroundings {
                quiet,
                verbose,
                terminal,
                plain_terminal,
            };
            assert_eq!(surroundings.mode(), mode, "{surroundings:?}");
        }
    }

    fn tally(done: u64, total: Option<u64>, seconds: u64) -> (Tally, Instant) {
        let started = Instant::now();
        let mut tally = Tally {
            done: 0,
            total,
            counts: Vec::new(),
            started,
        };
        for i in 0..done {
            tally.count(if i % 10 == 9 { "failed" } else { "granted" });
        }
        (tally, started + Duration::from_secs(seconds))
    }

    #[test]
    fn the_words_give_rate_time_left_outcomes_and_the_wait() {
        let (t, now) = tally(200, Some(1000), 10);
        assert_eq!(
            t.words(now, None),
            "20/s · about 40 s left · 180 granted, 20 failed"
        );
        let busy = now + Duration::from_millis(4200);
        assert_eq!(
            t.words(now, Some(busy)),
            "20/s · about 40 s left · 180 granted, 20 failed · server busy: waiting 4.2 s"
        );
        // A back-off that is over is not mentioned.
        assert!(!t.words(busy, Some(now)).contains("busy"));
        assert_eq!(
            t.plain(("mailbox", "mailboxes"), now, None),
            "200/1000 mailboxes · 20/s · about 40 s left · 180 granted, 20 failed"
        );
    }

    #[test]
    fn without_a_total_there_is_a_count_and_no_time_left() {
        let (t, now) = tally(30, None, 20);
        assert_eq!(
            t.plain(("mailbox", "mailboxes"), now, None),
            "30 mailboxes · 1.5/s · 27 granted, 3 failed"
        );
        let (nothing, at_start) = tally(0, None, 0);
        assert_eq!(
            nothing.plain(("mailbox", "mailboxes"), at_start, None),
            "0 mailboxes"
        );
    }

    #[test]
    fn times_left_read_like_a_person_would_say_them() {
        assert_eq!(about(0.4), "under 1 s");
        assert_eq!(about(39.6), "about 40 s");
        assert_eq!(about(185.0), "about 3 min 5 s");
        assert_eq!(about(7800.0), "about 2 h 10 min");
    }
}
