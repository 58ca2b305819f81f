//! The `ad-tool` binary; see the library for everything it does.

fn main() -> std::process::ExitCode {
    ad_tool::run(std::env::args_os())
}
