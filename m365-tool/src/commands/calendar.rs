//! What grant, revoke and list share: the mailboxes (the same inputs as ews-tool's), the
//! per-mailbox work run several at once and reported in input order, the CSV report, and the
//! wait for a mailbox Graph does not show yet (a new account's, while its licence provisions
//! it: `Request_ResourceNotFound`, then `MailboxNotEnabledForRESTAPI`), bounded, said once, and
//! not a failure unless it outlasts `--wait-for-mailbox`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use common::mailboxes::{self, MailboxEntry};
use common::report::{CsvReport, ErrorRecord};
use common::{CommandError, ExitStatus};
use futures::StreamExt as _;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::calendar::{self, Entry, Grantee, Role, Step};
use crate::context::Context;
use crate::graph::{BATCH_LIMIT, Call, Graph, GraphError, segment};

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

    /// Also write the outcomes to this CSV file
    #[arg(long, value_name = "FILE.csv")]
    pub report: Option<PathBuf>,
}

/// One mailbox's outcome (the same shape as ews-tool's, with Graph roles as levels).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The mailbox.
    pub mailbox: String,
    /// The grantee.
    pub grantee: String,
    /// granted, updated, unchanged, revoked, absent, would-grant, would-update, would-revoke,
    /// failed.
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
}

/// The mailboxes of the options and the file, read as they come.
fn open_mailboxes(args: &BatchArgs) -> Result<mailboxes::Mailboxes, CommandError> {
    if args.mailboxes.is_empty() && args.mailboxes_file.is_none() {
        return Err(CommandError::usage("no mailboxes given")
            .with_hint("pass --mailbox ADDRESS (repeat) or --mailboxes-file FILE (- for stdin)")
            .with_code("mailboxes"));
    }
    mailboxes::open(&args.mailboxes, args.mailboxes_file.as_deref())
}

/// Runs `work` on the mailboxes in chunks of up to [`BATCH_LIMIT`] (what has arrived of a
/// pipe; one `$batch` round trip each), several chunks at once, and reports every mailbox in
/// input order; the exit status. `work` returns one record per mailbox of its chunk, in order.
pub async fn run_batch<R, Fut>(
    ctx: &Context,
    args: &BatchArgs,
    work: impl Fn(Graph, Vec<String>) -> Fut,
    record: impl Fn(&R) -> (&'static str, Option<CommandError>, Vec<String>),
    human: impl Fn(&R, &mut std::io::Stdout) -> std::io::Result<()>,
) -> Result<ExitStatus, CommandError>
where
    R: Serialize,
    Fut: Future<Output = Vec<R>>,
{
    let mut report = args
        .report
        .as_deref()
        .map(|p| CsvReport::open(p, &REPORT_HEADER))
        .transpose()?;
    let mailboxes = open_mailboxes(args)?;
    let graph = ctx.graph().await?;
    let mut reporter = common::report::Reporter::new(
        "m365-tool",
        ctx.output(common::output::Shape::Many),
        ctx.global.verbose > 0,
        ctx.global.quiet,
        ("mailbox", "mailboxes"),
    );
    reporter.show_progress(mailboxes.total);
    let concurrency = usize::from(args.concurrency);
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
        concurrency,
        || true,
        |chunk: Vec<Result<String, (String, String)>>| {
            let graph = graph.clone();
            let work = &work;
            async move {
                let mailboxes: Vec<String> = chunk
                    .iter()
                    .filter_map(|i| i.as_ref().ok().cloned())
                    .collect();
                let mut done = work(graph, mailboxes).await.into_iter();
                chunk
                    .into_iter()
                    .map(|item| match item {
                        Ok(_) => done.next().ok_or((String::new(), "no outcome".to_owned())),
                        Err(bad) => Err(bad),
                    })
                    .collect::<Vec<_>>()
            }
        },
        |results: Vec<Result<R, (String, String)>>| -> Result<(), CommandError> {
            for result in results {
                report_one(&mut reporter, report.as_mut(), result, &record, &human)?;
            }
            Ok(())
        },
    )
    .await?;
    reporter.finish("")
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

/// Makes `change` on each of `mailboxes`' calendars: the reads in one `$batch`, the writes in
/// another.
pub async fn edit_all(
    graph: &Graph,
    mailboxes: &[String],
    grantee: &Grantee,
    change: Change,
    dry_run: bool,
    wait: Duration,
) -> Vec<Outcome> {
    let read = entries_of_all(graph, mailboxes, wait).await;
    let mut outcomes = Vec::with_capacity(mailboxes.len());
    let mut writes: Vec<(usize, &'static str, Method, String, Option<Value>)> = Vec::new();
    for (mailbox, entries) in mailboxes.iter().zip(read) {
        let planned = entries
            .map_err(|error| explain(&error, mailbox))
            .and_then(|entries| plan(mailbox, &entries, grantee, change));
        match planned {
            Ok((outcome, action, call)) => {
                if let (Some((method, path, body)), false) = (call, dry_run) {
                    writes.push((outcomes.len(), action, method, path, body));
                }
                outcomes.push(finish(outcome, action, dry_run));
            }
            Err(error) => {
                let mut outcome = Outcome::new(mailbox, grantee);
                outcome.fail(error);
                outcomes.push(outcome);
            }
        }
    }
    if writes.is_empty() {
        return outcomes;
    }
    let calls: Vec<Call<'_>> = writes
        .iter()
        .map(|(i, _, method, path, body)| Call {
            method: method.clone(),
            path: path.clone(),
            body: body.as_ref(),
            what: format!(
                "changing the calendar permissions of {}",
                outcomes[*i].mailbox
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
    for ((i, action, ..), result) in writes.iter().zip(sent) {
        let outcome = &mut outcomes[*i];
        match result {
            Ok(()) => outcome.action = action,
            Err(error) => {
                let mailbox = outcome.mailbox.clone();
                outcome.fail(explain(&error, &mailbox));
            }
        }
    }
    outcomes
}

/// A planned change: the outcome so far, the action it will be, and the request to send.
type Planned = (
    Outcome,
    &'static str,
    Option<(Method, String, Option<Value>)>,
);

/// What `change` needs on a calendar with `entries`.
fn plan(
    mailbox: &str,
    entries: &[Entry],
    grantee: &Grantee,
    change: Change,
) -> Result<Planned, CommandError> {
    let mut outcome = Outcome::new(mailbox, grantee);
    outcome.level_before = calendar::find(entries, grantee).map(|e| e.role.clone());
    let step = match change {
        Change::Grant(role) => calendar::plan_grant(entries, grantee, role),
        Change::Revoke => calendar::plan_revoke(entries, grantee),
    };
    let permissions = format!("/users/{}/calendar/calendarPermissions", segment(mailbox));
    let (action, call) = match (step, change) {
        (Step::Nothing, Change::Grant(_)) => ("unchanged", None),
        (Step::Nothing, Change::Revoke) => ("absent", None),
        (Step::Patch { id, body }, _) => (
            "updated",
            Some((
                Method::PATCH,
                format!("{permissions}/{}", segment(&id)),
                Some(body),
            )),
        ),
        (Step::Post { body }, _) => ("granted", Some((Method::POST, permissions, Some(body)))),
        (Step::Delete { id }, _) => (
            "revoked",
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
    outcome.level_after = match change {
        Change::Grant(role) => Some(role.name().to_owned()),
        Change::Revoke => None,
    };
    if action == "unchanged" {
        outcome.level_after.clone_from(&outcome.level_before);
    }
    Ok((outcome, action, call))
}

/// The outcome before its write is sent: final when nothing is sent, or planned under
/// `--dry-run`; else still `failed` until the write's answer says otherwise.
fn finish(mut outcome: Outcome, action: &'static str, dry_run: bool) -> Outcome {
    outcome.action = match (action, dry_run) {
        ("unchanged" | "absent", _) => action,
        ("granted", true) => "would-grant",
        ("updated", true) => "would-update",
        ("revoked", true) => "would-revoke",
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
