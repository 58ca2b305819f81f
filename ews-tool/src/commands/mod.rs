//! The subcommands, one module each, and what grant and revoke share.

use std::time::Instant;

use clap::Subcommand;
use common::output::Shape;
use common::{CommandError, ExitStatus};
use futures::StreamExt;

use crate::batch::{self, EditRequest};
use crate::cli::{BatchArgs, MailboxArgs};
use crate::client::EwsClient;
use crate::context::{Context, output_error};
use crate::error::Who;
use crate::mailboxes;
use crate::outcome::{MailboxOutcome, Summary, write_report};

pub mod check;
pub mod grant;
pub mod list;
pub mod revoke;

/// What `ews-tool` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Give a user or group a permission level on each mailbox's calendar
    Grant(grant::GrantArgs),
    /// Remove a user's or group's entry from each mailbox's calendar
    Revoke(revoke::RevokeArgs),
    /// Show each calendar's permission entries
    List(list::ListArgs),
    /// Connect, log on, report the server version and, with --mailbox, access to the mailboxes
    Check(check::CheckArgs),
}

/// Runs the chosen subcommand.
pub async fn dispatch(command: Command, ctx: &Context) -> Result<ExitStatus, CommandError> {
    match command {
        Command::Grant(args) => grant::run(args, ctx).await,
        Command::Revoke(args) => revoke::run(args, ctx).await,
        Command::List(args) => list::run(args, ctx).await,
        Command::Check(args) => check::run(args, ctx).await,
    }
}

/// Grant or revoke on every mailbox: outcomes in input order as they complete, a summary on
/// stderr, the CSV report. A single mailbox's failure ends the run with that failure's exit
/// code; in a batch, failures make the exit code 1.
pub async fn run_edits(
    ctx: &Context,
    mailbox_args: &MailboxArgs,
    batch_args: &BatchArgs,
    request: EditRequest,
) -> Result<ExitStatus, CommandError> {
    ctx.check_stdin(mailbox_args.mailboxes_file.as_deref())?;
    let entries = mailboxes::collect(
        &mailbox_args.mailboxes,
        mailbox_args.mailboxes_file.as_deref(),
    )?;
    let single = entries.len() == 1;
    let concurrency = usize::from(batch_args.concurrency)
        .min(entries.len())
        .max(1);
    let client = ctx.client(concurrency)?;
    let user = ctx.global.user.clone().unwrap_or_default();
    let grantee = request.grantee.to_string();
    let who = Who {
        user: &user,
        grantee: Some(&grantee),
    };
    let started = Instant::now();
    let mut results = futures::stream::iter(entries)
        .map(|entry| {
            let (client, request) = (&client, &request);
            async move {
                match entry.problem {
                    Some(problem) => Err(CommandError::usage(problem)
                        .with_code("mailboxes")
                        .with_item(entry.address.clone()))
                    .map_err(|e| (entry.address, e)),
                    None => batch::edit_mailbox(client, &entry.address, request, who)
                        .await
                        .map_err(|e| (entry.address, e)),
                }
            }
        })
        .buffered(concurrency);
    let mut output = ctx.output(Shape::Many);
    let mut summary = Summary::default();
    let mut outcomes: Vec<MailboxOutcome> = Vec::new();
    let mut single_error = None;
    while let Some(result) = results.next().await {
        let outcome = match result {
            Ok(outcome) => outcome,
            Err((mailbox, error)) => {
                let outcome = MailboxOutcome::failed(&mailbox, &grantee, &error);
                if single && output.format() == common::output::OutputFormat::Human {
                    single_error = Some(error);
                    summary.add(outcome.action);
                    outcomes.push(outcome);
                    continue;
                }
                error.report("ews-tool", ctx.verbose());
                if single {
                    single_error = Some(error);
                }
                outcome
            }
        };
        summary.add(outcome.action);
        output
            .record(&outcome, |w| outcome.write_line(w))
            .map_err(output_error)?;
        outcomes.push(outcome);
    }
    drop(results);
    output.finish().map_err(output_error)?;
    if let Some(path) = &batch_args.report {
        write_report(path, &outcomes).map_err(|e| {
            CommandError::new(
                ExitStatus::ItemsFailed,
                format!("cannot write the report {}: {e}", path.display()),
            )
        })?;
    }
    if !single {
        print_summary(ctx, &client, &summary.line(), started);
    }
    match single_error {
        Some(error) => Err(error),
        None => Ok(if summary.any_failed() {
            ExitStatus::ItemsFailed
        } else {
            ExitStatus::Success
        }),
    }
}

/// The closing line of a batch on stderr (unless `--quiet`): the counts, the time taken, the
/// requests and connections used and how often the server was busy.
pub(crate) fn print_summary(ctx: &Context, client: &EwsClient, counts: &str, started: Instant) {
    if ctx.global.quiet {
        return;
    }
    let counters = &client.counters;
    let load = std::sync::atomic::Ordering::Relaxed;
    let busy = match counters.busy.load(load) {
        0 => String::new(),
        n => format!(
            ", the server was busy {n} times; {} requests at once at the end",
            counters.in_flight_limit.load(load)
        ),
    };
    let (requests, connections) = (
        counters.requests.load(load),
        counters.connections.load(load),
    );
    eprintln!(
        "ews-tool: {counts} in {:.1} s ({requests} request{} on {connections} connection{}{busy})",
        started.elapsed().as_secs_f64(),
        if requests == 1 { "" } else { "s" },
        if connections == 1 { "" } else { "s" },
    );
}
