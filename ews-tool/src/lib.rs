//! `ews-tool`: grants, lists and revokes calendar folder permissions on many mailboxes through
//! Exchange Web Services, writing back every other entry unchanged.
//!
//! Pure parts: [`permissions`] (the model, the grantee and the edits), [`policy`] (what an
//! answer means and how many requests to keep in flight), [`request`] and [`response`] (SOAP),
//! [`ntlm`] and [`channel_binding`]. I/O: [`transport`] (HTTPS, logons through the [`auth`]
//! seam) and [`client`] (pool, throttling, retries, doing what [`policy`] says); [`batch`] edits
//! one mailbox. [`error`] turns failures into what the operator reads.

use std::ffi::OsString;
use std::process::ExitCode;

pub mod auth;
pub mod autodiscover;
pub mod batch;
pub mod channel_binding;
pub mod cli;
pub mod client;
pub mod commands;
pub mod context;
pub mod endpoint;
pub mod error;
pub mod journal;
#[cfg(feature = "kerberos")]
pub mod kerberos;
pub use common::mailboxes;
pub mod ntlm;
pub mod outcome;
pub mod permissions;
pub mod policy;
pub mod request;
pub mod response;
pub mod response_code;
pub mod transport;
pub mod version;

/// Runs the tool with these arguments (the first is the program name) and returns its exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let tool = common::tool::Tool {
        name: "ews-tool",
        own_crates: &["ews_tool", "common", "directory"],
    };
    let args = args.into_iter().collect();
    common::tool::run(tool, args, cli::parse, |cli| &cli.global, commands::run)
}
