//! Creating one account: record a generated password before the account exists, run the one
//! Add, and learn an outcome the connection left unknown by reading the directory before
//! reporting it; a refused Add takes the password's row back.

use common::{CommandError, ExitStatus};

use super::converge::{Failure, at, conflict_error, explain_at, read_record, skip, update};
use super::locate::find_one;
use super::passwords::{NewPassword, Origin};
use super::shared::{Shared, Stop};
use crate::account::AccountSpec;
use crate::diagnostic::{rc, win32};
use crate::directory::{Directory, DirectoryError};
use crate::dn::Dn;
use crate::execute;
use crate::failure;
use crate::ldif;
use crate::plan::{self, Decision, Op};
use crate::record::{ACCOUNT_ATTRIBUTES, AccountRecord, Action};
use crate::security_descriptor::stored;
use crate::uac::UserAccountControl as Uac;

/// Where a generated password went: the file (written before the account was created, under
/// its lock until the outcome is known), or the record (printed once).
pub(super) struct Recorded<'a> {
    guard: Option<common::files::PasswordFileGuard<'a>>,
    row: Option<common::files::WrittenRow>,
}

impl Recorded<'_> {
    /// The account was not created: take the password's row back.
    pub(super) fn withdraw(&mut self) {
        if let (Some(guard), Some(row)) = (self.guard.as_mut(), self.row.take()) {
            let _ = guard.withdraw(row);
        }
    }
}

/// Writes a generated password to the file before its account is created. A file that
/// cannot be written stops the run: no account is made whose password is not on disk.
pub(super) async fn record_before<'a>(
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

pub(super) async fn create(
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
pub(super) fn would_create(spec: &AccountSpec, op: &Op) -> AccountRecord {
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
pub(super) fn hand_out(shared: &Shared, password: Option<NewPassword>, record: &mut AccountRecord) {
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
pub(super) async fn refused(
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
pub(super) async fn resolve_unknown(
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
    match stored::read_with_dacl(&mut fresh, dn, &ACCOUNT_ATTRIBUTES).await {
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
