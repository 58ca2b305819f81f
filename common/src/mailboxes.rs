//! Which mailboxes to work on: `--mailbox` options and `--mailboxes-file` (a file or stdin):
//! one address per line with `#` comments and blank lines ignored, or a CSV whose header has a
//! `mail` or `PrimarySmtpAddress` column (what `Get-Mailbox | Export-Csv` writes).
//!
//! The file is read as it comes, on a thread of its own, so
//! `ad-tool mailboxes | ews-tool grant --mailboxes-file -` starts on the first mailboxes while
//! the directory is still being paged, and memory does not grow with the list: a mailbox listed
//! twice is recognised by a 128-bit digest of its address, not by keeping the address.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::CommandError;
use crate::address::{AddressError, SmtpAddress};
use futures::Stream;

/// One mailbox to work on, or a line of a list that names none (reported as a failed item,
/// never dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxEntry {
    /// The text as given.
    pub text: String,
    /// The address, or why the text is not one (naming where it came from).
    pub address: Result<SmtpAddress, String>,
}

impl MailboxEntry {
    fn from_line(text: String, source: &str, line: u64) -> Self {
        let address = text
            .parse()
            .map_err(|e: AddressError| format!("{source} line {line}: {e}"));
        MailboxEntry { text, address }
    }
}

const ADDRESS_COLUMNS: [&str; 5] = [
    "mail",
    "primarysmtpaddress",
    "primary_smtp_address",
    "emailaddress",
    "windowsemailaddress",
];

/// The mailboxes already seen, by a 128-bit digest of the lower-cased text (a false match
/// between two of a million addresses has a chance of about one in 10^26).
pub struct Seen {
    keys: (std::hash::RandomState, std::hash::RandomState),
    digests: HashSet<u128>,
}

impl Seen {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Self {
            keys: (std::hash::RandomState::new(), std::hash::RandomState::new()),
            digests: HashSet::new(),
        }
    }

    /// Whether `text` is new (and remembers it).
    pub fn first_time(&mut self, text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        let digest = |state: &std::hash::RandomState| {
            let mut hasher = state.build_hasher();
            hasher.write(lower.as_bytes());
            hasher.finish()
        };
        let key = (u128::from(digest(&self.keys.0)) << 64) | u128::from(digest(&self.keys.1));
        self.digests.insert(key)
    }
}

impl Default for Seen {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads the mailboxes of `reader` (named `source` in messages) and hands each to `emit`, in
/// order, the first time its address appears; `emit` returning false stops the reading.
/// Repeated mailboxes are said on stderr, naming the line (unless `quiet`: a counting pass).
pub fn read_entries(
    reader: impl BufRead,
    source: &str,
    seen: &mut Seen,
    quiet: bool,
    mut emit: impl FnMut(MailboxEntry) -> bool,
) -> Result<(), CommandError> {
    let failed = |e: std::io::Error| {
        CommandError::usage(format!("cannot read {source}: {e}")).with_code("mailboxes")
    };
    let mut lines = reader.lines();
    let mut number = 0u64;
    // The first line that says something decides the format.
    let first = loop {
        let Some(line) = lines.next() else {
            return Ok(());
        };
        let line = line.map_err(failed)?;
        number += 1;
        let text = line.trim().trim_start_matches('\u{feff}').trim().to_owned();
        if !text.is_empty() && !text.starts_with('#') {
            break text;
        }
    };
    let mut emit_new = |text: String, line: u64| {
        if seen.first_time(&text) {
            emit(MailboxEntry::from_line(text, source, line))
        } else {
            if !quiet {
                log::warn!(
                    "{source} line {line}: {text} is listed more than once; working on it once"
                );
            }
            true
        }
    };
    if !(first.contains(',') || first.contains(';')) {
        if !emit_new(first, number) {
            return Ok(());
        }
        for line in lines {
            let line = line.map_err(failed)?;
            number += 1;
            let text = line.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            if !emit_new(text.to_owned(), number) {
                return Ok(());
            }
        }
        return Ok(());
    }
    // A CSV export: the header names the address column.
    let delimiter = if first.contains(';') && !first.contains(',') {
        b';'
    } else {
        b','
    };
    let header_line = number;
    let rest = LinesReader::new(lines);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(std::io::Cursor::new(format!("{first}\n")).chain(rest));
    let headers = reader
        .headers()
        .map_err(|e| CommandError::usage(format!("{source}: {e}")).with_code("mailboxes"))?
        .clone();
    let column = headers
        .iter()
        .position(|h| {
            ADDRESS_COLUMNS.contains(&h.trim().trim_matches('"').to_ascii_lowercase().as_str())
        })
        .ok_or_else(|| {
            CommandError::usage(format!(
                "{source} looks like CSV but has no mail or PrimarySmtpAddress column"
            ))
            .with_code("mailboxes")
        })?;
    for record in reader.records() {
        let record = record
            .map_err(|e| CommandError::usage(format!("{source}: {e}")).with_code("mailboxes"))?;
        let text = record.get(column).unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let line = record
            .position()
            .map_or(header_line, |p| header_line + p.line() - 1);
        if !emit_new(text.to_owned(), line) {
            return Ok(());
        }
    }
    Ok(())
}

/// The rest of a line iterator as bytes, for the CSV reader.
struct LinesReader<I> {
    lines: I,
    pending: Vec<u8>,
    at: usize,
}

impl<I> LinesReader<I> {
    fn new(lines: I) -> Self {
        Self {
            lines,
            pending: Vec::new(),
            at: 0,
        }
    }
}

impl<I: Iterator<Item = std::io::Result<String>>> Read for LinesReader<I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.pending.len() {
            match self.lines.next() {
                None => return Ok(0),
                Some(line) => {
                    self.pending = line?.into_bytes();
                    self.pending.push(b'\n');
                    self.at = 0;
                }
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn no_mailboxes() -> CommandError {
    CommandError::usage("no mailboxes given")
        .with_hint("pass --mailbox ADDRESS (repeat) or --mailboxes-file FILE (- for stdin)")
        .with_code("mailboxes")
}

/// The mailboxes of a run, as they come.
pub struct Mailboxes {
    /// The entries in input order; an `Err` ends the run (an unreadable file).
    pub stream: std::pin::Pin<Box<dyn Stream<Item = Result<MailboxEntry, CommandError>> + Send>>,
    /// How many there are, when known before the run (options and regular files; not a
    /// pipe).
    pub total: Option<usize>,
}

/// The mailboxes of `--mailbox` and `--mailboxes-file`, in order, each once, read on a thread
/// of their own and handed over through a bounded queue.
pub fn open(options: &[SmtpAddress], file: Option<&Path>) -> Result<Mailboxes, CommandError> {
    let path = file.map(Path::to_owned);
    let from_stdin = path.as_deref() == Some(Path::new("-"));
    let source = path.as_ref().map_or_else(String::new, |p| {
        if from_stdin {
            "stdin".to_owned()
        } else {
            p.display().to_string()
        }
    });
    let open_file = |p: &Path| {
        std::fs::File::open(p).map_err(|e| {
            CommandError::usage(format!("cannot read {}: {e}", p.display())).with_code("mailboxes")
        })
    };
    // A regular file is counted first, so progress can show how much is left.
    let total = match &path {
        Some(p) if !from_stdin => {
            let mut seen = Seen::new();
            for option in options {
                seen.first_time(option.as_str());
            }
            let mut count = options.len();
            // Counting also finds a file that cannot be used before anything is sent.
            read_entries(
                BufReader::new(open_file(p)?),
                &source,
                &mut seen,
                true,
                |_| {
                    count += 1;
                    true
                },
            )?;
            Some(count)
        }
        Some(_) => None,
        None => Some(options.len()),
    };
    if total == Some(0) {
        return Err(no_mailboxes());
    }
    let file = match &path {
        Some(p) if !from_stdin => Some(open_file(p)?),
        _ => None,
    };
    let options = options.to_vec();
    let (sender, mut receiver) = tokio::sync::mpsc::channel(1024);
    std::thread::Builder::new()
        .name("mailboxes".into())
        .spawn(move || {
            let mut seen = Seen::new();
            let mut any = false;
            let mut emit = |entry: MailboxEntry| {
                any = true;
                sender.blocking_send(Ok(entry)).is_ok()
            };
            for option in options {
                if seen.first_time(option.as_str()) {
                    let entry = MailboxEntry {
                        text: option.to_string(),
                        address: Ok(option),
                    };
                    if !emit(entry) {
                        return;
                    }
                } else {
                    log::warn!("--mailbox {option} is given more than once; working on it once");
                }
            }
            let read = match (file, from_stdin) {
                (Some(file), _) => {
                    read_entries(BufReader::new(file), &source, &mut seen, false, &mut emit)
                }
                (None, true) => read_entries(
                    std::io::stdin().lock(),
                    &source,
                    &mut seen,
                    false,
                    &mut emit,
                ),
                (None, false) => Ok(()),
            };
            let end = match read {
                Err(error) => Some(error),
                Ok(()) if !any => Some(no_mailboxes()),
                Ok(()) => None,
            };
            if let Some(error) = end {
                let _ = sender.blocking_send(Err(error));
            }
        })
        .map_err(|e| CommandError::usage(format!("cannot read the mailboxes: {e}")))?;
    Ok(Mailboxes {
        stream: Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))),
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, source: &str) -> Result<Vec<MailboxEntry>, CommandError> {
        let mut entries = Vec::new();
        read_entries(text.as_bytes(), source, &mut Seen::new(), false, |e| {
            entries.push(e);
            true
        })?;
        Ok(entries)
    }

    #[test]
    fn plain_lists_with_comments() {
        let entries = parse(
            "# staff\nanna@lab.example\n\n  bram@lab.example  \nnot-an-address\nANNA@lab.example\n",
            "list.txt",
        )
        .unwrap();
        let addresses: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            addresses,
            ["anna@lab.example", "bram@lab.example", "not-an-address"],
            "the repeated address is worked on once"
        );
        assert_eq!(
            entries[2].address.as_ref().unwrap_err(),
            "list.txt line 5: \"not-an-address\" is not an SMTP address: it needs the form name@domain"
        );
    }

    #[test]
    fn csv_exports_by_column_name() {
        let text = "\u{feff}\"DisplayName\",\"PrimarySmtpAddress\",\"RecipientTypeDetails\"\n\"Anna\",\"anna@lab.example\",\"UserMailbox\"\n\"Room, big\",\"room@lab.example\",\"RoomMailbox\"\n\"Bad\",\"bad address\",\"UserMailbox\"\n";
        let entries = parse(text, "export.csv").unwrap();
        assert_eq!(
            entries.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            ["anna@lab.example", "room@lab.example", "bad address"]
        );
        assert!(
            entries[2]
                .address
                .as_ref()
                .unwrap_err()
                .starts_with("export.csv line 4:"),
            "{:?}",
            entries[2]
        );
        assert!(parse("name,upn\na,b\n", "x.csv").is_err());
        let semicolons = parse("mail;name\nanna@lab.example;Anna\n", "excel.csv").unwrap();
        assert_eq!(semicolons[0].text, "anna@lab.example");
    }

    #[test]
    fn a_digest_tells_repeats_apart_from_new_addresses() {
        let mut seen = Seen::new();
        assert!(seen.first_time("a@lab.example"));
        assert!(!seen.first_time("A@LAB.example"));
        assert!(seen.first_time("b@lab.example"));
    }

    #[test]
    fn options_and_files_merge_without_duplicates() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.txt");
        std::fs::write(&file, "B@lab.example\nc@lab.example\n").unwrap();
        let options = [
            "a@lab.example".parse().unwrap(),
            "b@lab.example".parse().unwrap(),
        ];
        let mailboxes = open(&options, Some(&file)).unwrap();
        assert_eq!(mailboxes.total, Some(3));
        let entries: Vec<String> = runtime.block_on(async {
            use futures::StreamExt;
            mailboxes.stream.map(|e| e.unwrap().text).collect().await
        });
        assert_eq!(entries, ["a@lab.example", "b@lab.example", "c@lab.example"]);
        assert!(
            open(&[], None).is_err(),
            "nothing to do is said before anything is sent"
        );
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "# nobody\n").unwrap();
        assert!(open(&[], Some(&empty)).is_err());
    }
}
