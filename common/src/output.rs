//! Output on stdout: `human` text for people, `json` (one document) and `jsonl` (one object per
//! line) for scripts. Logs and errors never go here.

use std::io::{self, Write};

use serde::Serialize;

/// The `--output` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for a terminal.
    #[default]
    Human,
    /// One JSON document on stdout.
    Json,
    /// One JSON object per line, per item, for pipelines.
    Jsonl,
}

/// Whether a command reports one record or a list of them; decides the shape of `json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `json` prints the record as an object.
    Single,
    /// `json` prints an array of records.
    Many,
}

/// Writes records as the chosen format asks. `json` output is gathered and written by
/// [`Output::finish`]; the other formats are written as each record arrives, so a pipeline sees
/// results while a long batch is still running.
pub struct Output<W: Write = io::Stdout> {
    format: OutputFormat,
    shape: Shape,
    out: W,
    /// `json` records, serialized in field order, waiting for [`Output::finish`].
    gathered: Vec<String>,
}

impl Output<io::Stdout> {
    /// Output to stdout.
    pub fn stdout(format: OutputFormat, shape: Shape) -> Self {
        Self::new(io::stdout(), format, shape)
    }
}

impl<W: Write> Output<W> {
    /// Output to any writer (tests use a `Vec<u8>`).
    pub fn new(out: W, format: OutputFormat, shape: Shape) -> Self {
        Self {
            format,
            shape,
            out,
            gathered: Vec::new(),
        }
    }

    /// The chosen format.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Emits one record: serialized for `json`/`jsonl`, rendered by `human` otherwise.
    pub fn record<T: Serialize>(
        &mut self,
        record: &T,
        human: impl FnOnce(&mut W) -> io::Result<()>,
    ) -> io::Result<()> {
        match self.format {
            OutputFormat::Human => {
                human(&mut self.out)?;
                self.out.flush()
            }
            OutputFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, record).map_err(io::Error::other)?;
                self.out.write_all(b"\n")?;
                self.out.flush()
            }
            OutputFormat::Json => {
                self.gathered
                    .push(serde_json::to_string_pretty(record).map_err(io::Error::other)?);
                Ok(())
            }
        }
    }

    /// Writes human text only (headers, summaries); nothing in the machine formats.
    pub fn human_text(&mut self, text: &str) -> io::Result<()> {
        if self.format == OutputFormat::Human {
            self.out.write_all(text.as_bytes())?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// Ends the output: writes the gathered `json` document.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == OutputFormat::Json {
            let document = match (self.shape, self.gathered.len()) {
                (Shape::Single, 1) => self.gathered.pop().unwrap_or_default(),
                (_, 0) => "[]".to_owned(),
                _ => {
                    let items: Vec<String> = self
                        .gathered
                        .iter()
                        .map(|r| format!("  {}", r.replace('\n', "\n  ")))
                        .collect();
                    format!("[\n{}\n]", items.join(",\n"))
                }
            };
            self.out.write_all(document.as_bytes())?;
            self.out.write_all(b"\n")?;
            self.out.flush()?;
        }
        Ok(self.out)
    }
}

/// Whether an output error means the reader went away (`ad-tool mailboxes | head`): the tool then
/// ends quietly instead of reporting a failure.
pub fn is_broken_pipe(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}

/// An error writing the output: a reader that went away (`| head`) ends the run quietly, with
/// the exit code of what was done so far; anything else is a failure.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(write_error)`
pub fn write_error(error: io::Error) -> crate::CommandError {
    if is_broken_pipe(&error) {
        crate::CommandError::reader_gone()
    } else {
        crate::CommandError::new(
            crate::ExitStatus::ItemsFailed,
            format!("cannot write the output: {error}"),
        )
        .with_code("output")
    }
}

/// A table of text cells with aligned columns, for human output.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with a header row.
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            rows: vec![header.into_iter().map(Into::into).collect()],
        }
    }

    /// Adds a row.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The table as lines of text; the last column is not padded.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 < row.len() {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(
                        ' ',
                        widths[c] - cell.chars().count() + 2,
                    ));
                } else {
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Rec {
        name: &'static str,
    }

    fn render(format: OutputFormat, shape: Shape, names: &[&'static str]) -> String {
        let mut output = Output::new(Vec::new(), format, shape);
        for name in names {
            output
                .record(&Rec { name }, |w| writeln!(w, "human {name}"))
                .unwrap();
        }
        String::from_utf8(output.finish().unwrap()).unwrap()
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        assert_eq!(
            render(OutputFormat::Jsonl, Shape::Many, &["a", "b"]),
            "{\"name\":\"a\"}\n{\"name\":\"b\"}\n"
        );
    }

    #[test]
    fn json_single_is_an_object_and_many_is_an_array() {
        let single: serde_json::Value =
            serde_json::from_str(&render(OutputFormat::Json, Shape::Single, &["a"])).unwrap();
        assert_eq!(single, serde_json::json!({"name": "a"}));
        let many: serde_json::Value =
            serde_json::from_str(&render(OutputFormat::Json, Shape::Many, &["a", "b"])).unwrap();
        assert_eq!(many, serde_json::json!([{"name": "a"}, {"name": "b"}]));
        let none: serde_json::Value =
            serde_json::from_str(&render(OutputFormat::Json, Shape::Many, &[])).unwrap();
        assert_eq!(none, serde_json::json!([]));
    }

    #[derive(Serialize)]
    struct Ordered {
        zebra: u8,
        apple: u8,
    }

    #[test]
    fn json_keeps_field_order() {
        let mut output = Output::new(Vec::new(), OutputFormat::Json, Shape::Many);
        output
            .record(&Ordered { zebra: 1, apple: 2 }, |_| Ok(()))
            .unwrap();
        let text = String::from_utf8(output.finish().unwrap()).unwrap();
        assert!(
            text.find("zebra").unwrap() < text.find("apple").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn human_uses_the_renderer() {
        assert_eq!(
            render(OutputFormat::Human, Shape::Many, &["a"]),
            "human a\n"
        );
    }

    #[test]
    fn table_aligns_columns_by_characters() {
        let mut table = Table::new(["NAME", "ACTION"]);
        table.row(["Jürgen", "created"]);
        table.row(["x", "unchanged"]);
        assert_eq!(
            table.render(),
            "NAME    ACTION\nJürgen  created\nx       unchanged\n"
        );
    }
}
