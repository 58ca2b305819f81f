//! What grant, revoke and list share: the mailboxes (the same inputs as ews-tool's), the
//! per-mailbox work run several at once and reported in input order, the CSV report, and the
//! wait for a mailbox Graph does not show yet (a new account's, while its licence provisions
//! it: `Request_ResourceNotFound`, then `MailboxNotEnabledForRESTAPI`), bounded, said once, and
//! not a failure unless it outlasts `--wait-for-mailbox`; and for the runs that write, the
//! journal (each write's intent durable before the `$batch` that carries it, every outcome
//! after), resume from it and undo.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use common::journal::{self, Header, Journal, Record, Resume};
use common::mailboxes::{self, MailboxEntry, Mailboxes};
use common::report::{CsvReport, ErrorRecord};
use common::{CommandError, ExitStatus};
use futures::StreamExt as _;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::calendar::{self, Entry, Grantee, Role, RoleState, Step, Undo};
use crate::context::Context;
use crate::graph::{BATCH_LIMIT, Call, Graph, GraphError, segment};

/// The tool named in the journals it writes.
pub const TOOL: &str = "m365-tool";

/// Which mailboxes, and how the batch runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mailboxes")]
pub struct BatchArgs {
    /// A mailbox by SMTP address; repeat for more
    #[arg(long = "mailbox", value_name = "ADDRESS")]
    pub mailboxes: Vec<common::address::SmtpAddress>,

    /// Mailboxes from FILE (- for stdin): one address per line (# comments), or a CSV with a
    /// mail or PrimarySmtpAddress column
    #[arg(long, value_name = "FILE")]
    pub mailboxes_file: Option<PathBuf>,

    /// Mailboxes worked on at once (each sends one request at a time)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,

    /// The longest to wait for a mailbox Graph does not show yet (a new account's, while its
    /// licence provisions it): 90s, 15m, 1h
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = common::args::parse_duration)]
    pub wait_for_mailbox: Duration,
}

impl BatchArgs {
    /// The mailboxes of the options and the file, read as they come.
    pub fn open(&self) -> Result<Mailboxes, CommandError> {
        if self.mailboxes.is_empty() && self.mailboxes_file.is_none() {
            return Err(CommandError::usage("no mailboxes given")
                .with_hint("pass --mailbox ADDRESS (repeat) or --mailboxes-file FILE (- for stdin)")
                .with_code("mailboxes"));
        }
        mailboxes::open(&self.mailboxes, self.mailboxes_file.as_deref())
    }
}

/// What grant and revoke write besides the calendars.
#[derive(Debug, Clone, Args)]
pub struct EditArgs {
    /// Read the calendars and report what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Also write the outcomes to this CSV file
    #[arg(long, value_name = "FILE.csv")]
    pub report: Option<PathBuf>,

    /// The run's journal, to resume or undo it; the same FILE again resumes an interrupted run
    /// [default: a new file in the state directory, printed at the start]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

/// One mailbox's outcome (the same shape as ews-tool's, with Graph roles as levels).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The mailbox.
    pub mailbox: String,
    /// The grantee.
    pub grantee: String,
    /// granted, updated, unchanged, revoked, absent, restored, changed-since, would-grant,
    /// would-update, would-revoke, would-restore, failed.
    pub action: &'static str,
    /// The grantee's role before, if it had an entry.
    pub level_before: Option<String>,
    /// Its role after, if it has an entry.
    pub level_after: Option<String>,
    /// What went wrong.
    pub error: Option<ErrorRecord>,
    /// The failure itself, said once on stderr.
    #[serde(skip)]
    pub failure: Option<CommandError>,
    /// The grantee's entry before and after, for the journal.
    #[serde(skip)]
    states: Option<(RoleState, RoleState)>,
}

impl Outcome {
    fn new(mailbox: &str, grantee: &Grantee) -> Self {
        Self {
            mailbox: mailbox.to_owned(),
            grantee: grantee.to_string(),
            action: "failed",
            level_before: None,
            level_after: None,
            error: None,
            failure: None,
            states: None,
        }
    }

    fn fail(&mut self, error: CommandError) {
        self.error = Some(ErrorRecord::from(&error));
        self.failure = Some(error);
    }

    fn write_human(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let role = |r: &Option<String>| r.clone().unwrap_or_else(|| "-".into());
        let detail = match (&self.error, self.action) {
            (Some(e), _) => e.code.to_owned(),
            (None, "unchanged" | "absent") => role(&self.level_after),
            (None, _) => format!(
                "{} -> {}",
                role(&self.level_before),
                role(&self.level_after)
            ),
        };
        writeln!(out, "{:<13}{:<36}{detail}", self.action, self.mailbox)
    }
}

/// A change to make on each calendar.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// Give the grantee this role.
    Grant(Role),
    /// Remove the grantee's entry.
    Revoke,
    /// Put the grantee's entry back as it was before a journaled run, if it is still what
    /// that run left (or whatever it is, with `force`).
    Restore {
        /// Restore even when the entry was changed since.
        force: bool,
    },
}

impl Change {
    fn command(self) -> &'static str {
        match self {
            Change::Grant(_) => "grant",
            Change::Revoke => "revoke",
            Change::Restore { .. } => "undo",
        }
    }
}

/// Failures after which no mailbox would fare better: the sign-in refused, Graph's back-off
/// longer than allowed, a journal that cannot be written.
fn ends_the_run(error: &CommandError) -> bool {
    matches!(error.code, "sign-in" | "throttled" | "journal")
}

/// What a batch of mailboxes works with besides the work: the signed-in client, the CSV
/// report (opened before anything is changed), and how to finish a run that stops early.
pub struct Batch<'a> {
    /// The client.
    pub graph: &'a Graph,
    /// The mailboxes, read as they come.
    pub mailboxes: Mailboxes,
    /// Mailboxes worked on at once.
    pub concurrency: usize,
    /// The CSV report.
    pub report: Option<CsvReport>,
    /// The run's journal, for the line of a run that stops early.
    pub resume: Resume,
}

/// A mailbox's record, or its line that is no address (the line, why).
type Item<R> = Result<R, (String, String)>;

/// Runs `work` on the mailboxes in chunks of up to [`BATCH_LIMIT`] (what has arrived of a
/// pipe; one `$batch` round trip each), several chunks at once, and reports every mailbox in
/// input order; the exit status. `work` returns one record per mailbox of its chunk, in order,
/// or the error that ends the run. Ctrl-C (or SIGTERM) stops new chunks from starting; what
/// is in flight finishes and is reported.
pub async fn run_batch<R, Fut>(
    ctx: &Context,
    batch: Batch<'_>,
    work: impl Fn(Graph, Vec<String>) -> Fut,
    record: impl Fn(&R) -> (&'static str, Option<CommandError>, Vec<String>),
    human: impl Fn(&R, &mut std::io::Stdout) -> std::io::Result<()>,
) -> Result<ExitStatus, CommandError>
where
    R: Serialize,
    Fut: Future<Output = Result<Vec<R>, CommandError>>,
{
    let Batch {
        graph,
        mailboxes,
        concurrency,
        mut report,
        resume,
    } = batch;
    let ended: std::cell::RefCell<Option<CommandError>> = std::cell::RefCell::new(None);
    let interrupt = common::interrupt::Interrupt::listen("m365-tool");
    let total = mailboxes.total;
    let mut reporter = ctx.reporter(("mailbox", "mailboxes"));
    reporter.show_progress(total);
    let items = mailboxes.stream.map(|entry| match entry {
        Ok(MailboxEntry {
            address: Ok(address),
            ..
        }) => Ok(address.as_str().to_owned()),
        Ok(MailboxEntry {
            text,
            address: Err(problem),
        }) => Err((text, problem)),
        Err(e) => Err((String::new(), e.to_string())),
    });
    common::batch::in_order_streamed(
        items.ready_chunks(BATCH_LIMIT),
        concurrency.max(1),
        || ended.borrow().is_none() && !interrupt.is_asked(),
        |chunk: Vec<Result<String, (String, String)>>| {
            let graph = graph.clone();
            let work = &work;
            async move {
                let mailboxes: Vec<String> = chunk
                    .iter()
                    .filter_map(|i| i.as_ref().ok().cloned())
                    .collect();
                let mut done = work(graph, mailboxes).await?.into_iter();
                Ok(chunk
                    .into_iter()
                    .map(|item| match item {
                        Ok(_) => done.next().ok_or((String::new(), "no outcome".to_owned())),
                        Err(bad) => Err(bad),
                    })
                    .collect::<Vec<_>>())
            }
        },
        |results: Result<Vec<Item<R>>, CommandError>| -> Result<(), CommandError> {
            let results = match results {
                Ok(results) => results,
                Err(error) => {
                    ended.borrow_mut().get_or_insert(error);
                    return Ok(());
                }
            };
            for result in results {
                if let Ok(r) = &result
                    && let (_, Some(error), _) = record(r)
                    && ends_the_run(&error)
                {
                    ended.borrow_mut().get_or_insert(error);
                    continue;
                }
                report_one(&mut reporter, report.as_mut(), result, &record, &human)?;
            }
            Ok(())
        },
    )
    .await?;
    let rest = total.map_or_else(String::new, |total| {
        format!("; {} not done", total.saturating_sub(reporter.items()))
    });
    if let Some(error) = ended.into_inner() {
        // The summary first, then the one line that says why the run ended.
        let _ = reporter.finish(&rest);
        let error = CommandError {
            item: None,
            ..error
        };
        return Err(if error.code == "journal" {
            error.with_hint(resume.hint())
        } else {
            error
        });
    }
    if interrupt.is_asked() {
        let _ = reporter.finish(&rest);
        return Err(
            CommandError::new(ExitStatus::Interrupted, format!("interrupted{rest}"))
                .with_hint(resume.hint())
                .with_code("interrupted"),
        );
    }
    reporter.finish("")
}

/// Opens the CSV report, if asked for (before anything is changed, so an unusable path stops
/// the run).
pub fn open_report(path: Option<&std::path::Path>) -> Result<Option<CsvReport>, CommandError> {
    path.map(|p| CsvReport::open(p, &REPORT_HEADER)).transpose()
}

/// A change to make on every calendar, and what the run keeps of it.
pub struct Edit {
    /// The grantee.
    pub grantee: Grantee,
    /// The change.
    pub change: Change,
    /// Change nothing.
    pub dry_run: bool,
    /// The journal asked for (`--journal`; undo's `--undo-journal`).
    pub journal: Option<PathBuf>,
    /// The journal an undo reverses, and the Graph URL its changes were made through.
    pub undoes: Option<(String, String)>,
    /// Per mailbox (lower-case address): the write an undo reverses.
    pub earlier: HashMap<String, (RoleState, RoleState)>,
    /// The longest to wait for a mailbox Graph does not show yet.
    pub wait: Duration,
    /// Mailboxes worked on at once.
    pub concurrency: usize,
    /// The CSV report asked for.
    pub report: Option<PathBuf>,
}

impl Edit {
    /// A grant's or revoke's edit, from its options.
    pub fn new(grantee: Grantee, change: Change, args: EditArgs, batch: &BatchArgs) -> Self {
        Edit {
            grantee,
            change,
            dry_run: args.dry_run,
            journal: args.journal,
            undoes: None,
            earlier: HashMap::new(),
            wait: batch.wait_for_mailbox,
            concurrency: usize::from(batch.concurrency),
            report: args.report,
        }
    }
}

/// Grant, revoke or undo on every mailbox: the journal (none for a dry run), resume from an
/// earlier run's journal (mailboxes done skipped, writes in flight checked, never sent
/// twice), the records, the CSV report and the summary.
pub async fn run_edits(
    ctx: &Context,
    mailboxes: Mailboxes,
    edit: Edit,
) -> Result<ExitStatus, CommandError> {
    let report = open_report(edit.report.as_deref())?;
    let graph = ctx.graph().await?;
    if let Some((undone, url)) = &edit.undoes
        && !url.eq_ignore_ascii_case(graph.base())
    {
        return Err(CommandError::usage(format!(
            "cannot undo from {undone}: it records changes made through {url}"
        ))
        .with_hint(format!("undo with --graph-url {url}"))
        .with_code("journal"));
    }
    let command = edit.change.command();
    let (journal, contents) = if edit.dry_run {
        (None, journal::Contents::<RoleState>::default())
    } else {
        let path = journal::path_for(edit.journal.as_deref(), command)?;
        let header = Header {
            tool: Some(TOOL.to_owned()),
            command: command.to_owned(),
            grantee: edit.grantee.to_string(),
            level: match edit.change {
                Change::Grant(role) => Some(role.name().to_owned()),
                _ => None,
            },
            url: graph.base().to_owned(),
            user: graph.actor().await,
            started: jiff::Timestamp::now().to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            undoes: edit.undoes.as_ref().map(|(undone, _)| undone.clone()),
            resumed: false,
        };
        let (journal, contents) = journal::open_for_run(&path, header, ctx.global.quiet).await?;
        (Some(journal), contents)
    };
    let mut earlier = edit.earlier;
    let mailboxes = if matches!(edit.change, Change::Restore { .. }) {
        mailboxes
    } else {
        // A resumed run skips what is done and checks what was in flight.
        let history: HashMap<_, _> = contents.mailboxes.into_iter().collect();
        for (mailbox, h) in &history {
            if let Some(write) = h.in_flight_write() {
                earlier.insert(mailbox.clone(), write);
            }
        }
        journal::skip_done(mailboxes, &history)
    };
    let resume = Resume {
        journal: journal.as_ref().map(|j| j.path().to_owned()),
    };
    let job = Job {
        grantee: &edit.grantee,
        change: edit.change,
        dry_run: edit.dry_run,
        wait: edit.wait,
        journal: journal.as_ref(),
        earlier: &earlier,
    };
    let job = &job;
    let result = run_batch(
        ctx,
        Batch {
            graph: &graph,
            mailboxes,
            concurrency: edit.concurrency,
            report,
            resume,
        },
        |graph, mailboxes| async move { edit_all(&graph, &mailboxes, job).await },
        reported,
        human,
    )
    .await;
    if let Some(journal) = journal {
        let finished = journal.finish(result.is_ok()).await;
        if result.is_ok() {
            finished?;
        }
    }
    result
}

/// Reports one mailbox's record, or its line that is no address.
fn report_one<R: Serialize>(
    reporter: &mut common::report::Reporter,
    report: Option<&mut CsvReport>,
    result: Result<R, (String, String)>,
    record: &impl Fn(&R) -> (&'static str, Option<CommandError>, Vec<String>),
    human: &impl Fn(&R, &mut std::io::Stdout) -> std::io::Result<()>,
) -> Result<(), CommandError> {
    match result {
        Ok(r) => {
            let (action, error, row) = record(&r);
            reporter.item(&r, action, error.as_ref(), |w| human(&r, w))?;
            if let Some(report) = report {
                let row: Vec<&str> = row.iter().map(String::as_str).collect();
                report.write(&row)?;
            }
        }
        Err((text, problem)) => {
            let error = CommandError::new(
                ExitStatus::ItemsFailed,
                format!("\"{text}\" is not a mailbox address: {problem}"),
            )
            .with_item(&text)
            .with_code("input");
            let record = serde_json::json!({"mailbox": text, "action": "failed", "error": ErrorRecord::from(&error)});
            reporter.item(&record, "failed", Some(&error), |w| {
                writeln!(w, "{:<13}{text}", "failed")
            })?;
        }
    }
    Ok(())
}

/// The report's columns, as ews-tool writes them.
pub const REPORT_HEADER: [&str; 6] = [
    "mailbox",
    "grantee",
    "action",
    "level_before",
    "level_after",
    "error",
];

/// The calendar's permission entries, waiting (up to `wait`) for a mailbox Graph does not
/// show yet.
pub async fn entries(
    graph: &Graph,
    mailbox: &str,
    wait: Duration,
) -> Result<Vec<Entry>, GraphError> {
    graph
        .get_eventually(
            format!("/users/{}/calendar/calendarPermissions", segment(mailbox)),
            format!("the calendar of {mailbox}"),
            "Calendars.ReadWrite",
            (wait, "--wait-for-mailbox"),
        )
        .await
        .map(|value| calendar::read_entries(&value))
}

fn explain(error: &GraphError, mailbox: &str) -> CommandError {
    if crate::graph::not_there_yet(error) {
        return CommandError::new(ExitStatus::ItemsFailed, format!("Graph shows no mailbox for {mailbox} ({})", error.code().unwrap_or("")))
            .with_hint("check the address; a new account's mailbox appears once its Exchange Online licence has provisioned it (raise --wait-for-mailbox)")
            .with_code("no-mailbox")
            .with_item(mailbox);
    }
    error.explain().with_item(mailbox)
}

/// Every calendar's entries, read in one `$batch` (more than one mailbox); a mailbox Graph
/// does not show yet is then read on its own, waited for.
pub async fn entries_of_all(
    graph: &Graph,
    mailboxes: &[String],
    wait: Duration,
) -> Vec<Result<Vec<Entry>, GraphError>> {
    if mailboxes.len() < 2 {
        let mut all = Vec::new();
        for mailbox in mailboxes {
            all.push(entries(graph, mailbox, wait).await);
        }
        return all;
    }
    let calls: Vec<Call<'_>> = mailboxes
        .iter()
        .map(|mailbox| Call {
            method: Method::GET,
            path: format!("/users/{}/calendar/calendarPermissions", segment(mailbox)),
            body: None,
            what: format!("reading the calendar permissions of {mailbox}"),
            permission: "Calendars.ReadWrite",
        })
        .collect();
    let answers = match graph.batch(&calls).await {
        Ok(answers) => answers,
        Err(error) => return mailboxes.iter().map(|_| Err(error.clone())).collect(),
    };
    let mut all = Vec::with_capacity(mailboxes.len());
    for (mailbox, answer) in mailboxes.iter().zip(answers) {
        all.push(match answer {
            Ok((_, value)) => Ok(calendar::read_entries(&value)),
            Err(error) if crate::graph::not_there_yet(&error) => {
                entries(graph, mailbox, wait).await
            }
            Err(error) => Err(error),
        });
    }
    all
}

/// One change as each chunk of mailboxes gets it.
pub struct Job<'a> {
    /// The grantee.
    pub grantee: &'a Grantee,
    /// The change.
    pub change: Change,
    /// Change nothing.
    pub dry_run: bool,
    /// The longest to wait for a mailbox Graph does not show yet.
    pub wait: Duration,
    /// Where intents and outcomes go.
    pub journal: Option<&'a Journal>,
    /// Per mailbox (lower-case address): the (before, after) of an earlier run's write, to
    /// check (a resumed run's write in flight) or reverse (undo).
    pub earlier: &'a HashMap<String, (RoleState, RoleState)>,
}

/// A write to send: which outcome it settles, the action it makes, and the request.
struct Write {
    index: usize,
    action: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
}

/// Makes the job's change on each of `mailboxes`' calendars: the reads in one `$batch`; the
/// writes' intents made durable in the journal; the writes in another `$batch`; every outcome
/// journaled. `Err` only when the journal cannot be written (no calendar is changed then).
pub async fn edit_all(
    graph: &Graph,
    mailboxes: &[String],
    job: &Job<'_>,
) -> Result<Vec<Outcome>, CommandError> {
    let read = entries_of_all(graph, mailboxes, job.wait).await;
    let mut outcomes = Vec::with_capacity(mailboxes.len());
    let mut writes: Vec<Write> = Vec::new();
    for (mailbox, entries) in mailboxes.iter().zip(read) {
        let earlier = job.earlier.get(&mailbox.to_ascii_lowercase());
        let planned = entries
            .map_err(|error| explain(&error, mailbox))
            .and_then(|entries| plan(mailbox, &entries, job, earlier));
        match planned {
            Ok((outcome, action, call)) => {
                let sends = call.is_some();
                if let (Some((method, path, body)), false) = (call, job.dry_run) {
                    writes.push(Write {
                        index: outcomes.len(),
                        action,
                        method,
                        path,
                        body,
                    });
                }
                outcomes.push(finish(outcome, action, sends, job.dry_run));
            }
            Err(error) => {
                let mut outcome = Outcome::new(mailbox, job.grantee);
                if error.code == "changed-since" {
                    outcome.action = "changed-since";
                }
                outcome.fail(error);
                outcomes.push(outcome);
            }
        }
    }
    if let Some(journal) = job.journal {
        record_intents(journal, &writes, &outcomes).await?;
    }
    if !writes.is_empty() {
        send_writes(graph, &writes, &mut outcomes).await;
    }
    if let Some(journal) = job.journal {
        for outcome in &outcomes {
            let (before, after) = outcome.states.clone().unzip();
            journal.record(&Record::Outcome {
                mailbox: outcome.mailbox.clone(),
                action: outcome.action.to_owned(),
                before: outcome.error.is_none().then_some(before).flatten(),
                after: outcome.error.is_none().then_some(after).flatten(),
                error: outcome.error.as_ref().map(|e| e.message.clone()),
            });
        }
    }
    Ok(outcomes)
}

/// Each write's intent (the grantee's entry before, and after), on disk before any of them
/// is sent.
async fn record_intents(
    journal: &Journal,
    writes: &[Write],
    outcomes: &[Outcome],
) -> Result<(), CommandError> {
    let Some((last, rest)) = writes.split_last() else {
        return Ok(());
    };
    let intent = |write: &Write| {
        let outcome = &outcomes[write.index];
        let (before, after) = outcome
            .states
            .clone()
            .unwrap_or((RoleState::Absent, RoleState::Absent));
        Record::Intent {
            mailbox: outcome.mailbox.clone(),
            before,
            after,
        }
    };
    for write in rest {
        journal.record(&intent(write));
    }
    // The journal's writer keeps the order: the last one durable, all of them are.
    journal.intend(&intent(last)).await
}

/// Sends the writes (one `$batch`, or the request itself when there is one) and settles
/// their outcomes.
async fn send_writes(graph: &Graph, writes: &[Write], outcomes: &mut [Outcome]) {
    let calls: Vec<Call<'_>> = writes
        .iter()
        .map(|write| Call {
            method: write.method.clone(),
            path: write.path.clone(),
            body: write.body.as_ref(),
            what: format!(
                "changing the calendar permissions of {}",
                outcomes[write.index].mailbox
            ),
            permission: "Calendars.ReadWrite",
        })
        .collect();
    let sent: Vec<Result<(), GraphError>> = if calls.len() == 1 {
        vec![graph.send(&calls[0]).await.map(drop)]
    } else {
        match graph.batch(&calls).await {
            Ok(answers) => answers.into_iter().map(|a| a.map(drop)).collect(),
            Err(error) => calls.iter().map(|_| Err(error.clone())).collect(),
        }
    };
    for (write, result) in writes.iter().zip(sent) {
        let outcome = &mut outcomes[write.index];
        match result {
            Ok(()) => outcome.action = write.action,
            Err(error) => {
                let mailbox = outcome.mailbox.clone();
                outcome.fail(explain(&error, &mailbox));
            }
        }
    }
}

/// A planned change: the outcome so far, the action it will be, and the request to send.
type Planned = (
    Outcome,
    &'static str,
    Option<(Method, String, Option<Value>)>,
);

/// What the job needs on a calendar with `entries`; `earlier` is what the journal says of it.
fn plan(
    mailbox: &str,
    entries: &[Entry],
    job: &Job<'_>,
    earlier: Option<&(RoleState, RoleState)>,
) -> Result<Planned, CommandError> {
    let grantee = job.grantee;
    let current = RoleState::of(entries, grantee);
    let mut outcome = Outcome::new(mailbox, grantee);
    outcome.level_before = current.role().map(str::to_owned);
    let settled = |mut outcome: Outcome, action, before: &RoleState, after: &RoleState| {
        outcome.level_before = before.role().map(str::to_owned);
        outcome.level_after = after.role().map(str::to_owned);
        outcome.states = Some((before.clone(), after.clone()));
        Ok((outcome, action, None))
    };
    let target = match (job.change, earlier) {
        // A write an earlier run had in flight, found made: reported as made, never sent again.
        (Change::Grant(_) | Change::Revoke, Some((before, after)))
            if before != after && current == *after =>
        {
            let action = match (job.change, before) {
                (Change::Revoke, _) => "revoked",
                (_, RoleState::Absent) => "granted",
                _ => "updated",
            };
            return settled(outcome, action, before, after);
        }
        (Change::Grant(role), _) => RoleState::with(role),
        (Change::Revoke, _) => RoleState::Absent,
        (Change::Restore { .. }, None) => return settled(outcome, "unchanged", &current, &current),
        (Change::Restore { force }, Some((before, after))) => {
            match calendar::plan_undo(&current, before, after, force) {
                Undo::AlreadyBefore => return settled(outcome, "unchanged", &current, &current),
                Undo::ChangedSince => {
                    return Err(CommandError::new(
                        ExitStatus::ItemsFailed,
                        format!(
                            "the grantee's entry was changed since the run: it is {current}, the run left {after}; left as it is"
                        ),
                    )
                    .with_hint("check it, or add --force to put back what was there before the run")
                    .with_code("changed-since")
                    .with_item(mailbox));
                }
                Undo::Restore(before) => before,
            }
        }
    };
    let step = calendar::plan_state(entries, grantee, &target).map_err(|role| {
        CommandError::new(
            ExitStatus::ItemsFailed,
            format!("the entry was {role} before the run, which Graph cannot set"),
        )
        .with_hint("set it back with ews-tool grant or in Outlook")
        .with_code("not-restorable")
        .with_item(mailbox)
    })?;
    let permissions = format!("/users/{}/calendar/calendarPermissions", segment(mailbox));
    let restoring = matches!(job.change, Change::Restore { .. });
    let (action, call) = match (step, job.change) {
        (Step::Nothing, Change::Revoke) => ("absent", None),
        (Step::Nothing, _) => ("unchanged", None),
        (Step::Patch { id, body }, _) => (
            if restoring { "restored" } else { "updated" },
            Some((
                Method::PATCH,
                format!("{permissions}/{}", segment(&id)),
                Some(body),
            )),
        ),
        (Step::Post { body }, _) => (
            if restoring { "restored" } else { "granted" },
            Some((Method::POST, permissions, Some(body))),
        ),
        (Step::Delete { id }, _) => (
            if restoring { "restored" } else { "revoked" },
            Some((
                Method::DELETE,
                format!("{permissions}/{}", segment(&id)),
                None,
            )),
        ),
        (Step::NotRemovable, _) => {
            return Err(CommandError::new(
                ExitStatus::ItemsFailed,
                "the My Organization entry (Default) cannot be removed",
            )
            .with_hint("give it a role instead: m365-tool grant --to Default --level None")
            .with_code("not-removable")
            .with_item(mailbox));
        }
        (Step::NoDefault, _) => {
            return Err(CommandError::new(
                ExitStatus::ItemsFailed,
                "the calendar shows no My Organization entry to give a role",
            )
            .with_code("no-default")
            .with_item(mailbox));
        }
    };
    let after = if call.is_some() {
        target
    } else {
        current.clone()
    };
    outcome.level_after = after.role().map(str::to_owned);
    outcome.states = Some((current, after));
    Ok((outcome, action, call))
}

/// The outcome before its write is sent: final when nothing is to be sent (nothing to do, or
/// an earlier run's write found made), planned under `--dry-run`; else still `failed` until
/// the write's answer says otherwise.
fn finish(mut outcome: Outcome, action: &'static str, sends: bool, dry_run: bool) -> Outcome {
    outcome.action = match (sends, dry_run, action) {
        (false, ..) => action,
        (true, true, "granted") => "would-grant",
        (true, true, "updated") => "would-update",
        (true, true, "revoked") => "would-revoke",
        (true, true, "restored") => "would-restore",
        _ => "failed",
    };
    outcome
}

/// How an outcome is counted and reported.
pub fn reported(outcome: &Outcome) -> (&'static str, Option<CommandError>, Vec<String>) {
    let error = outcome.failure.clone();
    let row = vec![
        outcome.mailbox.clone(),
        outcome.grantee.clone(),
        outcome.action.to_owned(),
        outcome.level_before.clone().unwrap_or_default(),
        outcome.level_after.clone().unwrap_or_default(),
        outcome
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default(),
    ];
    (outcome.action, error, row)
}

/// The human line of an outcome.
pub fn human(outcome: &Outcome, out: &mut std::io::Stdout) -> std::io::Result<()> {
    outcome.write_human(out)
}
