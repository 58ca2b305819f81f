//! `m365-tool create-user`: the cloud service account as the setup guide's `New-MsolUser …
//! -PasswordNeverExpires $true` made it: enabled, its password never expiring and not to be
//! changed at first sign-in, with a usage location so it can be licensed. An existing account
//! is failed on, skipped, or converged property by property (`--if-exists`).

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use common::args::IfExists;
use common::files::GeneratedPasswordFile;
use common::secret::{Secret, SecretRequest, read_secret};
use common::{CommandError, ExitStatus};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::account::{self, AccountSpec};
use crate::context::Context;
use crate::graph::{Call, Graph, GraphError, segment};

/// Length of generated passwords (Microsoft Entra ID allows up to 256).
const GENERATED_LENGTH: usize = 24;

/// Options of `create-user`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  m365-tool create-user --upn svc-mytt@contoso.onmicrosoft.com \\
      --display-name \"MyTimetable Service Account\" --usage-location NL \\
      --generate-password --generated-password-file m365-passwords.csv
  m365-tool create-user --upn svc-mytt@contoso.onmicrosoft.com --usage-location NL \\
      --if-exists update --dry-run"
))]
pub struct CreateUserArgs {
    /// The account's user principal name (name@domain of the tenant)
    #[arg(long, value_name = "UPN")]
    pub upn: String,

    /// The name shown in address lists [default: the mail nickname]
    #[arg(long, value_name = "TEXT")]
    pub display_name: Option<String>,

    /// The Exchange alias [default: the UPN's name]
    #[arg(long, value_name = "ALIAS")]
    pub mail_nickname: Option<String>,

    /// Where the account is used, as a two-letter country code (needed before a licence)
    #[arg(long, value_name = "CC")]
    pub usage_location: Option<String>,

    /// Read the new account's password from the first line of FILE
    #[arg(long, value_name = "FILE", conflicts_with_all = ["generate_password", "account_password_stdin"])]
    pub account_password_file: Option<PathBuf>,

    /// Read the new account's password from the first line of stdin
    #[arg(long, conflicts_with_all = ["generate_password", "password_stdin"])]
    pub account_password_stdin: bool,

    /// Generate a strong password (printed once, or see --generated-password-file)
    #[arg(long)]
    pub generate_password: bool,

    /// Add generated passwords to this file instead of printing them ("upn,password" rows
    /// under the header the tools share; created mode 0600, added to on later runs)
    #[arg(long, value_name = "FILE", requires = "generate_password")]
    pub generated_password_file: Option<PathBuf>,

    /// What to do when the account exists
    #[arg(long, value_enum, default_value_t = IfExists::Fail, value_name = "fail|skip|update")]
    pub if_exists: IfExists,

    /// Print the requests that would be sent; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// What became of the account.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserRecord {
    /// `userPrincipalName`.
    pub upn: String,
    /// Its object id, once it exists.
    pub id: Option<String>,
    /// `created`, `updated`, `unchanged`, `skipped`, `would-create`, `would-update`.
    pub action: &'static str,
    /// `displayName`.
    pub display_name: String,
    /// `mailNickname`.
    pub mail_nickname: String,
    /// `usageLocation`.
    pub usage_location: Option<String>,
    /// The properties changed (or that would be).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// A generated password not written to a file, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
    /// Where a generated password was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password_file: Option<String>,
    /// With --dry-run: the request that would be sent (the password left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
}

impl UserRecord {
    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}: {}", self.upn, self.action)?;
        if let Some(id) = &self.id {
            writeln!(out, "  id              {id}")?;
        }
        writeln!(out, "  display name    {}", self.display_name)?;
        writeln!(out, "  mail nickname   {}", self.mail_nickname)?;
        if let Some(location) = &self.usage_location {
            writeln!(out, "  usage location  {location}")?;
        }
        if !self.changed.is_empty() {
            writeln!(out, "  changed         {}", self.changed.join(", "))?;
        }
        if let Some(password) = &self.generated_password {
            writeln!(
                out,
                "  password        {password}  (shown once: keep it now)"
            )?;
        }
        if let Some(file) = &self.generated_password_file {
            writeln!(out, "  password        written to {file}")?;
        }
        if let Some(request) = &self.request {
            let text = serde_json::to_string_pretty(request).map_err(io::Error::other)?;
            writeln!(out, "  would send      {text}")?;
        }
        Ok(())
    }
}

fn user_path(upn: &str) -> String {
    format!("/users/{}?$select={}", segment(upn), account::SELECT)
}

/// The account, or `None` when Graph does not know it.
pub async fn find(graph: &Graph, upn: &str) -> Result<Option<Value>, GraphError> {
    match graph
        .get(user_path(upn), format!("reading {upn}"), "User.Read.All")
        .await
    {
        Ok(user) => Ok(Some(user)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs `create-user`.
pub async fn run(args: CreateUserArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let spec = AccountSpec::new(
        &args.upn,
        args.display_name.as_deref(),
        args.mail_nickname.as_deref(),
        args.usage_location.as_deref(),
    )
    .map_err(|e| CommandError::usage(e.to_string()).with_code("input"))?;
    let passwords = args
        .generated_password_file
        .as_deref()
        .map(GeneratedPasswordFile::prepare)
        .transpose()
        .map_err(|e| {
            CommandError::usage(format!(
                "--generated-password-file {}: {e}",
                args.generated_password_file
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display()
            ))
            .with_code("password-file")
        })?;
    let graph = ctx.graph().await?;
    let existing = find(&graph, &spec.upn)
        .await
        .map_err(|e| e.explain().with_item(&spec.upn))?;
    let mut record = UserRecord {
        upn: spec.upn.clone(),
        display_name: spec.display_name.clone(),
        mail_nickname: spec.mail_nickname.clone(),
        usage_location: spec.usage_location.clone(),
        ..UserRecord::default()
    };
    match existing {
        None => create(&graph, &spec, &args, passwords.as_ref(), &mut record).await?,
        Some(user) => converge(&graph, &spec, &args, &user, &mut record).await?,
    }
    ctx.print_one(&record, |w| record.write_human(w))?;
    Ok(ExitStatus::Success)
}

async fn create(
    graph: &Graph,
    spec: &AccountSpec,
    args: &CreateUserArgs,
    passwords: Option<&GeneratedPasswordFile>,
    record: &mut UserRecord,
) -> Result<(), CommandError> {
    if args.dry_run {
        let mut body = spec.create_body(&Secret::new(String::new()));
        body["passwordProfile"]["password"] = Value::String("(not shown)".into());
        record.action = "would-create";
        record.request =
            Some(serde_json::json!({"method": "POST", "path": "/v1.0/users", "body": body}));
        return Ok(());
    }
    let (password, generated) = new_password(args, &spec.upn)?;
    // A generated password goes to its file, synced, before the account exists, so it is
    // never lost; a refused creation takes the row back.
    let mut guard = match (generated, passwords) {
        (true, Some(file)) => Some(file.lock().await.map_err(|e| {
            CommandError::new(
                ExitStatus::ItemsFailed,
                format!("cannot write {}: {e}", file.path().display()),
            )
            .with_code("password-file")
        })?),
        _ => None,
    };
    let row = match guard.as_mut() {
        Some(guard) => Some(guard.write(&spec.upn, &password).map_err(|e| {
            CommandError::new(
                ExitStatus::ItemsFailed,
                format!("cannot write the generated password: {e}"),
            )
            .with_hint("free space or fix the file's permissions; nothing was created")
            .with_code("password-file")
        })?),
        None => None,
    };
    let body = spec.create_body(&password);
    let sent = graph
        .send(&Call {
            method: Method::POST,
            path: "/users".into(),
            body: Some(&body),
            what: format!("creating {}", spec.upn),
            permission: "User.ReadWrite.All",
        })
        .await;
    let created = match sent {
        Ok((_, user)) => user,
        Err(error @ GraphError::Reach { .. }) => {
            // The request may have been carried out: only a read can tell.
            match find(graph, &spec.upn).await {
                Ok(Some(user)) => user,
                _ => {
                    return Err(error
                        .explain()
                        .with_item(&spec.upn)
                        .with_hint("run the same command again with --if-exists update: it finds the account if it was made"));
                }
            }
        }
        Err(error) => {
            if let (Some(guard), Some(row)) = (guard.as_mut(), row) {
                let _ = guard.withdraw(row);
            }
            return Err(refusal(&error, spec).with_item(&spec.upn));
        }
    };
    record.action = "created";
    record.id = created.get("id").and_then(Value::as_str).map(str::to_owned);
    if generated {
        match passwords {
            Some(file) => record.generated_password_file = Some(file.path().display().to_string()),
            None => record.generated_password = Some(password.expose().to_owned()),
        }
    }
    Ok(())
}

/// Graph's refusal of a creation in admin words.
fn refusal(error: &GraphError, spec: &AccountSpec) -> CommandError {
    let domain = spec.upn.rsplit_once('@').map_or("", |(_, d)| d);
    match error.code() {
        Some("Request_BadRequest") if error.to_string().contains("domain") => {
            CommandError::new(ExitStatus::ItemsFailed, format!("{domain} is not a verified domain of the tenant"))
                .with_hint("use a UPN in one of the tenant's domains (name@TENANT.onmicrosoft.com always works)")
                .with_code("domain")
        }
        Some("Request_BadRequest") if error.to_string().to_ascii_lowercase().contains("password") => {
            CommandError::new(ExitStatus::ItemsFailed, "the password does not meet the tenant's password rules")
                .with_hint("use 8 to 256 characters with three of: upper case, lower case, digits, symbols; or --generate-password")
                .with_code("password-policy")
        }
        _ => error.explain(),
    }
}

fn new_password(args: &CreateUserArgs, upn: &str) -> Result<(Secret, bool), CommandError> {
    if args.generate_password {
        let password = common::secret::random_password(GENERATED_LENGTH).map_err(|e| {
            CommandError::new(ExitStatus::ItemsFailed, e.to_string()).with_code("random")
        })?;
        return Ok((password, true));
    }
    if args.account_password_file.is_none() && !args.account_password_stdin {
        return Err(CommandError::usage(format!(
            "{upn} does not exist and no password was given for it"
        ))
        .with_hint(
            "pass --generate-password, --account-password-file FILE or --account-password-stdin",
        )
        .with_code("password"));
    }
    let what = format!("password for the new account {upn}");
    let request = SecretRequest {
        what: &what,
        file: args.account_password_file.as_deref(),
        stdin: args.account_password_stdin,
        env_var: None,
        prompt: false,
        confirm: false,
        how_to_pass: "--account-password-file FILE or --account-password-stdin",
    };
    let password = read_secret(&request)
        .map_err(|e| CommandError::usage(e.to_string()).with_code("password"))?;
    Ok((password, false))
}

async fn converge(
    graph: &Graph,
    spec: &AccountSpec,
    args: &CreateUserArgs,
    user: &Value,
    record: &mut UserRecord,
) -> Result<(), CommandError> {
    record.id = user.get("id").and_then(Value::as_str).map(str::to_owned);
    match args.if_exists {
        IfExists::Fail => {
            return Err(CommandError::new(
                ExitStatus::Exists,
                format!("{} already exists", spec.upn),
            )
            .with_hint(
                "pass --if-exists skip to leave it, or --if-exists update to make it as asked",
            )
            .with_code("exists"));
        }
        IfExists::Skip => {
            record.action = "skipped";
            return Ok(());
        }
        IfExists::Update => {}
    }
    let changes = spec.changes(user);
    record.changed = changes.keys().cloned().collect();
    if changes.is_empty() {
        record.action = "unchanged";
        return Ok(());
    }
    let body = Value::Object(changes);
    if args.dry_run {
        record.action = "would-update";
        record.request = Some(
            serde_json::json!({"method": "PATCH", "path": format!("/v1.0/users/{}", record.id.as_deref().unwrap_or("")), "body": body}),
        );
        return Ok(());
    }
    let id = record.id.clone().unwrap_or_else(|| spec.upn.clone());
    graph
        .send(&Call {
            method: Method::PATCH,
            path: format!("/users/{}", segment(&id)),
            body: Some(&body),
            what: format!("updating {}", spec.upn),
            permission: "User.ReadWrite.All",
        })
        .await
        .map_err(|e| refusal(&e, spec).with_item(&spec.upn))?;
    record.action = "updated";
    Ok(())
}
