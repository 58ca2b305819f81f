//! `m365-tool create-user`: the cloud service account as the setup guide's `New-MsolUser …
//! -PasswordNeverExpires $true` made it: enabled, its password never expiring and not to be
//! changed at first sign-in, with a usage location so it can be licensed. An existing account
//! is failed on, skipped, or converged property by property (`--if-exists`). One account from
//! the options, or one per row of `--from-csv` (the file checked whole first, the options
//! filling empty cells, each row reported on its own).

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use common::args::IfExists;
use common::files::{GENERATED_CLOUD_PASSWORD_HEADER, GeneratedPasswordFile};
use common::report::ErrorRecord;
use common::secret::{Secret, SecretRequest, read_secret};
use common::{CommandError, ExitStatus};
use reqwest::Method;
use serde::Deserialize;
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
      --if-exists update --dry-run
  m365-tool create-user --from-csv cloud-accounts.csv --usage-location NL \\
      --generate-password --generated-password-file m365-passwords.csv --if-exists skip"
))]
pub struct CreateUserArgs {
    /// The account.
    #[command(flatten)]
    pub account: AccountCells,

    /// One account per row of FILE, whose first line names the columns: upn, display-name,
    /// mail-nickname, usage-location, account-password-file (relative to FILE's folder, used
    /// before --generate-password); the options fill empty cells
    #[arg(long, value_name = "FILE.csv")]
    pub from_csv: Option<PathBuf>,

    /// Let account-password-file cells name files outside the CSV file's folder
    #[arg(long, requires = "from_csv")]
    pub allow_password_files_anywhere: bool,

    /// Read the new account's password from the first line of stdin
    #[arg(long, conflicts_with_all = ["generate_password", "password_stdin", "from_csv"])]
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

/// One account's settings: the options, which are also the columns of `--from-csv`.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AccountCells {
    /// The account's user principal name (name@domain of the tenant)
    #[arg(long, value_name = "UPN", required_unless_present = "from_csv")]
    pub upn: Option<String>,

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
}

impl AccountCells {
    /// These cells, with `defaults` (the options) where a cell is empty.
    fn or(self, defaults: &AccountCells) -> AccountCells {
        AccountCells {
            upn: self.upn.or_else(|| defaults.upn.clone()),
            display_name: self.display_name.or_else(|| defaults.display_name.clone()),
            mail_nickname: self
                .mail_nickname
                .or_else(|| defaults.mail_nickname.clone()),
            usage_location: self
                .usage_location
                .or_else(|| defaults.usage_location.clone()),
            account_password_file: self
                .account_password_file
                .or_else(|| defaults.account_password_file.clone()),
        }
    }

    fn spec(&self) -> Result<AccountSpec, CommandError> {
        let upn = self.upn.as_deref().ok_or_else(|| {
            CommandError::usage("no upn given")
                .with_hint("fill the upn column")
                .with_code("input")
        })?;
        AccountSpec::new(
            upn,
            self.display_name.as_deref(),
            self.mail_nickname.as_deref(),
            self.usage_location.as_deref(),
        )
        .map_err(|e| CommandError::usage(e.to_string()).with_code("input"))
    }
}

/// One account to work on: how it is named in messages, and what is asked or why its row
/// cannot be used.
struct Item {
    label: String,
    account: Result<(AccountSpec, Option<PathBuf>), CommandError>,
}

/// The accounts of the options or of the CSV file, in order; a row naming the same account
/// as an earlier row is that row's duplicate.
fn items(args: &CreateUserArgs, ctx: &Context) -> Result<Vec<Item>, CommandError> {
    let Some(path) = &args.from_csv else {
        let spec = args.account.spec()?;
        return Ok(vec![Item {
            label: spec.upn.clone(),
            account: Ok((spec, args.account.account_password_file.clone())),
        }]);
    };
    let operator_file = ctx.global.password_file.as_deref();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut items = Vec::new();
    for row in common::csv_input::read::<AccountCells>(path, "upn", &[])? {
        let line = row.line;
        let at_line = |e: CommandError| CommandError {
            message: format!("line {line}: {}", e.message),
            ..e
        };
        let account = row
            .args
            .map_err(|e| CommandError::usage(e).with_code("input"))
            .and_then(|cells| {
                let file = cells
                    .account_password_file
                    .as_deref()
                    .map(|cell| {
                        common::csv_input::resolve_password_file(
                            path,
                            cell,
                            operator_file,
                            args.allow_password_files_anywhere,
                        )
                    })
                    .transpose()
                    .map_err(|e| CommandError::usage(e).with_code("password-file"))?;
                let cells = AccountCells {
                    account_password_file: file,
                    ..cells
                }
                .or(&args.account);
                let spec = cells.spec()?;
                let key = spec.upn.to_ascii_lowercase();
                if let Some(first) = seen.get(&key) {
                    return Err(CommandError::usage(format!(
                        "{} is the same account as line {first}",
                        spec.upn
                    ))
                    .with_code("duplicate"));
                }
                seen.insert(key, line);
                Ok((spec, cells.account_password_file))
            })
            .map_err(at_line);
        let label = account
            .as_ref()
            .map_or_else(|_| format!("line {line}"), |(spec, _)| spec.upn.clone());
        items.push(Item { label, account });
    }
    Ok(items)
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
    /// What went wrong (a row of `--from-csv`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
}

impl UserRecord {
    fn write_human(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}: {}", self.upn, self.action)?;
        if self.error.is_some() {
            return Ok(());
        }
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
    if args.from_csv.is_some()
        && args.generate_password
        && args.generated_password_file.is_none()
        && !args.dry_run
    {
        return Err(CommandError::usage(
            "--generate-password with --from-csv needs --generated-password-file",
        )
        .with_hint("name a file: each password is written to it before its account is created")
        .with_code("password-file"));
    }
    let items = items(&args, ctx)?;
    let passwords = args
        .generated_password_file
        .as_deref()
        .map(|path| GeneratedPasswordFile::prepare(path, GENERATED_CLOUD_PASSWORD_HEADER))
        .transpose()
        .map_err(|e| {
            CommandError::usage(format!(
                "--generated-password-file {}: {e}",
                args.generated_password_file
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
            ))
            .with_code("password-file")
        })?;
    let graph = ctx.graph().await?;
    let job = Job {
        graph: &graph,
        args: &args,
        passwords: passwords.as_ref(),
    };
    if args.from_csv.is_none() {
        let Some(Item { account, .. }) = items.into_iter().next() else {
            return Err(CommandError::usage("no account given").with_code("input"));
        };
        let (spec, password_file) = account?;
        let record = job.one(&spec, password_file.as_deref()).await?;
        ctx.global.print_one(&record, |w| record.write_human(w))?;
        return Ok(ExitStatus::Success);
    }
    from_csv(ctx, &job, items).await
}

/// The accounts of a CSV file, one at a time, each reported on its own; Ctrl-C stops before
/// the next account, a refused sign-in or an endless back-off ends the run.
async fn from_csv(
    ctx: &Context,
    job: &Job<'_>,
    items: Vec<Item>,
) -> Result<ExitStatus, CommandError> {
    let mut reporter = ctx.reporter(("account", "accounts"));
    let total = items.len();
    reporter.show_progress(Some(total));
    let interrupt = common::interrupt::Interrupt::listen("m365-tool");
    for Item { label, account } in items {
        if interrupt.is_asked() {
            let rest = format!("; {} not done", total - reporter.items());
            let _ = reporter.finish(&rest);
            return Err(
                CommandError::new(ExitStatus::Interrupted, format!("interrupted{rest}"))
                    .with_hint(
                        "run the same command again with --if-exists skip (or update) to finish",
                    )
                    .with_code("interrupted"),
            );
        }
        let result = match account {
            Ok((spec, password_file)) => job.one(&spec, password_file.as_deref()).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(record) => reporter.item(&record, record.action, None, |w| record.write_human(w))?,
            Err(error) if matches!(error.code, "sign-in" | "throttled") => {
                let rest = format!("; {} not done", total - reporter.items());
                let _ = reporter.finish(&rest);
                return Err(error);
            }
            Err(error) => {
                let error = error.with_item(&label);
                let record = UserRecord {
                    upn: label.clone(),
                    action: "failed",
                    error: Some(ErrorRecord::from(&error)),
                    ..UserRecord::default()
                };
                reporter.item(&record, "failed", Some(&error), |w| record.write_human(w))?;
            }
        }
    }
    reporter.finish("")
}

/// What every account of a run shares.
struct Job<'a> {
    graph: &'a Graph,
    args: &'a CreateUserArgs,
    passwords: Option<&'a GeneratedPasswordFile>,
}

impl Job<'_> {
    /// Creates or converges one account.
    async fn one(
        &self,
        spec: &AccountSpec,
        password_file: Option<&Path>,
    ) -> Result<UserRecord, CommandError> {
        let existing = find(self.graph, &spec.upn)
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
            None => {
                // A row's own password file wins over --generate-password (which the option
                // --account-password-file cannot be given with).
                let source = PasswordSource {
                    generate: self.args.generate_password && password_file.is_none(),
                    file: password_file,
                    stdin: self.args.account_password_stdin,
                };
                create(
                    self.graph,
                    spec,
                    self.args.dry_run,
                    &source,
                    self.passwords,
                    &mut record,
                )
                .await?;
            }
            Some(user) => converge(self.graph, spec, self.args, &user, &mut record).await?,
        }
        Ok(record)
    }
}

/// Where a new account's password comes from.
struct PasswordSource<'a> {
    generate: bool,
    file: Option<&'a Path>,
    stdin: bool,
}

async fn create(
    graph: &Graph,
    spec: &AccountSpec,
    dry_run: bool,
    source: &PasswordSource<'_>,
    passwords: Option<&GeneratedPasswordFile>,
    record: &mut UserRecord,
) -> Result<(), CommandError> {
    if dry_run {
        let mut body = spec.create_body(&Secret::new(String::new()));
        body["passwordProfile"]["password"] = Value::String("(not shown)".into());
        record.action = "would-create";
        record.request =
            Some(serde_json::json!({"method": "POST", "path": "/v1.0/users", "body": body}));
        return Ok(());
    }
    let (password, generated) = new_password(source, &spec.upn)?;
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

fn new_password(source: &PasswordSource<'_>, upn: &str) -> Result<(Secret, bool), CommandError> {
    if source.generate {
        let password = common::secret::random_password(GENERATED_LENGTH).map_err(|e| {
            CommandError::new(ExitStatus::ItemsFailed, e.to_string()).with_code("random")
        })?;
        return Ok((password, true));
    }
    if source.file.is_none() && !source.stdin {
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
        file: source.file,
        stdin: source.stdin,
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
