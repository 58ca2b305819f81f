//! `ews-tool list`: each calendar's permission entries.

use std::io::{self, Write};

use clap::Args;
use common::output::Table;
use common::{CommandError, ExitStatus};
use serde::Serialize;

use super::{Prepared, each_mailbox, prepare};
use crate::cli::MailboxArgs;
use crate::context::Context;
use crate::error::{self, Who};
use crate::outcome::{ErrorRecord, MailboxRecord};
use crate::permissions::{CalendarPermission, Level, Rights};

/// Options of `list`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ews-tool list --mailbox anna@corp.example
  ad-tool mailboxes --base \"OU=Staff,DC=corp,DC=example\" | ews-tool list --mailboxes-file - -o jsonl"
))]
pub struct ListArgs {
    /// Which mailboxes.
    #[command(flatten)]
    pub mailboxes: MailboxArgs,

    /// Mailboxes read at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// One entry as listed.
#[derive(Debug, Clone, Serialize)]
pub struct EntryRecord {
    /// Default, Anonymous, the address or the SID.
    pub user: String,
    /// `SID`.
    pub sid: Option<String>,
    /// `DisplayName`.
    pub display_name: Option<String>,
    /// The level.
    pub level: Level,
    /// The individual rights, for Custom entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rights: Option<Rights>,
}

impl From<&CalendarPermission> for EntryRecord {
    fn from(entry: &CalendarPermission) -> Self {
        EntryRecord {
            user: entry.user.label(),
            sid: entry.user.sid.clone(),
            display_name: entry.user.display_name.clone(),
            level: entry.level,
            rights: (entry.level == Level::Custom).then_some(entry.rights),
        }
    }
}

/// One calendar as listed.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarRecord {
    /// The mailbox.
    pub mailbox: String,
    /// Its entries, in the server's order.
    pub entries: Vec<EntryRecord>,
    /// Entries whose user Exchange cannot resolve.
    pub unknown_entries: Vec<String>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
}

impl MailboxRecord for CalendarRecord {
    fn action_word(&self) -> &'static str {
        if self.error.is_some() {
            "failed"
        } else {
            "listed"
        }
    }

    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}", self.mailbox)?;
        if let Some(error) = &self.error {
            return writeln!(out, "  failed ({})", error.code);
        }
        let mut table = Table::new(["  USER", "LEVEL", "NAME"]);
        for entry in &self.entries {
            let level = match &entry.rights {
                Some(rights) => format!(
                    "Custom {}",
                    serde_json::to_string(rights).unwrap_or_default()
                ),
                None => entry.level.to_string(),
            };
            table.row([
                format!("  {}", entry.user),
                level,
                entry.display_name.clone().unwrap_or_default(),
            ]);
        }
        for unknown in &self.unknown_entries {
            table.row([
                format!("  {unknown}"),
                "(unresolved)".to_owned(),
                String::new(),
            ]);
        }
        write!(out, "{}", table.render())
    }
}

/// Runs `list`.
pub async fn run(args: ListArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let Prepared {
        mailboxes,
        concurrency,
        client,
    } = prepare(ctx, &args.mailboxes, args.concurrency).await?;
    let user = client.logon().to_owned();
    let who = Who {
        user: &user,
        grantee: None,
    };
    let client_ref = &client;
    let reporter = each_mailbox(
        ctx,
        mailboxes,
        concurrency,
        &super::Resume::default(),
        move |mailbox| async move {
            let set = client_ref
                .calendar(&mailbox)
                .await
                .map_err(|e| error::explain(&e, who))?
                .permissions
                .unwrap_or_default();
            Ok(CalendarRecord {
                mailbox: mailbox.to_string(),
                entries: set.entries.iter().map(EntryRecord::from).collect(),
                unknown_entries: set.unknown_entries,
                error: None,
            })
        },
        |mailbox, error| CalendarRecord {
            mailbox: mailbox.to_owned(),
            entries: Vec::new(),
            unknown_entries: Vec::new(),
            error: Some(ErrorRecord::from(error)),
        },
        |_| Ok(()),
    )
    .await?;
    reporter.finish(&super::client_summary(&client))
}
