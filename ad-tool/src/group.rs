//! Group types (MS-ADTS 2.2.12): scope and category in `groupType`.

use clap::ValueEnum;
use serde::Serialize;

/// A group's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Members from any domain of the forest; usable anywhere (what Exchange wants)
    Universal,
    /// Members from its own domain; usable anywhere
    Global,
    /// Members from anywhere; usable in its own domain
    DomainLocal,
}

/// A group's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Can be granted permissions
    Security,
    /// For mail only
    Distribution,
}

const GLOBAL: i64 = 0x2;
const DOMAIN_LOCAL: i64 = 0x4;
const UNIVERSAL: i64 = 0x8;
const SECURITY_ENABLED: i64 = 0x8000_0000;

/// `groupType` as AD stores it: a signed 32-bit value.
pub fn group_type(scope: Scope, category: Category) -> i32 {
    let bits = match scope {
        Scope::Universal => UNIVERSAL,
        Scope::Global => GLOBAL,
        Scope::DomainLocal => DOMAIN_LOCAL,
    } | if category == Category::Security {
        SECURITY_ENABLED
    } else {
        0
    };
    // The security bit is the sign bit: reinterpret, as AD does.
    i32::from_le_bytes(u32::try_from(bits).unwrap_or(0).to_le_bytes())
}

/// Scope and category of a stored `groupType`.
pub fn decode(group_type: i64) -> (Option<Scope>, Category) {
    let scope = if group_type & UNIVERSAL != 0 {
        Some(Scope::Universal)
    } else if group_type & GLOBAL != 0 {
        Some(Scope::Global)
    } else if group_type & DOMAIN_LOCAL != 0 {
        Some(Scope::DomainLocal)
    } else {
        None
    };
    let category = if group_type & SECURITY_ENABLED != 0 {
        Category::Security
    } else {
        Category::Distribution
    };
    (scope, category)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_security_is_the_documented_value() {
        assert_eq!(
            group_type(Scope::Universal, Category::Security),
            -2_147_483_640
        );
        assert_eq!(
            group_type(Scope::Global, Category::Security),
            -2_147_483_646
        );
        assert_eq!(group_type(Scope::DomainLocal, Category::Distribution), 4);
    }

    #[test]
    fn decoding_round_trips() {
        for scope in [Scope::Universal, Scope::Global, Scope::DomainLocal] {
            for category in [Category::Security, Category::Distribution] {
                assert_eq!(
                    decode(i64::from(group_type(scope, category))),
                    (Some(scope), category)
                );
            }
        }
    }
}
