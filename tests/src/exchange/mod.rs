//! The Exchange simulator (`fake-ews`): an HTTPS EWS endpoint that behaves like Exchange for the
//! calendar-permission operations, resolves users from the lab's directory, verifies NTLM with
//! the lab's domain controller, and captures every request and response for the schema tests.

pub mod auth;
pub mod directory;
pub mod folders;
pub mod model;
pub mod responses;
pub mod server;
pub mod soap;
