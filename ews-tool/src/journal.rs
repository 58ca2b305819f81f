//! The journal of a writing run (`common::journal`), with the grantee's entry as Exchange
//! keeps it ([`EntryState`]: none, a named level, or individual rights).

pub use common::journal::{Header, Journal, JournalError};

use crate::permissions::EntryState;

/// One line of an ews-tool journal.
pub type Record = common::journal::Record<EntryState>;
/// What an ews-tool journal says of its mailboxes.
pub type Contents = common::journal::Contents<EntryState>;
/// One mailbox's records in an ews-tool journal.
pub type MailboxHistory = common::journal::MailboxHistory<EntryState>;

/// The tool named in the journals it writes.
pub const TOOL: &str = "ews-tool";
