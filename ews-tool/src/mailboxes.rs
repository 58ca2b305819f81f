//! Which mailboxes to work on: `--mailbox` options and `--mailboxes-file` (a file or stdin):
//! one address per line with `#` comments and blank lines ignored, or a CSV whose header has a
//! `mail` or `PrimarySmtpAddress` column (what `Get-Mailbox | Export-Csv` writes).

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use common::CommandError;
use common::address::{AddressError, SmtpAddress};

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
    fn from_line(text: String, source: &str, line: usize) -> Self {
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

/// The mailboxes a text names.
pub fn parse(text: &str, source: &str) -> Result<Vec<MailboxEntry>, CommandError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let Some((_, first)) = lines.first() else {
        return Ok(Vec::new());
    };
    let addresses: Vec<(usize, String)> = if first.contains(',') || first.contains(';') {
        let delimiter = if first.contains(';') && !first.contains(',') {
            b';'
        } else {
            b','
        };
        let mut data = String::new();
        for (_, line) in &lines {
            data.push_str(line);
            data.push('\n');
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(data.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| CommandError::usage(format!("{source}: {e}")))?
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
        reader
            .records()
            .enumerate()
            .filter_map(|(i, r)| {
                r.ok().map(|r| {
                    (
                        lines.get(i + 1).map_or(0, |(n, _)| *n),
                        r.get(column).unwrap_or("").trim().to_owned(),
                    )
                })
            })
            .filter(|(_, a)| !a.is_empty())
            .collect()
    } else {
        lines.iter().map(|(n, l)| (*n, (*l).to_owned())).collect()
    };
    Ok(addresses
        .into_iter()
        .map(|(line, text)| MailboxEntry::from_line(text, source, line))
        .collect())
}

/// The mailboxes of `--mailbox` and `--mailboxes-file`, in order, each once.
pub fn collect(
    options: &[SmtpAddress],
    file: Option<&Path>,
) -> Result<Vec<MailboxEntry>, CommandError> {
    let mut entries: Vec<MailboxEntry> = options
        .iter()
        .map(|a| MailboxEntry {
            text: a.to_string(),
            address: Ok(a.clone()),
        })
        .collect();
    if let Some(path) = file {
        let (text, source) = if path == Path::new("-") {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                CommandError::usage(format!("cannot read mailboxes from stdin: {e}"))
            })?;
            (text, "stdin".to_owned())
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CommandError::usage(format!("cannot read {}: {e}", path.display()))
                    .with_code("mailboxes")
            })?;
            (text, path.display().to_string())
        };
        entries.extend(parse(&text, &source)?);
    }
    let mut seen = HashSet::new();
    entries.retain(|e| {
        let fresh = seen.insert(e.text.to_ascii_lowercase());
        if !fresh {
            log::info!("{} is listed more than once; working on it once", e.text);
        }
        fresh
    });
    if entries.is_empty() {
        return Err(CommandError::usage("no mailboxes given")
            .with_hint("pass --mailbox ADDRESS (repeat) or --mailboxes-file FILE (- for stdin)")
            .with_code("mailboxes"));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lists_with_comments() {
        let entries = parse(
            "# staff\nanna@lab.example\n\n  bram@lab.example  \nnot-an-address\n",
            "list.txt",
        )
        .unwrap();
        let addresses: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            addresses,
            ["anna@lab.example", "bram@lab.example", "not-an-address"]
        );
        assert_eq!(
            entries[2].address.as_ref().unwrap_err(),
            "list.txt line 5: \"not-an-address\" is not an SMTP address: it needs the form name@domain"
        );
    }

    #[test]
    fn csv_exports_by_column_name() {
        let text = "\u{feff}\"DisplayName\",\"PrimarySmtpAddress\",\"RecipientTypeDetails\"\n\"Anna\",\"anna@lab.example\",\"UserMailbox\"\n\"Room, big\",\"room@lab.example\",\"RoomMailbox\"\n";
        let entries = parse(text, "export.csv").unwrap();
        assert_eq!(
            entries.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            ["anna@lab.example", "room@lab.example"]
        );
        assert!(parse("name,upn\na,b\n", "x.csv").is_err());
        let semicolons = parse("mail;name\nanna@lab.example;Anna\n", "excel.csv").unwrap();
        assert_eq!(semicolons[0].text, "anna@lab.example");
    }

    #[test]
    fn options_and_files_merge_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.txt");
        std::fs::write(&file, "B@lab.example\nc@lab.example\n").unwrap();
        let entries = collect(
            &[
                "a@lab.example".parse().unwrap(),
                "b@lab.example".parse().unwrap(),
            ],
            Some(&file),
        )
        .unwrap();
        assert_eq!(
            entries.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            ["a@lab.example", "b@lab.example", "c@lab.example"]
        );
        assert!(collect(&[], None).is_err());
    }
}
