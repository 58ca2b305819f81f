//! `ews-tool`: calendar folder permissions through Exchange Web Services (not built yet).

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("ews-tool: not available yet in this build");
    ExitCode::from(2)
}
