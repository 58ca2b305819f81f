//! What the accounts of one run share: the options, the password file, the schema's default
//! DACL for users (read once), and the reason the run stopped taking new accounts.

use std::sync::Mutex;

use common::interrupt::Interrupt;
use common::sid::Sid;
use common::{CommandError, ExitStatus};
use tokio::sync::OnceCell;

use super::CreateUserArgs;
use super::passwords::Passwords;
use crate::context::Context;
use crate::directory::Directory;
use crate::dn::Dn;
use crate::failure;
use crate::sddl;
use crate::security_descriptor::Acl;

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
    pub(super) passwords: Passwords,
    /// Whether this is a `--from-csv` run.
    pub batch: bool,
    pub(super) ctx: Context,
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

    pub(super) fn stop_with(&self, stop: Stop) {
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
    pub(super) async fn user_dacl(&self, directory: &Directory) -> Result<Acl, CommandError> {
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
