//! `ews-tool`: grants, lists and revokes calendar folder permissions on many mailboxes through
//! Exchange Web Services, writing back every other entry unchanged.

pub mod channel_binding;
pub mod ntlm;
pub mod permissions;
pub mod request;
pub mod response;
pub mod transport;
pub mod version;
