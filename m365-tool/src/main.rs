//! The `m365-tool` binary; see the library for everything it does.

fn main() -> std::process::ExitCode {
    m365_tool::run(std::env::args_os())
}
