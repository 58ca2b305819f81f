//! What grant and revoke report per mailbox, and the summary of a run.

use std::io::{self, Write};

use common::CommandError;
pub use common::report::ErrorRecord;
use serde::Serialize;

use crate::permissions::Level;

common::named! {
    /// What happened to one mailbox's calendar.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Action {
        /// A new entry for the grantee.
        Granted = "granted",
        /// The grantee's entry got another level.
        Updated = "updated",
        /// Already as asked.
        Unchanged = "unchanged",
        /// The grantee's entry was removed.
        Revoked = "revoked",
        /// There was no entry to remove.
        Absent = "absent",
        /// Would be granted (`--dry-run`).
        WouldGrant = "would-grant",
        /// Would be updated (`--dry-run`).
        WouldUpdate = "would-update",
        /// Would be revoked (`--dry-run`).
        WouldRevoke = "would-revoke",
        /// Put back as it was before the run (`undo`).
        Restored = "restored",
        /// Would be put back (`undo --dry-run`).
        WouldRestore = "would-restore",
        /// Changed by someone since the run, left as it is (`undo`).
        ChangedSince = "changed-since",
        /// Failed; see `error`.
        Failed = "failed",
    }
}

impl Action {
    /// What `--dry-run` reports instead of a change it did not make.
    #[must_use]
    pub fn planned(self) -> Self {
        match self {
            Action::Granted => Action::WouldGrant,
            Action::Updated => Action::WouldUpdate,
            Action::Revoked => Action::WouldRevoke,
            Action::Restored => Action::WouldRestore,
            other => other,
        }
    }
}

/// One mailbox's outcome (the README's per-mailbox JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxOutcome {
    /// The mailbox.
    pub mailbox: String,
    /// The grantee.
    pub grantee: String,
    /// What happened.
    pub action: Action,
    /// The grantee's level before, if it had an entry.
    pub level_before: Option<Level>,
    /// The grantee's level after, if it has an entry.
    pub level_after: Option<Level>,
    /// What went wrong.
    pub error: Option<ErrorRecord>,
}

impl MailboxOutcome {
    /// A failed mailbox.
    pub fn failed(mailbox: &str, grantee: &str, error: &CommandError) -> Self {
        MailboxOutcome {
            mailbox: mailbox.to_owned(),
            grantee: grantee.to_owned(),
            action: Action::Failed,
            level_before: None,
            level_after: None,
            error: Some(ErrorRecord::from(error)),
        }
    }
}

/// A per-mailbox record a command prints: JSON as it serializes, or its human lines.
pub trait MailboxRecord: Serialize {
    /// What happened, as the summary counts it.
    fn action_word(&self) -> &'static str;

    /// The human rendering.
    fn write_human(&self, out: &mut impl Write) -> io::Result<()>;
}

impl MailboxRecord for MailboxOutcome {
    fn action_word(&self) -> &'static str {
        self.action.name()
    }

    /// One line; a failure shows its short code (its message is on stderr).
    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        let level = |l: Option<Level>| l.map_or("-".to_owned(), |l| l.to_string());
        let detail = match (&self.error, self.action) {
            (Some(e), _) => e.code.to_owned(),
            (None, Action::Unchanged) => level(self.level_after),
            (None, _) => format!(
                "{} -> {}",
                level(self.level_before),
                level(self.level_after)
            ),
        };
        writeln!(
            out,
            "{:<13}{:<36}{detail}",
            self.action.name(),
            self.mailbox
        )
    }
}

/// The CSV report (`--report`): one row per mailbox, as it completes.
pub struct ReportFile(common::report::CsvReport);

/// The report's columns (m365-tool writes the same, with Graph roles as levels).
pub const REPORT_HEADER: [&str; 6] = [
    "mailbox",
    "grantee",
    "action",
    "level_before",
    "level_after",
    "error",
];

impl ReportFile {
    /// Opens (or creates) the report.
    pub fn open(path: &std::path::Path) -> Result<Self, CommandError> {
        common::report::CsvReport::open(path, &REPORT_HEADER).map(Self)
    }

    /// Adds one mailbox's outcome and flushes it to the file.
    pub fn write(&mut self, o: &MailboxOutcome) -> Result<(), CommandError> {
        let level = |l: Option<Level>| l.map(|l| l.to_string()).unwrap_or_default();
        self.0.write(&[
            o.mailbox.as_str(),
            &o.grantee,
            o.action.name(),
            &level(o.level_before),
            &level(o.level_after),
            o.error.as_ref().map_or("", |e| e.message.as_str()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_documented_keys() {
        let outcome = MailboxOutcome {
            mailbox: "a@lab.example".into(),
            grantee: "svc@lab.example".into(),
            action: Action::WouldGrant,
            level_before: None,
            level_after: Some(Level::Editor),
            error: None,
        };
        let value = serde_json::to_value(&outcome).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"mailbox": "a@lab.example", "grantee": "svc@lab.example", "action": "would-grant", "level_before": null, "level_after": "Editor", "error": null})
        );
    }
}
