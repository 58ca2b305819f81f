//! `ews-tool check`: connect, log on, report the server version, and with `--mailbox` whether
//! each mailbox's calendar can be opened.

use std::io::{self, Write};

use clap::Args;
use common::output::Shape;
use common::{CommandError, ExitStatus};
use serde::Serialize;

use crate::context::Context;
use crate::error::{self, EwsError, Who};
use crate::outcome::ErrorRecord;
use crate::response::ServerVersionInfo;
use common::output::write_error;

/// Options of `check`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ews-tool --url https://mail.corp.example/EWS/Exchange.asmx --user 'CORP\\svc-mytt' \\
      --password-file svc-mytt.password check
  ews-tool check --mailbox anna@corp.example --mailbox room-101@corp.example"
))]
pub struct CheckArgs {
    /// Also check access to this mailbox's calendar; repeat for more
    #[arg(long = "mailbox", value_name = "ADDRESS")]
    pub mailboxes: Vec<common::address::SmtpAddress>,
}

/// Access to one mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxAccess {
    /// The mailbox.
    pub mailbox: String,
    /// Whether its calendar could be read.
    pub access: bool,
    /// How many permission entries it has.
    pub entries: Option<usize>,
    /// Why not.
    pub error: Option<ErrorRecord>,
}

/// What `check` reports.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRecord {
    /// The endpoint.
    pub url: String,
    /// Who logged on.
    pub user: String,
    /// The product, as admins name it.
    pub product: Option<&'static str>,
    /// The server's `ServerVersionInfo`.
    pub server_version: Option<ServerVersionInfo>,
    /// The request version the server accepted.
    pub request_version: &'static str,
    /// Whether the account has a mailbox of its own.
    pub own_mailbox: bool,
    /// The mailboxes asked about.
    pub mailboxes: Vec<MailboxAccess>,
}

impl CheckRecord {
    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}: logged on as {}", self.url, self.user)?;
        if let Some(v) = &self.server_version {
            writeln!(
                out,
                "server: {} ({}.{}.{}.{}{}), requests as {}",
                self.product.unwrap_or("Exchange"),
                v.major_version,
                v.minor_version,
                v.major_build_number,
                v.minor_build_number,
                v.version
                    .as_deref()
                    .map(|s| format!(", schema {s}"))
                    .unwrap_or_default(),
                self.request_version
            )?;
        }
        if !self.own_mailbox {
            writeln!(
                out,
                "the account has no mailbox of its own (as usual for a service account)"
            )?;
        }
        for m in &self.mailboxes {
            match &m.error {
                None => writeln!(
                    out,
                    "{}: calendar readable, {} entries",
                    m.mailbox,
                    m.entries.unwrap_or(0)
                )?,
                Some(e) => writeln!(out, "{}: {}", m.mailbox, e.message)?,
            }
        }
        Ok(())
    }
}

/// Runs `check`.
pub async fn run(args: CheckArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let client = ctx.client(1, args.mailboxes.first()).await?;
    let user = client.logon().to_owned();
    let who = Who {
        user: &user,
        grantee: None,
    };
    // Any EWS answer proves the logon; an account without a mailbox gets an error message.
    let own = client
        .own_calendar()
        .await
        .map_err(|e| error::explain(&e, who))?;
    let own_mailbox = !matches!(&own, Err(e) if e.response_code() == Some(&crate::response_code::ResponseCode::ErrorNonExistentMailbox));
    if let Err(e @ EwsError::Exchange { .. }) = &own {
        log::info!("the account's own calendar: {e}");
    }
    let mut record = CheckRecord {
        url: client.endpoint().url(),
        user: user.clone(),
        product: client.server_version().map(|v| v.product()),
        server_version: client.server_version(),
        request_version: client.request_version().name(),
        own_mailbox,
        mailboxes: Vec::new(),
    };
    let mut failed = None;
    for mailbox in &args.mailboxes {
        let access = match client.calendar(mailbox).await {
            Ok(folder) => MailboxAccess {
                mailbox: mailbox.to_string(),
                access: true,
                entries: folder.permissions.map(|p| p.entries.len()),
                error: None,
            },
            Err(e) => {
                let error = error::explain(&e, who).with_item(mailbox.to_string());
                let access = MailboxAccess {
                    mailbox: mailbox.to_string(),
                    access: false,
                    entries: None,
                    error: Some(ErrorRecord {
                        code: error.code,
                        message: error.summary(),
                    }),
                };
                failed = Some(error);
                access
            }
        };
        record.mailboxes.push(access);
    }
    let mut output = ctx.global.stdout(Shape::Single);
    output
        .record(&record, |w| record.write_human(w))
        .map_err(write_error)?;
    output.finish().map_err(write_error)?;
    Ok(if failed.is_some() {
        ExitStatus::ItemsFailed
    } else {
        ExitStatus::Success
    })
}
