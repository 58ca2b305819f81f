//! The subcommands, one module each, and what grant and revoke share.

use std::future::Future;

use clap::{CommandFactory, Subcommand};
use common::address::SmtpAddress;
use common::report::Reporter;
use common::settings::Provenance;
use common::{CommandError, ExitStatus};

use crate::batch::{self, Change, EditRequest, MailboxJob};
use crate::cli::{BatchArgs, Cli, MailboxArgs, PASSWORD_ENV};
use crate::client::EwsClient;
use crate::context::Context;
use crate::error::Who;
use crate::journal;
use crate::mailboxes::{self, Mailboxes};
use crate::outcome::{MailboxOutcome, MailboxRecord, ReportFile};
use common::journal::Resume;

pub mod autodiscover;
pub mod check;
pub mod grant;
pub mod list;
pub mod revoke;
pub mod undo;

common::housekeeping!("ews-tool");

/// What `ews-tool` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Give a user or group a permission level on each mailbox's calendar
    Grant(grant::GrantArgs),
    /// Remove a user's or group's entry from each mailbox's calendar
    Revoke(revoke::RevokeArgs),
    /// Put back what a journaled grant, revoke or undo changed
    Undo(undo::UndoArgs),
    /// Show each calendar's permission entries
    List(list::ListArgs),
    /// Connect, log on, report the server version and, with --mailbox, access to the mailboxes
    Check(check::CheckArgs),
    /// Find the EWS URL for an address, and say how it was found
    Autodiscover(autodiscover::AutodiscoverArgs),
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
        Command::Undo(args) => undo::run(args, ctx).await,
        Command::List(args) => list::run(args, ctx).await,
        Command::Check(args) => check::run(args, ctx).await,
        Command::Autodiscover(args) => autodiscover::run(args, ctx).await,
        Command::Housekeeping(Housekeeping::Config(_)) => common::tool::config_show_with(
            &Cli::command(),
            &ctx.global,
            &ctx.provenance,
            PASSWORD_ENV,
            |settings| ctx.show_discovered_url(settings),
        ),
        Command::Housekeeping(command) => {
            command.run(Cli::command(), &ctx.global, &ctx.provenance, PASSWORD_ENV)
        }
    }
}

/// The mailboxes a command was given and a client sized for them.
pub(crate) struct Prepared {
    /// The mailboxes, as they come (bad lines carry their problem).
    pub mailboxes: Mailboxes,
    /// Mailboxes worked on at once.
    pub concurrency: usize,
    /// The client, with that many connections.
    pub client: EwsClient,
}

/// Opens the mailboxes (from the options and the file, read as they come) and a client with
/// no more connections than there are mailboxes, when that is known.
///
/// Without `--url`, Autodiscover asks about the first mailbox: it is read before the client is
/// made and handed back at the head of the stream.
pub(crate) async fn prepare(
    ctx: &Context,
    mailbox_args: &MailboxArgs,
    concurrency: u16,
) -> Result<Prepared, CommandError> {
    use futures::StreamExt as _;
    ctx.check_stdin(mailbox_args.mailboxes_file.as_deref())?;
    let mut mailboxes = mailboxes::open(
        &mailbox_args.mailboxes,
        mailbox_args.mailboxes_file.as_deref(),
    )?;
    let concurrency = usize::from(concurrency)
        .min(mailboxes.total.unwrap_or(usize::MAX))
        .max(1);
    let mut first_address = None;
    if ctx.server.url.is_none()
        && let Some(first) = mailboxes.stream.next().await
    {
        first_address = first.as_ref().ok().and_then(|e| e.address.clone().ok());
        let rest = std::mem::replace(&mut mailboxes.stream, Box::pin(futures::stream::empty()));
        mailboxes.stream = Box::pin(futures::stream::iter([first]).chain(rest));
    }
    let client = ctx.client(concurrency, first_address.as_ref()).await?;
    Ok(Prepared {
        mailboxes,
        concurrency,
        client,
    })
}

/// Runs `work` on every mailbox, with `concurrency` requests at once, reporting each record in input order as
/// it completes (a failure as its `failed` record and one line on stderr) and handing it to
/// `also` (the CSV report). Mailboxes are taken as they come, so a pipe is worked on while it
/// is still being written. The same for one mailbox and for many; the caller ends the reporter
/// with the summary.
pub(crate) async fn each_mailbox<R, Fut>(
    ctx: &Context,
    mailboxes: Mailboxes,
    concurrency: usize,
    resume: &Resume,
    work: impl Fn(SmtpAddress) -> Fut,
    failed: impl Fn(&str, &CommandError) -> R,
    mut also: impl FnMut(&R) -> Result<(), CommandError>,
) -> Result<Reporter, CommandError>
where
    R: MailboxRecord,
    Fut: Future<Output = Result<R, CommandError>>,
{
    // A failure that ends the run (a refused logon, a back-off past --max-backoff, a journal
    // that cannot be written, an unreadable mailbox list) stops new mailboxes from starting;
    // it is reported once, as the run's error.
    let ended: std::cell::RefCell<Option<CommandError>> = std::cell::RefCell::new(None);
    let total = mailboxes.total;
    let interrupt = common::interrupt::Interrupt::listen("ews-tool");
    let mut reporter = ctx.reporter(("mailbox", "mailboxes"));
    // One mailbox needs no progress line: its row is the progress.
    if total != Some(1) {
        reporter.show_progress(total);
    }
    let total_setter = reporter.total_setter();
    let stream = common::batch::counted(mailboxes.stream, move |n| total_setter.set(n));
    // Half as many mailboxes again as connections are worked on: while one waits for its
    // journal record to reach the disk or is being parsed, another's request is ready for the
    // free connection, so the connections (the server's limit) never wait for the tool.
    let at_once = concurrency + concurrency.div_ceil(2);
    common::batch::in_order_streamed(
        stream,
        at_once,
        || ended.borrow().is_none() && !interrupt.is_asked(),
        |entry| {
            let work = &work;
            async move {
                let entry = match entry {
                    Ok(entry) => entry,
                    // The list could not be read on: no mailbox, the run's end.
                    Err(error) => return (None, Err(error)),
                };
                let result = match entry.address {
                    Err(problem) => Err(CommandError::usage(problem).with_code("mailboxes")),
                    Ok(address) => work(address).await,
                };
                let result = result.map_err(|e| e.with_item(entry.text.clone()));
                (Some(entry.text), result)
            }
        },
        |(mailbox, result)| {
            let (record, error) = match (mailbox, result) {
                (_, Ok(record)) => (record, None),
                (None, Err(error)) => {
                    ended.borrow_mut().get_or_insert(error);
                    return Ok(());
                }
                (_, Err(error)) if crate::error::ends_the_run(&error) => {
                    ended.borrow_mut().get_or_insert(error);
                    return Ok(());
                }
                (Some(mailbox), Err(error)) => (failed(&mailbox, &error), Some(error)),
            };
            reporter.item(&record, record.action_word(), error.as_ref(), |w| {
                record.write_human(w)
            })?;
            also(&record)
        },
    )
    .await?;
    let not_done = |reporter: &Reporter| {
        total.map_or_else(String::new, |total| {
            format!("; {} not done", total.saturating_sub(reporter.items()))
        })
    };
    if interrupt.is_asked() && ended.borrow().is_none() {
        let rest = not_done(&reporter);
        let _ = reporter.finish(&rest);
        return Err(
            CommandError::new(ExitStatus::Interrupted, format!("interrupted{rest}"))
                .with_hint(resume.hint())
                .with_code("interrupted"),
        );
    }
    if let Some(error) = ended.into_inner() {
        // The summary first, then the one line that says why the run ended.
        let rest = not_done(&reporter);
        let _ = reporter.finish(&rest);
        let error = CommandError {
            item: None,
            ..error
        };
        return Err(if error.code == "journal" {
            let hint = resume.hint();
            error.with_hint(hint)
        } else {
            error
        });
    }
    Ok(reporter)
}

/// Grant or revoke on every mailbox: the records, the journal, the CSV report and the
/// summary.
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
        mailboxes,
        concurrency,
        client,
    } = prepare(ctx, mailbox_args, batch_args.concurrency).await?;
    let user = client.logon().to_owned();
    let grantee = request.grantee.to_string();
    let who = Who {
        user: &user,
        grantee: Some(&grantee),
    };
    let command = match request.change {
        Change::Grant(_) => "grant",
        Change::Revoke => "revoke",
        Change::Restore { .. } => "undo",
    };
    let (journal, earlier) = if request.dry_run {
        (None, journal::Contents::default())
    } else {
        let path = common::journal::path_for(batch_args.journal.as_deref(), command)?;
        let header = journal::Header {
            tool: Some(journal::TOOL.to_owned()),
            command: command.to_owned(),
            grantee: grantee.clone(),
            level: match request.change {
                Change::Grant(level) => Some(level.to_string()),
                _ => None,
            },
            url: client.endpoint().url(),
            user: user.clone(),
            started: jiff::Timestamp::now().to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            undoes: None,
            resumed: false,
        };
        let (journal, earlier) =
            common::journal::open_for_run(&path, header, ctx.global.quiet).await?;
        (Some(journal), earlier)
    };
    let resume = Resume {
        journal: journal.as_ref().map(|j| j.path().to_owned()),
    };
    batch::check_grantee(&client, &request, who).await?;
    // A resumed run skips what is done and re-checks what was in flight.
    let history: std::collections::HashMap<String, journal::MailboxHistory> =
        earlier.mailboxes.into_iter().collect();
    let history = &history;
    let mailboxes = common::journal::skip_done(mailboxes, history);
    let (client_ref, request_ref, journal_ref) = (&client, &request, journal.as_ref());
    let result = each_mailbox(
        ctx,
        mailboxes,
        concurrency,
        &resume,
        move |mailbox| async move {
            let earlier = history
                .get(&mailbox.as_str().to_ascii_lowercase())
                .and_then(journal::MailboxHistory::in_flight_write);
            let job = MailboxJob {
                journal: journal_ref,
                earlier,
            };
            batch::edit_mailbox(client_ref, &mailbox, request_ref, who, job).await
        },
        |mailbox, error| MailboxOutcome::failed(mailbox, &grantee, error),
        |outcome| match &mut report {
            Some(report) => report.write(outcome),
            None => Ok(()),
        },
    )
    .await;
    if let Some(journal) = journal {
        let finished = journal.finish(result.is_ok()).await;
        if result.is_ok() {
            finished?;
        }
    }
    result?.finish(&client_summary(&client))
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
