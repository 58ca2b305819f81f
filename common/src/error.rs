//! The one error type at a tool's edge: what went wrong, in admin words, and what to do.

use std::fmt;

use crate::ExitStatus;

/// A failure as the operator sees it: one line on stderr and an exit code.
///
/// Library modules keep their own typed errors; each tool maps them into this once, adding the
/// item it was working on and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// Which exit code this failure ends the tool with.
    pub status: ExitStatus,
    /// The item the failure is about (an account, a mailbox, a file), if any.
    pub item: Option<String>,
    /// What went wrong, in admin words.
    pub message: String,
    /// What to do about it, if there is something to do.
    pub hint: Option<String>,
    /// The server's own text, shown with `-v`.
    pub detail: Option<String>,
    /// A short stable name for scripts (`tls`, `auth`, `password-policy`, …).
    pub code: &'static str,
    /// What the tool's edge does with it.
    pub ending: Ending,
}

/// What the tool's edge ([`run_to_exit`]) does with an error that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ending {
    /// Print its line and exit with its status.
    #[default]
    Report,
    /// The reader of the output went away (`| head`): end quietly with success, as other
    /// Unix tools do.
    ReaderGone,
    /// Its line was already printed (a caught panic): exit with its status.
    AlreadyReported,
}

impl CommandError {
    /// A failure with a status and a message.
    pub fn new(status: ExitStatus, message: impl Into<String>) -> Self {
        let code = match status {
            ExitStatus::Success => "ok",
            ExitStatus::ItemsFailed => "failed",
            ExitStatus::Usage => "usage",
            ExitStatus::Connect => "connect",
            ExitStatus::Denied => "denied",
            ExitStatus::Exists => "exists",
            ExitStatus::Interrupted => "interrupted",
        };
        Self {
            status,
            item: None,
            message: message.into(),
            hint: None,
            detail: None,
            code,
            ending: Ending::Report,
        }
    }

    /// The reader of the output went away: the run ends quietly (see [`Ending::ReaderGone`]).
    pub fn reader_gone() -> Self {
        Self {
            ending: Ending::ReaderGone,
            ..Self::new(ExitStatus::Success, "output closed").with_code("broken-pipe")
        }
    }

    /// Sets the short stable name scripts see in JSON outcomes.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// A usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitStatus::Usage, message)
    }

    /// Names the item the failure is about.
    #[must_use]
    pub fn with_item(mut self, item: impl Into<String>) -> Self {
        self.item = Some(item.into());
        self
    }

    /// Adds what to do.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds the server's own text (shown with `-v`).
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The message and hint as one line, without the item and the tool name.
    pub fn summary(&self) -> String {
        match &self.hint {
            Some(hint) => format!("{}; {}", self.message, hint),
            None => self.message.clone(),
        }
    }

    /// Prints the failure to stderr as one line, prefixed with the tool's name, and the server's
    /// text as a second line when `verbose` is set.
    pub fn report(&self, tool: &str, verbose: bool) {
        crate::progress::stderr_line(|| {
            eprintln!("{tool}: {self}");
            if verbose && let Some(detail) = &self.detail {
                eprintln!("{tool}: server said: {}", one_line(detail));
            }
        });
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(item) = &self.item {
            write!(f, "{item}: ")?;
        }
        f.write_str(&one_line(&self.summary()))
    }
}

impl std::error::Error for CommandError {}

/// Replaces the panic message with one line naming the tool, so a bug (or a library's panic
/// on input it cannot parse) never shows a Rust backtrace to an operator. Returns nothing; the
/// caller turns the caught panic into an exit code with [`panic_to_error`].
pub fn quiet_panics(tool: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        log::debug!("panic{location}: {payload}");
        eprintln!(
            "{tool}: internal error: the tool stopped unexpectedly ({payload}{location}); nothing further was done; please report it"
        );
    }));
}

/// The error for a panic caught at the edge; its line was already printed by the hook.
pub fn panic_to_error() -> CommandError {
    CommandError {
        ending: Ending::AlreadyReported,
        ..CommandError::new(ExitStatus::ItemsFailed, "internal error").with_code("internal")
    }
}

/// Runs a tool's command to its exit code: a panic becomes one line (see [`quiet_panics`]), an
/// error is reported once, and a reader that went away (`| head`) is no error.
pub fn run_to_exit(
    tool: &'static str,
    verbose: bool,
    command: impl FnOnce() -> Result<ExitStatus, CommandError>,
) -> std::process::ExitCode {
    quiet_panics(tool);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(command));
    match outcome.unwrap_or_else(|_| Err(panic_to_error())) {
        Ok(status) => status.into(),
        Err(error) => match error.ending {
            Ending::Report => {
                error.report(tool, verbose);
                error.status.into()
            }
            Ending::ReaderGone => std::process::ExitCode::SUCCESS,
            Ending::AlreadyReported => error.status.into(),
        },
    }
}

/// Folds line breaks so a message stays one line whatever a server put into it.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(line);
    }
    out.trim_end_matches('\0').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_item_and_hint() {
        let err = CommandError::new(
            ExitStatus::Connect,
            "cannot reach dc1:636\n(connection refused)",
        )
        .with_item("SAMyTTExch")
        .with_hint("check --server");
        assert_eq!(
            err.to_string(),
            "SAMyTTExch: cannot reach dc1:636 (connection refused); check --server"
        );
    }

    #[test]
    fn one_line_drops_blank_lines_and_trailing_nul() {
        assert_eq!(one_line("a\n\n  b  \r\nc\0"), "a b c");
    }
}
