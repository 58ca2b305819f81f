//! The Microsoft 365 simulator (`fake-graph`): the identity platform's token endpoint and the
//! part of Microsoft Graph v1.0 the calendar-integration job uses, behaving as the real service
//! does where clients go wrong.
//!
//! - [`tenant`]: the tenant: its domains, the app registration, SKUs, users.
//! - [`token`]: client credentials (a secret, or a certificate's signed assertion checked
//!   against the registered certificate: signature, audience, lifetime, thumbprint).
//! - [`users`]: `/users` (create, read, update), `subscribedSkus` and `assignLicense`.
//! - [`calendars`]: `calendarPermissions`, and when a new account's mailbox appears.
//! - [`server`]: HTTPS, bearer tokens and application permissions, throttling faults, the
//!   capture of every JSON body with its Graph type, and the control API.
//! - [`schema`]: the Graph v1.0 metadata (CSDL) the captures are checked against.

pub mod calendars;
pub mod schema;
pub mod server;
pub mod tenant;
pub mod token;
pub mod users;

/// A fresh GUID, as Graph writes ids.
pub fn guid() -> String {
    let mut bytes = [0u8; 16];
    let _ = openssl::rand::rand_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let hex = hex.concat();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
