//! Secret input: passwords come from a file, stdin, an environment variable or a no-echo prompt,
//! never from an option value, and are wiped from memory when dropped.

use std::fmt;
use std::io::{self, BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A password or other secret. Its `Debug` form is redacted and it has no `Display`, so it cannot
/// end up in a log line or an error message by accident; the memory is zeroed on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a string that is a secret.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret's text, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a secret may come from, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub struct SecretRequest<'a> {
    /// What the secret is, for prompts and errors ("password for admin@corp.example").
    pub what: &'a str,
    /// Read the first line of this file.
    pub file: Option<&'a Path>,
    /// Read the first line of stdin.
    pub stdin: bool,
    /// Read this environment variable.
    pub env_var: Option<&'a str>,
    /// Ask on the terminal (only when stdin is one).
    pub prompt: bool,
    /// Ask twice on the terminal and compare (for a new account's password).
    pub confirm: bool,
    /// How the operator can pass the secret, named in the error when none was given.
    pub how_to_pass: &'a str,
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The password file could not be read.
    #[error("cannot read the {what} from {}: {source}", path.display())]
    File {
        /// What the secret is.
        what: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The source held nothing.
    #[error("the {what} read from {source_name} is empty")]
    Empty {
        /// What the secret is.
        what: String,
        /// Where it was read from.
        source_name: String,
    },
    /// Reading stdin failed.
    #[error("cannot read the {what} from stdin: {source}")]
    Stdin {
        /// What the secret is.
        what: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// No source was given and there is no terminal to ask on.
    #[error("no {what} given and no terminal to ask on; pass it with {how}")]
    NotGiven {
        /// What the secret is.
        what: String,
        /// The options that would pass it.
        how: String,
    },
    /// The two entries at the prompt differed.
    #[error("the two entries of the {what} differ; nothing was changed")]
    Mismatch {
        /// What the secret is.
        what: String,
    },
}

/// Reads a secret from the first source the request allows: file, stdin, environment, prompt.
pub fn read_secret(request: &SecretRequest<'_>) -> Result<Secret, SecretError> {
    let what = request.what.to_owned();
    if let Some(path) = request.file {
        warn_if_readable_by_others(path);
        let text = std::fs::read_to_string(path).map_err(|source| SecretError::File {
            what: what.clone(),
            path: path.to_owned(),
            source,
        })?;
        let text = Zeroizing::new(text);
        return non_empty(first_line(&text), &what, &path.display().to_string());
    }
    if request.stdin {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            let line = rpassword::read_password().map_err(|source| SecretError::Stdin {
                what: what.clone(),
                source,
            })?;
            return non_empty(&Zeroizing::new(line), &what, "stdin");
        }
        let mut line = Zeroizing::new(String::new());
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|source| SecretError::Stdin {
                what: what.clone(),
                source,
            })?;
        return non_empty(first_line(&line), &what, "stdin");
    }
    if let Some(var) = request.env_var
        && let Some(value) = std::env::var_os(var)
    {
        let value = Zeroizing::new(value.to_string_lossy().into_owned());
        return non_empty(&value, &what, var);
    }
    if request.prompt && io::stdin().is_terminal() {
        return prompt(&what, request.confirm);
    }
    Err(SecretError::NotGiven {
        what,
        how: request.how_to_pass.to_owned(),
    })
}

fn prompt(what: &str, confirm: bool) -> Result<Secret, SecretError> {
    let ask = |label: &str| {
        rpassword::prompt_password(label)
            .map(Zeroizing::new)
            .map_err(|source| SecretError::Stdin {
                what: what.to_owned(),
                source,
            })
    };
    let first = ask(&format!("{}: ", capitalize(what)))?;
    if confirm {
        let second = ask(&format!("{} (again): ", capitalize(what)))?;
        if *first != *second {
            return Err(SecretError::Mismatch {
                what: what.to_owned(),
            });
        }
    }
    non_empty(&first, what, "the prompt")
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The first line without its line ending: a password file written by `echo` ends in a newline
/// that is not part of the password.
fn first_line(text: &str) -> &str {
    let line = text.split('\n').next().unwrap_or("");
    line.strip_suffix('\r').unwrap_or(line)
}

fn non_empty(value: &str, what: &str, source_name: &str) -> Result<Secret, SecretError> {
    if value.is_empty() {
        return Err(SecretError::Empty {
            what: what.to_owned(),
            source_name: source_name.to_owned(),
        });
    }
    Ok(Secret::new(value.to_owned()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        log::warn!(
            "{} can be read by other users; `chmod 600` it",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
// No quotes, backslash, backtick, comma or space: the password survives shells and CSV files.
const SYMBOLS: &[u8] = b"!#%+-./:=?@^_~*()[]{}";

/// Why a password could not be generated.
#[derive(Debug, thiserror::Error)]
#[error("cannot get random bytes from the operating system: {0}")]
pub struct RandomError(String);

/// A random password of `length` characters (at least 4) from unambiguous upper and lower case
/// letters, digits and shell-safe symbols, at least one of each, never starting with a
/// character a spreadsheet reads as a formula (`= + - @`).
pub fn random_password(length: usize) -> Result<Secret, RandomError> {
    let length = length.max(4);
    let alphabet: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    loop {
        let mut chars = Vec::with_capacity(length);
        // One of each category first, then the rest from the whole alphabet, then shuffle.
        for set in [UPPER, LOWER, DIGITS, SYMBOLS] {
            chars.push(set[random_below(set.len())?]);
        }
        while chars.len() < length {
            chars.push(alphabet[random_below(alphabet.len())?]);
        }
        for i in (1..chars.len()).rev() {
            chars.swap(i, random_below(i + 1)?);
        }
        let formula = matches!(chars[0], b'=' | b'+' | b'-' | b'@');
        let candidate = Secret::new(chars.iter().map(|b| char::from(*b)).collect());
        chars.fill(0);
        if !formula {
            return Ok(candidate);
        }
    }
}

/// A uniform random index below `bound` (rejection sampling, no modulo bias).
fn random_below(bound: usize) -> Result<usize, RandomError> {
    let bound = u32::try_from(bound).unwrap_or(u32::MAX);
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let mut buf = [0u8; 4];
        getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
        let n = u32::from_le_bytes(buf);
        if n < zone {
            return Ok(usize::try_from(n % bound).unwrap_or(0));
        }
    }
}

/// Writes a secret to a new file only its owner can read (0600 on Unix); refuses to overwrite.
pub fn write_private_file(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_ref())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::new("Pa55!word".into());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert!(!format!("{:?}", Some(&secret)).contains("Pa55"));
    }

    #[test]
    fn file_source_takes_the_first_line_without_its_ending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "S3cret!x\r\nignored\n").unwrap();
        let secret = read_secret(&SecretRequest {
            what: "password",
            file: Some(&path),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(secret.expose(), "S3cret!x");
    }

    #[test]
    fn empty_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "\n").unwrap();
        let err = read_secret(&SecretRequest {
            what: "password",
            file: Some(&path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, SecretError::Empty { .. }), "{err}");
    }

    #[test]
    fn missing_file_names_the_file() {
        let path = Path::new("/nonexistent/pw");
        let err = read_secret(&SecretRequest {
            what: "password",
            file: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/pw"), "{err}");
    }

    #[test]
    fn nothing_given_says_how_to_pass_it() {
        let err = read_secret(&SecretRequest {
            what: "password for admin",
            env_var: Some("COMMON_TEST_UNSET_PASSWORD_VARIABLE"),
            how_to_pass: "--password-file or --password-stdin",
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no password for admin given and no terminal to ask on; pass it with --password-file or --password-stdin"
        );
    }

    #[test]
    fn private_file_is_owner_only_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("generated");
        write_private_file(&path, "x").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            write_private_file(&path, "y").unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }
}
