//! `lab`: bring up the lab and run the main job against it, the way an administrator would.
//!
//!     lab demo    start the lab (DC and Exchange simulator), run the whole job with the
//!                 tools, show the result, stop
//!     lab up      start the lab, print how to reach it, wait for Enter (or Ctrl-C), stop

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use lab::fake_ews::FakeEws;
use lab::samba::SambaDc;
use lab::seed;
use lab::tools::Tool;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("up") => up(),
        _ => {
            eprintln!(
                "usage: lab demo | lab up\n  demo  start the lab and run the whole job with the tools\n  up    start the lab and wait"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `file` in the lab's directory: a config whose `lab` profile (the default) holds
/// `settings`, so the commands below read like everyday use.
fn write_config(
    dc: &SambaDc,
    file: &str,
    settings: &[(&str, String)],
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let mut text = String::from("default-profile = \"lab\"\n\n[profile.lab]\n");
    for (key, value) in settings {
        let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(text, "{key} = \"{quoted}\"");
    }
    let path = dc.dir.join(file);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// ad-tool's config: the lab DC as its administrator.
fn write_profile(dc: &SambaDc) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    write_config(
        dc,
        "config.toml",
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

/// ews-tool's config: `exchange`, logged on as `user` of the lab's domain.
fn write_ews_profile(
    dc: &SambaDc,
    exchange: &FakeEws,
    user: &str,
    password_file: &Path,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    write_config(
        dc,
        "ews-config.toml",
        &[
            ("url", exchange.url.clone()),
            ("user", format!("{}\\{user}", seed::NETBIOS_DOMAIN)),
            ("password-file", password_file.display().to_string()),
            ("ca-file", dc.pki.ca_file.display().to_string()),
        ],
    )
}

fn up() -> Result<(), Box<dyn std::error::Error>> {
    let dc = SambaDc::start()?;
    let config = write_profile(&dc)?;
    let exchange = FakeEws::start(&dc, &serde_json::json!({}))?;
    let service = seed::operators::CALENDAR_SERVICE;
    let mut full_access = serde_json::Map::new();
    for person in dc.people.iter().filter(|p| !p.mail.is_empty()) {
        full_access.insert(person.mail.clone(), serde_json::json!([service]));
    }
    exchange.set_access(&serde_json::json!({ "full_access": full_access }));
    let ews_config = write_ews_profile(&dc, &exchange, service, &dc.user_password_file)?;
    println!("The lab's domain controller is up:");
    println!(
        "  address         {} ({} in its certificate)",
        dc.server(),
        dc.fqdn
    );
    println!(
        "  administrator   {} (password in {})",
        dc.admin_upn(),
        dc.admin_password_file.display()
    );
    println!("  CA certificate  {}", dc.pki.ca_file.display());
    println!("  config profile  {}", config.display());
    println!("And the Exchange simulator in front of it:");
    println!("  EWS             {}", exchange.url);
    println!(
        "  logon           {}\\{service} (FullAccess on every mailbox; password in {})",
        seed::NETBIOS_DOMAIN,
        dc.user_password_file.display()
    );
    println!("  config profile  {}", ews_config.display());
    println!(
        "\nTry:\n  export AD_TOOL_CONFIG={} EWS_TOOL_CONFIG={}\n  target/debug/ad-tool mailboxes --base \"OU=Staff,{}\" \\\n    | target/debug/ews-tool grant --to {} --level Reviewer --mailboxes-file -",
        config.display(),
        ews_config.display(),
        seed::DOMAIN_DN,
        seed::TIMETABLE_GROUP_MAIL
    );
    println!("\nPress Enter to stop it.");
    let _ = std::io::stdin().lock().read_line(&mut String::new());
    Ok(())
}

struct Step<'a> {
    ad_config: &'a Path,
    ews_config: &'a Path,
}

impl Step<'_> {
    /// Runs `tool` with `args` (and `stdin`), echoing the command line and its output.
    fn run(
        &self,
        title: &str,
        tool: &str,
        args: &[&str],
        stdin: Option<(&str, &str)>,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let shown = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("\"{a}\"")
                } else {
                    (*a).to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        match stdin {
            Some((source, _)) => println!("\n## {title}\n$ {source} \\\n    | {tool} {shown}"),
            None => println!("\n## {title}\n$ {tool} {shown}"),
        }
        let mut command = Tool::new(tool)
            .env("AD_TOOL_CONFIG", self.ad_config)
            .env("EWS_TOOL_CONFIG", self.ews_config)
            .args(args);
        if let Some((_, input)) = stdin {
            command = command.stdin(input.to_owned());
        }
        let output = command.run();
        print!("{}", output.stdout);
        eprint!("{}", output.stderr);
        if output.code != 0 {
            return Err(format!("{tool} exited with {}", output.code).into());
        }
        Ok(output.stdout)
    }
}

/// The service accounts the demo creates, and the group holding them.
const ACCOUNTS: [&str; 3] = ["sa-mytt-exch-1", "sa-mytt-exch-2", "sa-mytt-exch-3"];
const GROUP: &str = "MyTimetable Service Accounts";
const GROUP_MAIL: &str = "mytt-service-accounts@lab.example";

fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let dc = SambaDc::start()?;
    let ad_config = write_profile(&dc)?;
    println!(
        "Lab domain controller {} ({}); profile \"lab\" in {}",
        dc.server(),
        dc.fqdn,
        ad_config.display()
    );
    let csv = dc.dir.join("service-accounts.csv");
    let mut rows = String::from("name,upn,display-name\n");
    for (n, sam) in ACCOUNTS.iter().enumerate() {
        let _ = writeln!(
            rows,
            "{sam},{sam}@{},MyTimetable Exchange Service Account {}",
            seed::DNS_DOMAIN,
            n + 1
        );
    }
    std::fs::write(&csv, rows)?;
    let passwords = dc.dir.join("service-account-passwords.csv");
    // ews-tool logs on as the first service account; its profile names the password file
    // written below, once ad-tool has generated the password.
    let ews_password = dc.dir.join("sa-mytt-exch-1.password");
    let exchange = FakeEws::start(&dc, &serde_json::json!({}))?;
    let ews_config = write_ews_profile(&dc, &exchange, ACCOUNTS[0], &ews_password)?;
    let step = Step {
        ad_config: &ad_config,
        ews_config: &ews_config,
    };
    let ou = seed::SERVICE_ACCOUNTS_OU;
    let csv_arg = csv.display().to_string();
    let passwords_arg = passwords.display().to_string();
    step.run(
        "Service accounts, as New-ADUser -PasswordNeverExpires -CannotChangePassword -AccountExpirationDate 0 -Enabled would make them",
        "ad-tool",
        &["create-user", "--from-csv", &csv_arg, "--path", ou, "--service-account", "--generate-password", "--generated-password-file", &passwords_arg, "--if-exists", "update"],
        None,
    )?;
    println!("(passwords in {passwords_arg}, mode 0600)");
    step.run(
        "The same again: nothing changes",
        "ad-tool",
        &[
            "create-user",
            "--from-csv",
            &csv_arg,
            "--path",
            ou,
            "--service-account",
            "--if-exists",
            "update",
        ],
        None,
    )?;
    let groups_ou = format!("OU=Groups,{}", seed::DOMAIN_DN);
    let mut group_args = vec![
        "create-group",
        "--name",
        GROUP,
        "--path",
        &groups_ou,
        "--mail",
        GROUP_MAIL,
    ];
    for sam in ACCOUNTS {
        group_args.extend(["--member", sam]);
    }
    group_args.extend(["--if-exists", "update"]);
    step.run(
        "A mail-enabled universal security group holding them",
        "ad-tool",
        &group_args,
        None,
    )?;
    step.run(
        "One of them in detail",
        "ad-tool",
        &["show-user", ACCOUNTS[0]],
        None,
    )?;
    let staff = format!("OU=Staff,{}", seed::DOMAIN_DN);
    let mailboxes = step.run(
        "The mailboxes of the Staff OU",
        "ad-tool",
        &["mailboxes", "--base", &staff],
        None,
    )?;

    // The Exchange side: FullAccess for the first service account on those mailboxes (what
    // Add-MailboxPermission does), set in the simulator; and its password from ad-tool's file.
    let mut full_access = serde_json::Map::new();
    for mailbox in mailboxes.lines() {
        full_access.insert(mailbox.to_owned(), serde_json::json!([ACCOUNTS[0]]));
    }
    exchange.set_access(&serde_json::json!({ "full_access": full_access }));
    let generated = std::fs::read_to_string(&passwords)?;
    let password = generated
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{},", ACCOUNTS[0])))
        .ok_or("the generated password of sa-mytt-exch-1 is missing")?;
    common::secret::write_private_file(&ews_password, &format!("{password}\n"))?;
    println!(
        "\nExchange (simulated) at {}; {} has FullAccess on the {} mailboxes; ews-tool's profile in {}",
        exchange.url,
        ACCOUNTS[0],
        mailboxes.lines().count(),
        ews_config.display()
    );

    step.run(
        "The service account logs on to Exchange",
        "ews-tool",
        &["check", "--mailbox", "anna.devries@lab.example"],
        None,
    )?;
    let report = dc.dir.join("grant-report.csv");
    let report_arg = report.display().to_string();
    let pipe_source = format!("ad-tool mailboxes --base \"{staff}\"");
    step.run(
        "The group gets Editor on every Staff calendar",
        "ews-tool",
        &[
            "grant",
            "--to",
            GROUP_MAIL,
            "--level",
            "Editor",
            "--mailboxes-file",
            "-",
            "--report",
            &report_arg,
        ],
        Some((&pipe_source, &mailboxes)),
    )?;
    println!("(report in {report_arg})");
    step.run(
        "The same again: nothing to write",
        "ews-tool",
        &[
            "grant",
            "--to",
            GROUP_MAIL,
            "--level",
            "Editor",
            "--mailboxes-file",
            "-",
        ],
        Some((&pipe_source, &mailboxes)),
    )?;
    step.run(
        "One calendar's permissions now",
        "ews-tool",
        &["list", "--mailbox", "anna.devries@lab.example"],
        None,
    )?;
    println!("\nDone; the lab stops now.");
    Ok(())
}
