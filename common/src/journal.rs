//! The journal of a run that writes calendar permissions (`grant`, `revoke`, `undo` of
//! ews-tool and m365-tool): JSON lines, one self-describing record each, from which the run
//! can be resumed or undone.
//!
//! A header names the tool, the command, the grantee, the level, the server, the logon and the
//! time; then, per mailbox, the grantee's entry before and the entry intended after (a state
//! each tool defines: an Exchange level or rights, a Graph role), made durable before the
//! write is sent, and the outcome. Records are written by a thread of their
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

use serde::de::DeserializeOwned;

use crate::CommandError;
use crate::mailboxes::Mailboxes;

/// One line of a journal; `S` is the grantee's entry as the tool records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "record",
    rename_all = "kebab-case",
    bound(serialize = "S: Serialize", deserialize = "S: DeserializeOwned")
)]
pub enum Record<S> {
    /// What the run is: written when it starts (again on each resume).
    Header(Header),
    /// A mailbox's entry before and the entry about to be written; durable before the write.
    Intent {
        /// The mailbox.
        mailbox: String,
        /// The grantee's entry before.
        before: S,
        /// The entry being written.
        after: S,
    },
    /// What became of a mailbox.
    Outcome {
        /// The mailbox.
        mailbox: String,
        /// As the run reports it (`granted`, `unchanged`, `restored`, `failed`, …).
        action: String,
        /// The grantee's entry before, when read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<S>,
        /// The grantee's entry after, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<S>,
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
    /// The tool that wrote it (absent in ews-tool's first journals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// `grant`, `revoke` or `undo`.
    pub command: String,
    /// The grantee, as given.
    pub grantee: String,
    /// The level granted (`grant` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The service's URL (EWS, or Graph's).
    pub url: String,
    /// Who logged on.
    pub user: String,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// The tool's version.
    pub tool_version: String,
    /// The journal an undo reverses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<String>,
    /// Whether this run resumes an earlier one in the same journal.
    #[serde(default)]
    pub resumed: bool,
}

impl Header {
    /// The tool that wrote the journal.
    pub fn tool(&self) -> &str {
        self.tool.as_deref().unwrap_or("ews-tool")
    }

    /// Whether a run with `other` may resume the run this header began: the same command,
    /// grantee, level and journal to undo.
    pub fn same_run(&self, other: &Header) -> bool {
        self.tool() == other.tool()
            && self.command == other.command
            && self.grantee.eq_ignore_ascii_case(&other.grantee)
            && self.level.as_deref().map(str::to_ascii_lowercase)
                == other.level.as_deref().map(str::to_ascii_lowercase)
            && self.undoes == other.undoes
    }
}

/// What a journal says of its mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents<S> {
    /// The first header.
    pub header: Option<Header>,
    /// Per mailbox (lower-case address): what is known, in the order they first appear.
    pub mailboxes: Vec<(String, MailboxHistory<S>)>,
    /// Lines that were cut off (a crash in the middle of a write).
    pub partial_line: bool,
}

impl<S> Default for Contents<S> {
    fn default() -> Self {
        Self {
            header: None,
            mailboxes: Vec::new(),
            partial_line: false,
        }
    }
}

/// One mailbox's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxHistory<S> {
    /// The entry before the first write the journal intended for it.
    pub before: Option<S>,
    /// The entry the last intended write was to leave.
    pub after: Option<S>,
    /// The last outcome's action.
    pub action: Option<String>,
}

impl<S> Default for MailboxHistory<S> {
    fn default() -> Self {
        Self {
            before: None,
            after: None,
            action: None,
        }
    }
}

impl<S> MailboxHistory<S> {
    /// Whether the mailbox is done: an outcome other than a failure.
    pub fn done(&self) -> bool {
        self.action.as_deref().is_some_and(|a| a != "failed")
    }

    /// Whether a write was intended and its outcome is not known (it was in flight).
    pub fn in_flight(&self) -> bool {
        self.after.is_some() && self.action.is_none()
    }
}

impl<S: Clone + PartialEq> MailboxHistory<S> {
    /// The (before, after) of the write the journal records, when it made or may have made
    /// one.
    pub fn write(&self) -> Option<(S, S)> {
        match (&self.before, &self.after) {
            (Some(before), Some(after)) if before != after => Some((before.clone(), after.clone())),
            _ => None,
        }
    }

    /// The (before, after) of a write that was in flight when the run stopped: to be
    /// re-checked, never sent again blindly.
    pub fn in_flight_write(&self) -> Option<(S, S)> {
        if self.in_flight() {
            self.before.clone().zip(self.after.clone())
        } else {
            None
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
pub fn read<S: DeserializeOwned>(path: &Path) -> Result<Contents<S>, JournalError> {
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
        let record: Record<S> =
            serde_json::from_str(text).map_err(|e| JournalError::Malformed {
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
    let base = crate::files::state_dir()?;
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
            .durable(&Record::<()>::Header(header.clone()))
            .await
            .map_err(io_error)?;
        Ok(journal)
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send<S: Serialize>(
        &self,
        record: &Record<S>,
        waiter: Option<oneshot::Sender<io::Result<()>>>,
    ) {
        let mut line = serde_json::to_vec(record).unwrap_or_default();
        line.push(b'\n');
        if let Some(sender) = &self.sender {
            let _ = sender.send(Message::Record(line, waiter));
        }
    }

    /// Adds a record and waits until it is on disk (with the records around it).
    pub async fn durable<S: Serialize>(&self, record: &Record<S>) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(record, Some(tx));
        rx.await
            .unwrap_or_else(|_| Err(io::Error::other("the journal's writer stopped")))
    }

    /// Adds the intent of a write and waits until it is on disk; the admin's line when it
    /// cannot be (nothing may be changed then).
    pub async fn intend<S: Serialize>(&self, intent: &Record<S>) -> Result<(), CommandError> {
        self.durable(intent).await.map_err(|e| {
            CommandError::new(
                crate::ExitStatus::ItemsFailed,
                format!(
                    "cannot write the journal {}: {e}; no calendar was changed without its record",
                    self.path.display()
                ),
            )
            .with_hint("free space or choose another --journal, then run the same command again")
            .with_code("journal")
        })
    }

    /// Ends the journal of a run that ended `Ok` or not; the admin's line when the end cannot
    /// be written.
    pub async fn finish(self, run_ok: bool) -> Result<(), CommandError> {
        self.close(run_ok).await.map_err(|e| {
            CommandError::new(
                crate::ExitStatus::ItemsFailed,
                format!("cannot finish the journal: {e}"),
            )
            .with_code("journal")
        })
    }

    /// Adds a record, written with the next group.
    pub fn record<S: Serialize>(&self, record: &Record<S>) {
        self.send(record, None);
    }

    /// Ends the journal: the end record, everything on disk.
    pub async fn close(mut self, complete: bool) -> Result<(), JournalError> {
        let end = Record::<()>::End {
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
        // Every waiter hears the failure in the same words, whether its own group hit it or
        // an earlier one did: the kind ("no storage space"), not the one OS message.
        for waiter in waiters {
            let _ = waiter.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::from(e.kind())),
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

/// Where a run's journal goes: `asked` (`--journal`), or a new file in the state directory.
pub fn path_for(asked: Option<&Path>, command: &str) -> Result<PathBuf, CommandError> {
    match asked {
        Some(path) => Ok(path.to_owned()),
        None => default_path(command).ok_or_else(|| {
            CommandError::usage("no place for the journal: neither XDG_STATE_HOME nor HOME is set")
                .with_hint("name one with --journal FILE")
                .with_code("journal")
        }),
    }
}

/// Opens the journal of a writing run (a dry run keeps none): what an earlier run recorded in
/// it, which must be the same run of the same tool, and the header of this one. Says where
/// the journal is on stderr unless `quiet`.
pub async fn open_for_run<S: DeserializeOwned>(
    path: &Path,
    header: Header,
    quiet: bool,
) -> Result<(Journal, Contents<S>), CommandError> {
    let tool = header.tool().to_owned();
    let failed = |e: JournalError| {
        CommandError::usage(format!("cannot use the journal: {e}"))
            .with_hint("choose another --journal FILE")
            .with_code("journal")
    };
    let earlier = if path.exists() {
        read(path).map_err(failed)?
    } else {
        Contents::default()
    };
    let mut header = header;
    if let Some(first) = &earlier.header {
        if !first.same_run(&header) {
            let level = first
                .level
                .as_deref()
                .map(|l| format!(" {l}"))
                .unwrap_or_default();
            return Err(CommandError::usage(format!(
                "the journal {} records another run ({} {} {}{level}); it resumes only the same command",
                path.display(),
                first.tool(),
                first.command,
                first.grantee,
            ))
            .with_hint("give that run's command again, or a new --journal FILE")
            .with_code("journal"));
        }
        header.resumed = true;
    }
    let journal = Journal::open(path, &header).await.map_err(failed)?;
    if !quiet {
        let done = earlier.mailboxes.iter().filter(|(_, h)| h.done()).count();
        if header.resumed {
            eprintln!(
                "{tool}: journal: {} (resumed: {done} mailboxes done earlier are skipped)",
                path.display()
            );
        } else {
            eprintln!("{tool}: journal: {}", path.display());
        }
    }
    Ok((journal, earlier))
}

/// Reads the journal an `undo` reverses: it must be one of `tool`'s and have a header.
pub fn read_to_undo<S: DeserializeOwned>(
    path: &Path,
    tool: &str,
) -> Result<(Header, Contents<S>), CommandError> {
    let refuse = |reason: String| {
        CommandError::usage(format!("cannot undo from {}: {reason}", path.display()))
            .with_code("journal")
    };
    let first: Contents<serde_json::Value> = read(path).map_err(|e| refuse(e.to_string()))?;
    let header = first
        .header
        .ok_or_else(|| refuse("it has no header: it is not a journal".into()))?;
    if header.tool() != tool {
        let other = header.tool().to_owned();
        return Err(refuse(format!("it is a journal of {other}"))
            .with_hint(format!("undo it with {other} undo --journal FILE")));
    }
    let contents = read(path).map_err(|e| refuse(e.to_string()))?;
    Ok((header, contents))
}

/// How a run that stops early tells the operator to finish it.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// The journal, when the run keeps one.
    pub journal: Option<PathBuf>,
}

impl Resume {
    /// The hint of an interrupted run: the command that finishes it.
    pub fn hint(&self) -> String {
        match &self.journal {
            None => {
                "run the same command again to finish: calendars already done come out unchanged"
                    .to_owned()
            }
            Some(path) => format!(
                "the journal is {}; to finish, run: {}",
                path.display(),
                resume_command(path)
            ),
        }
    }
}

/// This run's command line with `--journal PATH` (once), quoted for a shell.
fn resume_command(journal: &Path) -> String {
    let mut words: Vec<String> = std::env::args().collect();
    let journal = journal.display().to_string();
    let has_journal = words
        .iter()
        .any(|w| w == "--journal" || w.starts_with("--journal="));
    if !has_journal {
        words.push("--journal".into());
        words.push(journal);
    }
    words
        .iter()
        .map(|w| shlex::try_quote(w).map_or_else(|_| w.clone(), std::borrow::Cow::into_owned))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The mailboxes a journal does not record as done (a resumed run).
pub fn skip_done<S, H: std::hash::BuildHasher>(
    mailboxes: Mailboxes,
    history: &HashMap<String, MailboxHistory<S>, H>,
) -> Mailboxes {
    let done_set: std::collections::HashSet<String> = history
        .iter()
        .filter(|(_, h)| h.done())
        .map(|(m, _)| m.clone())
        .collect();
    if done_set.is_empty() {
        return mailboxes;
    }
    let done = done_set.len();
    let stream = futures::StreamExt::filter(mailboxes.stream, move |entry| {
        let keep = match entry {
            Ok(entry) => !done_set.contains(&entry.text.to_ascii_lowercase()),
            Err(_) => true,
        };
        std::future::ready(keep)
    });
    Mailboxes {
        stream: Box::pin(stream),
        total: mailboxes.total.map(|t| t.saturating_sub(done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state as a tool would record it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "state", rename_all = "kebab-case")]
    enum State {
        Absent,
        Level { level: u8 },
    }

    fn header() -> Header {
        Header {
            tool: Some("ews-tool".into()),
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
        let editor = State::Level { level: 4 };
        runtime().block_on(async {
            let journal = Journal::open(&path, &header()).await.unwrap();
            journal
                .durable(&Record::Intent {
                    mailbox: "A@lab.example".into(),
                    before: State::Absent,
                    after: editor,
                })
                .await
                .unwrap();
            journal.record(&Record::Outcome {
                mailbox: "a@lab.example".into(),
                action: "granted".into(),
                before: Some(State::Absent),
                after: Some(editor),
                error: None,
            });
            journal
                .durable(&Record::Intent {
                    mailbox: "b@lab.example".into(),
                    before: State::Absent,
                    after: editor,
                })
                .await
                .unwrap();
            journal.close(false).await.unwrap();
        });
        let contents = read::<State>(&path).unwrap();
        assert_eq!(contents.header, Some(header()));
        assert_eq!(contents.mailboxes.len(), 2);
        let (a, b) = (&contents.mailboxes[0].1, &contents.mailboxes[1].1);
        assert!(a.done() && !a.in_flight());
        assert_eq!(a.write(), Some((State::Absent, editor)));
        assert_eq!(a.in_flight_write(), None);
        assert!(!b.done() && b.in_flight());
        assert_eq!(b.in_flight_write(), Some((State::Absent, editor)));
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
        let whole = serde_json::to_string(&Record::<State>::Header(header())).unwrap();
        let outcome = serde_json::to_string(&Record::<State>::Outcome {
            mailbox: "a@lab.example".into(),
            action: "granted".into(),
            before: None,
            after: None,
            error: None,
        })
        .unwrap();
        std::fs::write(&path, format!("{whole}\n{}", &outcome[..20])).unwrap();
        let contents = read::<State>(&path).unwrap();
        assert!(contents.partial_line && contents.mailboxes.is_empty());
        runtime().block_on(async {
            let journal = Journal::open(&path, &header()).await.unwrap();
            journal.close(true).await.unwrap();
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<Record<State>>(l).is_ok())
        );
        let contents = read::<State>(&path).unwrap();
        assert!(!contents.partial_line);
    }

    #[test]
    fn a_resume_must_be_the_same_run_of_the_same_tool() {
        let mut other = header();
        assert!(header().same_run(&other));
        other.level = Some("Reviewer".into());
        assert!(!header().same_run(&other));
        let mut cloud = header();
        cloud.tool = Some("m365-tool".into());
        assert!(!header().same_run(&cloud));
        // A journal from before the tool was named is ews-tool's.
        let mut unnamed = header();
        unnamed.tool = None;
        assert!(header().same_run(&unnamed));
    }

    #[test]
    fn undo_refuses_another_tools_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let line = serde_json::to_string(&Record::<State>::Header(header())).unwrap();
        std::fs::write(&path, format!("{line}\n")).unwrap();
        let refused = read_to_undo::<State>(&path, "m365-tool").unwrap_err();
        assert!(
            refused.message.contains("a journal of ews-tool"),
            "{refused:?}"
        );
        assert!(read_to_undo::<State>(&path, "ews-tool").is_ok());
    }
}
