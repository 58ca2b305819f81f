//! What grant and revoke report per mailbox, and the summary of a run.

use std::collections::BTreeMap;
use std::io::{self, Write};

use common::CommandError;
use serde::Serialize;

use crate::permissions::Level;

/// What happened to one mailbox's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A new entry for the grantee.
    Granted,
    /// The grantee's entry got another level.
    Updated,
    /// Already as asked.
    Unchanged,
    /// The grantee's entry was removed.
    Revoked,
    /// There was no entry to remove.
    Absent,
    /// Would be granted (`--dry-run`).
    WouldGrant,
    /// Would be updated (`--dry-run`).
    WouldUpdate,
    /// Would be revoked (`--dry-run`).
    WouldRevoke,
    /// Failed; see `error`.
    Failed,
}

impl Action {
    /// The word in human output.
    pub fn word(self) -> &'static str {
        match self {
            Action::Granted => "granted",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
            Action::Revoked => "revoked",
            Action::Absent => "absent",
            Action::WouldGrant => "would-grant",
            Action::WouldUpdate => "would-update",
            Action::WouldRevoke => "would-revoke",
            Action::Failed => "failed",
        }
    }

    /// What `--dry-run` reports instead of a change it did not make.
    #[must_use]
    pub fn planned(self) -> Self {
        match self {
            Action::Granted => Action::WouldGrant,
            Action::Updated => Action::WouldUpdate,
            Action::Revoked => Action::WouldRevoke,
            other => other,
        }
    }
}

/// An error in an outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorRecord {
    /// Short stable name.
    pub code: &'static str,
    /// The one-line message.
    pub message: String,
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
            error: Some(ErrorRecord {
                code: error.code,
                message: error.summary(),
            }),
        }
    }
}

/// A per-mailbox record a command prints: JSON as it serializes, or its human lines.
pub trait MailboxRecord: Serialize {
    /// The human rendering.
    fn write_human(&self, out: &mut impl Write) -> io::Result<()>;
}

impl MailboxRecord for MailboxOutcome {
    /// One line.
    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        let level = |l: Option<Level>| l.map_or("-".to_owned(), |l| l.to_string());
        let detail = match (&self.error, self.action) {
            (Some(e), _) => format!("error: {}", e.message),
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
            self.action.word(),
            self.mailbox
        )
    }
}

/// Counts of actions, for the closing summary.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    counts: BTreeMap<Action, usize>,
}

impl Summary {
    /// Counts an outcome.
    pub fn add(&mut self, action: Action) {
        *self.counts.entry(action).or_default() += 1;
    }

    /// Whether any mailbox failed.
    pub fn any_failed(&self) -> bool {
        self.counts.contains_key(&Action::Failed)
    }

    /// "40 mailboxes: 38 granted, 1 unchanged, 1 failed".
    pub fn line(&self) -> String {
        let total: usize = self.counts.values().sum();
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(action, n)| format!("{n} {}", action.word()))
            .collect();
        format!(
            "{total} mailbox{}: {}",
            if total == 1 { "" } else { "es" },
            parts.join(", ")
        )
    }
}

/// Writes the outcomes as a CSV report.
pub fn write_report(path: &std::path::Path, outcomes: &[MailboxOutcome]) -> io::Result<()> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record([
        "mailbox",
        "grantee",
        "action",
        "level_before",
        "level_after",
        "error",
    ])?;
    for o in outcomes {
        let level = |l: Option<Level>| l.map(|l| l.to_string()).unwrap_or_default();
        writer.write_record([
            o.mailbox.as_str(),
            &o.grantee,
            o.action.word(),
            &level(o.level_before),
            &level(o.level_after),
            o.error.as_ref().map_or("", |e| e.message.as_str()),
        ])?;
    }
    writer.flush()
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

    #[test]
    fn summary_line() {
        let mut summary = Summary::default();
        for action in [
            Action::Granted,
            Action::Granted,
            Action::Failed,
            Action::Unchanged,
        ] {
            summary.add(action);
        }
        assert_eq!(
            summary.line(),
            "4 mailboxes: 2 granted, 1 unchanged, 1 failed"
        );
        assert!(summary.any_failed());
    }
}
