//! `ad-tool create-user`: create an account as New-ADUser would, or converge an existing one.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use common::args::IfExists;
use common::files::GeneratedPasswordFile;
use common::output::Shape;
use common::secret::{Secret, SecretRequest, read_secret};
use common::{CommandError, ExitStatus};
use futures::StreamExt;
use ldap3::{Mod, Scope};
use tokio::sync::OnceCell;

use crate::account::{AccountArgs, AccountSpec};
use crate::context::Context;
use crate::diagnostic::{rc, win32};
use crate::directory::{Directory, DirectoryError, Entry, escape_filter_value};
use crate::dn::Dn;
use crate::failure;
use crate::password::{self, PasswordPolicy};
use crate::plan::{
    self, Change, CreatePlan, ExistingAccount, MANAGED_ATTRIBUTE_NAMES, Plan, UpdatePlan,
};
use crate::record::{ACCOUNT_ATTRIBUTES, AccountRecord, Action, ChangeRecord};
use crate::security_descriptor::{SecurityDescriptor, set_cannot_change_password};
use crate::uac::UserAccountControl as Uac;

/// Options of `create-user`.
#[derive(Debug, Clone, Args)]
#[command(help_template = common::help_template!(
    "  # The reference service account (New-ADUser -PasswordNeverExpires $true
  # -CannotChangePassword $true -ChangePasswordAtLogon $false -AccountExpirationDate 0
  # -Enabled $true), its password read from a file:
  ad-tool create-user --name SAMyTTExch --upn sa-mytt-exch@corp.example \\
      --display-name \"MyTimetable Exchange Service Account\" \\
      --path \"CN=Users,DC=corp,DC=example\" --service-account \\
      --account-password-file sa-mytt-exch.password
  # Accounts from a CSV (columns name, upn, display-name, ...), generated passwords added
  # to a 0600 file; safe to run again:
  ad-tool create-user --from-csv accounts.csv --path \"OU=Service Accounts,DC=corp,DC=example\" \\
      --service-account --generate-password --generated-password-file passwords.csv \\
      --if-exists skip
  # What it would change on an existing account, as LDIF:
  ad-tool create-user --name SAMyTTExch --service-account --if-exists update --dry-run"
))]
pub struct CreateUserArgs {
    /// The account's settings (also the CSV columns of --from-csv).
    #[command(flatten)]
    pub account: AccountArgs,

    /// Read the new account's password from the first line of stdin
    #[arg(long, conflicts_with_all = ["generate_password", "account_password_file", "password_stdin"])]
    pub account_password_stdin: bool,

    /// Generate a strong password for each new account (printed once, or see --generated-password-file)
    #[arg(long, conflicts_with = "account_password_file")]
    pub generate_password: bool,

    /// Add generated passwords to this file instead of printing them: "sam_account_name,password"
    /// rows, the file created (mode 0600) at the first password and added to on later runs
    #[arg(long, value_name = "FILE", requires = "generate_password")]
    pub generated_password_file: Option<PathBuf>,

    /// What to do when the account exists
    #[arg(long, value_enum, default_value_t = IfExists::Fail, value_name = "fail|skip|update")]
    pub if_exists: IfExists,

    /// With --if-exists update: also reset the password of an existing account
    #[arg(long)]
    pub reset_password: bool,

    /// Create one account per CSV row; columns are named like the options without "--"
    /// (name, sam-account-name, upn, path, service-account, …); options given here fill empty cells
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "sam_account_name", "upn"])]
    pub from_csv: Option<PathBuf>,

    /// Print the planned changes (LDIF, password redacted) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Accounts worked on at once with --from-csv
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// One account to work on: its spec, or why its row is unusable.
struct Item {
    label: String,
    spec: Result<AccountSpec, CommandError>,
}

/// How new accounts get their passwords.
enum PasswordSource {
    /// The same password for every new account (stdin).
    Given(Secret),
    /// Per-account files (`--account-password-file` or the CSV column), else a prompt.
    FilesOrPrompt,
    /// Generated per account.
    Generate,
}

/// What the workers share.
struct Shared {
    options: CreateUserArgs,
    passwords: PasswordSource,
    policy: OnceCell<PasswordPolicy>,
    password_file: Option<GeneratedPasswordFile>,
    batch: bool,
}

/// Runs `create-user`.
pub async fn run(args: CreateUserArgs, ctx: &Context) -> Result<ExitStatus, CommandError> {
    let items = collect_items(&args)?;
    let batch = args.from_csv.is_some();
    if args.reset_password && args.if_exists != IfExists::Update {
        return Err(CommandError::usage(
            "--reset-password only applies with --if-exists update",
        ));
    }
    let passwords = if args.account_password_stdin {
        let request = SecretRequest {
            what: "new account's password",
            stdin: true,
            how_to_pass: "--account-password-stdin",
            ..Default::default()
        };
        PasswordSource::Given(
            read_secret(&request)
                .map_err(|e| CommandError::usage(e.to_string()).with_code("password"))?,
        )
    } else if args.generate_password {
        PasswordSource::Generate
    } else {
        PasswordSource::FilesOrPrompt
    };
    let password_file = match (&args.generated_password_file, args.dry_run) {
        (Some(path), false) => Some(GeneratedPasswordFile::prepare(path).map_err(|e| {
            CommandError::usage(format!("cannot use {}: {e}", path.display()))
                .with_hint("name a new file, or one this tool wrote before")
                .with_code("password-file")
        })?),
        _ => None,
    };
    let mut directory = ctx.connect().await?;
    let items = locate(&mut directory, items).await?;
    let concurrency = if batch {
        usize::from(args.concurrency)
    } else {
        1
    };
    let shared = Arc::new(Shared {
        options: args,
        passwords,
        policy: OnceCell::new(),
        password_file,
        batch,
    });

    let mut reporter = ctx.reporter(
        if batch { Shape::Many } else { Shape::Single },
        ("account", "accounts"),
    );
    let mut results = futures::stream::iter(items)
        .map(|item| {
            let directory = directory.clone();
            let shared = Arc::clone(&shared);
            async move { process(directory, &shared, item).await }
        })
        .buffered(concurrency);
    while let Some((record, error)) = results.next().await {
        let action = record.action.map_or("failed", Action::word);
        // One account that was made or read shows in full; a failure, or a batch, is a line.
        reporter.item(&record, action, error.as_ref(), |w| {
            if batch || error.is_some() {
                record.write_line(w)
            } else {
                record.write_human(w)
            }
        })?;
    }
    drop(results);
    directory.unbind().await;
    reporter.finish("")
}

fn collect_items(args: &CreateUserArgs) -> Result<Vec<Item>, CommandError> {
    let Some(path) = &args.from_csv else {
        let label = args.account.sam_account_name.as_ref().map_or_else(
            || {
                args.account
                    .name
                    .as_ref()
                    .map_or_else(|| "account".into(), ToString::to_string)
            },
            ToString::to_string,
        );
        let spec = AccountSpec::from_args(args.account.clone())
            .map_err(|e| CommandError::usage(e.to_string()).with_code("invalid-account"))?;
        return Ok(vec![Item {
            label,
            spec: Ok(spec),
        }]);
    };
    let file = File::open(path).map_err(|e| {
        CommandError::usage(format!("cannot read the CSV file {}: {e}", path.display()))
            .with_code("csv")
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(file);
    let headers = reader
        .headers()
        .map_err(|e| CommandError::usage(format!("{}: {e}", path.display())).with_code("csv"))?
        .clone();
    if !headers.iter().any(|h| h == "name") {
        return Err(CommandError::usage(format!("{} has no \"name\" column", path.display()))
            .with_hint("the first line names the columns: name, sam-account-name, upn, display-name, path, …")
            .with_code("csv"));
    }
    let mut items = Vec::new();
    for (index, row) in reader.deserialize::<AccountArgs>().enumerate() {
        let line = index + 2;
        let item = match row {
            Ok(row) => {
                let merged = row.or(&args.account);
                let label = merged
                    .sam_account_name
                    .as_ref()
                    .map(ToString::to_string)
                    .or_else(|| merged.name.as_ref().map(ToString::to_string))
                    .unwrap_or_else(|| format!("row {line}"));
                let spec = AccountSpec::from_args(merged).map_err(|e| {
                    CommandError::usage(format!("line {line}: {e}")).with_code("invalid-account")
                });
                Item { label, spec }
            }
            Err(e) => Item {
                label: format!("line {line}"),
                spec: Err(CommandError::usage(format!(
                    "{}: {}",
                    path.display(),
                    csv_error_text(&e)
                ))
                .with_code("csv")),
            },
        };
        items.push(item);
    }
    if items.is_empty() {
        return Err(
            CommandError::usage(format!("{} holds no accounts", path.display())).with_code("csv"),
        );
    }
    Ok(items)
}

fn csv_error_text(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { pos, err } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            match err.field() {
                Some(field) => format!("line {line}, column {}: {}", field + 1, err.kind()),
                None => format!("line {line}: {}", err.kind()),
            }
        }
        _ => error.to_string(),
    }
}

/// An account to work on with where it goes and what already exists under its names.
struct Located {
    label: String,
    target: Result<(AccountSpec, Dn), CommandError>,
    found: Vec<Entry>,
}

/// Rows per existence search: one search answers for this many accounts.
const LOOKUP_BATCH: usize = 100;

/// The search filter matching any of the targets' DNs, sAMAccountNames and UPNs.
fn existence_filter<'a>(targets: impl Iterator<Item = &'a (AccountSpec, Dn)>) -> String {
    let mut filter = String::from("(|");
    for (spec, dn) in targets {
        let _ = write!(
            filter,
            "(sAMAccountName={})(distinguishedName={})",
            escape_filter_value(spec.sam_account_name.as_str()),
            escape_filter_value(&dn.to_string())
        );
        if let Some(upn) = &spec.upn {
            let _ = write!(
                filter,
                "(userPrincipalName={})",
                escape_filter_value(upn.as_str())
            );
        }
    }
    filter.push(')');
    filter
}

/// Whether a found entry is about this target: at its DN, or holding its sAMAccountName or UPN.
fn concerns(entry: &Entry, spec: &AccountSpec, dn: &Dn) -> bool {
    let eq = |attribute: &str, value: &str| {
        entry
            .texts(attribute)
            .iter()
            .any(|v| v.eq_ignore_ascii_case(value))
    };
    entry.parsed_dn().is_some_and(|d| d == *dn)
        || eq("sAMAccountName", spec.sam_account_name.as_str())
        || spec
            .upn
            .as_ref()
            .is_some_and(|upn| eq("userPrincipalName", upn.as_str()))
}

/// Resolves each account's DN (the Users container when no --path is given) and finds, with
/// one search per batch of accounts, the entries that already use their names.
async fn locate(directory: &mut Directory, items: Vec<Item>) -> Result<Vec<Located>, CommandError> {
    let default_parent = if items
        .iter()
        .any(|i| i.spec.as_ref().is_ok_and(|s| s.path.is_none()))
    {
        Some(
            directory
                .users_container()
                .await
                .map_err(|e| failure::explain(&e))?,
        )
    } else {
        None
    };
    let mut located: Vec<Located> = items
        .into_iter()
        .map(|item| {
            let target = item.spec.map(|spec| {
                let parent = spec
                    .path
                    .clone()
                    .or_else(|| default_parent.clone())
                    .unwrap_or_default();
                let dn = parent.child("CN", spec.name.as_str());
                (spec, dn)
            });
            Located {
                label: item.label,
                target,
                found: Vec::new(),
            }
        })
        .collect();
    let naming_context = directory.naming_context.clone();
    for chunk in located.chunks_mut(LOOKUP_BATCH) {
        let filter = existence_filter(chunk.iter().filter_map(|l| l.target.as_ref().ok()));
        if filter == "(|)" {
            continue;
        }
        let found = directory
            .search(
                &naming_context,
                Scope::Subtree,
                &filter,
                &["sAMAccountName", "userPrincipalName", "objectClass"],
            )
            .await
            .map_err(|e| failure::explain(&e))?;
        for item in chunk.iter_mut() {
            if let Ok((spec, dn)) = &item.target {
                item.found = found
                    .iter()
                    .filter(|e| concerns(e, spec, dn))
                    .cloned()
                    .collect();
            }
        }
    }
    Ok(located)
}

/// Works on one account; never fails as a whole: failures become the record's error.
async fn process(
    mut directory: Directory,
    shared: &Shared,
    item: Located,
) -> (AccountRecord, Option<CommandError>) {
    let (spec, dn) = match item.target {
        Ok(target) => target,
        Err(error) => {
            return (
                AccountRecord::failed(&item.label, None, &error),
                Some(error.with_item(item.label)),
            );
        }
    };
    match converge(&mut directory, shared, &spec, &dn, &item.found).await {
        Ok(record) => (record, None),
        Err((dn, error)) => {
            let record = AccountRecord::failed(spec.label(), dn, &error);
            (record, Some(error.with_item(spec.label())))
        }
    }
}

type Failure = (Option<String>, CommandError);

fn at(dn: &Dn) -> impl Fn(CommandError) -> Failure + '_ {
    move |error| (Some(dn.to_string()), error)
}

fn explain_at(dn: &Dn) -> impl Fn(DirectoryError) -> Failure + '_ {
    move |error| (Some(dn.to_string()), failure::explain(&error))
}

async fn converge(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
    dn: &Dn,
    found: &[Entry],
) -> Result<AccountRecord, Failure> {
    let options = &shared.options;
    let dn = dn.clone();
    let parent = dn.parent().unwrap_or_default();
    let same = |entry: &Entry, other: &Dn| entry.parsed_dn().is_some_and(|d| d == *other);
    let at_dn = found.iter().find(|e| same(e, &dn));
    let by_sam = found.iter().find(|e| {
        e.text("sAMAccountName")
            .is_some_and(|s| s.eq_ignore_ascii_case(spec.sam_account_name.as_str()))
    });
    let existing_dn = match (at_dn, by_sam) {
        (None, None) => None,
        (Some(a), Some(b)) if a.dn == b.dn && is_user(a) => Some(dn.clone()),
        (Some(a), _) => {
            let holder = a
                .text("sAMAccountName")
                .unwrap_or_else(|| "another object".into());
            return Err(at(&dn)(
                CommandError::new(
                    ExitStatus::Exists,
                    format!(
                        "{dn} already exists and is {holder}, not {}",
                        spec.sam_account_name
                    ),
                )
                .with_hint("choose another --name or --path")
                .with_code("exists"),
            ));
        }
        (None, Some(b)) => match options.if_exists {
            IfExists::Skip => Some(b.parsed_dn().unwrap_or_else(|| dn.clone())),
            _ => {
                return Err((
                    Some(b.dn.clone()),
                    CommandError::new(
                        ExitStatus::Exists,
                        format!(
                            "the sAMAccountName {} is already used by {}",
                            spec.sam_account_name, b.dn
                        ),
                    )
                    .with_hint("choose another --sam-account-name, or give the --path it is in")
                    .with_code("exists"),
                ));
            }
        },
    };
    if let Some(upn) = &spec.upn {
        let upn_holder = found.iter().find(|e| {
            e.text("userPrincipalName")
                .is_some_and(|u| u.eq_ignore_ascii_case(upn.as_str()))
                && existing_dn.as_ref().is_none_or(|d| !same(e, d))
        });
        if let Some(holder) = upn_holder {
            return Err(at(&dn)(
                CommandError::new(
                    ExitStatus::ItemsFailed,
                    format!("the UPN {upn} is already used by {}", holder.dn),
                )
                .with_hint("choose another --upn")
                .with_code("upn-in-use"),
            ));
        }
    }

    match existing_dn {
        None => create(directory, shared, spec, &parent).await,
        Some(existing_dn) => match options.if_exists {
            IfExists::Fail => Err(at(&existing_dn)(
                CommandError::new(
                    ExitStatus::Exists,
                    format!("the account already exists: {existing_dn}"),
                )
                .with_hint(
                    "use --if-exists skip to leave it, or --if-exists update to make it match",
                )
                .with_code("exists"),
            )),
            IfExists::Skip => {
                let mut record = read_record(directory, &existing_dn).await?;
                record.action = Some(Action::Skipped);
                Ok(record)
            }
            IfExists::Update => update(directory, shared, spec, &existing_dn).await,
        },
    }
}

fn is_user(entry: &Entry) -> bool {
    let classes: Vec<String> = entry
        .texts("objectClass")
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    classes.iter().any(|c| c == "user") && !classes.iter().any(|c| c == "computer")
}

/// The account's entry and DACL, or a failure when it is not there (any more).
async fn read_account(
    directory: &mut Directory,
    dn: &Dn,
) -> Result<(Entry, Option<SecurityDescriptor>), Failure> {
    directory
        .read_with_dacl(dn, &ACCOUNT_ATTRIBUTES)
        .await
        .map_err(explain_at(dn))?
        .ok_or_else(|| {
            at(dn)(CommandError::new(
                ExitStatus::ItemsFailed,
                format!("{dn} vanished while it was being worked on"),
            ))
        })
}

async fn read_record(directory: &mut Directory, dn: &Dn) -> Result<AccountRecord, Failure> {
    let (entry, descriptor) = read_account(directory, dn).await?;
    Ok(AccountRecord::from_entry(&entry, descriptor.as_ref()))
}

async fn domain_policy(
    directory: &mut Directory,
    shared: &Shared,
) -> Result<PasswordPolicy, DirectoryError> {
    let mut d = directory.clone();
    shared
        .policy
        .get_or_try_init(|| async move {
            let root = d.naming_context.clone();
            let entry = d
                .read(
                    &root,
                    &["minPwdLength", "pwdProperties", "pwdHistoryLength"],
                )
                .await?
                .unwrap_or_default();
            Ok(PasswordPolicy {
                min_length: entry
                    .int("minPwdLength")
                    .and_then(|v| usize::try_from(v).ok())
                    .unwrap_or(0),
                complexity: entry
                    .int("pwdProperties")
                    .is_some_and(|p| p & i64::from(PasswordPolicy::DOMAIN_PASSWORD_COMPLEX) != 0),
                history_length: entry
                    .int("pwdHistoryLength")
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0),
            })
        })
        .await
        .copied()
}

/// The password for a new account, and whether it was generated.
async fn new_password(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
) -> Result<Option<(Secret, bool)>, CommandError> {
    match &shared.passwords {
        PasswordSource::Given(secret) => Ok(Some((secret.clone(), false))),
        PasswordSource::Generate => {
            let policy = domain_policy(directory, shared)
                .await
                .map_err(|e| failure::explain(&e))?;
            let secret = password::generate(
                &policy,
                spec.sam_account_name.as_str(),
                spec.display_name.as_deref(),
            )
            .map_err(|e| CommandError::new(ExitStatus::ItemsFailed, e.to_string()))?;
            Ok(Some((secret, true)))
        }
        PasswordSource::FilesOrPrompt => {
            let what = format!("password for the new account {}", spec.sam_account_name);
            let request = SecretRequest {
                what: &what,
                file: spec.password_file.as_deref(),
                prompt: !shared.batch,
                confirm: true,
                how_to_pass: "--account-password-stdin, --account-password-file FILE or --generate-password",
                ..Default::default()
            };
            match read_secret(&request) {
                Ok(secret) => Ok(Some((secret, false))),
                // A disabled account may be created without a password, as New-ADUser does.
                Err(common::secret::SecretError::NotGiven { .. })
                    if !spec.enabled_when_created() =>
                {
                    Ok(None)
                }
                Err(e) => Err(CommandError::usage(e.to_string()).with_code("password")),
            }
        }
    }
}

async fn create(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
    parent: &Dn,
) -> Result<AccountRecord, Failure> {
    let dry_run = shared.options.dry_run;
    let password = if dry_run {
        None
    } else {
        new_password(directory, shared, spec)
            .await
            .map_err(|e| (None, e))?
    };
    let plan = plan::plan_create(spec, parent, dry_run || password.is_some());
    let dn = plan.dn.clone();
    if dry_run {
        return Ok(AccountRecord {
            plan: Some(Plan::Create(plan.clone()).to_ldif()),
            dn: Some(dn.to_string()),
            sam_account_name: spec.sam_account_name.to_string(),
            upn: spec.upn.as_ref().map(ToString::to_string),
            enabled: Some(!plan.uac.has(Uac::ACCOUNTDISABLE)),
            password_never_expires: Some(plan.uac.has(Uac::DONT_EXPIRE_PASSWORD)),
            cannot_change_password: Some(plan.cannot_change_password),
            change_password_at_logon: Some(spec.change_password_at_logon == Some(true)),
            account_expires: Some(
                spec.account_expires
                    .unwrap_or(crate::filetime::AccountExpires::Never)
                    .to_string(),
            ),
            user_account_control: Some(plan.uac.0),
            action: Some(Action::WouldCreate),
            ..Default::default()
        });
    }
    add_account(
        directory,
        shared,
        spec,
        &plan,
        password.as_ref().map(|(p, _)| p),
    )
    .await?;
    let mut record = match complete_new_account(directory, &dn, plan.cannot_change_password).await {
        Ok(record) => record,
        Err(error) if plan.cannot_change_password => {
            return Err(at(&dn)(roll_back(directory, &dn, error).await));
        }
        Err(error) => {
            let cause = failure::explain(&error);
            return Err(at(&dn)(CommandError {
                message: format!(
                    "the account was created but could not be read back: {}",
                    cause.message
                ),
                ..cause
            }));
        }
    };
    record.action = Some(Action::Created);
    if let Some((secret, true)) = password {
        hand_out_generated(shared, spec, &secret, &mut record).map_err(at(&dn))?;
    }
    Ok(record)
}

async fn add_account(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
    plan: &CreatePlan,
    password: Option<&Secret>,
) -> Result<(), Failure> {
    let mut attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = plan
        .attributes
        .iter()
        .map(|(name, value)| {
            (
                name.as_bytes().to_vec(),
                HashSet::from([value.clone().into_bytes()]),
            )
        })
        .collect();
    if let Some(secret) = password {
        // The password and the final flags travel in the same Add: a password the policy refuses
        // fails the whole Add and leaves nothing behind.
        attrs.push((
            b"unicodePwd".to_vec(),
            HashSet::from([password::unicode_pwd(secret).to_vec()]),
        ));
    }
    attrs.push((
        b"userAccountControl".to_vec(),
        HashSet::from([plan.uac.0.to_string().into_bytes()]),
    ));
    match directory.add(&plan.dn, attrs).await {
        Ok(()) => Ok(()),
        Err(DirectoryError::Operation { failure, .. })
            if failure.rc == rc::CONSTRAINT_VIOLATION
                && failure.diagnostic.code == Some(win32::PASSWORD_RESTRICTION) =>
        {
            let policy = domain_policy(directory, shared).await.ok();
            let rules = match (policy, password) {
                (Some(policy), Some(secret)) => password::broken_rules(
                    secret.expose(),
                    &policy,
                    spec.sam_account_name.as_str(),
                    spec.display_name.as_deref(),
                ),
                _ => Vec::new(),
            };
            let reason = if rules.is_empty() {
                "the domain refused the password (password history, minimum age or a fine-grained password policy)".to_owned()
            } else {
                format!(
                    "the password does not meet the domain's policy: {}",
                    rules
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            };
            Err(at(&plan.dn)(
                CommandError::new(
                    ExitStatus::ItemsFailed,
                    format!("{reason}; nothing was created"),
                )
                .with_hint("choose another password or use --generate-password")
                .with_detail(failure.text.clone())
                .with_code("password-policy"),
            ))
        }
        Err(error) => Err(explain_at(&plan.dn)(error)),
    }
}

/// Reads the new account once, with its DACL, and writes the "cannot change password" ACEs
/// when asked; the record comes from that read and the descriptor as written.
async fn complete_new_account(
    directory: &mut Directory,
    dn: &Dn,
    cannot_change_password: bool,
) -> Result<AccountRecord, DirectoryError> {
    let address = directory.address().to_owned();
    let missing = |reason: &str| DirectoryError::Broken {
        address: address.clone(),
        operation: "reading the new account",
        reason: reason.to_owned(),
    };
    let (entry, descriptor) = directory
        .read_with_dacl(dn, &ACCOUNT_ATTRIBUTES)
        .await?
        .ok_or_else(|| missing("the server does not find it"))?;
    let Some(mut descriptor) = descriptor else {
        return if cannot_change_password {
            Err(missing("the server returned no security descriptor"))
        } else {
            Ok(AccountRecord::from_entry(&entry, None))
        };
    };
    if cannot_change_password {
        let dacl = descriptor
            .dacl
            .as_mut()
            .ok_or_else(|| missing("the security descriptor has no DACL"))?;
        if !set_cannot_change_password(dacl, true).is_empty() {
            directory.write_dacl(dn, &descriptor).await?;
        }
    }
    Ok(AccountRecord::from_entry(&entry, Some(&descriptor)))
}

/// Removes a half-made account after a later step failed, and says so.
async fn roll_back(directory: &mut Directory, dn: &Dn, error: DirectoryError) -> CommandError {
    let cause = failure::explain(&error);
    match directory.delete(dn).await {
        Ok(()) => {
            log::info!("removed {dn} again after: {cause}");
            CommandError {
                message: format!(
                    "could not set \"cannot change password\": {}; the new account was removed again",
                    cause.message
                ),
                ..cause
            }
        }
        Err(delete_error) => CommandError {
            message: format!(
                "could not set \"cannot change password\": {}; removing the new account failed too ({}), so {dn} remains: delete it by hand",
                cause.message,
                failure::explain(&delete_error).message
            ),
            ..cause
        },
    }
}

fn hand_out_generated(
    shared: &Shared,
    spec: &AccountSpec,
    secret: &Secret,
    record: &mut AccountRecord,
) -> Result<(), CommandError> {
    match &shared.password_file {
        Some(file) => {
            file.record(spec.sam_account_name.as_str(), secret)
                .map_err(|e| CommandError::new(ExitStatus::ItemsFailed, format!("the account was created but its password could not be written to {}: {e}", file.path().display()))
                    .with_hint("reset it with --if-exists update --reset-password --generate-password"))?;
            record.generated_password_file = Some(file.path().display().to_string());
        }
        None => record.generated_password = Some(secret.expose().to_owned()),
    }
    Ok(())
}

async fn update(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
    dn: &Dn,
) -> Result<AccountRecord, Failure> {
    let (entry, descriptor) = read_account(directory, dn).await?;
    let existing = ExistingAccount {
        dn: dn.clone(),
        sam_account_name: entry.text("sAMAccountName").unwrap_or_default(),
        attributes: MANAGED_ATTRIBUTE_NAMES
            .iter()
            .map(|name| (*name, entry.text(name)))
            .collect(),
        uac: Uac(entry
            .int("userAccountControl")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)),
        account_expires: entry.int("accountExpires").unwrap_or(0),
        pwd_last_set: entry.int("pwdLastSet").unwrap_or(0),
        descriptor: descriptor.clone(),
    };
    let plan = plan::plan_update(spec, &existing, shared.options.reset_password).map_err(|e| {
        at(dn)(CommandError::new(ExitStatus::ItemsFailed, e.to_string()).with_code("descriptor"))
    })?;
    let update = match plan {
        Plan::Unchanged => {
            let mut record = AccountRecord::from_entry(&entry, descriptor.as_ref());
            record.action = Some(Action::Unchanged);
            return Ok(record);
        }
        Plan::Create(_) => unreachable!("plan_update never plans a creation"),
        Plan::Update(update) => update,
    };
    let changes: Vec<ChangeRecord> = update.changes.iter().map(ChangeRecord::from).collect();
    if shared.options.dry_run {
        let mut record = AccountRecord::from_entry(&entry, descriptor.as_ref());
        record.action = Some(Action::WouldUpdate);
        record.changes = changes;
        record.plan = Some(Plan::Update(update).to_ldif());
        return Ok(record);
    }
    let password = if update.changes.contains(&Change::ResetPassword) {
        new_password(directory, shared, spec)
            .await
            .map_err(at(dn))?
    } else {
        None
    };
    apply_update(directory, &update, password.as_ref().map(|(p, _)| p)).await?;
    let mut record = read_record(directory, dn).await?;
    record.action = Some(Action::Updated);
    record.changes = changes;
    if let Some((secret, true)) = password {
        hand_out_generated(shared, spec, &secret, &mut record).map_err(at(dn))?;
    }
    Ok(record)
}

async fn apply_update(
    directory: &mut Directory,
    update: &UpdatePlan,
    password: Option<&Secret>,
) -> Result<(), Failure> {
    let replace =
        |name: &str, value: Vec<u8>| Mod::Replace(name.as_bytes().to_vec(), HashSet::from([value]));
    let mut mods = Vec::new();
    for change in &update.changes {
        match change {
            Change::Attribute { name, to, .. } => mods.push(replace(name, to.clone().into_bytes())),
            Change::UserAccountControl { to, .. } => {
                mods.push(replace("userAccountControl", to.0.to_string().into_bytes()));
            }
            Change::AccountExpires { to, .. } => mods.push(replace(
                "accountExpires",
                to.stored().to_string().into_bytes(),
            )),
            Change::PwdLastSet { to, .. } => {
                mods.push(replace("pwdLastSet", to.to_string().into_bytes()));
            }
            Change::ResetPassword => match password {
                Some(secret) => mods.push(replace(
                    "unicodePwd",
                    password::unicode_pwd(secret).to_vec(),
                )),
                None => {
                    return Err(at(&update.dn)(CommandError::usage("--reset-password needs a password source").with_hint(
                        "add --account-password-stdin, --account-password-file FILE or --generate-password",
                    )));
                }
            },
            Change::CannotChangePassword { .. } => {}
        }
    }
    if !mods.is_empty() {
        directory
            .modify(&update.dn, mods)
            .await
            .map_err(explain_at(&update.dn))?;
    }
    if let Some(descriptor) = &update.new_descriptor {
        directory
            .write_dacl(&update.dn, descriptor)
            .await
            .map_err(explain_at(&update.dn))?;
    }
    Ok(())
}
