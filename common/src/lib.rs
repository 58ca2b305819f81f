//! What `ad-tool` and `ews-tool` share, and nothing protocol-specific.
//!
//! - [`secret`]: passwords from a file, stdin, the environment or a no-echo prompt; never argv.
//! - [`output`]: `human`, `json` and `jsonl` output on stdout.
//! - [`files`]: reports and password files, added to and never overwritten.
//! - [`report`]: the items of a command reported alike whether one or many, with a summary.
//! - [`exit`] and [`error`]: the exit-code scheme and the one-line failure message.
//! - [`tls`]: trust settings (`--ca-file`, `--insecure`) and diagnosis of failed handshakes.
//! - [`config`]: the config file and its profiles.
//! - [`csv_input`]: `create-user --from-csv` files, checked whole before anything is created.
//! - [`settings`]: the command line with the environment and the profile, flag > environment >
//!   profile > default, and where each setting came from.
//! - [`logging`]: `-v`/`-q` logging to stderr.
//! - [`address`]: SMTP addresses, checked once where they come in.
//! - [`sid`]: Windows security identifiers, binary and string forms.
//! - [`args`]: the options both tools accept.
//! - [`base64`]: standard base64.
//! - [`batch`]: many items at once, results in input order, no head-of-line blocking.
//! - [`names`]: enums whose values have one name each, for output and parsing alike.
//! - [`filetime`]: Windows FILETIME, the clock of AD attributes and NTLM.
//! - [`sync`]: locks whose data outlive a panic.
//! - [`text`]: refusing control and invisible characters in values.
//! - [`tool`]: the entry every tool runs through.
//! - [`kerberos`] (feature `kerberos`): the session's Kerberos ticket, if it has a usable one.
//! - [`interrupt`]: Ctrl-C and SIGTERM: finish what is in flight, then stop.
//! - [`help`]: help templates whose examples are printed as written.
//! - [`progress`]: a live progress line on a terminal, a plain one under `-v` elsewhere.
//! - [`journal`]: the durable record of a run that writes calendar permissions, to resume or
//!   undo it.
//!
//! Protocol code (LDAP, EWS) lives in the tools themselves.
#![warn(missing_docs)]

pub mod address;
pub mod args;
pub mod base64;
pub mod batch;
pub mod config;
pub mod csv_input;
pub mod error;
pub mod exit;
pub mod files;
pub mod filetime;
pub mod help;
pub mod interrupt;
pub mod journal;
#[cfg(feature = "kerberos")]
pub mod kerberos;
pub mod logging;
pub mod mailboxes;
pub mod names;
pub mod net;
pub mod output;
pub mod progress;
pub mod report;
pub mod secret;
pub mod settings;
pub mod sid;
pub mod sync;
pub mod text;
pub mod tls;
pub mod tool;

pub use error::CommandError;
pub use exit::ExitStatus;
