//! The subcommands, one module each, and what grant and revoke share.

use std::future::Future;
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
use crate::mailboxes::{self, MailboxEntry};
use crate::outcome::{MailboxOutcome, MailboxRecord, Summary, write_report};

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

/// The mailboxes a command was given and a client sized for them.
pub(crate) struct Prepared {
    /// The mailboxes, in input order (bad lines carry their problem).
    pub entries: Vec<MailboxEntry>,
    /// Mailboxes worked on at once.
    pub concurrency: usize,
    /// The client, with that many connections.
    pub client: EwsClient,
}

/// Reads the mailboxes (from the options and the file) and opens a client with no more
/// connections than there are mailboxes.
pub(crate) fn prepare(
    ctx: &Context,
    mailbox_args: &MailboxArgs,
    concurrency: u16,
) -> Result<Prepared, CommandError> {
    ctx.check_stdin(mailbox_args.mailboxes_file.as_deref())?;
    let entries = mailboxes::collect(
        &mailbox_args.mailboxes,
        mailbox_args.mailboxes_file.as_deref(),
    )?;
    let concurrency = usize::from(concurrency).min(entries.len()).max(1);
    let client = ctx.client(concurrency)?;
    Ok(Prepared {
        entries,
        concurrency,
        client,
    })
}

/// What a run over the mailboxes leaves.
pub(crate) struct Finished<R> {
    /// Every record, failures included, in input order.
    pub records: Vec<R>,
    /// How many mailboxes failed.
    pub failed: usize,
    single: bool,
    single_error: Option<CommandError>,
    started: Instant,
}

impl<R> Finished<R> {
    /// The closing line on stderr, for a batch of more than one mailbox.
    pub fn summarize(&self, ctx: &Context, client: &EwsClient, counts: &str) {
        if !self.single {
            print_summary(ctx, client, counts, self.started);
        }
    }

    /// The exit: a single mailbox's failure is the command's error (reported once, by the
    /// caller); in a batch, any failure makes it 1.
    pub fn exit(self) -> Result<ExitStatus, CommandError> {
        match (self.single_error, self.failed) {
            (Some(error), _) => Err(error),
            (None, 0) => Ok(ExitStatus::Success),
            (None, _) => Ok(ExitStatus::ItemsFailed),
        }
    }
}

/// Runs `work` on every mailbox, `concurrency` at once, printing each record in input order as
/// it completes. In a batch a failure is reported on stderr as it happens and `failed` makes
/// its record; a single mailbox's failure is left for the caller to report once (with human
/// output it prints no record either).
pub(crate) async fn each_mailbox<R, Fut>(
    ctx: &Context,
    entries: Vec<MailboxEntry>,
    concurrency: usize,
    work: impl Fn(String) -> Fut,
    failed: impl Fn(&str, &CommandError) -> R,
) -> Result<Finished<R>, CommandError>
where
    R: MailboxRecord,
    Fut: Future<Output = Result<R, CommandError>>,
{
    let single = entries.len() == 1;
    let started = Instant::now();
    let work = &work;
    let mut results = futures::stream::iter(entries)
        .map(|entry| async move {
            let result = match entry.problem {
                Some(problem) => Err(CommandError::usage(problem).with_code("mailboxes")),
                None => work(entry.address.clone()).await,
            };
            let result = result.map_err(|e| e.with_item(entry.address.clone()));
            (entry.address, result)
        })
        .buffered(concurrency);
    let mut output = ctx.output(Shape::Many);
    let mut finished = Finished {
        records: Vec::new(),
        failed: 0,
        single,
        single_error: None,
        started,
    };
    while let Some((mailbox, result)) = results.next().await {
        let record = match result {
            Ok(record) => record,
            Err(error) => {
                let record = failed(&mailbox, &error);
                finished.failed += 1;
                if !single {
                    error.report("ews-tool", ctx.verbose());
                } else if output.format() == common::output::OutputFormat::Human {
                    finished.single_error = Some(error);
                    finished.records.push(record);
                    continue;
                } else {
                    finished.single_error = Some(error);
                }
                record
            }
        };
        output
            .record(&record, |w| record.write_human(w))
            .map_err(output_error)?;
        finished.records.push(record);
    }
    drop(results);
    output.finish().map_err(output_error)?;
    Ok(finished)
}

/// Grant or revoke on every mailbox: the records, the CSV report and the summary.
pub async fn run_edits(
    ctx: &Context,
    mailbox_args: &MailboxArgs,
    batch_args: &BatchArgs,
    request: EditRequest,
) -> Result<ExitStatus, CommandError> {
    let Prepared {
        entries,
        concurrency,
        client,
    } = prepare(ctx, mailbox_args, batch_args.concurrency)?;
    let user = ctx.global.user.clone().unwrap_or_default();
    let grantee = request.grantee.to_string();
    let who = Who {
        user: &user,
        grantee: Some(&grantee),
    };
    let (client_ref, request) = (&client, &request);
    let finished = each_mailbox(
        ctx,
        entries,
        concurrency,
        move |mailbox| async move { batch::edit_mailbox(client_ref, &mailbox, request, who).await },
        |mailbox, error| MailboxOutcome::failed(mailbox, &grantee, error),
    )
    .await?;
    if let Some(path) = &batch_args.report {
        write_report(path, &finished.records).map_err(|e| {
            CommandError::new(
                ExitStatus::ItemsFailed,
                format!("cannot write the report {}: {e}", path.display()),
            )
        })?;
    }
    let mut summary = Summary::default();
    for outcome in &finished.records {
        summary.add(outcome.action);
    }
    finished.summarize(ctx, &client, &summary.line());
    finished.exit()
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
