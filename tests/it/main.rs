//! End-to-end tests against the lab: a real Samba AD domain controller started once for this
//! test binary. Side effects are checked independently of the tools (samba-tool on the DC's
//! database, OpenLDAP's clients over LDAPS, binds as the accounts created).

mod ad_accounts;
mod ad_discovery;
mod ad_errors;
mod ad_groups;
mod ad_kerberos;
mod ad_mailboxes;
mod config_profiles;
mod descriptors;
mod ews_permissions;
mod support;
