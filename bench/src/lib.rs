//! What the benchmarks share: their options and timing a command to its end.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The value of `--name N` on the command line, or `default`.
pub fn option(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `command` (with `stdin` written to it), which must succeed; returns its wall time,
/// start to exit, and its stderr.
pub fn timed(mut command: Command, stdin: Option<&str>) -> (Duration, String) {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let start = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", command.get_program().display()));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(text.as_bytes());
    }
    let output = child.wait_with_output().expect("wait");
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{} failed: {stderr}",
        command.get_program().display()
    );
    (elapsed, stderr)
}
