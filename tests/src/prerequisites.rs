//! What the lab needs from the machine, file by file, with the Debian package that provides
//! each: checked before anything is provisioned, so a missing package is named in one line
//! instead of surfacing as a traceback halfway through, and checked by a test against
//! `tests/setup` (every package named here must be one the setup script installs).

use std::path::{Path, PathBuf};

/// How the lab finds something it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locate {
    /// A program on `PATH` (or in `/usr/sbin`, `/sbin`).
    Program(&'static str),
    /// A fixed file.
    File(&'static str),
    /// A shared library in one of the system's library directories.
    Library(&'static str),
}

/// One thing the lab uses and the package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// What it is, in words.
    pub what: &'static str,
    /// Where to find it.
    pub locate: Locate,
    /// The Debian package that provides it.
    pub package: &'static str,
}

const fn need(what: &'static str, locate: Locate, package: &'static str) -> Requirement {
    Requirement {
        what,
        locate,
        package,
    }
}

/// Everything the lab and the tests use from the system.
pub const REQUIREMENTS: &[Requirement] = &[
    need("the Samba AD DC", Locate::Program("samba"), "samba"),
    need(
        "samba-tool",
        Locate::Program("samba-tool"),
        "samba-common-bin",
    ),
    need(
        "Samba's Python modules",
        Locate::File("/usr/lib/python3/dist-packages/samba/__init__.py"),
        "python3-samba",
    ),
    need(
        "the schema files domain provisioning reads",
        Locate::File(
            "/usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf",
        ),
        "samba-ad-provision",
    ),
    need(
        "the directory modules of a Samba DC",
        Locate::Library("samba/ldb/samba_dsdb.so"),
        "samba-dsdb-modules",
    ),
    need("winbindd", Locate::Program("winbindd"), "winbind"),
    need(
        "ntlm_auth (the simulator checks NTLM logons with it)",
        Locate::Program("ntlm_auth"),
        "winbind",
    ),
    need("kinit", Locate::Program("kinit"), "krb5-user"),
    need("ldbadd", Locate::Program("ldbadd"), "ldb-tools"),
    need("ldbmodify", Locate::Program("ldbmodify"), "ldb-tools"),
    need("ldbsearch", Locate::Program("ldbsearch"), "ldb-tools"),
    need("ldapsearch", Locate::Program("ldapsearch"), "ldap-utils"),
    need("ldapmodify", Locate::Program("ldapmodify"), "ldap-utils"),
    need("ldapadd", Locate::Program("ldapadd"), "ldap-utils"),
    need(
        "nss_wrapper",
        Locate::Library("libnss_wrapper.so"),
        "libnss-wrapper",
    ),
    need("xmllint", Locate::Program("xmllint"), "libxml2-utils"),
    need("ip", Locate::Program("ip"), "iproute2"),
    need("curl", Locate::Program("curl"), "curl"),
    need(
        "the GSSAPI headers ad-tool builds against",
        Locate::File("/usr/include/gssapi/gssapi.h"),
        "libkrb5-dev",
    ),
    need(
        "the OpenSSL headers",
        Locate::File("/usr/include/openssl/ssl.h"),
        "libssl-dev",
    ),
    need("clang", Locate::Program("clang"), "clang"),
    need(
        "dpkg-shlibdeps (the package's dependencies)",
        Locate::Program("dpkg-shlibdeps"),
        "dpkg-dev",
    ),
    need(
        "objdump (the libraries the package's binaries link)",
        Locate::Program("objdump"),
        "binutils",
    ),
];

/// The directories shared libraries live in on Debian and Ubuntu.
fn library_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with("-linux-gnu"))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.extend(["/usr/lib64", "/usr/lib", "/lib"].map(PathBuf::from));
    dirs
}

/// Finds a program on `PATH`, then in the system's sbin directories.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Finds a shared library (`name` may hold a subdirectory: `samba/ldb/x.so`).
pub fn find_library(name: &str) -> Option<PathBuf> {
    library_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Requirement {
    /// Where it is on this machine, if it is.
    pub fn find(&self) -> Option<PathBuf> {
        match self.locate {
            Locate::Program(name) => find_program(name),
            Locate::File(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
            Locate::Library(name) => find_library(name),
        }
    }
}

/// The first of `requirements` missing from this machine, as the one line the lab prints.
pub fn check(requirements: &[Requirement]) -> Result<(), String> {
    match requirements.iter().find(|r| r.find().is_none()) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "{} is missing (Debian package {}): run tests/setup, which installs every package the lab uses",
            missing.what, missing.package
        )),
    }
}

/// The path dpkg knows a file under: on merged-/usr systems `/usr/sbin/ip` is the same file
/// as `/sbin/ip`, which is the path the package registered. Returns the candidates to ask.
pub fn dpkg_paths(path: &Path) -> Vec<PathBuf> {
    let mut paths = vec![path.to_owned()];
    if let Ok(rest) = path.strip_prefix("/usr") {
        paths.push(Path::new("/").join(rest));
    } else {
        paths.push(Path::new("/usr").join(path.strip_prefix("/").unwrap_or(path)));
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_requirement_is_named_with_its_package_in_one_line() {
        let missing = need(
            "the frobnicator",
            Locate::Program("no-such-program-anywhere"),
            "frobnicate-tools",
        );
        let present = need("sh", Locate::Program("sh"), "dash");
        assert_eq!(check(&[present]), Ok(()));
        let error = check(&[present, missing]).unwrap_err();
        assert_eq!(
            error,
            "the frobnicator is missing (Debian package frobnicate-tools): run tests/setup, which installs every package the lab uses"
        );
    }

    #[test]
    fn merged_usr_paths_are_asked_both_ways() {
        assert_eq!(
            dpkg_paths(Path::new("/usr/sbin/ip")),
            [PathBuf::from("/usr/sbin/ip"), PathBuf::from("/sbin/ip")]
        );
        assert_eq!(
            dpkg_paths(Path::new("/bin/ip")),
            [PathBuf::from("/bin/ip"), PathBuf::from("/usr/bin/ip")]
        );
    }
}
