//! The LDAP operations the commands need: searches and reads (the DACL under the SD-flags
//! control), adds, modifies, DACL writes and deletes, each within the timeout and with errors
//! that say which operation on which entry failed. Modifications are logged with passwords
//! redacted.

use std::collections::HashSet;
use std::time::Duration;

use ldap3::controls::RawControl;
use ldap3::{Mod, Scope, SearchEntry};

use super::{Directory, DirectoryError, Entry, broken, with_timeout};
use crate::diagnostic::{LdapFailure, rc};
use crate::dn::Dn;

/// The SD-flags control asking for the DACL only (MS-ADTS 3.1.1.3.4.1.11): without it the
/// server returns, and expects, the SACL too, which a delegated operator may not touch.
fn sd_flags_dacl_only() -> RawControl {
    RawControl {
        ctype: "1.2.840.113556.1.4.801".into(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x04]),
    }
}

impl Directory {
    /// One attribute of the root DSE (`schemaNamingContext`, say).
    pub async fn root_dse_text(&mut self, name: &str) -> Result<Option<String>, DirectoryError> {
        Ok(self
            .read_raw("", &[name], false)
            .await?
            .and_then(|e| e.text(name)))
    }

    /// The DN of the domain's Users container, through its well-known GUID (MS-ADTS 6.1.1.4),
    /// so a redirected container (`redirusr`) is found too.
    pub async fn users_container(&mut self) -> Result<Dn, DirectoryError> {
        let wkguid = format!(
            "<WKGUID=a9d1ca15768811d1aded00c04fd8d5cd,{}>",
            self.naming_context
        );
        let entry = self
            .read_raw(&wkguid, &["distinguishedName"], false)
            .await?;
        Ok(entry
            .and_then(|e| e.parsed_dn())
            .unwrap_or_else(|| self.naming_context.child("CN", "Users")))
    }

    /// Searches and returns every entry.
    pub async fn search(
        &mut self,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>, DirectoryError> {
        self.search_raw(&base.to_string(), scope, filter, attrs, false)
            .await
    }

    /// Reads one entry; `None` when it does not exist.
    pub async fn read(&mut self, dn: &Dn, attrs: &[&str]) -> Result<Option<Entry>, DirectoryError> {
        self.read_raw(&dn.to_string(), attrs, false).await
    }

    /// Reads one entry with its DACL: `nTSecurityDescriptor` is asked for too, under the
    /// SD-flags control, and comes back as bytes (MS-DTYP 2.4.6, self-relative).
    pub async fn read_with_dacl(
        &mut self,
        dn: &Dn,
        attrs: &[&str],
    ) -> Result<Option<Entry>, DirectoryError> {
        let mut all: Vec<&str> = attrs.to_vec();
        all.push("nTSecurityDescriptor");
        self.read_raw(&dn.to_string(), &all, true).await
    }

    pub(super) async fn read_raw(
        &mut self,
        base: &str,
        attrs: &[&str],
        dacl: bool,
    ) -> Result<Option<Entry>, DirectoryError> {
        match self
            .search_raw(base, Scope::Base, "(objectClass=*)", attrs, dacl)
            .await
        {
            Ok(mut entries) => Ok(entries.pop()),
            Err(DirectoryError::Operation { failure, .. }) if failure.rc == rc::NO_SUCH_OBJECT => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub(super) async fn search_raw(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        dacl: bool,
    ) -> Result<Vec<Entry>, DirectoryError> {
        log::debug!("search base={base} scope={scope:?} filter={filter} attrs={attrs:?}");
        if dacl {
            self.ldap.with_controls(vec![sd_flags_dacl_only()]);
        }
        let result = with_timeout(
            &self.address,
            self.timeout,
            self.ldap.search(base, scope, filter, attrs.to_vec()),
        )
        .await?
        .map_err(|e| broken(&self.address, "search", &e))?;
        let ldap3::SearchResult(entries, outcome) = result;
        if outcome.rc != 0 {
            return Err(DirectoryError::Operation {
                operation: "search",
                dn: base.to_owned(),
                failure: LdapFailure::new(outcome.rc, &outcome.text),
            });
        }
        Ok(entries
            .into_iter()
            .map(|e| Entry::from_search(SearchEntry::construct(e)))
            .collect())
    }

    /// Adds an entry.
    pub async fn add(
        &mut self,
        dn: &Dn,
        attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)>,
    ) -> Result<(), DirectoryError> {
        log::debug!(
            "add {dn} attributes {:?}",
            attrs
                .iter()
                .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>()
        );
        let dn_text = dn.to_string();
        complete(
            &self.address,
            self.timeout,
            "add",
            dn,
            self.ldap.add(&dn_text, attrs),
        )
        .await
    }

    /// Adds an entry whose attributes include `nTSecurityDescriptor` holding a DACL only, under
    /// the SD-flags control (DACL only): the DC supplies the owner, group and SACL.
    pub async fn add_with_dacl(
        &mut self,
        dn: &Dn,
        attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)>,
    ) -> Result<(), DirectoryError> {
        self.ldap.with_controls(vec![sd_flags_dacl_only()]);
        self.add(dn, attrs).await
    }

    /// Modifies an entry.
    pub async fn modify(&mut self, dn: &Dn, mods: Vec<Mod<Vec<u8>>>) -> Result<(), DirectoryError> {
        log::debug!("modify {dn}: {}", describe_mods(&mods));
        let dn_text = dn.to_string();
        complete(
            &self.address,
            self.timeout,
            "modify",
            dn,
            self.ldap.modify(&dn_text, mods),
        )
        .await
    }

    /// Writes a DACL-only security descriptor (`descriptor`, self-relative bytes; `sddl`, its
    /// text for the debug log) under the SD-flags control.
    pub async fn write_dacl(
        &mut self,
        dn: &Dn,
        descriptor: Vec<u8>,
        sddl: &str,
    ) -> Result<(), DirectoryError> {
        log::debug!("modify {dn}: replace nTSecurityDescriptor (DACL) with {sddl}");
        let mods = vec![Mod::Replace(
            b"nTSecurityDescriptor".to_vec(),
            HashSet::from([descriptor]),
        )];
        let dn_text = dn.to_string();
        self.ldap.with_controls(vec![sd_flags_dacl_only()]);
        complete(
            &self.address,
            self.timeout,
            "modify",
            dn,
            self.ldap.modify(&dn_text, mods),
        )
        .await
    }

    /// Deletes an entry.
    pub async fn delete(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        log::debug!("delete {dn}");
        let dn_text = dn.to_string();
        complete(
            &self.address,
            self.timeout,
            "delete",
            dn,
            self.ldap.delete(&dn_text),
        )
        .await
    }
}

/// Awaits a write within the timeout and turns its result into success or the typed error.
async fn complete(
    address: &str,
    timeout: Duration,
    operation: &'static str,
    dn: &Dn,
    request: impl Future<Output = ldap3::result::Result<ldap3::LdapResult>>,
) -> Result<(), DirectoryError> {
    let result = with_timeout(address, timeout, request)
        .await?
        .map_err(|e| broken(address, operation, &e))?;
    check(operation, dn, &result)
}

fn check(
    operation: &'static str,
    dn: &Dn,
    result: &ldap3::LdapResult,
) -> Result<(), DirectoryError> {
    if result.rc == 0 {
        return Ok(());
    }
    Err(DirectoryError::Operation {
        operation,
        dn: dn.to_string(),
        failure: LdapFailure::new(result.rc, &result.text),
    })
}

fn describe_mods(mods: &[Mod<Vec<u8>>]) -> String {
    mods.iter()
        .map(|m| {
            let (kind, name, values) = match m {
                Mod::Add(n, v) => ("add", n, Some(v)),
                Mod::Delete(n, v) => ("delete", n, Some(v)),
                Mod::Replace(n, v) => ("replace", n, Some(v)),
                Mod::Increment(n, _) => ("increment", n, None),
            };
            let name = String::from_utf8_lossy(name);
            let shown = if name.eq_ignore_ascii_case("unicodePwd") {
                "<redacted>".to_owned()
            } else {
                values
                    .map(|v| {
                        v.iter()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .unwrap_or_default()
            };
            format!("{kind} {name}={shown}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped() {
        // ldap3's escaping is RFC 4515's, as the filters built here need.
        assert_eq!(
            ldap3::ldap_escape("a*b(c)\\d\0"),
            "a\\2ab\\28c\\29\\5cd\\00"
        );
        assert_eq!(ldap3::ldap_escape("Jürgen*"), "Jürgen\\2a");
    }

    #[test]
    fn passwords_never_show_in_logged_modifications() {
        let mods = vec![
            Mod::Replace(
                b"unicodePwd".to_vec(),
                HashSet::from([b"\"secret\"".to_vec()]),
            ),
            Mod::Replace(b"description".to_vec(), HashSet::from([b"x".to_vec()])),
        ];
        let text = describe_mods(&mods);
        assert_eq!(text, "replace unicodePwd=<redacted>; replace description=x");
    }
}
