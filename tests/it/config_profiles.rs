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
