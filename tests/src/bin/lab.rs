//! `lab`: bring up the lab and run the main job against it, the way an administrator would.
//!
//!     lab demo    start the lab (DC and Exchange simulator), run the whole job with the
//!                 tools, show the result, stop
//!     lab up      start the lab, print the environment that points the tools at it, wait
//!                 for Enter (or Ctrl-C), stop

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use lab::fake_ews::FakeEws;
use lab::fake_graph::FakeGraph;
use lab::samba::SambaDc;
use lab::seed;
use lab::session::{self, Session};
use lab::tools::Tool;

const USAGE: &str = "\
usage: lab demo | lab up
  demo  start the lab (a Samba AD DC and the Exchange simulator), run the whole job with the
        tools, show the result, stop
  up    start the lab, print the lines that point the tools at it, wait for Enter, stop";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("up") => up(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
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

/// Where the tools are: next to this binary, as cargo builds them.
fn tools_dir() -> std::path::PathBuf {
    lab::tools::binary("ad-tool")
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

fn up() -> Result<(), Box<dyn std::error::Error>> {
    let dc = SambaDc::start()?;
    let session = Session::start(&dc, &dc.dir)?;
    println!("The lab is up:");
    println!(
        "  domain controller  {} ({} in its certificate), domain {}",
        dc.server(),
        dc.fqdn,
        seed::DNS_DOMAIN
    );
    println!(
        "  administrator      {} (password in {})",
        dc.admin_upn(),
        dc.admin_password_file.display()
    );
    println!("  CA certificate     {}", dc.pki.ca_file.display());
    println!("  Exchange (EWS)     {}", session.exchange.url);
    println!(
        "  EWS logon          {}\\{} (FullAccess on every mailbox; password in {})",
        seed::NETBIOS_DOMAIN,
        session::EWS_LOGON,
        dc.user_password_file.display()
    );
    println!(
        "  Microsoft 365      {} (tenant {}, app {} signing in with {})",
        session.graph.url,
        FakeGraph::tenant_id(),
        FakeGraph::client_id(),
        session.graph.certificate.display()
    );
    println!("\nPaste this into another shell; the README's commands then run as written:\n");
    print!("{}", session.paste_block(&tools_dir()));
    println!("\nPress Enter here to stop the lab.");
    let _ = std::io::stdin().lock().read_line(&mut String::new());
    Ok(())
}

/// The config files the tools run with: ad-tool's, ews-tool's, m365-tool's.
struct Step<'a> {
    configs: [&'a Path; 3],
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
            .env("AD_TOOL_CONFIG", self.configs[0])
            .env("EWS_TOOL_CONFIG", self.configs[1])
            .env("M365_TOOL_CONFIG", self.configs[2])
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
    let ad_config = session::write_ad_config(&dc, &dc.dir)?;
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
    lab::samba::progress("starting the Exchange simulator");
    let exchange = FakeEws::start(&dc, &serde_json::json!({}))?;
    let ews_config =
        session::write_ews_config(&dc, &exchange, &dc.dir, ACCOUNTS[0], &ews_password)?;
    lab::samba::progress("starting the Microsoft 365 simulator");
    let graph = FakeGraph::start(&dc)?;
    let m365_config = session::write_m365_config(&dc, &graph, &dc.dir)?;
    let step = Step {
        configs: [&ad_config, &ews_config, &m365_config],
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
    // Exchange's own step, which ad-tool cannot take (it said so, with the cmdlet to run):
    // done here as Enable-DistributionGroup leaves it in the directory.
    let group_dn = format!("CN={GROUP},{groups_ou}");
    println!(
        "\n== Exchange's step: Enable-DistributionGroup -Identity \"{group_dn}\" -PrimarySmtpAddress {GROUP_MAIL}\n(the lab has no Exchange Management Shell: lab::mail_enable writes what the cmdlet leaves in the directory)"
    );
    lab::mail_enable::enable_distribution_group(&dc, &group_dn)?;
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
    common::secret::write_private_file(&ews_password, format!("{password}\n"))?;
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
    microsoft_365(&step, &dc)?;
    println!("\nDone; the lab stops now.");
    Ok(())
}

/// The cloud service account the demo's Microsoft 365 half creates.
const CLOUD_ACCOUNT: &str = "sa-mytt-cloud@labexample.onmicrosoft.com";

/// The seed's Office 365 half against the simulated tenant: the cloud account, an
/// Exchange-only licence, Editor on the calendars of the office that moved to Exchange Online.
fn microsoft_365(step: &Step<'_>, dc: &SambaDc) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "\n== The Microsoft 365 half: a simulated tenant ({}), the app signing in with its certificate; profile in {}",
        FakeGraph::tenant_id(),
        step.configs[2].display()
    );
    let passwords = dc.dir.join("cloud-passwords.csv");
    let passwords_arg = passwords.display().to_string();
    step.run(
        "The cloud service account, its password never expiring",
        "m365-tool",
        &[
            "create-user",
            "--upn",
            CLOUD_ACCOUNT,
            "--display-name",
            "MyTimetable Service Account (cloud)",
            "--usage-location",
            "NL",
            "--generate-password",
            "--generated-password-file",
            &passwords_arg,
            "--if-exists",
            "update",
        ],
        None,
    )?;
    println!("(password in {passwords_arg}, mode 0600)");
    step.run(
        "An Office 365 E3 licence with only Exchange Online enabled",
        "m365-tool",
        &[
            "assign-license",
            CLOUD_ACCOUNT,
            "--sku",
            "ENTERPRISEPACK",
            "--only",
            "EXCHANGE_S_ENTERPRISE",
        ],
        None,
    )?;
    let utrecht = format!("OU=Utrecht,OU=Staff,{}", seed::DOMAIN_DN);
    let mailboxes = step.run(
        "The mailboxes of the office in Exchange Online (Utrecht)",
        "ad-tool",
        &["mailboxes", "--base", &utrecht],
        None,
    )?;
    let pipe_source = format!("ad-tool mailboxes --base \"{utrecht}\"");
    step.run(
        "The cloud account gets Editor on those calendars",
        "m365-tool",
        &[
            "grant",
            "--to",
            CLOUD_ACCOUNT,
            "--level",
            "Editor",
            "--mailboxes-file",
            "-",
        ],
        Some((&pipe_source, &mailboxes)),
    )?;
    let first = mailboxes.lines().next().ok_or("no Utrecht mailbox")?;
    step.run(
        "One of those calendars' permissions now",
        "m365-tool",
        &["list", "--mailbox", first],
        None,
    )?;
    Ok(())
}
