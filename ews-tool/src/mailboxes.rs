//! Which mailboxes to work on: `--mailbox` options and `--mailboxes-file` (a file or stdin):
//! one address per line with `#` comments and blank lines ignored, or a CSV whose header has a
//! `mail` or `PrimarySmtpAddress` column (what `Get-Mailbox | Export-Csv` writes).

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use common::CommandError;

/// One mailbox to work on, or why its line is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxEntry {
    /// The address as given.
    pub address: String,
    /// Why it is not an address, if it is not.
    pub problem: Option<String>,
}

/// Whether text is plausibly an SMTP address.
pub fn is_address(text: &str) -> bool {
    match text.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>\"(),;".contains(c))
        }
        None => false,
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
        .map(|(line, address)| {
            let problem = (!is_address(&address))
                .then(|| format!("{source} line {line}: \"{address}\" is not an SMTP address"));
            MailboxEntry { address, problem }
        })
        .collect())
}

/// The mailboxes of `--mailbox` and `--mailboxes-file`, in order, each once.
pub fn collect(options: &[String], file: Option<&Path>) -> Result<Vec<MailboxEntry>, CommandError> {
    let mut entries: Vec<MailboxEntry> = options
        .iter()
        .map(|a| MailboxEntry {
            address: a.clone(),
            problem: (!is_address(a)).then(|| format!("--mailbox \"{a}\" is not an SMTP address")),
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
        let fresh = seen.insert(e.address.to_ascii_lowercase());
        if !fresh {
            log::info!("{} is listed more than once; working on it once", e.address);
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
        let addresses: Vec<&str> = entries.iter().map(|e| e.address.as_str()).collect();
        assert_eq!(
            addresses,
            ["anna@lab.example", "bram@lab.example", "not-an-address"]
        );
        assert_eq!(
            entries[2].problem.as_deref(),
            Some("list.txt line 5: \"not-an-address\" is not an SMTP address")
        );
    }

    #[test]
    fn csv_exports_by_column_name() {
        let text = "\u{feff}\"DisplayName\",\"PrimarySmtpAddress\",\"RecipientTypeDetails\"\n\"Anna\",\"anna@lab.example\",\"UserMailbox\"\n\"Room, big\",\"room@lab.example\",\"RoomMailbox\"\n";
        let entries = parse(text, "export.csv").unwrap();
        assert_eq!(
            entries
                .iter()
                .map(|e| e.address.as_str())
                .collect::<Vec<_>>(),
            ["anna@lab.example", "room@lab.example"]
        );
        assert!(parse("name,upn\na,b\n", "x.csv").is_err());
        let semicolons = parse("mail;name\nanna@lab.example;Anna\n", "excel.csv").unwrap();
        assert_eq!(semicolons[0].address, "anna@lab.example");
    }

    #[test]
    fn addresses() {
        for good in [
            "a@b.c",
            "first.last+tag@sub.lab.example",
            "o'brien@lab.example",
        ] {
            assert!(is_address(good), "{good}");
        }
        for bad in ["", "a", "a@b", "@b.c", "a b@c.d", "a@.c", "<a@b.c>"] {
            assert!(!is_address(bad), "{bad}");
        }
    }

    #[test]
    fn options_and_files_merge_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.txt");
        std::fs::write(&file, "B@lab.example\nc@lab.example\n").unwrap();
        let entries = collect(
            &["a@lab.example".into(), "b@lab.example".into()],
            Some(&file),
        )
        .unwrap();
        assert_eq!(
            entries
                .iter()
                .map(|e| e.address.as_str())
                .collect::<Vec<_>>(),
            ["a@lab.example", "b@lab.example", "c@lab.example"]
        );
        assert!(collect(&[], None).is_err());
    }
}
