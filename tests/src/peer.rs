//! exchangelib, a Python EWS client written elsewhere, as a peer of ews-tool: installed at a
//! pinned release into a throwaway virtual environment for the peer test and the benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The exchangelib release installed.
pub const EXCHANGELIB: &str = "exchangelib==5.6.0";

/// Makes a virtual environment in `dir` with [`EXCHANGELIB`] and returns its Python, or why
/// that could not be done (in words that name the package to install).
pub fn exchangelib_python(dir: &Path) -> Result<PathBuf, String> {
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir)
        .output()
        .map_err(|e| format!("python3 (run tests/setup): {e}"))?;
    if !made.status.success() {
        return Err(format!(
            "python3 -m venv (Debian package python3-venv; run tests/setup): {}",
            String::from_utf8_lossy(&made.stderr).trim()
        ));
    }
    let pip = Command::new(dir.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            EXCHANGELIB,
        ])
        .output()
        .map_err(|e| format!("pip in the virtual environment: {e}"))?;
    if !pip.status.success() {
        return Err(format!(
            "{EXCHANGELIB} from the package registry: {}",
            String::from_utf8_lossy(&pip.stderr).trim()
        ));
    }
    Ok(dir.join("bin/python"))
}
