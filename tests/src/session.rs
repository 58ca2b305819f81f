//! The lab as an administrator uses it: the domain controller, the Exchange simulator in front
//! of it, and a config profile for each tool, with the environment block `lab up` prints so
//! the README's commands run as written. The README test sets up the same way.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::fake_ews::FakeEws;
use crate::samba::SambaDc;
use crate::seed;

/// The account ews-tool logs on as in the lab (FullAccess on every mailbox).
pub const EWS_LOGON: &str = seed::operators::CALENDAR_SERVICE;

/// A lab ready for the tools: the simulator, and the config files naming both servers.
#[derive(Debug)]
pub struct Session {
    /// The Exchange simulator.
    pub exchange: FakeEws,
    /// ad-tool's config: the DC as its administrator.
    pub ad_config: PathBuf,
    /// ews-tool's config: the simulator, logged on as [`EWS_LOGON`].
    pub ews_config: PathBuf,
}

/// Writes `file` in `dir`: a config whose `lab` profile (the default) holds `settings`.
pub fn write_config(
    dir: &Path,
    file: &str,
    settings: &[(&str, String)],
) -> std::io::Result<PathBuf> {
    let mut text = String::from("default-profile = \"lab\"\n\n[profile.lab]\n");
    for (key, value) in settings {
        let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(text, "{key} = \"{quoted}\"");
    }
    let path = dir.join(file);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// ad-tool's config in `dir`: the lab DC as its administrator.
pub fn write_ad_config(dc: &SambaDc, dir: &Path) -> std::io::Result<PathBuf> {
    write_config(
        dir,
        "ad-tool.toml",
        &[
            ("server", dc.server()),
            ("user", dc.admin_upn()),
            (
                "password-file",
                dc.admin_password_file.display().to_string(),
            ),
            ("ca-file", dc.pki.ca_file.display().to_string()),
        ],
    )
}

/// ews-tool's config in `dir`: `exchange`, logged on as `user` of the lab's domain with the
/// password in `password_file`.
pub fn write_ews_config(
    dc: &SambaDc,
    exchange: &FakeEws,
    dir: &Path,
    user: &str,
    password_file: &Path,
) -> std::io::Result<PathBuf> {
    write_config(
        dir,
        "ews-tool.toml",
        &[
            ("url", exchange.url.clone()),
            ("user", format!("{}\\{user}", seed::NETBIOS_DOMAIN)),
            ("password-file", password_file.display().to_string()),
            ("ca-file", dc.pki.ca_file.display().to_string()),
        ],
    )
}

impl Session {
    /// Starts a simulator in front of `dc` with FullAccess for [`EWS_LOGON`] on every
    /// mailbox, and writes both configs into `dir`.
    pub fn start(dc: &SambaDc, dir: &Path) -> Result<Self, String> {
        crate::samba::progress("starting the Exchange simulator");
        let exchange = FakeEws::start(dc, &serde_json::json!({}))?;
        let mut full_access = serde_json::Map::new();
        for person in dc.people.iter().filter(|p| !p.mail.is_empty()) {
            full_access.insert(person.mail.clone(), serde_json::json!([EWS_LOGON]));
        }
        exchange.set_access(&serde_json::json!({ "full_access": full_access }));
        let ad_config = write_ad_config(dc, dir).map_err(|e| e.to_string())?;
        let ews_config = write_ews_config(dc, &exchange, dir, EWS_LOGON, &dc.user_password_file)
            .map_err(|e| e.to_string())?;
        crate::samba::progress(&format!("Exchange simulator at {}", exchange.url));
        Ok(Self {
            exchange,
            ad_config,
            ews_config,
        })
    }

    /// The environment the README's commands run in (besides `PATH`).
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AD_TOOL_CONFIG", self.ad_config.display().to_string()),
            ("EWS_TOOL_CONFIG", self.ews_config.display().to_string()),
        ]
    }

    /// The block `lab up` prints for pasting into a shell: the config files (which name the
    /// servers, the CA and the logons) and the tools on `PATH`.
    pub fn paste_block(&self, tools_dir: &Path) -> String {
        let mut block = String::new();
        for (name, value) in self.environment() {
            let _ = writeln!(block, "export {name}='{value}'");
        }
        let _ = writeln!(block, "export PATH='{}':\"$PATH\"", tools_dir.display());
        block
    }
}
