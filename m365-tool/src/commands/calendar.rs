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

use crate::calendar::{self, Entry, Grantee, Role, Step};
use crate::context::Context;
use crate::graph::{Call, Graph, GraphError, segment};

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

/// Runs `work` on every mailbox, reporting each in input order; the exit status.
pub async fn run_batch<R, Fut>(
    ctx: &Context,
    args: &BatchArgs,
    work: impl Fn(Graph, String) -> Fut,
    record: impl Fn(&R) -> (&'static str, Option<CommandError>, Vec<String>),
    human: impl Fn(&R, &mut std::io::Stdout) -> std::io::Result<()>,
) -> Result<ExitStatus, CommandError>
where
    R: Serialize,
    Fut: Future<Output = R>,
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
        items,
        concurrency,
        || true,
        |item| {
            let graph = graph.clone();
            let work = &work;
            async move {
                match item {
                    Ok(mailbox) => Ok(work(graph, mailbox).await),
                    Err(bad) => Err(bad),
                }
            }
        },
        |result| -> Result<(), CommandError> {
            match result {
                Ok(r) => {
                    let (action, error, row) = record(&r);
                    reporter.item(&r, action, error.as_ref(), |w| human(&r, w))?;
                    if let Some(report) = report.as_mut() {
                        let row: Vec<&str> = row.iter().map(String::as_str).collect();
                        report.write(&row)?;
                    }
                }
                Err((text, problem)) => {
                    let error = CommandError::new(ExitStatus::ItemsFailed, format!("\"{text}\" is not a mailbox address: {problem}"))
                        .with_item(&text)
                        .with_code("input");
                    let record = serde_json::json!({"mailbox": text, "action": "failed", "error": ErrorRecord::from(&error)});
                    reporter.item(&record, "failed", Some(&error), |w| writeln!(w, "{:<13}{text}", "failed"))?;
                }
            }
            Ok(())
        },
    )
    .await?;
    reporter.finish("")
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

/// Makes `change` on `mailbox`'s calendar.
pub async fn edit(
    graph: &Graph,
    mailbox: &str,
    grantee: &Grantee,
    change: Change,
    dry_run: bool,
    wait: Duration,
) -> Outcome {
    let mut outcome = Outcome {
        mailbox: mailbox.to_owned(),
        grantee: grantee.to_string(),
        action: "failed",
        level_before: None,
        level_after: None,
        error: None,
        failure: None,
    };
    let entries = match entries(graph, mailbox, wait).await {
        Ok(entries) => entries,
        Err(error) => {
            outcome.fail(explain(&error, mailbox));
            return outcome;
        }
    };
    outcome.level_before = calendar::find(&entries, grantee).map(|e| e.role.clone());
    let step = match change {
        Change::Grant(role) => calendar::plan_grant(&entries, grantee, role),
        Change::Revoke => calendar::plan_revoke(&entries, grantee),
    };
    let permissions = format!("/users/{}/calendar/calendarPermissions", segment(mailbox));
    let (action, call) = match (&step, change) {
        (Step::Nothing, Change::Grant(_)) => ("unchanged", None),
        (Step::Nothing, Change::Revoke) => ("absent", None),
        (Step::Patch { id, body }, _) => (
            "updated",
            Some((
                Method::PATCH,
                format!("{permissions}/{}", segment(id)),
                Some(body),
            )),
        ),
        (Step::Post { body }, _) => (
            "granted",
            Some((Method::POST, permissions.clone(), Some(body))),
        ),
        (Step::Delete { id }, _) => (
            "revoked",
            Some((
                Method::DELETE,
                format!("{permissions}/{}", segment(id)),
                None,
            )),
        ),
        (Step::NotRemovable, _) => {
            let error = CommandError::new(
                ExitStatus::ItemsFailed,
                "the My Organization entry (Default) cannot be removed",
            )
            .with_hint("give it a role instead: m365-tool grant --to Default --level None")
            .with_code("not-removable")
            .with_item(mailbox);
            outcome.fail(error);
            return outcome;
        }
        (Step::NoDefault, _) => {
            let error = CommandError::new(
                ExitStatus::ItemsFailed,
                "the calendar shows no My Organization entry to give a role",
            )
            .with_code("no-default")
            .with_item(mailbox);
            outcome.fail(error);
            return outcome;
        }
    };
    outcome.level_after = match change {
        Change::Grant(role) => Some(role.name().to_owned()),
        Change::Revoke => None,
    };
    if action == "unchanged" {
        outcome.level_after.clone_from(&outcome.level_before);
    }
    let Some((method, path, body)) = call else {
        outcome.action = action;
        return outcome;
    };
    if dry_run {
        outcome.action = match action {
            "granted" => "would-grant",
            "updated" => "would-update",
            _ => "would-revoke",
        };
        return outcome;
    }
    let sent = graph
        .send(&Call {
            method,
            path,
            body,
            what: format!("changing the calendar permissions of {mailbox}"),
            permission: "Calendars.ReadWrite",
        })
        .await;
    match sent {
        Ok(_) => outcome.action = action,
        Err(error) => outcome.fail(explain(&error, mailbox)),
    }
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
