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
pub fn timed_with_cpu(command: Command, stdin: Option<&str>) -> (Duration, Duration, String) {
    let run = measure(command, stdin);
    (run.wall, run.cpu, run.stderr)
}

/// What one run of a command took.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Start to exit.
    pub wall: Duration,
    /// User and system CPU time.
    pub cpu: Duration,
    /// Peak resident set size (the kernel's high-water mark, `VmHWM`), in KiB.
    pub peak_rss_kib: u64,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// The high-water mark of a running process's resident set, in KiB (none once it has exited).
fn high_water_mark(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `command` (with `stdin` written to it), which must succeed, and measures it: wall
/// time, CPU time (from the kernel's accounting once it is waited for) and peak RSS (its
/// high-water mark, read every 5 ms while it runs; the mark only grows, so a late read misses
/// nothing but growth in its last 5 ms).
pub fn measure(mut command: Command, stdin: Option<&str>) -> Measured {
    let cpu_before = children_cpu();
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let program = command.get_program().display().to_string();
    let start = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watching = std::sync::Arc::clone(&done);
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        while !watching.load(std::sync::atomic::Ordering::Relaxed) {
            peak = high_water_mark(pid).unwrap_or(0).max(peak);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let feeder = stdin
        .map(str::to_owned)
        .zip(child.stdin.take())
        .map(|(text, mut pipe)| {
            std::thread::spawn(move || {
                let _ = pipe.write_all(text.as_bytes());
            })
        });
    let output = child.wait_with_output().expect("wait");
    let wall = start.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_rss_kib = watcher.join().unwrap_or(0);
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    let cpu = children_cpu().saturating_sub(cpu_before);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{program} failed: {stderr}");
    Measured {
        wall,
        cpu,
        peak_rss_kib,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    }
}
