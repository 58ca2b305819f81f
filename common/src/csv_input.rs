//! Reading a `create-user --from-csv` file (ad-tool's and m365-tool's): the whole file is
//! checked before anything is created, so a file that is broken somewhere (an unterminated quote that would swallow every later row
//! into one cell, a row with more fields than the header, bytes that are not UTF-8, a column
//! no option is named after: the columns are the long options of the tool's account settings)
//! is refused with its real line number, and nothing is half done.
//! A row whose values are wrong fails on its own, with its line, while the others go ahead.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::de::DeserializeOwned;

use crate::CommandError;

/// One data row: its line in the file and its cells as options.
#[derive(Debug, Clone)]
pub struct Row<A> {
    /// The file's line the row starts on (1 is the header).
    pub line: usize,
    /// The row's values, or why they are not usable.
    pub args: Result<A, String>,
}

fn refuse(path: &Path, message: impl std::fmt::Display) -> CommandError {
    CommandError::usage(format!(
        "{}: {message}; nothing was created",
        path.display()
    ))
    .with_hint("fix the file and run the command again")
    .with_code("csv")
}

/// The column names a file may use: the long options of `A`, without `--`, but `left_out`.
fn known_columns<A: Args>(left_out: &[&str]) -> Vec<String> {
    A::augment_args(clap::Command::new("columns"))
        .get_arguments()
        .filter_map(clap::Arg::get_long)
        .filter(|name| !left_out.contains(name))
        .map(str::to_owned)
        .collect()
}

/// The line (1-based) of byte `offset`.
fn line_at(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .split(|b| *b == b'\n')
        .count()
}

/// The line a record starting at byte `offset` is on: the csv crate places a record's start
/// before the blank lines that precede it.
fn record_line(text: &str, offset: u64) -> usize {
    let bytes = text.as_bytes();
    let mut at = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    while matches!(bytes.get(at), Some(b'\n' | b'\r')) {
        at += 1;
    }
    line_at(bytes, at)
}

/// Where a quoted value opens and never closes, as its line.
fn unterminated_quote(text: &str) -> Option<usize> {
    let mut line = 1;
    let mut open_at = None;
    for c in text.chars() {
        match c {
            '"' => open_at = if open_at.is_some() { None } else { Some(line) },
            '\n' => line += 1,
            _ => {}
        }
    }
    open_at
}

/// Reads and checks the whole file: its columns are `A`'s long options but `left_out`, and
/// `required` must be one of them.
pub fn read<A: Args + DeserializeOwned>(
    path: &Path,
    required: &str,
    left_out: &[&str],
) -> Result<Vec<Row<A>>, CommandError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CommandError::usage(format!("cannot read the CSV file {}: {e}", path.display()))
            .with_code("csv")
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        refuse(
            path,
            format!(
                "line {} is not UTF-8 text (save the file as UTF-8)",
                line_at(&bytes, e.valid_up_to())
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(line) = unterminated_quote(text) {
        return Err(refuse(
            path,
            format!("line {line}: a quoted value starts here and is never closed"),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| refuse(path, format!("line 1: {e}")))?
        .clone();
    let known = known_columns::<A>(left_out);
    for header in &headers {
        if !known.iter().any(|k| k == header) {
            let closest = known
                .iter()
                .map(|k| (strsim::jaro_winkler(header, k), k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or_else(String::new, |(_, k)| format!("; did you mean \"{k}\"?"));
            return Err(refuse(
                path,
                format!("line 1: there is no column \"{header}\"{closest}"),
            ));
        }
    }
    if !headers.iter().any(|h| h == required) {
        return Err(CommandError::usage(format!(
            "{} has no \"{required}\" column",
            path.display()
        ))
        .with_hint(format!(
            "the first line names the columns: {}",
            known.join(", ")
        ))
        .with_code("csv"));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.kind() {
            // The csv crate's line numbers skip blank lines; the byte offset does not.
            csv::ErrorKind::UnequalLengths {
                pos: Some(pos),
                expected_len,
                len,
            } => refuse(
                path,
                format!(
                    "line {}: {len} fields where the header has {expected_len}",
                    record_line(text, pos.byte())
                ),
            ),
            _ => refuse(path, e),
        })?;
        let line = record.position().map_or(0, |p| record_line(text, p.byte()));
        let args = record
            .deserialize::<A>(Some(&headers))
            .map_err(|e| match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                    Some(field) => format!(
                        "column {}: {}",
                        headers
                            .get(usize::try_from(field).unwrap_or(0))
                            .unwrap_or("?"),
                        err.kind()
                    ),
                    None => err.kind().to_string(),
                },
                _ => e.to_string(),
            });
        rows.push(Row { line, args });
    }
    if rows.is_empty() {
        return Err(
            CommandError::usage(format!("{} holds no accounts", path.display())).with_code("csv"),
        );
    }
    Ok(rows)
}

/// Where a row's `account-password-file` cell points: relative to the CSV file's own folder,
/// and inside it unless `anywhere`. A file that is the operator's own credential file is
/// refused always: a CSV must not be able to make a new account's password the admin's.
pub fn resolve_password_file(
    csv: &Path,
    cell: &Path,
    operator_password_file: Option<&Path>,
    anywhere: bool,
) -> Result<PathBuf, String> {
    let folder = csv
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let joined = folder.join(cell);
    let resolved = joined
        .canonicalize()
        .map_err(|e| format!("account-password-file {}: {e}", cell.display()))?;
    if let Some(operator) = operator_password_file.and_then(|p| p.canonicalize().ok())
        && operator == resolved
    {
        return Err(format!(
            "account-password-file {} is the operator's own password file; refused",
            cell.display()
        ));
    }
    let folder = folder
        .canonicalize()
        .map_err(|e| format!("{}: {e}", folder.display()))?;
    if !anywhere && !resolved.starts_with(&folder) {
        return Err(format!(
            "account-password-file {} lies outside the CSV file's folder {}; refused (give --allow-password-files-anywhere if that is meant)",
            cell.display(),
            folder.display()
        ));
    }
    Ok(resolved)
}

/// The column names, for the `--help` of `--from-csv`.
pub fn column_names<A: Args>(left_out: &[&str]) -> String {
    known_columns::<A>(left_out).join(", ")
}
