//! The subcommands, one module each, and what grant and revoke share.

use std::future::Future;

use clap::{CommandFactory, Subcommand};
use common::address::SmtpAddress;
use common::report::Reporter;
use common::settings::Provenance;
use common::{CommandError, ExitStatus};

use crate::batch::{self, EditRequest};
use crate::cli::{BatchArgs, Cli, MailboxArgs, PASSWORD_ENV};
use crate::client::EwsClient;
use crate::context::Context;
use crate::error::Who;
use crate::mailboxes::{self, MailboxEntry};
use crate::outcome::{MailboxOutcome, MailboxRecord, ReportFile};

pub mod check;
pub mod grant;
pub mod list;
pub mod revoke;

common::housekeeping!("ews-tool");

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
    /// `config show` and `completions`.
    #[command(flatten)]
    Housekeeping(Housekeeping),
}

/// Runs what the command line asks for.
pub async fn run(cli: Cli, provenance: Provenance) -> Result<ExitStatus, CommandError> {
    let ctx = Context {
        global: cli.global,
        server: cli.server,
        provenance,
    };
    dispatch(cli.command, &ctx).await
}

/// Runs the chosen subcommand.
pub async fn dispatch(command: Command, ctx: &Context) -> Result<ExitStatus, CommandError> {
    match command {
        Command::Grant(args) => grant::run(args, ctx).await,
        Command::Revoke(args) => revoke::run(args, ctx).await,
        Command::List(args) => list::run(args, ctx).await,
        Command::Check(args) => check::run(args, ctx).await,
        Command::Housekeeping(command) => {
            command.run(Cli::command(), &ctx.global, &ctx.provenance, PASSWORD_ENV)
        }
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

/// Runs `work` on every mailbox, `concurrency` at once, reporting each record in input order as
/// it completes (a failure as its `failed` record and one line on stderr) and handing it to
/// `also` (the CSV report). The same for one mailbox and for many; the caller ends the
/// reporter with the summary.
pub(crate) async fn each_mailbox<R, Fut>(
    ctx: &Context,
    entries: Vec<MailboxEntry>,
    concurrency: usize,
    work: impl Fn(SmtpAddress) -> Fut,
    failed: impl Fn(&str, &CommandError) -> R,
    mut also: impl FnMut(&R) -> Result<(), CommandError>,
) -> Result<Reporter, CommandError>
where
    R: MailboxRecord,
    Fut: Future<Output = Result<R, CommandError>>,
{
    // A failure that ends the run (a refused logon, a back-off past --max-backoff) stops
    // new mailboxes from starting; it is reported once, as the run's error.
    let ended: std::cell::RefCell<Option<CommandError>> = std::cell::RefCell::new(None);
    let total = entries.len();
    let interrupt = common::interrupt::Interrupt::listen("ews-tool");
    let mut reporter = ctx.reporter(("mailbox", "mailboxes"));
    common::batch::in_order(
        entries,
        concurrency,
        || ended.borrow().is_none() && !interrupt.is_asked(),
        |entry| {
            let work = &work;
            async move {
                let result = match entry.address {
                    Err(problem) => Err(CommandError::usage(problem).with_code("mailboxes")),
                    Ok(address) => work(address).await,
                };
                let result = result.map_err(|e| e.with_item(entry.text.clone()));
                (entry.text, result)
            }
        },
        |(mailbox, result)| {
            let (record, error) = match result {
                Ok(record) => (record, None),
                Err(error) if crate::error::ends_the_run(&error) => {
                    let mut first = ended.borrow_mut();
                    if first.is_none() {
                        *first = Some(error);
                    }
                    return Ok(());
                }
                Err(error) => (failed(&mailbox, &error), Some(error)),
            };
            reporter.item(&record, record.action_word(), error.as_ref(), |w| {
                record.write_human(w)
            })?;
            also(&record)
        },
    )
    .await?;
    if interrupt.is_asked() && ended.borrow().is_none() {
        let not_done = total - reporter.items();
        let _ = reporter.finish(&format!("; {not_done} not done"));
        return Err(CommandError::new(
            ExitStatus::Interrupted,
            format!(
                "interrupted; {not_done} mailbox{} not done",
                if not_done == 1 { "" } else { "es" }
            ),
        )
        .with_hint(
            "run the same command again to finish: calendars already done come out unchanged",
        )
        .with_code("interrupted"));
    }
    if let Some(error) = ended.into_inner() {
        let not_done = total - reporter.items();
        // The summary first, then the one line that says why the run ended.
        let _ = reporter.finish(&format!("; {not_done} not done"));
        let error = CommandError {
            item: None,
            ..error
        };
        return Err(error);
    }
    Ok(reporter)
}

/// Grant or revoke on every mailbox: the records, the CSV report and the summary.
pub async fn run_edits(
    ctx: &Context,
    mailbox_args: &MailboxArgs,
    batch_args: &BatchArgs,
    request: EditRequest,
) -> Result<ExitStatus, CommandError> {
    // The report is opened before anything is changed, so an unusable path stops the run.
    let mut report = batch_args
        .report
        .as_deref()
        .map(ReportFile::open)
        .transpose()?;
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
    batch::check_grantee(&client, &request, who).await?;
    let (client_ref, request) = (&client, &request);
    let reporter = each_mailbox(
        ctx,
        entries,
        concurrency,
        move |mailbox| async move { batch::edit_mailbox(client_ref, &mailbox, request, who).await },
        |mailbox, error| MailboxOutcome::failed(mailbox, &grantee, error),
        |outcome| match &mut report {
            Some(report) => report.write(outcome),
            None => Ok(()),
        },
    )
    .await?;
    reporter.finish(&client_summary(&client))
}

/// What the summary adds about the traffic: the requests and connections used and how often
/// the server was busy.
pub(crate) fn client_summary(client: &EwsClient) -> String {
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
    format!(
        " ({requests} request{} on {connections} connection{}{busy})",
        if requests == 1 { "" } else { "s" },
        if connections == 1 { "" } else { "s" },
    )
}
