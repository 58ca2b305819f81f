//! An entry's DACL as the directory stores it: read with the entry and parsed, or written back.

use crate::directory::{Directory, DirectoryError, Entry};
use crate::dn::Dn;

use super::SecurityDescriptor;

/// Reads one entry with its parsed DACL; `None` when the entry does not exist.
pub async fn read_with_dacl(
    directory: &mut Directory,
    dn: &Dn,
    attrs: &[&str],
) -> Result<Option<(Entry, Option<SecurityDescriptor>)>, DirectoryError> {
    let Some(entry) = directory.read_with_dacl(dn, attrs).await? else {
        return Ok(None);
    };
    let descriptor = entry
        .bytes("nTSecurityDescriptor")
        .map(SecurityDescriptor::parse)
        .transpose()
        .map_err(|source| DirectoryError::Unreadable {
            dn: dn.to_string(),
            what: "permissions",
            reason: source.to_string(),
        })?;
    Ok(Some((entry, descriptor)))
}

/// Replaces the entry's DACL.
pub async fn write_dacl(
    directory: &mut Directory,
    dn: &Dn,
    descriptor: &SecurityDescriptor,
) -> Result<(), DirectoryError> {
    directory
        .write_dacl(dn, descriptor.to_bytes(), &descriptor.to_sddl())
        .await
}
