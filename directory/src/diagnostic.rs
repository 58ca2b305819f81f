//! An LDAP operation's failure: the result code (RFC 4511) and AD's diagnostic message, whose
//! structured prefix carries the Windows error code (`0000052D: …`) and, for binds, the reason
//! (`…, data 52e, …`). Both are decoded here, once; the rest of the tool matches on numbers.

use std::fmt;

/// RFC 4511 result codes the tool tells apart.
pub mod rc {
    /// `operationsError`
    pub const OPERATIONS_ERROR: u32 = 1;
    /// `protocolError`
    pub const PROTOCOL_ERROR: u32 = 2;
    /// `sizeLimitExceeded`
    pub const SIZE_LIMIT_EXCEEDED: u32 = 4;
    /// `strongerAuthRequired`
    pub const STRONGER_AUTH_REQUIRED: u32 = 8;
    /// `unavailableCriticalExtension`: a critical control the server does not support
    pub const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;
    /// `noSuchAttribute`
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    /// `constraintViolation`
    pub const CONSTRAINT_VIOLATION: u32 = 19;
    /// `attributeOrValueExists`
    pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
    /// `invalidAttributeSyntax`
    pub const INVALID_ATTRIBUTE_SYNTAX: u32 = 21;
    /// `noSuchObject`
    pub const NO_SUCH_OBJECT: u32 = 32;
    /// `invalidDNSyntax`
    pub const INVALID_DN_SYNTAX: u32 = 34;
    /// `invalidCredentials`
    pub const INVALID_CREDENTIALS: u32 = 49;
    /// `insufficientAccessRights`
    pub const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    /// `busy`
    pub const BUSY: u32 = 51;
    /// `unavailable`
    pub const UNAVAILABLE: u32 = 52;
    /// `unwillingToPerform`
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    /// `namingViolation`
    pub const NAMING_VIOLATION: u32 = 64;
    /// `objectClassViolation`
    pub const OBJECT_CLASS_VIOLATION: u32 = 65;
    /// `notAllowedOnNonLeaf`
    pub const NOT_ALLOWED_ON_NON_LEAF: u32 = 66;
    /// `entryAlreadyExists`
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
}

/// Windows error codes that appear as the diagnostic prefix.
pub mod win32 {
    /// `ERROR_PASSWORD_RESTRICTION`: the password breaks the domain's policy.
    pub const PASSWORD_RESTRICTION: u32 = 0x52D;
    /// `ERROR_USER_EXISTS`: the sAMAccountName is taken (Windows answers a duplicate so).
    pub const USER_EXISTS: u32 = 0x524;
}

/// The `data` codes of a failed bind (the NTSTATUS reason behind `invalidCredentials`).
pub mod bind_data {
    /// No such user.
    pub const NO_SUCH_USER: u32 = 0x525;
    /// Wrong password.
    pub const LOGON_FAILURE: u32 = 0x52e;
    /// Not permitted to log on at this time.
    pub const INVALID_LOGON_HOURS: u32 = 0x530;
    /// Not permitted to log on from this workstation.
    pub const INVALID_WORKSTATION: u32 = 0x531;
    /// Password expired.
    pub const PASSWORD_EXPIRED: u32 = 0x532;
    /// Account disabled.
    pub const ACCOUNT_DISABLED: u32 = 0x533;
    /// Account expired.
    pub const ACCOUNT_EXPIRED: u32 = 0x701;
    /// User must change the password first.
    pub const PASSWORD_MUST_CHANGE: u32 = 0x773;
    /// Account locked out.
    pub const ACCOUNT_LOCKED_OUT: u32 = 0x775;
}

/// The numbers in AD's diagnostic message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Diagnostic {
    /// The leading 8-hex-digit Windows error code.
    pub code: Option<u32>,
    /// The `data XXX` value (hex).
    pub data: Option<u32>,
}

impl Diagnostic {
    /// Reads `XXXXXXXX: …, data YYY, …` (MS-ADTS 3.1.1.3.1.9's extended error format).
    pub fn parse(text: &str) -> Self {
        let code = text
            .get(..8)
            .filter(|prefix| {
                prefix.bytes().all(|b| b.is_ascii_hexdigit()) && text[8..].starts_with(':')
            })
            .and_then(|prefix| u32::from_str_radix(prefix, 16).ok());
        let data = text.split([',', ':']).map(str::trim).find_map(|part| {
            let hex = part.strip_prefix("data ")?;
            let digits: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
            u32::from_str_radix(&digits, 16).ok()
        });
        Self { code, data }
    }
}

/// A failed LDAP operation's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapFailure {
    /// The result code.
    pub rc: u32,
    /// The server's diagnostic message.
    pub text: String,
    /// The numbers in it.
    pub diagnostic: Diagnostic,
}

impl LdapFailure {
    /// From a result code and the server's text.
    pub fn new(rc: u32, text: &str) -> Self {
        let text = text.trim_end_matches('\0').trim().to_owned();
        Self {
            rc,
            diagnostic: Diagnostic::parse(&text),
            text,
        }
    }

    /// The RFC 4511 name of the result code.
    pub fn rc_name(&self) -> &'static str {
        match self.rc {
            rc::OPERATIONS_ERROR => "operationsError",
            rc::PROTOCOL_ERROR => "protocolError",
            3 => "timeLimitExceeded",
            rc::SIZE_LIMIT_EXCEEDED => "sizeLimitExceeded",
            7 => "authMethodNotSupported",
            rc::STRONGER_AUTH_REQUIRED => "strongerAuthRequired",
            10 => "referral",
            11 => "adminLimitExceeded",
            12 => "unavailableCriticalExtension",
            13 => "confidentialityRequired",
            rc::NO_SUCH_ATTRIBUTE => "noSuchAttribute",
            17 => "undefinedAttributeType",
            rc::CONSTRAINT_VIOLATION => "constraintViolation",
            rc::ATTRIBUTE_OR_VALUE_EXISTS => "attributeOrValueExists",
            rc::INVALID_ATTRIBUTE_SYNTAX => "invalidAttributeSyntax",
            rc::NO_SUCH_OBJECT => "noSuchObject",
            rc::INVALID_DN_SYNTAX => "invalidDNSyntax",
            rc::INVALID_CREDENTIALS => "invalidCredentials",
            rc::INSUFFICIENT_ACCESS_RIGHTS => "insufficientAccessRights",
            rc::BUSY => "busy",
            rc::UNAVAILABLE => "unavailable",
            rc::UNWILLING_TO_PERFORM => "unwillingToPerform",
            rc::NAMING_VIOLATION => "namingViolation",
            rc::OBJECT_CLASS_VIOLATION => "objectClassViolation",
            rc::NOT_ALLOWED_ON_NON_LEAF => "notAllowedOnNonLeaf",
            67 => "notAllowedOnRDN",
            rc::ENTRY_ALREADY_EXISTS => "entryAlreadyExists",
            69 => "objectClassModsProhibited",
            80 => "other",
            _ => "unknown result",
        }
    }

    /// Why a bind was refused, in admin words, from the `data` code.
    pub fn bind_reason(&self) -> &'static str {
        match self.diagnostic.data {
            Some(bind_data::NO_SUCH_USER) => "there is no such user",
            Some(bind_data::INVALID_LOGON_HOURS) => "the account may not log on at this time",
            Some(bind_data::INVALID_WORKSTATION) => "the account may not log on from this machine",
            Some(bind_data::PASSWORD_EXPIRED) => "the account's password has expired",
            Some(bind_data::ACCOUNT_DISABLED) => "the account is disabled",
            Some(bind_data::ACCOUNT_EXPIRED) => "the account has expired",
            Some(bind_data::PASSWORD_MUST_CHANGE) => {
                "the account must change its password before it can log on"
            }
            Some(bind_data::ACCOUNT_LOCKED_OUT) => "the account is locked out",
            _ => "the user name or password is wrong",
        }
    }
}

impl fmt::Display for LdapFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.rc_name(), self.rc)?;
        if !self.text.is_empty() {
            write!(f, ": {}", self.text)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_diagnostics_decode() {
        let failure = LdapFailure::new(
            49,
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563\0",
        );
        assert_eq!(
            failure.diagnostic,
            Diagnostic {
                code: Some(0x8009_0308),
                data: Some(0x52e)
            }
        );
        assert_eq!(failure.bind_reason(), "the user name or password is wrong");
        assert_eq!(LdapFailure::new(49, "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 775, v1db1").bind_reason(), "the account is locked out");
        assert_eq!(
            LdapFailure::new(49, "80090308: ..., data 533, v893").bind_reason(),
            "the account is disabled"
        );
    }

    #[test]
    fn password_policy_prefix_decodes() {
        let failure = LdapFailure::new(
            19,
            "0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!",
        );
        assert_eq!(failure.diagnostic.code, Some(win32::PASSWORD_RESTRICTION));
        assert_eq!(failure.diagnostic.data, None);
        assert_eq!(failure.rc_name(), "constraintViolation");
    }

    #[test]
    fn text_without_structure_has_no_numbers() {
        assert_eq!(
            Diagnostic::parse("Entry already exists"),
            Diagnostic::default()
        );
        assert_eq!(Diagnostic::parse(""), Diagnostic::default());
        assert_eq!(Diagnostic::parse("0000ZZZZ: no"), Diagnostic::default());
    }
}
