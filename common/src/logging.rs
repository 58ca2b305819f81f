//! Logging to stderr, never stdout: warnings by default, `-v` steps, `-vv` protocol exchanges
//! (with secrets redacted by the code that logs them), `-vvv` everything including libraries.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    tool: &'static str,
    level: LevelFilter,
    own_crates: &'static [&'static str],
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        if metadata.level() > self.level {
            return false;
        }
        // Libraries' own logs (ldap3's connection warnings, say) only at the most verbose level;
        // the tools report those failures themselves, in one line.
        self.level >= LevelFilter::Trace
            || self.own_crates.iter().any(|c| {
                metadata.target() == *c || metadata.target().starts_with(&format!("{c}::"))
            })
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let label = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        crate::progress::stderr_line(|| {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}: {label}: {}",
                self.tool,
                record.args()
            );
        });
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// The level that `-v` (counted) and `-q` select.
pub fn level_for(verbose: u8, quiet: bool) -> LevelFilter {
    match (quiet, verbose) {
        (true, _) => LevelFilter::Error,
        (false, 0) => LevelFilter::Warn,
        (false, 1) => LevelFilter::Info,
        (false, 2) => LevelFilter::Debug,
        (false, _) => LevelFilter::Trace,
    }
}

/// Installs the stderr logger. `own_crates` are the crate names (as log targets) whose messages
/// show below `-vvv`. Calling it twice keeps the first logger.
pub fn init(tool: &'static str, verbose: u8, quiet: bool, own_crates: &'static [&'static str]) {
    let level = level_for(verbose, quiet);
    if log::set_boxed_logger(Box::new(StderrLogger {
        tool,
        level,
        own_crates,
    }))
    .is_ok()
    {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_levels() {
        assert_eq!(level_for(0, false), LevelFilter::Warn);
        assert_eq!(level_for(1, false), LevelFilter::Info);
        assert_eq!(level_for(2, false), LevelFilter::Debug);
        assert_eq!(level_for(5, false), LevelFilter::Trace);
        assert_eq!(level_for(3, true), LevelFilter::Error);
    }

    #[test]
    fn library_logs_need_trace() {
        let logger = StderrLogger {
            tool: "t",
            level: LevelFilter::Debug,
            own_crates: &["ad_tool", "common"],
        };
        let meta = |target| {
            Metadata::builder()
                .level(Level::Warn)
                .target(target)
                .build()
        };
        assert!(logger.enabled(&meta("ad_tool::directory")));
        assert!(logger.enabled(&meta("common")));
        assert!(!logger.enabled(&meta("ldap3::conn")));
        assert!(!logger.enabled(&meta("ad_toolkit")));
    }
}
