//! Kerberos for the Exchange simulator: the web site's service principal and keytab in the
//! lab directory, and the name the clients reach the simulator by (a name, not an address,
//! since the service ticket is for `HTTP/<host>`), resolved through nss_wrapper so nothing of
//! the machine's own resolver configuration is touched.

use std::path::{Path, PathBuf};

use crate::samba::SambaDc;

/// The simulator's host name: in its certificate and in its service principal.
pub const WEB_HOST: &str = "mail.lab.example";

/// The account the web site's service principal is registered on.
pub const WEB_ACCOUNT: &str = "svc-ews-web";

/// Registers `HTTP/<WEB_HOST>` on [`WEB_ACCOUNT`] (made for it) and exports its keys.
pub(crate) fn register_web_service(dc: &SambaDc) -> Result<PathBuf, String> {
    let spn = format!("HTTP/{WEB_HOST}");
    let password = format!("Web-{}-Ks9!", std::process::id());
    let keytab = dc.dir.join("private/http.keytab");
    for step in [
        vec!["user", "add", WEB_ACCOUNT, &password],
        vec!["spn", "add", &spn, WEB_ACCOUNT],
    ] {
        let out = dc.samba_tool(&step);
        if !out.status.success() {
            return Err(format!(
                "samba-tool {} failed: {}",
                step[..2].join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    // exportkeytab reads the DC's database through its smb.conf (it takes no -H).
    let out = std::process::Command::new("samba-tool")
        .args(["domain", "exportkeytab"])
        .arg(&keytab)
        .arg(format!("--principal={spn}"))
        .arg(format!(
            "--configfile={}",
            dc.dir.join("etc/smb.conf").display()
        ))
        .output()
        .map_err(|e| format!("cannot run samba-tool: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "samba-tool domain exportkeytab failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(keytab)
}

/// The environment that makes [`WEB_HOST`] (and `extra` names) resolve to 127.0.0.1 for a
/// client process: nss_wrapper preloaded with a hosts file written into `dir`.
pub fn resolving_env(dir: &Path, extra: &[&str]) -> Result<Vec<(&'static str, String)>, String> {
    let names: Vec<&str> = std::iter::once(WEB_HOST)
        .chain(extra.iter().copied())
        .collect();
    hosts_env(dir, &[(std::net::Ipv4Addr::LOCALHOST, &names)])
}

/// The environment that makes each name resolve to its address for a client process
/// (nss_wrapper preloaded with a hosts file written into `dir`); a name in no line does not
/// resolve at all, as a name DNS does not know.
pub fn hosts_env(
    dir: &Path,
    lines: &[(std::net::Ipv4Addr, &[&str])],
) -> Result<Vec<(&'static str, String)>, String> {
    let wrapper = crate::prerequisites::find_library("libnss_wrapper.so")
        .ok_or("libnss_wrapper.so is missing (Debian package libnss-wrapper; run tests/setup)")?;
    let hosts = dir.join("hosts");
    let lines: Vec<String> = lines
        .iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(address, names)| format!("{address} {}", names.join(" ")))
        .collect();
    let text = lines.join("\n") + "\n";
    std::fs::write(&hosts, text).map_err(|e| format!("{}: {e}", hosts.display()))?;
    Ok(vec![
        ("LD_PRELOAD", wrapper.display().to_string()),
        ("NSS_WRAPPER_HOSTS", hosts.display().to_string()),
    ])
}
