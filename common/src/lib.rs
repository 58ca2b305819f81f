//! What `ad-tool` and `ews-tool` share, and nothing protocol-specific.
//!
//! - [`secret`]: passwords from a file, stdin, the environment or a no-echo prompt; never argv.
//! - [`output`]: `human`, `json` and `jsonl` output on stdout.
//! - [`exit`] and [`error`]: the exit-code scheme and the one-line failure message.
//! - [`tls`]: trust settings (`--ca-file`, `--insecure`) and diagnosis of failed handshakes.
//! - [`config`]: profiles in the config file, applied between the environment and the defaults.
//! - [`logging`]: `-v`/`-q` logging to stderr.
//! - [`sid`]: Windows security identifiers, binary and string forms.
//! - [`args`]: the options both tools accept.
//! - [`base64`]: standard base64.
//!
//! Protocol code (LDAP, EWS) lives in the tools themselves.
#![warn(missing_docs)]

pub mod args;
pub mod base64;
pub mod config;
pub mod error;
pub mod exit;
pub mod logging;
pub mod net;
pub mod output;
pub mod secret;
pub mod sid;
pub mod tls;

pub use error::CommandError;
pub use exit::ExitStatus;
