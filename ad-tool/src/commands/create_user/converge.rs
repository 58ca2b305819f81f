//! One account: decide (create, skip, update, or why not), plan the writes, record a generated
//! password before the account exists, run the writes, and learn an outcome the connection
//! left unknown by reading the directory before reporting it.

use std::sync::Mutex;

use common::interrupt::Interrupt;
use common::sid::Sid;
use common::{CommandError, ExitStatus};
use tokio::sync::OnceCell;

use super::CreateUserArgs;
use super::locate::{Located, find_one};
use super::passwords::{NewPassword, Origin, Passwords};
use crate::account::AccountSpec;
use crate::context::Context;
use crate::diagnostic::{rc, win32};
use crate::directory::{Directory, DirectoryError, Entry};
use crate::dn::Dn;
use crate::execute;
use crate::failure;
use crate::guard;
use crate::ldif;
use crate::plan::{self, Conflict, Decision, ExistingAccount, MANAGED_ATTRIBUTE_NAMES, Op};
use crate::record::{ACCOUNT_ATTRIBUTES, AccountRecord, Action, ChangeRecord};
use crate::sddl;
use crate::security_descriptor::{Acl, SecurityDescriptor};
use crate::uac::UserAccountControl as Uac;

/// Why a run stopped taking new accounts.
#[derive(Debug)]
pub enum Stop {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The connection to the DC was lost.
    Connection(CommandError),
    /// A generated password could not be written.
    Record(CommandError),
}

/// What the accounts of one run share.
pub struct Shared {
    /// The options.
    pub options: CreateUserArgs,
    passwords: Passwords,
    /// Whether this is a `--from-csv` run.
    pub batch: bool,
    ctx: Context,
    interrupt: Interrupt,
    stop: Mutex<Option<Stop>>,
    user_dacl: OnceCell<Acl>,
}

impl Shared {
    /// What the run's accounts share.
    pub fn new(
        options: CreateUserArgs,
        passwords: Passwords,
        batch: bool,
        ctx: Context,
        interrupt: Interrupt,
    ) -> Self {
        Self {
            options,
            passwords,
            batch,
            ctx,
            interrupt,
            stop: Mutex::new(None),
            user_dacl: OnceCell::new(),
        }
    }

    /// Whether the run is stopping (interrupted, or a stop was recorded).
    pub fn stopping(&self) -> bool {
        self.interrupt.is_asked() || self.lock_stop().is_some()
    }

    fn lock_stop(&self) -> std::sync::MutexGuard<'_, Option<Stop>> {
        common::sync::lock(&self.stop)
    }

    fn stop_with(&self, stop: Stop) {
        let mut current = self.lock_stop();
        if current.is_none() {
            *current = Some(stop);
        }
    }

    /// Why the run stopped, if it did.
    pub fn stop(&self) -> Option<Stop> {
        self.lock_stop()
            .take()
            .or_else(|| self.interrupt.is_asked().then_some(Stop::Interrupted))
    }

    /// The user class's default DACL in this domain (`defaultSecurityDescriptor`, read once).
    async fn user_dacl(&self, directory: &Directory) -> Result<Acl, CommandError> {
        let mut d = directory.clone();
        self.user_dacl
            .get_or_try_init(|| async move {
                let unreadable = |why: String| {
                    CommandError::new(
                        ExitStatus::ItemsFailed,
                        format!(
                            "the schema's default permissions for user accounts cannot be read ({why}), so \"cannot change password\" cannot be part of the new account"
                        ),
                    )
                    .with_code("schema")
                };
                let schema = d
                    .root_dse_text("schemaNamingContext")
                    .await
                    .map_err(|e| failure::explain(&e))?
                    .and_then(|t| t.parse::<Dn>().ok())
                    .ok_or_else(|| unreadable("no schemaNamingContext".into()))?;
                let class = d
                    .read(&schema.child("CN", "User"), &["defaultSecurityDescriptor"])
                    .await
                    .map_err(|e| failure::explain(&e))?
                    .and_then(|e| e.text("defaultSecurityDescriptor"))
                    .ok_or_else(|| unreadable("the user class has no defaultSecurityDescriptor".into()))?;
                let root = d.naming_context.clone();
                let domain = d
                    .read(&root, &["objectSid"])
                    .await
                    .map_err(|e| failure::explain(&e))?
                    .and_then(|e| e.bytes("objectSid").and_then(|b| Sid::from_bytes(b).ok()))
                    .map(|(sid, _)| sid)
                    .ok_or_else(|| unreadable("the domain's SID is unreadable".into()))?;
                sddl::parse_dacl(&class, &domain).map_err(|e| unreadable(e.to_string()))
            })
            .await
            .cloned()
    }
}

/// Why an account was not made as asked.
enum Failure {
    /// The run began to stop before the account was started.
    NotStarted,
    /// It failed: the error, and the DN it concerns when that is known.
    At(Option<String>, CommandError),
}

fn at(dn: &Dn) -> impl Fn(CommandError) -> Failure + '_ {
    move |error| Failure::At(Some(dn.to_string()), error)
}

fn explain_at(dn: &Dn) -> impl Fn(DirectoryError) -> Failure + '_ {
    move |error| Failure::At(Some(dn.to_string()), failure::explain(&error))
}

/// Works on one account; `None` when the run was stopping and it was not started. Failures
/// become the record's error.
pub async fn process(
    mut directory: Directory,
    shared: &Shared,
    item: Located,
) -> Option<(AccountRecord, Option<CommandError>)> {
    if shared.stopping() {
        return None;
    }
    let (spec, dn) = match item.target {
        Ok(target) => target,
        Err(error) => {
            return Some((
                AccountRecord::failed(&item.label, None, &error),
                Some(error.with_item(item.label)),
            ));
        }
    };
    match converge(&mut directory, shared, &spec, &dn, &item.found).await {
        Ok(record) => Some((record, None)),
        // Waiting for the password file while the run began to stop: never started.
        Err(Failure::NotStarted) => None,
        Err(Failure::At(dn, error)) => {
            let record = AccountRecord::failed(spec.label(), dn, &error);
            Some((record, Some(error.with_item(spec.label()))))
        }
    }
}

async fn converge(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
    dn: &Dn,
    found: &[plan::Found],
) -> Result<AccountRecord, Failure> {
    match plan::decide(spec, dn, found, shared.options.if_exists) {
        Decision::Conflict(conflict) => Err(conflict_error(spec, conflict)),
        Decision::Skip { dn } => skip(directory, &dn).await,
        Decision::Update { dn } => update(directory, shared, spec, &dn).await,
        Decision::Create => create(directory, shared, spec, dn).await,
    }
}

fn conflict_error(spec: &AccountSpec, conflict: Conflict) -> Failure {
    let sam = &spec.sam_account_name;
    match conflict {
        Conflict::DnTaken { dn, holder } => at(&dn)(
            CommandError::new(
                ExitStatus::Exists,
                format!("{dn} already exists and is {holder}, not {sam}"),
            )
            .with_hint("choose another --name or --path")
            .with_code("exists"),
        ),
        Conflict::SamTaken { holder } => at(&holder)(
            CommandError::new(
                ExitStatus::Exists,
                format!("the sAMAccountName {sam} is already used by {holder}"),
            )
            .with_hint("choose another --sam-account-name, or give the --path it is in")
            .with_code("exists"),
        ),
        Conflict::UpnTaken { upn, holder } => Failure::At(
            None,
            CommandError::new(
                ExitStatus::ItemsFailed,
                format!("the UPN {upn} is already used by {holder}"),
            )
            .with_hint("choose another --upn")
            .with_code("upn-in-use"),
        ),
        Conflict::Exists { dn } => at(&dn)(
            CommandError::new(
                ExitStatus::Exists,
                format!("the account already exists: {dn}"),
            )
            .with_hint("use --if-exists skip to leave it, or --if-exists update to make it match")
            .with_code("exists"),
        ),
    }
}

async fn skip(directory: &mut Directory, dn: &Dn) -> Result<AccountRecord, Failure> {
    let mut record = read_record(directory, dn).await?;
    record.action = Some(Action::Skipped);
    Ok(record)
}

/// The account's entry and DACL (with the attributes the guard reads), or a failure when it
/// is not there (any more).
async fn read_account(
    directory: &mut Directory,
    dn: &Dn,
) -> Result<(Entry, Option<SecurityDescriptor>), Failure> {
    let attributes: Vec<&str> = ACCOUNT_ATTRIBUTES
        .iter()
        .chain(guard::GUARD_ATTRIBUTES.iter())
        .copied()
        .collect();
    directory
        .read_with_dacl(dn, &attributes)
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

/// Where a generated password went: the file (written before the account was created, under
/// its lock until the outcome is known), or the record (printed once).
struct Recorded<'a> {
    guard: Option<common::files::PasswordFileGuard<'a>>,
    row: Option<common::files::WrittenRow>,
}

impl Recorded<'_> {
    /// The account was not created: take the password's row back.
    fn withdraw(&mut self) {
        if let (Some(guard), Some(row)) = (self.guard.as_mut(), self.row.take()) {
            let _ = guard.withdraw(row);
        }
    }
}

/// Writes a generated password to the file before its account is created. A file that
/// cannot be written stops the run: no account is made whose password is not on disk.
async fn record_before<'a>(
    shared: &'a Shared,
    spec: &AccountSpec,
    dn: &Dn,
    password: Option<&NewPassword>,
) -> Result<Recorded<'a>, Failure> {
    let (
        Some(file),
        Some(NewPassword {
            secret,
            origin: Origin::Generated,
        }),
    ) = (&shared.passwords.file, password)
    else {
        return Ok(Recorded {
            guard: None,
            row: None,
        });
    };
    let record_failed = |e: std::io::Error| {
        let error = CommandError::new(
            ExitStatus::ItemsFailed,
            format!(
                "cannot write the generated password to {} ({e}), so the account was not created",
                file.path().display()
            ),
        )
        .with_hint("free space or fix the file, then run the same command again")
        .with_code("password-file");
        shared.stop_with(Stop::Record(error.clone()));
        at(dn)(error)
    };
    let mut guard = file.lock().await.map_err(record_failed)?;
    if shared.stopping() {
        return Err(Failure::NotStarted);
    }
    let row = guard
        .write(spec.sam_account_name.as_str(), secret)
        .map_err(record_failed)?;
    Ok(Recorded {
        guard: Some(guard),
        row: Some(row),
    })
}

async fn create(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
    dn: &Dn,
) -> Result<AccountRecord, Failure> {
    let parent = dn.parent().unwrap_or_default();
    let default_dacl = if spec.cannot_change_password == Some(true) {
        Some(shared.user_dacl(directory).await.map_err(at(dn))?)
    } else {
        None
    };
    let plan_error = |e: plan::PlanError| {
        at(dn)(CommandError::new(ExitStatus::ItemsFailed, e.to_string()).with_code("schema"))
    };
    if shared.options.dry_run {
        let op =
            plan::plan_create(spec, &parent, true, default_dacl.as_ref()).map_err(plan_error)?;
        return Ok(would_create(spec, &op));
    }
    let password = shared
        .passwords
        .for_account(directory, spec, shared.batch)
        .await
        .map_err(at(dn))?;
    let op = plan::plan_create(spec, &parent, password.is_some(), default_dacl.as_ref())
        .map_err(plan_error)?;
    let mut recorded = record_before(shared, spec, dn, password.as_ref()).await?;
    let secret = password.as_ref().map(|p| &p.secret);
    match execute::run(directory, std::slice::from_ref(&op), secret).await {
        Ok(()) => {}
        Err(failed) if failed.error.outcome_unknown() => {
            return resolve_unknown(shared, dn, &mut recorded, password.as_ref(), &failed.error)
                .await;
        }
        Err(failed) => {
            recorded.withdraw();
            drop(recorded);
            return refused(directory, shared, spec, dn, password.as_ref(), failed.error).await;
        }
    }
    drop(recorded);
    let mut record = read_record(directory, dn)
        .await
        .map_err(|failure| match failure {
            Failure::At(dn, e) => {
                let message = format!(
                    "the account was created but could not be read back: {}",
                    e.message
                );
                Failure::At(dn, CommandError { message, ..e })
            }
            not_started @ Failure::NotStarted => not_started,
        })?;
    record.action = Some(Action::Created);
    hand_out(shared, password, &mut record);
    Ok(record)
}

/// The dry run's record of a creation.
fn would_create(spec: &AccountSpec, op: &Op) -> AccountRecord {
    let Op::Add {
        dn,
        uac: Some(uac),
        descriptor,
        ..
    } = op
    else {
        return AccountRecord::default();
    };
    AccountRecord {
        plan: Some(ldif::render(std::slice::from_ref(op))),
        dn: Some(dn.to_string()),
        sam_account_name: spec.sam_account_name.to_string(),
        upn: spec.upn.as_ref().map(ToString::to_string),
        enabled: Some(!uac.has(Uac::ACCOUNTDISABLE)),
        password_never_expires: Some(uac.has(Uac::DONT_EXPIRE_PASSWORD)),
        cannot_change_password: Some(descriptor.is_some()),
        change_password_at_logon: Some(spec.change_password_at_logon == Some(true)),
        account_expires: Some(
            spec.account_expires
                .unwrap_or(crate::filetime::AccountExpires::Never)
                .to_string(),
        ),
        user_account_control: Some(uac.0),
        action: Some(Action::WouldCreate),
        ..Default::default()
    }
}

/// A generated password that is not in a file is shown once, in the record.
fn hand_out(shared: &Shared, password: Option<NewPassword>, record: &mut AccountRecord) {
    if let Some(NewPassword {
        secret,
        origin: Origin::Generated,
    }) = password
    {
        match &shared.passwords.file {
            Some(file) => record.generated_password_file = Some(file.path().display().to_string()),
            None => record.generated_password = Some(secret.expose().to_owned()),
        }
    }
}

/// The directory answered the Add with a refusal: nothing was created. An account that
/// appeared since it was looked for (another run, a duplicate elsewhere) is a race, which
/// `--if-exists skip|update` turns into skipping or updating it.
async fn refused(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
    dn: &Dn,
    password: Option<&NewPassword>,
    error: DirectoryError,
) -> Result<AccountRecord, Failure> {
    let failure = match &error {
        DirectoryError::Operation { failure, .. } => Some(failure),
        _ => None,
    };
    if let Some(f) = failure {
        let exists = f.rc == rc::ENTRY_ALREADY_EXISTS
            || (f.rc == rc::CONSTRAINT_VIOLATION && f.diagnostic.code == Some(win32::USER_EXISTS));
        if exists && shared.options.if_exists != common::args::IfExists::Fail {
            log::info!("{dn} appeared meanwhile; looking at it again");
            let found = find_one(directory, spec, dn)
                .await
                .map_err(explain_at(dn))?;
            return match plan::decide(spec, dn, &found, shared.options.if_exists) {
                Decision::Skip { dn } => skip(directory, &dn).await,
                Decision::Update { dn } => Box::pin(update(directory, shared, spec, &dn)).await,
                Decision::Conflict(conflict) => Err(conflict_error(spec, conflict)),
                Decision::Create => Err(explain_at(dn)(error)),
            };
        }
        if f.rc == rc::CONSTRAINT_VIOLATION
            && f.diagnostic.code == Some(win32::PASSWORD_RESTRICTION)
        {
            let reason = shared.passwords.refusal(directory, spec, password).await;
            return Err(at(dn)(
                CommandError::new(
                    ExitStatus::ItemsFailed,
                    format!("{reason}; nothing was created"),
                )
                .with_hint("choose another password or use --generate-password")
                .with_detail(f.text.clone())
                .with_code("password-policy"),
            ));
        }
    }
    Err(explain_at(dn)(error))
}

/// The connection broke, or the DC stopped answering, after the Add was sent: whether the
/// account exists is learnt from the directory (on a new connection) before anything is
/// reported, and the run stops taking new accounts.
async fn resolve_unknown(
    shared: &Shared,
    dn: &Dn,
    recorded: &mut Recorded<'_>,
    password: Option<&NewPassword>,
    error: &DirectoryError,
) -> Result<AccountRecord, Failure> {
    let cause = failure::explain(error);
    shared.stop_with(Stop::Connection(cause.clone()));
    let fresh = match tokio::time::timeout(
        std::time::Duration::from_secs(shared.ctx.connection.timeout),
        shared.ctx.connect(),
    )
    .await
    {
        Ok(Ok(directory)) => Some(directory),
        _ => None,
    };
    let Some(mut fresh) = fresh else {
        let where_password = match (&shared.passwords.file, password.map(|p| &p.origin)) {
            (Some(file), Some(Origin::Generated)) => {
                format!("; if it was, its password is in {}", file.path().display())
            }
            _ => String::new(),
        };
        return Err(at(dn)(
            CommandError::new(
                ExitStatus::Connect,
                format!(
                    "{} while {dn} was being created, and the domain controller cannot be asked whether it was{where_password}",
                    cause.message
                ),
            )
            .with_hint("run the same command again with --if-exists skip once the domain controller answers")
            .with_code("outcome-unknown"),
        ));
    };
    match fresh.read_with_dacl(dn, &ACCOUNT_ATTRIBUTES).await {
        Ok(Some((entry, descriptor))) => {
            log::info!("{dn} was created although the answer was lost");
            let mut record = AccountRecord::from_entry(&entry, descriptor.as_ref());
            record.action = Some(Action::Created);
            fresh.unbind().await;
            Ok(record)
        }
        Ok(None) => {
            recorded.withdraw();
            fresh.unbind().await;
            Err(at(dn)(
                CommandError::new(
                    ExitStatus::Connect,
                    format!("{}; {dn} was not created", cause.message),
                )
                .with_hint("run the same command again")
                .with_code("connection"),
            ))
        }
        Err(e) => Err(explain_at(dn)(e)),
    }
}

async fn update(
    directory: &mut Directory,
    shared: &Shared,
    spec: &AccountSpec,
    dn: &Dn,
) -> Result<AccountRecord, Failure> {
    let (entry, descriptor) = read_account(directory, dn).await?;
    if !shared.options.allow_privileged
        && let Some(protection) = guard::protection(&entry)
    {
        return Err(at(dn)(
            CommandError::usage(format!("not changed: {protection}"))
                .with_hint("add --allow-privileged if changing it is really meant")
                .with_code("privileged"),
        ));
    }
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
    let Some(update) = plan else {
        let mut record = AccountRecord::from_entry(&entry, descriptor.as_ref());
        record.action = Some(Action::Unchanged);
        return Ok(record);
    };
    let changes: Vec<ChangeRecord> = update.changes.iter().map(ChangeRecord::from).collect();
    if shared.options.dry_run {
        let mut record = AccountRecord::from_entry(&entry, descriptor.as_ref());
        record.action = Some(Action::WouldUpdate);
        record.changes = changes;
        record.plan = Some(ldif::render(&update.ops));
        return Ok(record);
    }
    let resets = update.changes.contains(&plan::Change::ResetPassword);
    let password = if resets {
        let password = shared
            .passwords
            .for_account(directory, spec, shared.batch)
            .await
            .map_err(at(dn))?;
        if password.is_none() {
            return Err(at(dn)(
                CommandError::usage("--reset-password needs a password source").with_hint(
                    "add --account-password-stdin, --account-password-file FILE or --generate-password",
                ),
            ));
        }
        password
    } else {
        None
    };
    let mut recorded = record_before(shared, spec, dn, password.as_ref()).await?;
    let secret = password.as_ref().map(|p| &p.secret);
    if let Err(failed) = execute::run(directory, &update.ops, secret).await {
        if failed.error.outcome_unknown() {
            shared.stop_with(Stop::Connection(failure::explain(&failed.error)));
            return Err(at(dn)(
                CommandError::new(
                    ExitStatus::Connect,
                    format!(
                        "{} while {dn} was being updated; the change may or may not have been made",
                        failure::explain(&failed.error).message
                    ),
                )
                .with_hint("run the same command again: --if-exists update converges")
                .with_code("outcome-unknown"),
            ));
        }
        if failed.done == 0 {
            recorded.withdraw();
        }
        return Err(explain_at(dn)(failed.error));
    }
    drop(recorded);
    let mut record = read_record(directory, dn).await?;
    record.action = Some(Action::Updated);
    record.changes = changes;
    hand_out(shared, password, &mut record);
    Ok(record)
}
