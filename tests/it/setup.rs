//! `tests/setup` names every package the lab uses: each file the lab needs (the Samba binaries,
//! the provisioning schema files, ntlm_auth, kinit, the LDAP and ldb clients, xmllint,
//! nss_wrapper, the build's headers) belongs, by `dpkg -S`, to a package the script installs.

use std::path::Path;
use std::process::Command;

use lab::prerequisites::{REQUIREMENTS, dpkg_paths};

fn setup_packages() -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("setup");
    let out = Command::new(&script)
        .arg("--list")
        .output()
        .expect("tests/setup runs");
    assert!(out.status.success(), "tests/setup --list: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The package dpkg says installed `path`.
fn owner(path: &Path) -> Option<String> {
    dpkg_paths(path).into_iter().find_map(|candidate| {
        let out = Command::new("dpkg")
            .arg("-S")
            .arg(&candidate)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let (package, _) = text.lines().next()?.split_once(": ")?;
        // "libkrb5-dev:amd64" names the package libkrb5-dev.
        Some(package.split(':').next().unwrap_or(package).to_owned())
    })
}

#[test]
fn every_file_the_lab_uses_comes_from_a_package_tests_setup_installs() {
    let named = setup_packages();
    for requirement in REQUIREMENTS {
        let path = requirement
            .find()
            .unwrap_or_else(|| panic!("{} is not installed: run tests/setup", requirement.what));
        let package =
            owner(&path).unwrap_or_else(|| panic!("dpkg knows no package for {}", path.display()));
        assert_eq!(
            package,
            requirement.package,
            "{} ({}) comes from {package}",
            requirement.what,
            path.display()
        );
        assert!(
            named.contains(&package),
            "tests/setup does not name {package}, which provides {} ({})",
            requirement.what,
            path.display()
        );
    }
}
