//! Files the tools write for the operator to keep (reports, generated passwords): added to,
//! never overwritten, never through a symbolic link, and for secrets readable by their owner
//! alone.

use std::fs::File;
use std::io;
use std::path::Path;

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
/// `account,password`, created (mode 0600) at the first password generated, added to by later
/// runs, never overwritten, and each row on disk (fsync) before the tool goes on.
#[derive(Debug)]
pub struct GeneratedPasswordFile {
    path: std::path::PathBuf,
    file: std::sync::Mutex<Option<File>>,
}

/// The header of a generated-password file.
pub const GENERATED_PASSWORD_HEADER: &str = "sam_account_name,password";

impl GeneratedPasswordFile {
    /// Checks an existing file before anything is done (owner, mode, not a link, its header);
    /// a missing file is created at the first password.
    pub fn prepare(path: &Path) -> io::Result<Self> {
        let file = match path.symlink_metadata() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            _ => Some(Self::open(path)?),
        };
        Ok(Self {
            path: path.to_owned(),
            file: std::sync::Mutex::new(file),
        })
    }

    fn open(path: &Path) -> io::Result<File> {
        use std::io::{BufRead, Write};
        let mut file = open_append(path, true)?;
        if file.metadata()?.len() == 0 {
            writeln!(file, "{GENERATED_PASSWORD_HEADER}")?;
            file.sync_all()?;
        } else {
            let mut first = String::new();
            std::io::BufReader::new(File::open(path)?).read_line(&mut first)?;
            if first.trim_end() != GENERATED_PASSWORD_HEADER {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "it is not a file of generated passwords (its first line is not {GENERATED_PASSWORD_HEADER})"
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

    /// Adds `account,password` and syncs it to disk.
    pub fn record(&self, account: &str, password: &crate::secret::Secret) -> io::Result<()> {
        use std::io::Write;
        let mut guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(Self::open(&self.path)?);
        }
        let Some(file) = guard.as_mut() else {
            return Err(io::Error::other("the password file is not open"));
        };
        let line = zeroize::Zeroizing::new(format!("{account},{}\n", password.expose()));
        file.write_all(line.as_bytes())?;
        file.sync_data()
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
    fn generated_passwords_are_added_under_one_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwords.csv");
        let first = GeneratedPasswordFile::prepare(&path).unwrap();
        assert!(!path.exists(), "nothing is created before a password is");
        first
            .record("a", &crate::secret::Secret::new("P1".into()))
            .unwrap();
        drop(first);
        let second = GeneratedPasswordFile::prepare(&path).unwrap();
        second
            .record("b", &crate::secret::Secret::new("P2".into()))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "sam_account_name,password\na,P1\nb,P2\n"
        );
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "something else\n").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let err = GeneratedPasswordFile::prepare(&other).unwrap_err();
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
