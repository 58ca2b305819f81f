//! The lab: real components the end-to-end tests run against, started by the tests themselves.
//!
//! - [`samba`]: a Samba AD domain controller, provisioned, seeded and torn down per test run.
//! - [`certs`]: the lab's CA and server certificates, issued at start.
//! - [`seed`]: what the lab directory holds.
//! - [`tools`]: running the workspace's binaries as an administrator would.
//! - [`mail_enable`]: what Exchange's Enable-DistributionGroup leaves in the directory.
//! - [`kerberos`]: the simulator's service principal and keytab, and its name for clients.
//! - [`peer`]: exchangelib, a client written elsewhere, in a throwaway virtual environment.
//! - [`program`]: what the simulator programs share around their own work.

pub mod certs;
pub mod exchange;
pub mod fake_ews;
pub mod fake_graph;
pub mod graph;
pub mod kerberos;
pub mod ldap_proxy;
pub mod mail_enable;
pub mod peer;
pub mod prerequisites;
pub mod program;
pub mod publish;
pub mod samba;
pub mod seed;
pub mod served;
pub mod session;
pub mod tools;
