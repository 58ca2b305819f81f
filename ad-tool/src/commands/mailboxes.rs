//! `ad-tool mailboxes`: primary SMTP addresses of mailboxes by OU, group and type, one per line,
//! read with a paged search so any number of them works.

use std::io::Write;

use clap::Args;
use common::output::Shape;
use common::progress::{Progress, Surroundings};
use common::{CommandError, ExitStatus};
use serde::Serialize;

use crate::context::Context;
use crate::diagnostic::rc;
use crate::directory::{DirectoryError, Entry};
use crate::dn::Dn;
use crate::failure;
use crate::lookup::{self, Kind};
use crate::mailbox_query::{RecipientType, mailbox_filter};
use common::output::write_error;

/// Options of `mailboxes`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  ad-tool mailboxes --base \"OU=Staff,DC=corp,DC=example\" > mailboxes.txt
  ad-tool mailboxes --group \"Timetable Users\" --recipient-type user --recipient-type room \\
      | ews-tool grant --to mytt-service@corp.example --level Editor --mailboxes-file -"
))]
pub struct MailboxesArgs {
    /// Only below this OU or container [default: the whole domain]
    #[arg(long, value_name = "DN")]
    pub base: Option<Dn>,

    /// Only members of this group, directly or through nested groups
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,

    /// Mailbox types to list (repeat) [default: user]
    #[arg(long = "recipient-type", value_enum, value_name = "TYPE")]
    pub recipient_types: Vec<RecipientType>,

    /// Entries per page of the paged search (Active Directory's MaxPageSize is 1000)
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub page_size: u32,
}

/// One mailbox as reported in `json` and `jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxRecord {
    /// The primary SMTP address.
    pub mail: String,
    /// The entry's DN.
    pub dn: String,
    /// `sAMAccountName`.
    pub sam_account_name: Option<String>,
    /// The mailbox type.
    pub recipient_type: Option<RecipientType>,
}

impl MailboxRecord {
    /// The record of an entry that has a mail address.
    fn from_entry(entry: &Entry) -> Option<Self> {
        Some(Self {
            mail: entry.text("mail")?,
            dn: entry.dn.clone(),
            sam_account_name: entry.text("sAMAccountName"),
            recipient_type: entry
                .int("msExchRecipientTypeDetails")
                .and_then(RecipientType::from_value),
        })
    }
}

/// Runs `mailboxes`.
pub async fn run(args: MailboxesArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let mut directory = ctx.connect().await?;
    let group_dn = match &args.group {
        Some(name) => {
            let group = lookup::require(&mut directory, Kind::Group, name, &["objectClass"])
                .await
                .map_err(|e| e.with_item(name))?;
            Some(group.parsed_dn().ok_or_else(|| {
                CommandError::new(
                    ExitStatus::ItemsFailed,
                    format!("the server returned an unreadable DN {}", group.dn),
                )
            })?)
        }
        None => None,
    };
    let base = args
        .base
        .clone()
        .unwrap_or_else(|| directory.naming_context.clone());
    let filter = mailbox_filter(&args.recipient_types, group_dn.as_ref());
    let attrs = ["mail", "sAMAccountName", "msExchRecipientTypeDetails"];
    let mut output = ctx.global.stdout(Shape::Many);
    let mut count = 0usize;
    // A spinner and a count on a terminal: the total is known only at the end.
    let progress = Progress::start(
        Surroundings::detect(ctx.global.quiet, ctx.verbose()).mode(),
        "ad-tool",
        ("mailbox", "mailboxes"),
        None,
    );
    let mut emit = |entries: Vec<Entry>| -> std::io::Result<()> {
        for record in entries.iter().filter_map(MailboxRecord::from_entry) {
            output.record(&record, |w| writeln!(w, "{}", record.mail))?;
            progress.item("listed");
            count += 1;
        }
        Ok(())
    };
    // The server sorts by address across pages, so the list is in the same order every run
    // and streams page by page; a server that cannot sort gets the list sorted here instead.
    let sorted = directory
        .paged_search(
            &base,
            &filter,
            &attrs,
            args.page_size,
            Some("mail"),
            &mut emit,
        )
        .await;
    let pages = match sorted {
        Err(DirectoryError::Operation { failure, .. })
            if failure.rc == rc::UNAVAILABLE_CRITICAL_EXTENSION =>
        {
            log::info!("the server cannot sort search results; sorting them here");
            let mut all = Vec::new();
            let pages = directory
                .paged_search(&base, &filter, &attrs, args.page_size, None, |entries| {
                    all.extend(entries);
                    Ok::<(), std::io::Error>(())
                })
                .await;
            all.sort_by_cached_key(|e| e.text("mail").map(|m| m.to_lowercase()));
            pages.map(|p| p.and_then(|n| emit(all).map(|()| n)))
        }
        other => other,
    };
    let pages = pages
        .map_err(|e| failure::explain(&e).with_item(base.to_string()))?
        .map_err(write_error)?;
    progress.finish();
    output.finish().map_err(write_error)?;
    log::info!(
        "{count} mailboxes in {pages} pages of up to {}",
        args.page_size
    );
    directory.unbind().await;
    Ok(ExitStatus::Success)
}
