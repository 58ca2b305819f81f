//! The `ews-tool` binary; see the library for everything it does.

fn main() -> std::process::ExitCode {
    ews_tool::run(std::env::args_os())
}
