//! The journal of a run that writes (`grant`, `revoke`, `undo`): JSON lines, one
//! self-describing record each, from which the run can be resumed or undone.
//!
//! A header names the command, the grantee, the level, the server, the logon and the time;
//! then, per mailbox, the grantee's entry before and the entry intended after, made durable
//! before the UpdateFolder is sent, and the outcome. Records are written by a thread of their
//! own in groups: every record waiting when the disk is free goes in one write and one
//! `fdatasync`, so durability costs a fraction of a request per mailbox, not a disk flush
//! each. A crash at any instant leaves a file that is valid up to its last complete line; a
//! journal opened again is cut back to that line before anything is added.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::permissions::EntryState;

/// One line of a journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum Record {
    /// What the run is: written when it starts (again on each resume).
    Header(Header),
    /// A mailbox's entry before and the entry about to be written; durable before the write.
    Intent {
        /// The mailbox.
        mailbox: String,
        /// The grantee's entry before.
        before: EntryState,
        /// The entry being written.
        after: EntryState,
    },
    /// What became of a mailbox.
    Outcome {
        /// The mailbox.
        mailbox: String,
        /// As the run reports it (`granted`, `unchanged`, `restored`, `failed`, …).
        action: String,
        /// The grantee's entry before, when read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<EntryState>,
        /// The grantee's entry after, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<EntryState>,
        /// What went wrong.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The run ended (absent after a crash or a second Ctrl-C).
    End {
        /// When.
        finished: String,
        /// Whether it was interrupted (Ctrl-C, SIGTERM) or ended early by an error.
        complete: bool,
    },
}

/// A journal's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// `grant`, `revoke` or `undo`.
    pub command: String,
    /// The grantee, as given.
    pub grantee: String,
    /// The level granted (`grant` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The EWS URL.
    pub url: String,
    /// Who logged on.
    pub user: String,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// ews-tool's version.
    pub tool_version: String,
    /// The journal an undo reverses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<String>,
    /// Whether this run resumes an earlier one in the same journal.
    #[serde(default)]
    pub resumed: bool,
}

impl Header {
    /// Whether a run with `other` may resume the run this header began: the same command,
    /// grantee, level and journal to undo.
    pub fn same_run(&self, other: &Header) -> bool {
        self.command == other.command
            && self.grantee.eq_ignore_ascii_case(&other.grantee)
            && self.level.as_deref().map(str::to_ascii_lowercase)
                == other.level.as_deref().map(str::to_ascii_lowercase)
            && self.undoes == other.undoes
    }
}

/// What a journal says of its mailboxes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// The first header.
    pub header: Option<Header>,
    /// Per mailbox (lower-case address): what is known, in the order they first appear.
    pub mailboxes: Vec<(String, MailboxHistory)>,
    /// Lines that were cut off (a crash in the middle of a write).
    pub partial_line: bool,
}

/// One mailbox's records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxHistory {
    /// The entry before the first write the journal intended for it.
    pub before: Option<EntryState>,
    /// The entry the last intended write was to leave.
    pub after: Option<EntryState>,
    /// The last outcome's action.
    pub action: Option<String>,
}

impl MailboxHistory {
    /// Whether the mailbox is done: an outcome other than a failure.
    pub fn done(&self) -> bool {
        self.action.as_deref().is_some_and(|a| a != "failed")
    }

    /// Whether a write was intended and its outcome is not known (it was in flight).
    pub fn in_flight(&self) -> bool {
        self.after.is_some() && self.action.is_none()
    }

    /// The (before, after) of the write the journal records, when it made or may have made
    /// one.
    pub fn write(&self) -> Option<(EntryState, EntryState)> {
        match (self.before, self.after) {
            (Some(before), Some(after)) if before != after => Some((before, after)),
            _ => None,
        }
    }
}

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing it failed.
    #[error("{path}: {source}")]
    Io {
        /// The journal.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It is a device, a pipe or a folder: a journal must be a file that can be synced and
    /// read back.
    #[error("{path} is not a regular file")]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// A complete line is not a journal record.
    #[error("{path} line {line} is not a journal record ({reason})")]
    Malformed {
        /// The journal.
        path: PathBuf,
        /// The line.
        line: usize,
        /// Why.
        reason: String,
    },
}

/// Reads a journal: every complete line; a last line without its newline (a crash in the
/// middle of a write) is left out.
pub fn read(path: &Path) -> Result<Contents, JournalError> {
    let io_error = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    regular(&file, path)?;
    let mut reader = BufReader::new(file);
    let mut contents = Contents::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io_error)? == 0 {
            break;
        }
        number += 1;
        if !line.ends_with('\n') {
            contents.partial_line = true;
            break;
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(text).map_err(|e| JournalError::Malformed {
            path: path.to_owned(),
            line: number,
            reason: e.to_string(),
        })?;
        let mut history = |mailbox: &str| {
            let key = mailbox.to_ascii_lowercase();
            *index.entry(key.clone()).or_insert_with(|| {
                contents.mailboxes.push((key, MailboxHistory::default()));
                contents.mailboxes.len() - 1
            })
        };
        match record {
            Record::Header(header) => {
                if contents.header.is_none() {
                    contents.header = Some(header);
                }
            }
            Record::Intent {
                mailbox,
                before,
                after,
            } => {
                let at = history(&mailbox);
                let entry = &mut contents.mailboxes[at].1;
                entry.before.get_or_insert(before);
                entry.after = Some(after);
                entry.action = None;
            }
            Record::Outcome {
                mailbox,
                action,
                before,
                after,
                ..
            } => {
                let at = history(&mailbox);
                let entry = &mut contents.mailboxes[at].1;
                if entry.before.is_none() {
                    entry.before = before;
                }
                if after.is_some() {
                    entry.after = after;
                }
                entry.action = Some(action);
            }
            Record::End { .. } => {}
        }
    }
    Ok(contents)
}

/// Where a journal goes when `--journal` names none: the state directory
/// (`$XDG_STATE_HOME/ad-ews-tools/journal/`, else `~/.local/state/ad-ews-tools/journal/`).
pub fn default_path(command: &str) -> Option<PathBuf> {
    let base = common::files::state_dir()?;
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    Some(
        base.join("journal")
            .join(format!("{command}-{stamp}-{}.jsonl", std::process::id())),
    )
}

enum Message {
    /// A record, and whoever waits until it is on disk.
    Record(Vec<u8>, Option<oneshot::Sender<io::Result<()>>>),
}

/// An open journal: records go to its writer thread.
pub struct Journal {
    path: PathBuf,
    sender: Option<mpsc::Sender<Message>>,
    writer: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens the journal at `path` to add to it (creating it, and its folder, private to the
    /// user), cut back to its last complete line, and writes `header` durably.
    pub async fn open(path: &Path, header: &Header) -> Result<Self, JournalError> {
        let io_error = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(io_error)?;
        }
        let mut file = open_private(path).map_err(io_error)?;
        regular(&file, path)?;
        cut_to_last_line(&mut file).map_err(io_error)?;
        let (sender, receiver) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_groups(&file, &receiver))
            .map_err(io_error)?;
        let journal = Journal {
            path: path.to_owned(),
            sender: Some(sender),
            writer: Some(writer),
        };
        journal
            .durable(&Record::Header(header.clone()))
            .await
            .map_err(io_error)?;
        Ok(journal)
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, record: &Record, waiter: Option<oneshot::Sender<io::Result<()>>>) {
        let mut line = serde_json::to_vec(record).unwrap_or_default();
        line.push(b'\n');
        if let Some(sender) = &self.sender {
            let _ = sender.send(Message::Record(line, waiter));
        }
    }

    /// Adds a record and waits until it is on disk (with the records around it).
    pub async fn durable(&self, record: &Record) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(record, Some(tx));
        rx.await
            .unwrap_or_else(|_| Err(io::Error::other("the journal's writer stopped")))
    }

    /// Adds a record, written with the next group.
    pub fn record(&self, record: &Record) {
        self.send(record, None);
    }

    /// Ends the journal: the end record, everything on disk.
    pub async fn close(mut self, complete: bool) -> Result<(), JournalError> {
        let end = Record::End {
            finished: jiff::Timestamp::now().to_string(),
            complete,
        };
        let path = self.path.clone();
        let io_error = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        self.durable(&end).await.map_err(io_error)?;
        drop(self.sender.take());
        if let Some(writer) = self.writer.take() {
            writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the journal's writer failed")))
                .map_err(io_error)?;
        }
        Ok(())
    }
}

/// The writer thread: takes every record that is waiting, writes them in one go, makes them
/// durable when someone waits for that, then tells the waiters.
fn write_groups(mut file: &File, receiver: &mpsc::Receiver<Message>) -> io::Result<()> {
    let mut failure: Option<io::ErrorKind> = None;
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        while let Ok(more) = receiver.try_recv() {
            group.push(more);
        }
        let mut bytes = Vec::new();
        let mut waiters = Vec::new();
        for Message::Record(line, waiter) in group {
            bytes.extend_from_slice(&line);
            waiters.extend(waiter);
        }
        let result = match failure {
            Some(kind) => Err(io::Error::from(kind)),
            None => file.write_all(&bytes).and_then(|()| {
                if waiters.is_empty() {
                    Ok(())
                } else {
                    file.sync_data()
                }
            }),
        };
        if let Err(e) = &result {
            failure.get_or_insert(e.kind());
        }
        for waiter in waiters {
            let _ = waiter.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
    match failure {
        Some(kind) => Err(io::Error::from(kind)),
        None => file.sync_data(),
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Refuses what is not a regular file (`/dev/full`, a pipe): it could be neither synced nor
/// read back to its end.
fn regular(file: &File, path: &Path) -> Result<(), JournalError> {
    let metadata = file.metadata().map_err(|source| JournalError::Io {
        path: path.to_owned(),
        source,
    })?;
    if metadata.is_file() {
        Ok(())
    } else {
        Err(JournalError::NotAFile {
            path: path.to_owned(),
        })
    }
}

fn open_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Cuts a partial last line (a crash in the middle of a write) and positions at the end.
fn cut_to_last_line(file: &mut File) -> io::Result<()> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(());
    }
    let mut keep = len;
    let mut buf = [0u8; 4096];
    loop {
        let start = keep.saturating_sub(buf.len() as u64);
        let n = usize::try_from(keep - start).unwrap_or(0);
        file.seek(SeekFrom::Start(start))?;
        std::io::Read::read_exact(file, &mut buf[..n])?;
        if let Some(at) = buf[..n].iter().rposition(|b| *b == b'\n') {
            keep = start + at as u64 + 1;
            break;
        }
        if start == 0 {
            keep = 0;
            break;
        }
        keep = start;
    }
    if keep != len {
        file.set_len(keep)?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::Level;

    fn header() -> Header {
        Header {
            command: "grant".into(),
            grantee: "svc@lab.example".into(),
            level: Some("Editor".into()),
            url: "https://mail.lab.example/EWS/Exchange.asmx".into(),
            user: "LAB\\svc".into(),
            started: "2026-12-03T05:00:00Z".into(),
            tool_version: "0.1.0".into(),
            undoes: None,
            resumed: false,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_journal_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/journal.jsonl");
        let editor = EntryState::Level {
            level: Level::Editor,
        };
        runtime().block_on(async {
            let journal = Journal::open(&path, &header()).await.unwrap();
            journal
                .durable(&Record::Intent {
                    mailbox: "A@lab.example".into(),
                    before: EntryState::Absent,
                    after: editor,
                })
                .await
                .unwrap();
            journal.record(&Record::Outcome {
                mailbox: "a@lab.example".into(),
                action: "granted".into(),
                before: Some(EntryState::Absent),
                after: Some(editor),
                error: None,
            });
            journal
                .durable(&Record::Intent {
                    mailbox: "b@lab.example".into(),
                    before: EntryState::Absent,
                    after: editor,
                })
                .await
                .unwrap();
            journal.close(false).await.unwrap();
        });
        let contents = read(&path).unwrap();
        assert_eq!(contents.header, Some(header()));
        assert_eq!(contents.mailboxes.len(), 2);
        let (a, b) = (&contents.mailboxes[0].1, &contents.mailboxes[1].1);
        assert!(a.done() && !a.in_flight());
        assert_eq!(a.write(), Some((EntryState::Absent, editor)));
        assert!(!b.done() && b.in_flight());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_line_cut_by_a_crash_is_left_out_and_cut_off_before_adding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let whole = serde_json::to_string(&Record::Header(header())).unwrap();
        let outcome = serde_json::to_string(&Record::Outcome {
            mailbox: "a@lab.example".into(),
            action: "granted".into(),
            before: None,
            after: None,
            error: None,
        })
        .unwrap();
        std::fs::write(&path, format!("{whole}\n{}", &outcome[..20])).unwrap();
        let contents = read(&path).unwrap();
        assert!(contents.partial_line && contents.mailboxes.is_empty());
        runtime().block_on(async {
            let journal = Journal::open(&path, &header()).await.unwrap();
            journal.close(true).await.unwrap();
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<Record>(l).is_ok())
        );
        let contents = read(&path).unwrap();
        assert!(!contents.partial_line);
    }

    #[test]
    fn a_resume_must_be_the_same_run() {
        let mut other = header();
        assert!(header().same_run(&other));
        other.level = Some("Reviewer".into());
        assert!(!header().same_run(&other));
    }
}
