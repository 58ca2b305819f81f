//! `lab`: bring up the lab and run the main job against it, the way an administrator would.
//!
//!     lab demo    start the lab, run the whole job with the tools, show the result, stop
//!     lab up      start the lab, print how to reach it, wait for Enter (or Ctrl-C), stop

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

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

/// A config file with a `lab` profile, so the commands below read like everyday use.
fn write_profile(dc: &SambaDc) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let path = dc.dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "default-profile = \"lab\"\n\n[profile.lab]\nserver = \"{}\"\nuser = \"{}\"\npassword-file = \"{}\"\nca-file = \"{}\"\n",
            dc.server(),
            dc.admin_upn(),
            dc.admin_password_file.display(),
            dc.pki.ca_file.display()
        ),
    )?;
    Ok(path)
}

fn up() -> Result<(), Box<dyn std::error::Error>> {
    let dc = SambaDc::start()?;
    let config = write_profile(&dc)?;
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
    println!(
        "\nTry:\n  AD_TOOL_CONFIG={} target/debug/ad-tool mailboxes --base \"OU=Staff,{}\"",
        config.display(),
        seed::DOMAIN_DN
    );
    println!("\nPress Enter to stop it.");
    let _ = std::io::stdin().lock().read_line(&mut String::new());
    Ok(())
}

struct Step<'a> {
    config: &'a Path,
}

impl Step<'_> {
    fn run(&self, title: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        println!(
            "\n## {title}\n$ ad-tool {}",
            args.iter()
                .map(|a| if a.contains(' ') {
                    format!("\"{a}\"")
                } else {
                    (*a).to_owned()
                })
                .collect::<Vec<_>>()
                .join(" ")
        );
        let output = Tool::new("ad-tool")
            .env("AD_TOOL_CONFIG", self.config)
            .args(args)
            .run();
        print!("{}", output.stdout);
        eprint!("{}", output.stderr);
        if output.code != 0 {
            return Err(format!("ad-tool exited with {}", output.code).into());
        }
        Ok(output.stdout)
    }
}

fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let dc = SambaDc::start()?;
    let config = write_profile(&dc)?;
    println!(
        "Lab domain controller {} ({}); profile \"lab\" in {}",
        dc.server(),
        dc.fqdn,
        config.display()
    );
    let step = Step { config: &config };
    let csv = dc.dir.join("service-accounts.csv");
    std::fs::write(
        &csv,
        "name,upn,display-name\n\
         sa-mytt-exch-1,sa-mytt-exch-1@lab.example,MyTimetable Exchange Service Account 1\n\
         sa-mytt-exch-2,sa-mytt-exch-2@lab.example,MyTimetable Exchange Service Account 2\n\
         sa-mytt-exch-3,sa-mytt-exch-3@lab.example,MyTimetable Exchange Service Account 3\n",
    )?;
    let passwords = dc.dir.join("service-account-passwords.csv");
    let ou = seed::SERVICE_ACCOUNTS_OU;
    let csv_arg = csv.display().to_string();
    let passwords_arg = passwords.display().to_string();
    step.run(
        "Service accounts, as New-ADUser -PasswordNeverExpires -CannotChangePassword -AccountExpirationDate 0 -Enabled would make them",
        &["create-user", "--from-csv", &csv_arg, "--path", ou, "--service-account", "--generate-password", "--generated-password-file", &passwords_arg, "--if-exists", "update"],
    )?;
    println!("(passwords in {passwords_arg}, mode 0600)");
    step.run(
        "The same again: nothing changes",
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
    )?;
    step.run(
        "A universal security group holding them",
        &[
            "create-group",
            "--name",
            "MyTimetable Service Accounts",
            "--path",
            &format!("OU=Groups,{}", seed::DOMAIN_DN),
            "--member",
            "sa-mytt-exch-1",
            "--member",
            "sa-mytt-exch-2",
            "--member",
            "sa-mytt-exch-3",
            "--if-exists",
            "update",
        ],
    )?;
    step.run("One of them in detail", &["show-user", "sa-mytt-exch-1"])?;
    let mailboxes = step.run(
        "The mailboxes of the Staff OU",
        &[
            "mailboxes",
            "--base",
            &format!("OU=Staff,{}", seed::DOMAIN_DN),
        ],
    )?;
    println!(
        "\n{} mailboxes found; the lab stops now.",
        mailboxes.lines().count()
    );
    Ok(())
}
