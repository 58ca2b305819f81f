//! One account: decide (create, skip, update, or why not) and carry the decision out; creating
//! is [`super::create`]'s.

use common::{CommandError, ExitStatus};

use super::create::{create, hand_out, record_before};
use super::locate::Located;
use super::shared::{Shared, Stop};
use crate::account::AccountSpec;
use crate::directory::{Directory, DirectoryError, Entry};
use crate::dn::Dn;
use crate::execute;
use crate::failure;
use crate::guard;
use crate::ldif;
use crate::plan::{self, Conflict, Decision, ExistingAccount, MANAGED_ATTRIBUTE_NAMES};
use crate::record::{ACCOUNT_ATTRIBUTES, AccountRecord, Action, ChangeRecord};
use crate::security_descriptor::SecurityDescriptor;
use crate::security_descriptor::stored;
use crate::uac::UserAccountControl as Uac;

/// Why an account was not made as asked.
pub(super) enum Failure {
    /// The run began to stop before the account was started.
    NotStarted,
    /// It failed: the error, and the DN it concerns when that is known.
    At(Option<String>, CommandError),
}

pub(super) fn at(dn: &Dn) -> impl Fn(CommandError) -> Failure + '_ {
    move |error| Failure::At(Some(dn.to_string()), error)
}

pub(super) fn explain_at(dn: &Dn) -> impl Fn(DirectoryError) -> Failure + '_ {
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

pub(super) async fn converge(
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

pub(super) fn conflict_error(spec: &AccountSpec, conflict: Conflict) -> Failure {
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

pub(super) async fn skip(directory: &mut Directory, dn: &Dn) -> Result<AccountRecord, Failure> {
    let mut record = read_record(directory, dn).await?;
    record.action = Some(Action::Skipped);
    Ok(record)
}

/// The account's entry and DACL (with the attributes the guard reads), or a failure when it
/// is not there (any more).
pub(super) async fn read_account(
    directory: &mut Directory,
    dn: &Dn,
) -> Result<(Entry, Option<SecurityDescriptor>), Failure> {
    let attributes: Vec<&str> = ACCOUNT_ATTRIBUTES
        .iter()
        .chain(guard::GUARD_ATTRIBUTES.iter())
        .copied()
        .collect();
    stored::read_with_dacl(directory, dn, &attributes)
        .await
        .map_err(explain_at(dn))?
        .ok_or_else(|| {
            at(dn)(CommandError::new(
                ExitStatus::ItemsFailed,
                format!("{dn} vanished while it was being worked on"),
            ))
        })
}

pub(super) async fn read_record(
    directory: &mut Directory,
    dn: &Dn,
) -> Result<AccountRecord, Failure> {
    let (entry, descriptor) = read_account(directory, dn).await?;
    Ok(AccountRecord::from_entry(&entry, descriptor.as_ref()))
}

pub(super) async fn update(
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
