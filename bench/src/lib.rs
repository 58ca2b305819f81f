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

/// The CPU time (user and system) of this process's children that have been waited for, from
/// `/proc/self/stat` (`cutime` and `cstime`, in clock ticks of 10 ms).
pub fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // cutime and cstime are fields 16 and 17 of the whole line, 14 and 15 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis(10 * (ticks(13) + ticks(14)))
}

/// Runs `command` (with `stdin` written to it), which must succeed; returns its wall time,
/// start to exit, and its stderr.
pub fn timed(command: Command, stdin: Option<&str>) -> (Duration, String) {
    let (wall, _, stderr) = timed_with_cpu(command, stdin);
    (wall, stderr)
}

/// [`timed`], and the CPU time the command used.
pub fn timed_with_cpu(mut command: Command, stdin: Option<&str>) -> (Duration, Duration, String) {
    let cpu_before = children_cpu();
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
    let cpu = children_cpu().saturating_sub(cpu_before);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{} failed: {stderr}",
        command.get_program().display()
    );
    (elapsed, cpu, stderr)
}
