//! The host around the lab's DC: commands run with their output logged and failures in one
//! line, a free loopback address claimed (and added to `lo` when missing), 0600 files, and the
//! watchdog that stops the DC when the test process goes away however it ends.

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};

use super::{LabError, lab_error};

/// The lab's administrator password (a lab-only value, written to a 0600 file for the tools).
pub(super) fn run(command: &mut Command, what: &str) -> Result<Output, LabError> {
    let output = command.output().map_err(|e| {
        lab_error(format!(
            "{what}: cannot run {}: {e}",
            command.get_program().to_string_lossy()
        ))
    })?;
    if !output.status.success() {
        return Err(lab_error(format!(
            "{what} failed ({}): {}",
            output.status,
            last_words(&output)
        )));
    }
    Ok(output)
}

/// Runs a long step with its output in `log` (the log is named in the error if it fails).
pub(super) fn run_logged(
    command: &mut Command,
    what: &str,
    log: &Path,
) -> Result<Output, LabError> {
    let output = command.output().map_err(|e| {
        lab_error(format!(
            "{what}: cannot run {}: {e}",
            command.get_program().to_string_lossy()
        ))
    })?;
    let mut text = output.stdout.clone();
    text.extend_from_slice(&output.stderr);
    let _ = std::fs::write(log, &text);
    if !output.status.success() {
        return Err(LabError {
            message: format!("{what} failed ({}): {}", output.status, last_words(&output)),
            log: Some(log.to_owned()),
        });
    }
    Ok(output)
}

/// The line of a failed command's output that says why: the last line of stderr (Python
/// tracebacks end with the exception), else of stdout.
pub(super) fn last_words(output: &Output) -> String {
    let last = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_owned)
    };
    last(&output.stderr)
        .or_else(|| last(&output.stdout))
        .unwrap_or_else(|| "no output".into())
}

pub(super) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Picks a free loopback address (ports 53, 88, 389 and 636 unbound) and claims it with a lock file
/// naming this process, so labs started at the same time do not collide.
pub(super) fn claim_address() -> Result<(Ipv4Addr, PathBuf), LabError> {
    let lock_dir = std::env::temp_dir().join("ad-ews-lab-locks");
    std::fs::create_dir_all(&lock_dir)
        .map_err(|e| lab_error(format!("cannot create {}: {e}", lock_dir.display())))?;
    for last in 2..=250u8 {
        let address = Ipv4Addr::new(127, 0, 0, last);
        let lock = lock_dir.join(address.to_string());
        if let Ok(pid) = std::fs::read_to_string(&lock) {
            if Path::new("/proc").join(pid.trim()).exists() {
                continue;
            }
            let _ = std::fs::remove_file(&lock);
        }
        let free = [53u16, 88, 389, 636]
            .iter()
            .all(|port| TcpListener::bind((address, *port)).is_ok());
        if !free {
            continue;
        }
        // Fails when another lab claimed the address between the check and now.
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            let _ = write!(file, "{}", std::process::id());
            return Ok((address, lock));
        }
    }
    Err(lab_error("no free loopback address in 127.0.0.2-250"))
}

/// Samba only binds to addresses an interface holds. Returns whether the lab added it (and
/// so removes it again when it stops).
pub(super) fn ensure_on_loopback(address: Ipv4Addr) -> Result<bool, LabError> {
    let shown = run(
        Command::new("ip").args(["-4", "addr", "show", "dev", "lo"]),
        "listing loopback addresses",
    )?;
    if String::from_utf8_lossy(&shown.stdout).contains(&format!("inet {address}/")) {
        return Ok(false);
    }
    run(
        Command::new("ip").args(["addr", "add", &format!("{address}/32"), "dev", "lo"]),
        "adding the lab's loopback address",
    )
    .map(|_| true)
}

pub(super) fn write_private(path: &Path, text: &str) -> Result<(), LabError> {
    common::secret::write_private_file(path, text)
        .map_err(|e| lab_error(format!("cannot write {}: {e}", path.display())))
}

/// A shell that waits for its stdin to close (this process ending closes it too, however it
/// ends), then stops Samba, kills what is left of its process group and winbindd, removes the
/// lab directory and its lock, and takes away the loopback address the lab added.
pub(super) fn start_watchdog(
    samba_pid: u32,
    dir: &Path,
    lock: &Path,
    added_address: Option<Ipv4Addr>,
) -> Result<(ChildStdin, Child), LabError> {
    const SCRIPT: &str = r#"
read -r _
kill -TERM "$1" 2>/dev/null
# Until it has exited: gone, or a zombie its parent has not reaped (kill -0 still succeeds).
running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
i=0
while running "$1" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL -- "-$1" 2>/dev/null
if [ -f "$2/run/winbindd.pid" ]; then kill -KILL "$(cat "$2/run/winbindd.pid")" 2>/dev/null; fi
rm -rf "$2"
rm -f "$3"
rmdir "$(dirname "$3")" 2>/dev/null
if [ -n "$4" ]; then ip addr del "$4/32" dev lo 2>/dev/null; fi
"#;
    let mut command = Command::new("sh");
    command
        .args(["-c", SCRIPT, "lab-watchdog", &samba_pid.to_string()])
        .arg(dir)
        .arg(lock)
        .arg(added_address.map(|a| a.to_string()).unwrap_or_default());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| lab_error(format!("cannot start the watchdog: {e}")))?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| lab_error("the watchdog has no stdin"))?;
    Ok((stdin, child))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_step_is_one_line_naming_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("provision.log");
        let error = run_logged(
            Command::new("sh").args([
                "-c",
                "echo 'Traceback (most recent call last):' >&2; echo '  File x, line 1' >&2; \
                 echo 'Exception: File [x.ldf] not found. Please install samba-ad-provision package' >&2; exit 1",
            ]),
            "provisioning the domain",
            &log,
        )
        .unwrap_err()
        .to_string();
        assert!(!error.contains('\n'), "{error}");
        assert!(!error.contains("Traceback"), "{error}");
        assert!(
            error.contains("Please install samba-ad-provision package"),
            "{error}"
        );
        assert!(
            error.ends_with(&format!("; the full log is in {}", log.display())),
            "{error}"
        );
        assert!(std::fs::read_to_string(&log).unwrap().contains("Traceback"));
    }
}
