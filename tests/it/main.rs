//! End-to-end tests against the lab: a real Samba AD domain controller started once for this
//! test binary, and Exchange simulators in front of it. Side effects are checked independently
//! of the tools (samba-tool on the DC's database, OpenLDAP's clients over LDAPS, binds as the
//! accounts created, the simulator's own state through its control API).

mod ad_accounts;
mod ad_batches;
mod ad_discovery;
mod ad_errors;
mod ad_faults;
mod ad_groups;
mod ad_input;
mod ad_kerberos;
mod ad_mailboxes;
mod config_profiles;
mod descriptors;
mod ews_accounts;
mod ews_autodiscover;
mod ews_conformance;
mod ews_errors;
mod ews_faults;
mod ews_grantees;
mod ews_journal;
mod ews_kerberos;
mod ews_permissions;
mod ews_resilience;
mod help;
mod m365;
mod m365_journal;
mod output_shape;
mod peer_exchangelib;
mod progress;
mod readme;
mod setup;
mod support;
