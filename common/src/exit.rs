//! The exit-code scheme both tools share (see the README's "Exit codes").

use std::process::ExitCode;

/// Why a tool ends; each variant is one exit code that scripts can rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitStatus {
    /// 0: everything asked for was done (or was already so).
    Success = 0,
    /// 1: some items failed; the report says which.
    ItemsFailed = 1,
    /// 2: the command line or the configuration is wrong.
    Usage = 2,
    /// 3: the server could not be reached (DNS, TCP, TLS).
    Connect = 3,
    /// 4: authentication or authorization was refused.
    Denied = 4,
    /// 5: the target already exists and `--if-exists fail` was in force.
    Exists = 5,
    /// 130: interrupted (Ctrl-C, SIGTERM); what was in flight was finished or recorded.
    Interrupted = 130,
}

impl ExitStatus {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitStatus;

    #[test]
    fn codes_match_the_documented_scheme() {
        let codes: Vec<u8> = [
            ExitStatus::Success,
            ExitStatus::ItemsFailed,
            ExitStatus::Usage,
            ExitStatus::Connect,
            ExitStatus::Denied,
            ExitStatus::Exists,
            ExitStatus::Interrupted,
        ]
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 130]);
    }
}
