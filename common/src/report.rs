//! Reporting the items of a command (accounts, members, mailboxes) the same way whether there
//! is one or many: each item's record on stdout as it completes, each failure once on stderr,
//! a closing summary on stderr, and the exit code. A batch also shows its progress (see
//! [`crate::progress`]). What is kept is counted, never collected: memory stays flat however
//! many items there are.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Instant;

use serde::Serialize;

use crate::output::{Output, OutputFormat};
use crate::progress::{Progress, Surroundings};
use crate::{CommandError, ExitStatus};

/// An error as an item's record carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorRecord {
    /// Short stable name for scripts (`exists`, `no-mailbox`, …).
    pub code: &'static str,
    /// The one-line message, hint included.
    pub message: String,
}

impl From<&CommandError> for ErrorRecord {
    fn from(error: &CommandError) -> Self {
        Self {
            code: error.code,
            message: error.summary(),
        }
    }
}

/// Writes items' records and keeps the counts for the summary and the exit code.
pub struct Reporter<W: Write = io::Stdout> {
    tool: &'static str,
    output: Output<W>,
    verbose: bool,
    quiet: bool,
    /// What the items are, singular and plural ("mailbox", "mailboxes").
    noun: (&'static str, &'static str),
    /// Action word → how many, in order of first appearance.
    counts: BTreeMap<usize, (&'static str, usize)>,
    items: usize,
    failed: usize,
    /// The status of the first failure (the exit status when it is the only item).
    first_failure: Option<ExitStatus>,
    started: Instant,
    progress: Progress,
}

impl<W: Write> Reporter<W> {
    /// A reporter writing records to `output`; `noun` names the items in the summary.
    pub fn new(
        tool: &'static str,
        output: Output<W>,
        verbose: bool,
        quiet: bool,
        noun: (&'static str, &'static str),
    ) -> Self {
        Self {
            tool,
            output,
            verbose,
            quiet,
            noun,
            counts: BTreeMap::new(),
            items: 0,
            failed: 0,
            first_failure: None,
            started: Instant::now(),
            progress: Progress::hidden(),
        }
    }

    /// Shows the batch's progress on stderr from now on (as the terminal, `-q` and `-v`
    /// allow); `total` when the number of items is known.
    pub fn show_progress(&mut self, total: Option<usize>) {
        let mode = Surroundings::detect(self.quiet, self.verbose).mode();
        self.progress = Progress::start(mode, self.tool, self.noun, total.map(|t| t as u64));
    }

    /// Sets the number of items once the input has been read to its end.
    pub fn total_setter(&self) -> crate::progress::TotalSetter {
        self.progress.total_setter()
    }

    /// The output format.
    pub fn format(&self) -> OutputFormat {
        self.output.format()
    }

    /// Reports one item: its record (rendered by `human` in human output), and its failure,
    /// if it failed, as one line on stderr. `action` is the word the summary counts it under.
    pub fn item<R: Serialize>(
        &mut self,
        record: &R,
        action: &'static str,
        error: Option<&CommandError>,
        human: impl FnOnce(&mut W) -> io::Result<()>,
    ) -> Result<(), CommandError> {
        self.items += 1;
        let next = self.counts.len();
        match self.counts.values_mut().find(|(word, _)| *word == action) {
            Some((_, n)) => *n += 1,
            None => {
                self.counts.insert(next, (action, 1));
            }
        }
        self.progress.item(action);
        self.output
            .record(record, human)
            .map_err(crate::output::write_error)?;
        if let Some(error) = error {
            self.failed += 1;
            self.first_failure.get_or_insert(error.status);
            error.report(self.tool, self.verbose);
        }
        Ok(())
    }

    /// How many items failed so far.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// How many items were reported so far.
    pub fn items(&self) -> usize {
        self.items
    }

    /// "3 accounts: 2 created, 1 failed".
    pub fn counts_line(&self) -> String {
        let (one, many) = self.noun;
        let parts: Vec<String> = self
            .counts
            .values()
            .map(|(word, n)| format!("{n} {word}"))
            .collect();
        format!(
            "{} {}: {}",
            self.items,
            if self.items == 1 { one } else { many },
            if parts.is_empty() {
                "nothing to do".to_owned()
            } else {
                parts.join(", ")
            }
        )
    }

    /// Ends the output, prints the summary on stderr (unless `-q`; `detail` is added after the
    /// time taken) and returns the exit status: 0 when nothing failed; when the only item
    /// failed, that failure's own status (5 for an account that exists, 4 for a refusal); 1
    /// when some of several failed.
    pub fn finish(self, detail: &str) -> Result<ExitStatus, CommandError> {
        let summary = format!(
            "{} in {:.1} s{detail}",
            self.counts_line(),
            self.started.elapsed().as_secs_f64()
        );
        self.progress.finish();
        self.output.finish().map_err(crate::output::write_error)?;
        if !self.quiet {
            eprintln!("{}: {summary}", self.tool);
        }
        Ok(match (self.items, self.first_failure) {
            (_, None) => ExitStatus::Success,
            (1, Some(status)) => status,
            _ => ExitStatus::ItemsFailed,
        })
    }
}

/// A CSV report (`--report`), written row by row as items complete, so it is complete up to
/// the last finished item whenever the run stops. An existing report is added to, never
/// overwritten; a symbolic link is refused.
pub struct CsvReport {
    writer: csv::Writer<std::fs::File>,
    path: std::path::PathBuf,
}

impl CsvReport {
    /// Opens (or creates, with `header`) the report.
    pub fn open(path: &std::path::Path, header: &[&str]) -> Result<Self, CommandError> {
        let failed = |e: io::Error| {
            CommandError::usage(format!("cannot write the report {}: {e}", path.display()))
                .with_hint("choose a --report path in a folder you can write to")
                .with_code("report")
        };
        let file = crate::files::open_append(path, false).map_err(failed)?;
        let is_new = file.metadata().map_err(failed)?.len() == 0;
        let mut writer = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(file);
        if is_new {
            writer.write_record(header).map_err(|e| failed(e.into()))?;
            writer.flush().map_err(failed)?;
        }
        Ok(Self {
            writer,
            path: path.to_owned(),
        })
    }

    /// Adds one row and flushes it to the file.
    pub fn write(&mut self, row: &[&str]) -> Result<(), CommandError> {
        self.writer
            .write_record(row)
            .map_err(io::Error::from)
            .and_then(|()| self.writer.flush())
            .map_err(|e| {
                CommandError::new(
                    ExitStatus::ItemsFailed,
                    format!("cannot write the report {}: {e}", self.path.display()),
                )
                .with_code("report")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Shape;

    #[derive(Serialize)]
    struct Item {
        name: &'static str,
    }

    fn reporter(format: OutputFormat) -> Reporter<Vec<u8>> {
        Reporter::new(
            "tool",
            Output::new(Vec::new(), format, Shape::Many),
            false,
            true,
            ("account", "accounts"),
        )
    }

    #[test]
    fn counts_keep_the_order_actions_first_appeared_in() {
        let mut r = reporter(OutputFormat::Jsonl);
        for (name, action) in [("a", "created"), ("b", "failed"), ("c", "created")] {
            r.item(&Item { name }, action, None, |_| Ok(())).unwrap();
        }
        assert_eq!(r.counts_line(), "3 accounts: 2 created, 1 failed");
    }

    #[test]
    fn one_failed_item_keeps_its_status_and_several_make_it_one() {
        let exists = CommandError::new(ExitStatus::Exists, "exists");
        let mut single = reporter(OutputFormat::Jsonl);
        single
            .item(&Item { name: "a" }, "failed", Some(&exists), |_| Ok(()))
            .unwrap();
        assert_eq!(single.finish("").unwrap(), ExitStatus::Exists);
        let mut many = reporter(OutputFormat::Jsonl);
        many.item(&Item { name: "a" }, "created", None, |_| Ok(()))
            .unwrap();
        many.item(&Item { name: "b" }, "failed", Some(&exists), |_| Ok(()))
            .unwrap();
        assert_eq!(many.finish("").unwrap(), ExitStatus::ItemsFailed);
        let mut none = reporter(OutputFormat::Jsonl);
        none.item(&Item { name: "a" }, "created", None, |_| Ok(()))
            .unwrap();
        assert_eq!(none.finish("").unwrap(), ExitStatus::Success);
    }
}
