//! Files the tools write for the operator to keep (reports, generated passwords): added to,
//! never overwritten, never through a symbolic link, and for secrets readable by their owner
//! alone.

use std::fs::File;
use std::io;
use std::path::Path;

/// The tools' state directory: `$XDG_STATE_HOME/ad-ews-tools`, else
/// `~/.local/state/ad-ews-tools` (journals, the Autodiscover cache).
pub fn state_dir() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| std::path::PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("ad-ews-tools"))
}

/// Opens `path` for appending, creating it when missing. A symbolic link is refused, so a
/// link planted in a shared folder cannot redirect the write. With `private`, a new file is
/// created with mode 0600 and an existing one is refused unless the user running the tool owns
/// it and nobody else can read or write it.
pub fn open_append(path: &Path, private: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
        if private {
            options.mode(0o600);
        }
    }
    let file = options.open(path).map_err(|e| {
        // O_NOFOLLOW on a link fails with ELOOP, whose text does not say why.
        if path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link, which is refused",
            )
        } else {
            e
        }
    })?;
    if private {
        check_private(&file)?;
    }
    Ok(file)
}

/// The file of generated passwords (`--generated-password-file`): a CSV with the header
/// `sam_account_name,password` (ad-tool's) or `upn,password` (m365-tool's), created (mode 0600) at the first password generated, added to
/// by later runs, never overwritten. A row is written and synced to disk *before* the account
/// it names is created, under a lock held until the creation's outcome is known: when the
/// directory refuses the creation, the row (still the file's last) is taken back; when the
/// outcome cannot be learnt, the row stays (the account may exist, and its password must not
/// be lost), so an account can appear twice only after such a run, and its later row is then
/// its password. Runs at the same time that share the file take turns through an advisory
/// lock (`flock`) on it.
#[derive(Debug)]
pub struct GeneratedPasswordFile {
    path: std::path::PathBuf,
    header: &'static str,
    file: tokio::sync::Mutex<Option<File>>,
}

/// The header of a file of generated passwords of directory accounts (ad-tool).
pub const GENERATED_PASSWORD_HEADER: &str = "sam_account_name,password";

/// The header of a file of generated passwords of cloud accounts (m365-tool).
pub const GENERATED_CLOUD_PASSWORD_HEADER: &str = "upn,password";

/// A row written to a [`GeneratedPasswordFile`]: where it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenRow {
    start: u64,
    end: u64,
}

/// The file, locked: rows are written, and taken back, one creation at a time.
#[derive(Debug)]
pub struct PasswordFileGuard<'a> {
    file: tokio::sync::MutexGuard<'a, Option<File>>,
    path: &'a Path,
    header: &'static str,
    locked: bool,
}

impl GeneratedPasswordFile {
    /// Checks an existing file before anything is done (owner, mode, not a link, its header
    /// `header`); a missing file is created at the first password.
    pub fn prepare(path: &Path, header: &'static str) -> io::Result<Self> {
        let file = match path.symlink_metadata() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            _ => Some(Self::open(path, header)?),
        };
        Ok(Self {
            path: path.to_owned(),
            header,
            file: tokio::sync::Mutex::new(file),
        })
    }

    fn open(path: &Path, header: &str) -> io::Result<File> {
        use std::io::{BufRead, Write};
        let mut file = open_append(path, true)?;
        if file.metadata()?.len() == 0 {
            writeln!(file, "{header}")?;
            file.sync_all()?;
        } else {
            let mut first = String::new();
            std::io::BufReader::new(File::open(path)?).read_line(&mut first)?;
            if first.trim_end() != header {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "it is not a file of generated passwords (its first line is not {header})"
                    ),
                ));
            }
        }
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the file for one creation: this run's lock, then the file's own (another run
    /// writing the same file waits its turn), creating the file if it is new.
    pub async fn lock(&self) -> io::Result<PasswordFileGuard<'_>> {
        let mut guard = PasswordFileGuard {
            file: self.file.lock().await,
            path: &self.path,
            header: self.header,
            locked: false,
        };
        let file = guard.file()?;
        loop {
            match lock_file(file) {
                Ok(true) => break,
                Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                Err(e) => return Err(e),
            }
        }
        guard.locked = true;
        Ok(guard)
    }
}

/// Tries to take the advisory lock; `false` when another process holds it.
#[cfg(unix)]
fn lock_file(file: &File) -> io::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(unix))]
fn lock_file(_file: &File) -> io::Result<bool> {
    Ok(true)
}

#[cfg(unix)]
fn unlock_file(file: &File) {
    let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::Unlock);
}

#[cfg(not(unix))]
fn unlock_file(_file: &File) {}

impl Drop for PasswordFileGuard<'_> {
    fn drop(&mut self) {
        if let (true, Some(file)) = (self.locked, self.file.as_ref()) {
            unlock_file(file);
        }
    }
}

impl PasswordFileGuard<'_> {
    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            *self.file = Some(GeneratedPasswordFile::open(self.path, self.header)?);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the password file is not open"))
    }

    /// Adds `account,password` and syncs it to disk. A write that fails halfway (a full disk)
    /// is cut back, so the file always ends in a whole row.
    pub fn write(
        &mut self,
        account: &str,
        password: &crate::secret::Secret,
    ) -> io::Result<WrittenRow> {
        use std::io::Write;
        let file = self.file()?;
        let start = file.metadata()?.len();
        let line = zeroize::Zeroizing::new(format!("{account},{}\n", password.expose()));
        let written = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_data());
        if let Err(error) = written {
            let _ = file.set_len(start).and_then(|()| file.sync_data());
            return Err(error);
        }
        Ok(WrittenRow {
            start,
            end: start + u64::try_from(line.len()).unwrap_or(0),
        })
    }

    /// Takes back `row` (the account was not created), if it is still the file's last row.
    pub fn withdraw(&mut self, row: WrittenRow) -> io::Result<()> {
        let file = self.file()?;
        if file.metadata()?.len() == row.end {
            file.set_len(row.start)?;
            file.sync_data()?;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn check_private(file: &File) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it belongs to another user",
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "other users can access it (mode {:o}); chmod 600 it first",
                meta.mode() & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn appends_and_never_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.csv");
        open_append(&path, false)
            .unwrap()
            .write_all(b"a\n")
            .unwrap();
        open_append(&path, false)
            .unwrap()
            .write_all(b"b\n")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_and_others_access_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwords.csv");
        drop(open_append(&path, true).unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = open_append(&path, true).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn generated_passwords_are_added_under_one_header_and_withdrawn_when_unused() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwords.csv");
        let secret = |s: &str| crate::secret::Secret::new(s.into());
        runtime.block_on(async {
            let first = GeneratedPasswordFile::prepare(&path, GENERATED_PASSWORD_HEADER).unwrap();
            assert!(!path.exists(), "nothing is created before a password is");
            let mut guard = first.lock().await.unwrap();
            guard.write("a", &secret("P1")).unwrap();
            let unused = guard.write("x", &secret("PX")).unwrap();
            guard.withdraw(unused).unwrap();
            drop(guard);
            let second = GeneratedPasswordFile::prepare(&path, GENERATED_PASSWORD_HEADER).unwrap();
            second
                .lock()
                .await
                .unwrap()
                .write("b", &secret("P2"))
                .unwrap();
        });
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "sam_account_name,password\na,P1\nb,P2\n"
        );
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "something else\n").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let err = GeneratedPasswordFile::prepare(&other, GENERATED_PASSWORD_HEADER).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a file of generated passwords"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_append(&link, false).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
    }
}
