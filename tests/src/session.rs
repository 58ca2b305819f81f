//! The lab as an administrator uses it: the domain controller, the Exchange simulator in front
//! of it (on its own loopback address, ports 443 and 80, reached by name for Autodiscover), and
//! a config file for each tool with two profiles: `lab` (the default: the servers named, a
//! password logon) and `jump-host` (nothing but the lab's DNS server and CA: the DC from DNS,
//! the EWS URL from Autodiscover, the logon from a Kerberos ticket). The environment block
//! `lab up` prints makes the README's commands run as written; the README test sets up the same
//! way.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::fake_ews::FakeEws;
use crate::fake_graph::FakeGraph;
use crate::samba::SambaDc;
use crate::seed;

/// The account ews-tool logs on as in the lab (FullAccess on every mailbox).
pub const EWS_LOGON: &str = seed::operators::CALENDAR_SERVICE;

/// The profile of a domain-joined jump host in both config files.
pub const JUMP_HOST_PROFILE: &str = "jump-host";

/// A lab ready for the tools: the simulators, and the config files naming the servers.
#[derive(Debug)]
pub struct Session {
    /// The Exchange simulator.
    pub exchange: FakeEws,
    /// The Microsoft 365 simulator.
    pub graph: FakeGraph,
    /// m365-tool's config: the simulated tenant, signed in with the app's certificate.
    pub m365_config: PathBuf,
    /// The environment that points the tools and Kerberos at the lab.
    environment: Vec<(&'static str, String)>,
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
    write_profiles(dir, file, &[("lab", settings)])
}

/// Writes `file` in `dir`: a config with these profiles, the first the default.
pub fn write_profiles(
    dir: &Path,
    file: &str,
    profiles: &[(&str, &[(&str, String)])],
) -> std::io::Result<PathBuf> {
    let mut text = String::new();
    if let Some((name, _)) = profiles.first() {
        let _ = writeln!(text, "default-profile = \"{name}\"");
    }
    for (name, settings) in profiles {
        let _ = write!(text, "\n[profile.{name}]\n");
        for (key, value) in *settings {
            let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(text, "{key} = \"{quoted}\"");
        }
    }
    let path = dir.join(file);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The `jump-host` profile's settings: the lab's DNS server (a domain-joined host's resolver
/// is the domain's) and its CA; ad-tool also names the domain.
fn jump_host_settings(dc: &SambaDc, domain: bool) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        ("dns-server", dc.server()),
        ("ca-file", dc.pki.ca_file.display().to_string()),
    ];
    if domain {
        settings.insert(0, ("domain", seed::DNS_DOMAIN.to_owned()));
    }
    settings
}

/// ad-tool's config in `dir`: the lab DC as its administrator, and the jump host's profile.
pub fn write_ad_config(dc: &SambaDc, dir: &Path) -> std::io::Result<PathBuf> {
    write_profiles(
        dir,
        "ad-tool.toml",
        &[
            (
                "lab",
                &[
                    ("server", dc.server()),
                    ("user", dc.admin_upn()),
                    (
                        "password-file",
                        dc.admin_password_file.display().to_string(),
                    ),
                    ("ca-file", dc.pki.ca_file.display().to_string()),
                ],
            ),
            (JUMP_HOST_PROFILE, &jump_host_settings(dc, true)),
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
    write_profiles(
        dir,
        "ews-tool.toml",
        &[
            (
                "lab",
                &[
                    ("url", exchange.url.clone()),
                    ("user", format!("{}\\{user}", seed::NETBIOS_DOMAIN)),
                    ("password-file", password_file.display().to_string()),
                    ("ca-file", dc.pki.ca_file.display().to_string()),
                ],
            ),
            (JUMP_HOST_PROFILE, &jump_host_settings(dc, false)),
        ],
    )
}

/// m365-tool's config in `dir`: the simulated tenant (authority and Graph at `graph`), the lab
/// app signing in with its certificate.
pub fn write_m365_config(dc: &SambaDc, graph: &FakeGraph, dir: &Path) -> std::io::Result<PathBuf> {
    write_config(
        dir,
        "m365-tool.toml",
        &[
            ("tenant", FakeGraph::tenant_id().to_owned()),
            ("client-id", FakeGraph::client_id().to_owned()),
            ("certificate", graph.certificate.display().to_string()),
            ("authority", graph.url.clone()),
            ("graph-url", graph.url.clone()),
            ("ca-file", dc.pki.ca_file.display().to_string()),
        ],
    )
}

impl Session {
    /// Starts a simulator in front of `dc` with FullAccess for [`EWS_LOGON`] on every
    /// mailbox, and writes both configs into `dir`.
    pub fn start(dc: &SambaDc, dir: &Path) -> Result<Self, String> {
        crate::samba::progress("starting the Exchange simulator");
        dc.autodiscover_records()?;
        let exchange = FakeEws::start_hosted(dc, &serde_json::json!({}))?;
        let mut full_access = serde_json::Map::new();
        for person in dc.people.iter().filter(|p| !p.mail.is_empty()) {
            full_access.insert(person.mail.clone(), serde_json::json!([EWS_LOGON]));
        }
        exchange.set_access(&serde_json::json!({ "full_access": full_access }));
        let ad_config = write_ad_config(dc, dir).map_err(|e| e.to_string())?;
        let ews_config = write_ews_config(dc, &exchange, dir, EWS_LOGON, &dc.user_password_file)
            .map_err(|e| e.to_string())?;
        crate::samba::progress(&format!("Exchange simulator at {}", exchange.url));
        crate::samba::progress("starting the Microsoft 365 simulator");
        let graph = FakeGraph::start(dc)?;
        let m365_config = write_m365_config(dc, &graph, dir).map_err(|e| e.to_string())?;
        let mut environment = vec![
            ("AD_TOOL_CONFIG", ad_config.display().to_string()),
            ("EWS_TOOL_CONFIG", ews_config.display().to_string()),
            ("M365_TOOL_CONFIG", m365_config.display().to_string()),
            // Journals and the Autodiscover cache stay in the lab's folder.
            ("XDG_STATE_HOME", dir.join("state").display().to_string()),
            // Kerberos: the lab's realm, and a ticket cache of the session's own.
            ("KRB5_CONFIG", dc.krb5_conf.display().to_string()),
            (
                "KRB5CCNAME",
                format!("FILE:{}", dir.join("krb5cc").display()),
            ),
            (
                "LAB_USER_PASSWORD_FILE",
                dc.user_password_file.display().to_string(),
            ),
        ];
        // The simulator's names (a DNS of their own for the lab's web site), through
        // nss_wrapper rather than the machine's resolver.
        let names = crate::fake_ews::HOSTED_NAMES;
        environment.extend(exchange.hosts_env(dir, &names)?);
        Ok(Self {
            exchange,
            graph,
            m365_config,
            environment,
            ad_config,
            ews_config,
        })
    }

    /// The environment the README's commands run in (besides `PATH`).
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        self.environment.clone()
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
