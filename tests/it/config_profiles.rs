//! Settings from a config profile, with flag > environment > profile > default.

use lab::tools::Tool;

use crate::support::dc;

fn config(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn lab_profile(server: &str) -> String {
    let dc = dc();
    format!(
        "[profile.lab]\nserver = \"{server}\"\nuser = \"{}\"\npassword-file = \"{}\"\nca-file = \"{}\"\noutput = \"json\"\n",
        dc.admin_upn(),
        dc.admin_password_file.display(),
        dc.pki.ca_file.display()
    )
}

#[test]
fn a_profile_supplies_the_connection() {
    let (_dir, path) = config(&lab_profile(&dc().server()));
    let out = Tool::new("ad-tool")
        .args(["--config".into(), path.into_os_string()])
        .args(["--profile", "lab", "show-user", "adevries"])
        .run();
    out.expect_code(0);
    assert_eq!(
        out.json()["sam_account_name"],
        "adevries",
        "output = json came from the profile"
    );
}

#[test]
fn default_profile_and_environment_selection() {
    let (_dir, path) = config(&format!(
        "default-profile = \"lab\"\n{}",
        lab_profile(&dc().server())
    ));
    let out = Tool::new("ad-tool")
        .env("AD_TOOL_CONFIG", &path)
        .args(["show-user", "adevries"])
        .run();
    out.expect_code(0);
}

#[test]
fn flags_beat_the_environment_which_beats_the_profile() {
    let (_dir, path) = config(&lab_profile("127.0.0.1:1"));
    let base = || {
        Tool::new("ad-tool")
            .args(["--config".into(), path.clone().into_os_string()])
            .args(["--profile", "lab"])
    };
    // The profile's server is unreachable…
    base().args(["show-user", "adevries"]).run().expect_code(3);
    // …the environment overrides it…
    base()
        .env("AD_TOOL_SERVER", dc().server())
        .args(["show-user", "adevries"])
        .run()
        .expect_code(0);
    // …and a flag overrides the environment.
    base()
        .env("AD_TOOL_SERVER", "127.0.0.1:1")
        .args(["--server", &dc().server(), "show-user", "adevries"])
        .run()
        .expect_code(0);
    // A flag that conflicts with a profile setting wins too (--uri instead of the profile's server).
    base()
        .args([
            "--uri",
            &format!("ldaps://{}", dc().server()),
            "show-user",
            "adevries",
        ])
        .run()
        .expect_code(0);
    // And -o human on the command line beats output = json.
    let human = base()
        .args([
            "--server",
            &dc().server(),
            "-o",
            "human",
            "show-user",
            "adevries",
        ])
        .run();
    human.expect_code(0);
    assert!(
        human.stdout.starts_with("adevries  CN=Anna de Vries"),
        "{}",
        human.stdout
    );
}

#[test]
fn bad_configuration_is_a_usage_error() {
    let (_dir, path) = config("[profile.lab]\npassword = \"secret\"\n");
    let out = Tool::new("ad-tool")
        .args(["--config".into(), path.clone().into_os_string()])
        .args(["--profile", "lab", "show-user", "x"])
        .run();
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("passwords do not belong in the config file"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("secret"));
    let (_dir2, path2) = config(&lab_profile(&dc().server()));
    let out = Tool::new("ad-tool")
        .args(["--config".into(), path2.into_os_string()])
        .args(["--profile", "prod", "show-user", "x"])
        .run();
    out.expect_code(2);
    assert!(
        out.stderr.contains("there is no profile \"prod\""),
        "{}",
        out.stderr
    );
    let out = Tool::new("ad-tool")
        .args(["--config", "/nonexistent/config.toml", "show-user", "x"])
        .run();
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("cannot read the config file /nonexistent/config.toml"),
        "{}",
        out.stderr
    );
}

/// One setting and its four sources: `(tool, setting as config show names it, flag words,
/// environment, profile line, value expected from each source in turn, default value)`.
struct Row {
    tool: &'static str,
    setting: &'static str,
    flag: &'static [&'static str],
    env: Option<(&'static str, &'static str)>,
    profile: Option<&'static str>,
    /// The value `config show` reports for flag, environment, profile and default.
    values: [&'static str; 4],
}

const ROWS: &[Row] = &[
    Row {
        tool: "ad-tool",
        setting: "server",
        flag: &["--server", "dc-flag"],
        env: Some(("AD_TOOL_SERVER", "dc-env")),
        profile: Some("server = \"dc-profile\""),
        values: ["dc-flag", "dc-env", "dc-profile", "-"],
    },
    Row {
        tool: "ad-tool",
        setting: "password",
        flag: &["--password-file", "/flag.pw"],
        env: Some(("AD_TOOL_PASSWORD", "x")),
        profile: Some("password-file = \"/profile.pw\""),
        values: [
            "read from /flag.pw",
            "read from AD_TOOL_PASSWORD",
            "read from /profile.pw",
            "none given",
        ],
    },
    Row {
        tool: "ad-tool",
        setting: "password",
        flag: &["--password-stdin"],
        env: Some(("AD_TOOL_PASSWORD", "x")),
        profile: Some("password-file = \"/profile.pw\""),
        values: [
            "read from stdin",
            "read from AD_TOOL_PASSWORD",
            "read from /profile.pw",
            "none given",
        ],
    },
    Row {
        tool: "ad-tool",
        setting: "dns-server",
        flag: &["--dns-server", "192.0.2.1"],
        env: Some(("AD_TOOL_DNS_SERVER", "192.0.2.2")),
        profile: Some("dns-server = \"192.0.2.3\""),
        values: ["192.0.2.1", "192.0.2.2", "192.0.2.3", "-"],
    },
    Row {
        tool: "ad-tool",
        setting: "user",
        flag: &["--user", "flag@lab.example"],
        env: None,
        profile: Some("user = \"profile@lab.example\""),
        values: ["flag@lab.example", "", "profile@lab.example", "-"],
    },
    Row {
        tool: "ad-tool",
        setting: "ca-file",
        flag: &["--ca-file", "/flag.pem"],
        env: None,
        profile: Some("ca-file = \"/profile.pem\""),
        values: ["/flag.pem", "", "/profile.pem", "-"],
    },
    Row {
        tool: "ad-tool",
        setting: "auth",
        flag: &["--auth", "kerberos"],
        env: None,
        profile: Some("auth = \"simple\""),
        values: ["kerberos", "", "simple", "auto"],
    },
    Row {
        tool: "ad-tool",
        setting: "timeout",
        flag: &["--timeout", "7"],
        env: None,
        profile: Some("timeout = 8"),
        values: ["7", "", "8", "30"],
    },
    Row {
        tool: "ad-tool",
        setting: "starttls",
        flag: &["--starttls"],
        env: None,
        profile: Some("starttls = true"),
        values: ["true", "", "true", "false"],
    },
    Row {
        tool: "ad-tool",
        setting: "insecure",
        flag: &["--insecure"],
        env: None,
        profile: Some("insecure = true"),
        values: ["true", "", "true", "false"],
    },
    Row {
        tool: "ews-tool",
        setting: "directory",
        flag: &["--directory", "ldaps://flag.corp.example"],
        env: Some(("EWS_TOOL_DIRECTORY", "ldap://env.corp.example")),
        profile: Some("directory = \"ldaps://profile.corp.example\""),
        values: [
            "ldaps://flag.corp.example",
            "ldap://env.corp.example",
            "ldaps://profile.corp.example",
            "-",
        ],
    },
    Row {
        tool: "ews-tool",
        setting: "url",
        flag: &["--url", "https://flag/EWS/Exchange.asmx"],
        env: Some(("EWS_TOOL_URL", "https://env/EWS/Exchange.asmx")),
        profile: Some("url = \"https://profile/EWS/Exchange.asmx\""),
        values: [
            "https://flag/EWS/Exchange.asmx",
            "https://env/EWS/Exchange.asmx",
            "https://profile/EWS/Exchange.asmx",
            "autodiscover",
        ],
    },
    Row {
        tool: "ews-tool",
        setting: "password",
        flag: &["--password-file", "/flag.pw"],
        env: Some(("EWS_TOOL_PASSWORD", "x")),
        profile: Some("password-file = \"/profile.pw\""),
        values: [
            "read from /flag.pw",
            "read from EWS_TOOL_PASSWORD",
            "read from /profile.pw",
            "none given",
        ],
    },
    Row {
        tool: "ews-tool",
        setting: "user",
        flag: &["--user", "LAB\\flag"],
        env: None,
        profile: Some("user = \"LAB\\\\profile\""),
        values: ["LAB\\flag", "", "LAB\\profile", "-"],
    },
    Row {
        tool: "ews-tool",
        setting: "server-version",
        flag: &["--server-version", "Exchange2013"],
        env: None,
        profile: Some("server-version = \"Exchange2016\""),
        values: ["Exchange2013", "", "Exchange2016", "Exchange2010_SP2"],
    },
    Row {
        tool: "ews-tool",
        setting: "auth",
        flag: &["--auth", "basic"],
        env: None,
        profile: Some("auth = \"ntlm\""),
        values: ["basic", "", "ntlm", "negotiate"],
    },
    Row {
        tool: "ews-tool",
        setting: "impersonate",
        flag: &["--impersonate"],
        env: None,
        profile: Some("impersonate = true"),
        values: ["true", "", "true", "false"],
    },
    Row {
        tool: "ews-tool",
        setting: "timeout",
        flag: &["--timeout", "7"],
        env: None,
        profile: Some("timeout = 8"),
        values: ["7", "", "8", "60"],
    },
];

/// `config show -o json`'s row for `setting`: (value, origin kind).
fn shown(
    tool: &str,
    setting: &str,
    flag: Option<&[&str]>,
    env: Option<(&str, &str)>,
    config: &std::path::Path,
) -> (String, String) {
    let mut run = Tool::new(tool).env(
        if tool == "ad-tool" {
            "AD_TOOL_CONFIG"
        } else {
            "EWS_TOOL_CONFIG"
        },
        config,
    );
    if let Some((var, value)) = env {
        run = run.env(var, value);
    }
    if let Some(words) = flag {
        run = run.args(words.iter().copied());
    }
    let out = run.args(["config", "show", "-o", "json"]).run();
    out.expect_code(0);
    let document = out.json();
    let row = document["settings"]
        .as_array()
        .and_then(|rows| rows.iter().rev().find(|r| r["name"] == setting))
        .unwrap_or_else(|| panic!("{tool} config show has no {setting}: {document}"))
        .clone();
    (
        row["value"].as_str().unwrap_or("-").to_owned(),
        row["origin"]["kind"].as_str().unwrap_or("-").to_owned(),
    )
}

/// Every setting from every source: a flag beats the environment, which beats the profile,
/// which beats the default (a table over both tools, password sources included).
#[test]
fn precedence_is_flag_then_environment_then_profile_then_default() {
    for row in ROWS {
        for mask in 0u8..8 {
            let (use_flag, use_env, use_profile) = (mask & 1 != 0, mask & 2 != 0, mask & 4 != 0);
            if use_env && row.env.is_none() {
                continue;
            }
            let mut text = String::from("default-profile = \"p\"\n[profile.p]\n");
            if use_profile {
                text.push_str(row.profile.unwrap_or_default());
                text.push('\n');
            }
            let (_dir, path) = config(&text);
            let flag = use_flag.then_some(row.flag);
            let (value, origin) = shown(
                row.tool,
                row.setting,
                flag,
                row.env.filter(|_| use_env),
                &path,
            );
            let (expected, kind) = if use_flag {
                (row.values[0], "flag")
            } else if use_env {
                (row.values[1], "environment")
            } else if use_profile {
                (row.values[2], "profile")
            } else if row.values[3] == "autodiscover" {
                // No URL anywhere: found when a command runs (nothing cached here).
                ("-", "discovered")
            } else {
                (
                    row.values[3],
                    if row.values[3] == "-" || row.values[3] == "none given" {
                        "-"
                    } else {
                        "default"
                    },
                )
            };
            let case = format!(
                "{} {} flag={use_flag} env={use_env} profile={use_profile}",
                row.tool, row.setting
            );
            assert_eq!(value, expected, "{case}");
            assert_eq!(origin, kind, "{case}");
        }
    }
}

/// The environment's password beats a profile's password file, for real: the profile names
/// a file with a wrong password, AD_TOOL_PASSWORD holds the right one, and the bind succeeds.
#[test]
fn the_password_in_the_environment_beats_the_profiles_password_file() {
    let dc = dc();
    let (_wrong_dir, wrong) = crate::support::secret_file("Not-The-Password-1!");
    let (_dir, path) = config(&format!(
        "[profile.lab]\nserver = \"{}\"\nuser = \"{}\"\npassword-file = \"{}\"\nca-file = \"{}\"\n",
        dc.server(),
        dc.admin_upn(),
        wrong.display(),
        dc.pki.ca_file.display()
    ));
    let base = || {
        Tool::new("ad-tool")
            .args(["--config".into(), path.clone().into_os_string()])
            .args(["--profile", "lab", "show-user", "adevries"])
    };
    base().run().expect_code(4);
    base()
        .env("AD_TOOL_PASSWORD", lab::samba::ADMIN_PASSWORD)
        .run()
        .expect_code(0);
}

/// A typo in the config file is named with the key meant; an unknown profile lists the real ones.
#[test]
fn typos_in_the_config_file_are_named() {
    let (_dir, path) = config("[profile.lab]\nservr = \"dc1\"\n[profile.prod]\nserver = \"dc2\"\n");
    let out = Tool::new("ad-tool")
        .args(["--config".into(), path.clone().into_os_string()])
        .args(["--profile", "lab", "config", "show"])
        .run();
    out.expect_code(0);
    assert!(
        out.stderr.contains(
            "\"servr\" is not a setting of any tool and is ignored; did you mean \"server\"?"
        ),
        "{}",
        out.stderr
    );
    let out = Tool::new("ews-tool")
        .args(["--config".into(), path.into_os_string()])
        .args(["--profile", "staging", "config", "show"])
        .run();
    out.expect_code(2);
    assert!(
        out.stderr.contains("there is no profile \"staging\"")
            && out.stderr.contains("profiles lab, prod"),
        "{}",
        out.stderr
    );
}

/// A config file that does not parse is named with its line, never with the line's text: a
/// password pasted there by mistake stays off the screen (both tools).
#[test]
fn a_broken_config_file_never_shows_its_text() {
    let (_dir, path) =
        config("[profile.lab]\nserver = \"dc1\"\npassword-file = \"/tmp/x\nHunter2-Very-Secret\n");
    for tool in ["ad-tool", "ews-tool"] {
        let out = Tool::new(tool)
            .args(["--config".into(), path.clone().into_os_string()])
            .args(["config", "show"])
            .run();
        out.expect_code(2);
        assert!(out.stderr.contains(": line "), "{tool}: {}", out.stderr);
        assert!(!out.stderr.contains("Hunter2"), "{tool}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
}
