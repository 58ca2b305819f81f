//! Runs a plan's operations ([`Op`]) against the domain controller, in order, stopping at the
//! first that fails. The only place the commands write (create-user, create-group, add-member,
//! delete-user).

use std::collections::HashSet;

use common::secret::Secret;
use ldap3::Mod;

use crate::directory::{Directory, DirectoryError};
use crate::password;
use crate::plan::{Change, Op};
use crate::security_descriptor::stored;

/// An operation that failed, and how many before it were done.
#[derive(Debug)]
pub struct Failed {
    /// How many operations succeeded before this one.
    pub done: usize,
    /// The failure.
    pub error: DirectoryError,
}

/// Runs `ops` in order; `password` is what `unicodePwd` gets where an operation sets it (the
/// caller makes sure there is one when the plan sets it).
pub async fn run(
    directory: &mut Directory,
    ops: &[Op],
    password: Option<&Secret>,
) -> Result<(), Failed> {
    for (done, op) in ops.iter().enumerate() {
        run_one(directory, op, password)
            .await
            .map_err(|error| Failed { done, error })?;
    }
    Ok(())
}

fn one(name: &str, value: Vec<u8>) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (name.as_bytes().to_vec(), HashSet::from([value]))
}

async fn run_one(
    directory: &mut Directory,
    op: &Op,
    password: Option<&Secret>,
) -> Result<(), DirectoryError> {
    match op {
        Op::Add {
            dn,
            attributes,
            uac,
            with_password,
            descriptor,
        } => {
            let mut attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = Vec::new();
            for (name, value) in attributes {
                let value = value.clone().into_bytes();
                match attrs.iter_mut().find(|(n, _)| n == name.as_bytes()) {
                    Some((_, values)) => {
                        values.insert(value);
                    }
                    None => attrs.push(one(name, value)),
                }
            }
            if let (true, Some(secret)) = (with_password, password) {
                // The password and the final flags travel in the same Add: a password the
                // policy refuses fails the whole Add and leaves nothing behind. The copy handed
                // to the LDAP library is that library's to keep (it is not wiped).
                attrs.push(one("unicodePwd", password::unicode_pwd(secret).to_vec()));
            }
            if let Some(uac) = uac {
                attrs.push(one("userAccountControl", uac.0.to_string().into_bytes()));
            }
            match descriptor {
                Some(descriptor) => {
                    attrs.push(one("nTSecurityDescriptor", descriptor.to_bytes()));
                    directory.add_with_dacl(dn, attrs).await
                }
                None => directory.add(dn, attrs).await,
            }
        }
        Op::Modify { dn, changes } => {
            let replace = |name: &str, value: Vec<u8>| {
                Mod::Replace(name.as_bytes().to_vec(), HashSet::from([value]))
            };
            let mut mods = Vec::new();
            for change in changes {
                match change {
                    Change::Attribute { name, to, .. } => {
                        mods.push(replace(name, to.clone().into_bytes()));
                    }
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
                    Change::ResetPassword => {
                        if let Some(secret) = password {
                            mods.push(replace(
                                "unicodePwd",
                                password::unicode_pwd(secret).to_vec(),
                            ));
                        }
                    }
                    Change::AddValue { name, value } => mods.push(Mod::Add(
                        name.as_bytes().to_vec(),
                        HashSet::from([value.clone().into_bytes()]),
                    )),
                    Change::CannotChangePassword { .. } => {}
                }
            }
            if mods.is_empty() {
                return Ok(());
            }
            directory.modify(dn, mods).await
        }
        Op::WriteDacl { dn, descriptor, .. } => stored::write_dacl(directory, dn, descriptor).await,
        Op::Delete { dn } => directory.delete(dn).await,
    }
}
