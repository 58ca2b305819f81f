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

/// Writes records as the chosen format asks, each as it arrives, so a pipeline sees results
/// while a long batch is still running and nothing is kept: a `json` array is written item by
/// item and closed by [`Output::finish`]. Only a [`Shape::Single`] document waits for
/// `finish`, which decides between an object (one record) and an array.
pub struct Output<W: Write = io::Stdout> {
    format: OutputFormat,
    shape: Shape,
    out: W,
    /// `json` records of a [`Shape::Single`] command, waiting for [`Output::finish`].
    gathered: Vec<String>,
    /// `json` records of a [`Shape::Many`] command written so far.
    written: usize,
}

impl Output<io::Stdout> {
    /// Output to stdout.
    pub fn stdout(format: OutputFormat, shape: Shape) -> Self {
        Self::new(io::stdout(), format, shape)
    }
}

/// A pretty-printed record as an array item: indented by two spaces.
fn array_item(record: &str) -> String {
    format!("  {}", record.replace('\n', "\n  "))
}

impl<W: Write> Output<W> {
    /// Output to any writer (tests use a `Vec<u8>`).
    pub fn new(out: W, format: OutputFormat, shape: Shape) -> Self {
        Self {
            format,
            shape,
            out,
            gathered: Vec::new(),
            written: 0,
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
                let text = serde_json::to_string_pretty(record).map_err(io::Error::other)?;
                if self.shape == Shape::Single {
                    self.gathered.push(text);
                    return Ok(());
                }
                let lead: &[u8] = if self.written == 0 { b"[\n" } else { b",\n" };
                self.written += 1;
                self.out.write_all(lead)?;
                self.out.write_all(array_item(&text).as_bytes())?;
                self.out.flush()
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

    /// Ends the output: closes the `json` array, or writes the gathered `json` document.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == OutputFormat::Json {
            let document = match (self.shape, self.written, self.gathered.len()) {
                (Shape::Many, 0, _) | (Shape::Single, _, 0) => "[]".to_owned(),
                (Shape::Many, _, _) => "\n]".to_owned(),
                (Shape::Single, _, 1) => self.gathered.pop().unwrap_or_default(),
                (Shape::Single, _, _) => {
                    let items: Vec<String> = self.gathered.iter().map(|r| array_item(r)).collect();
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

    #[test]
    fn a_json_array_is_written_item_by_item() {
        let mut output = Output::new(Vec::new(), OutputFormat::Json, Shape::Many);
        output.record(&Rec { name: "a" }, |_| Ok(())).unwrap();
        let mut out = output;
        // Already out before the end: nothing of it is kept.
        let so_far = |o: &Output<Vec<u8>>| String::from_utf8(o.out.clone()).unwrap();
        assert!(so_far(&out).contains("\"a\""), "{}", so_far(&out));
        out.record(&Rec { name: "b" }, |_| Ok(())).unwrap();
        assert!(out.gathered.is_empty());
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        assert_eq!(
            text,
            "[\n  {\n    \"name\": \"a\"\n  },\n  {\n    \"name\": \"b\"\n  }\n]\n"
        );
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
