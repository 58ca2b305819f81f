//! `userAccountControl` flags (MS-ADTS 2.2.16): arithmetic and names.

use std::fmt;

/// The value of `userAccountControl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UserAccountControl(pub u32);

impl UserAccountControl {
    /// Logon script is run.
    pub const SCRIPT: u32 = 0x1;
    /// The account is disabled.
    pub const ACCOUNTDISABLE: u32 = 0x2;
    /// A home directory is required.
    pub const HOMEDIR_REQUIRED: u32 = 0x8;
    /// Locked out (computed; never written).
    pub const LOCKOUT: u32 = 0x10;
    /// No password is required.
    pub const PASSWD_NOTREQD: u32 = 0x20;
    /// Cannot change password (read only; the real setting is the DACL).
    pub const PASSWD_CANT_CHANGE: u32 = 0x40;
    /// Password stored with reversible encryption.
    pub const ENCRYPTED_TEXT_PWD_ALLOWED: u32 = 0x80;
    /// A normal user account.
    pub const NORMAL_ACCOUNT: u32 = 0x200;
    /// An interdomain trust account.
    pub const INTERDOMAIN_TRUST_ACCOUNT: u32 = 0x800;
    /// A workstation or member server account.
    pub const WORKSTATION_TRUST_ACCOUNT: u32 = 0x1000;
    /// A domain controller account.
    pub const SERVER_TRUST_ACCOUNT: u32 = 0x2000;
    /// The password never expires.
    pub const DONT_EXPIRE_PASSWORD: u32 = 0x1_0000;
    /// An MNS logon account.
    pub const MNS_LOGON_ACCOUNT: u32 = 0x2_0000;
    /// Smart card required for interactive logon.
    pub const SMARTCARD_REQUIRED: u32 = 0x4_0000;
    /// Trusted for Kerberos delegation.
    pub const TRUSTED_FOR_DELEGATION: u32 = 0x8_0000;
    /// Sensitive and cannot be delegated.
    pub const NOT_DELEGATED: u32 = 0x10_0000;
    /// Only DES keys for Kerberos.
    pub const USE_DES_KEY_ONLY: u32 = 0x20_0000;
    /// Kerberos pre-authentication not required.
    pub const DONT_REQ_PREAUTH: u32 = 0x40_0000;
    /// The password has expired (computed; never written).
    pub const PASSWORD_EXPIRED: u32 = 0x80_0000;
    /// Trusted to authenticate for delegation.
    pub const TRUSTED_TO_AUTH_FOR_DELEGATION: u32 = 0x100_0000;
    /// A read-only DC's account.
    pub const PARTIAL_SECRETS_ACCOUNT: u32 = 0x400_0000;

    const NAMES: [(u32, &'static str); 22] = [
        (Self::SCRIPT, "SCRIPT"),
        (Self::ACCOUNTDISABLE, "ACCOUNTDISABLE"),
        (Self::HOMEDIR_REQUIRED, "HOMEDIR_REQUIRED"),
        (Self::LOCKOUT, "LOCKOUT"),
        (Self::PASSWD_NOTREQD, "PASSWD_NOTREQD"),
        (Self::PASSWD_CANT_CHANGE, "PASSWD_CANT_CHANGE"),
        (
            Self::ENCRYPTED_TEXT_PWD_ALLOWED,
            "ENCRYPTED_TEXT_PWD_ALLOWED",
        ),
        (Self::NORMAL_ACCOUNT, "NORMAL_ACCOUNT"),
        (Self::INTERDOMAIN_TRUST_ACCOUNT, "INTERDOMAIN_TRUST_ACCOUNT"),
        (Self::WORKSTATION_TRUST_ACCOUNT, "WORKSTATION_TRUST_ACCOUNT"),
        (Self::SERVER_TRUST_ACCOUNT, "SERVER_TRUST_ACCOUNT"),
        (Self::DONT_EXPIRE_PASSWORD, "DONT_EXPIRE_PASSWORD"),
        (Self::MNS_LOGON_ACCOUNT, "MNS_LOGON_ACCOUNT"),
        (Self::SMARTCARD_REQUIRED, "SMARTCARD_REQUIRED"),
        (Self::TRUSTED_FOR_DELEGATION, "TRUSTED_FOR_DELEGATION"),
        (Self::NOT_DELEGATED, "NOT_DELEGATED"),
        (Self::USE_DES_KEY_ONLY, "USE_DES_KEY_ONLY"),
        (Self::DONT_REQ_PREAUTH, "DONT_REQ_PREAUTH"),
        (Self::PASSWORD_EXPIRED, "PASSWORD_EXPIRED"),
        (
            Self::TRUSTED_TO_AUTH_FOR_DELEGATION,
            "TRUSTED_TO_AUTH_FOR_DELEGATION",
        ),
        (Self::PARTIAL_SECRETS_ACCOUNT, "PARTIAL_SECRETS_ACCOUNT"),
        (0x800_0000, "USE_AES_KEYS"),
    ];

    /// Bits the directory computes and ignores or refuses on write.
    const COMPUTED: u32 = Self::LOCKOUT | Self::PASSWORD_EXPIRED | Self::PASSWD_CANT_CHANGE;

    /// Whether every bit of `flag` is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag == flag
    }

    /// The value with `flag` set or cleared.
    #[must_use]
    pub fn with(self, flag: u32, on: bool) -> Self {
        if on {
            Self(self.0 | flag)
        } else {
            Self(self.0 & !flag)
        }
    }

    /// The value to write: the computed bits removed.
    #[must_use]
    pub fn for_write(self) -> Self {
        Self(self.0 & !Self::COMPUTED)
    }

    /// Whether the account is enabled.
    pub fn enabled(self) -> bool {
        !self.has(Self::ACCOUNTDISABLE)
    }

    /// The names of the set bits; unknown bits as hex.
    pub fn names(self) -> Vec<String> {
        let mut names = Vec::new();
        let mut rest = self.0;
        for (bit, name) in Self::NAMES {
            if self.0 & bit != 0 {
                names.push(name.to_owned());
                rest &= !bit;
            }
        }
        if rest != 0 {
            names.push(format!("0x{rest:X}"));
        }
        names
    }
}

impl fmt::Display for UserAccountControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.names().join(" | "))
    }
}

#[cfg(test)]
mod tests {
    use super::UserAccountControl as Uac;

    #[test]
    fn service_account_value_is_66048() {
        let uac = Uac(Uac::NORMAL_ACCOUNT)
            .with(Uac::DONT_EXPIRE_PASSWORD, true)
            .with(Uac::ACCOUNTDISABLE, false);
        assert_eq!(uac.0, 66048);
        assert_eq!(
            uac.to_string(),
            "66048 (NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD)"
        );
        assert!(uac.enabled());
    }

    #[test]
    fn computed_bits_are_not_written() {
        let read = Uac(Uac::NORMAL_ACCOUNT
            | Uac::LOCKOUT
            | Uac::PASSWORD_EXPIRED
            | Uac::PASSWD_CANT_CHANGE);
        assert_eq!(read.for_write(), Uac(Uac::NORMAL_ACCOUNT));
    }

    #[test]
    fn unknown_bits_are_shown_in_hex() {
        assert_eq!(
            Uac(0x200 | 0x8000_0000).names(),
            ["NORMAL_ACCOUNT", "0x80000000"]
        );
        assert_eq!(Uac(514).names(), ["ACCOUNTDISABLE", "NORMAL_ACCOUNT"]);
    }
}
