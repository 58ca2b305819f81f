//! Account passwords: the `unicodePwd` encoding, strong generated passwords, and the domain
//! password policy used to explain a refusal (`0000052D`) in terms of the rule that failed.

use std::fmt;

use common::secret::Secret;
use zeroize::Zeroizing;

/// `unicodePwd` value: the password in double quotes, UTF-16LE (MS-ADTS 3.1.1.3.1.5.1).
pub fn unicode_pwd(password: &Secret) -> Zeroizing<Vec<u8>> {
    // Built in place, with room for every unit from the start: no copy of the password is
    // left behind in a temporary string or a reallocated buffer.
    let mut bytes = Zeroizing::new(Vec::with_capacity(2 * password.expose().len() + 4));
    let quoted = std::iter::once('"')
        .chain(password.expose().chars())
        .chain(std::iter::once('"'));
    let mut units = [0u16; 2];
    for c in quoted {
        for unit in c.encode_utf16(&mut units) {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
    }
    units.fill(0);
    bytes
}

/// The domain's password policy (attributes of the domain object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PasswordPolicy {
    /// `minPwdLength`.
    pub min_length: usize,
    /// `pwdProperties` bit `DOMAIN_PASSWORD_COMPLEX`.
    pub complexity: bool,
    /// `pwdHistoryLength`.
    pub history_length: u32,
}

impl PasswordPolicy {
    /// `DOMAIN_PASSWORD_COMPLEX` in `pwdProperties`.
    pub const DOMAIN_PASSWORD_COMPLEX: u32 = 0x1;
}

/// A rule of the password policy a password breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRule {
    /// Shorter than `minPwdLength`.
    TooShort {
        /// The domain's minimum.
        min: usize,
        /// The password's length.
        actual: usize,
    },
    /// Fewer than three of the character categories.
    NotComplex {
        /// The categories it lacks.
        missing: Vec<&'static str>,
    },
    /// Contains the account's sAMAccountName.
    ContainsAccountName,
    /// Contains a part (3+ characters) of the display name.
    ContainsDisplayName(String),
}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyRule::TooShort { min, actual } => {
                write!(
                    f,
                    "it is {actual} characters long and the domain requires at least {min}"
                )
            }
            PolicyRule::NotComplex { missing } => write!(
                f,
                "it does not meet the complexity rule (characters from three of: uppercase, lowercase, digits, symbols; it lacks {})",
                missing.join(", ")
            ),
            PolicyRule::ContainsAccountName => f.write_str("it contains the account name"),
            PolicyRule::ContainsDisplayName(part) => {
                write!(f, "it contains \"{part}\" from the display name")
            }
        }
    }
}

/// The rules of `policy` that `password` breaks, as AD checks them (length, then complexity:
/// not the account name, not a 3+ character token of the display name, three of the five
/// character categories). Empty when none does: the refusal was then about history, minimum age
/// or a fine-grained policy, which a client cannot check.
pub fn broken_rules(
    password: &str,
    policy: &PasswordPolicy,
    sam_account_name: &str,
    display_name: Option<&str>,
) -> Vec<PolicyRule> {
    let mut rules = Vec::new();
    let length = password.encode_utf16().count();
    if length < policy.min_length {
        rules.push(PolicyRule::TooShort {
            min: policy.min_length,
            actual: length,
        });
    }
    if !policy.complexity {
        return rules;
    }
    let lower = password.to_lowercase();
    if sam_account_name.chars().count() >= 3 && lower.contains(&sam_account_name.to_lowercase()) {
        rules.push(PolicyRule::ContainsAccountName);
    }
    if let Some(display) = display_name {
        // Tokens split at the delimiters AD uses: , . - _ # tab and space.
        for token in display
            .split([',', '.', '-', '_', '#', '\t', ' '])
            .filter(|t| t.chars().count() >= 3)
        {
            if lower.contains(&token.to_lowercase()) {
                rules.push(PolicyRule::ContainsDisplayName(token.to_owned()));
                break;
            }
        }
    }
    let categories = [
        ("uppercase", password.chars().any(char::is_uppercase)),
        ("lowercase", password.chars().any(char::is_lowercase)),
        ("digits", password.chars().any(|c| c.is_ascii_digit())),
        ("symbols", password.chars().any(|c| !c.is_alphanumeric())),
        (
            "other letters",
            password
                .chars()
                .any(|c| c.is_alphabetic() && !c.is_uppercase() && !c.is_lowercase()),
        ),
    ];
    if categories.iter().filter(|(_, has)| *has).count() < 3 {
        rules.push(PolicyRule::NotComplex {
            missing: categories
                .iter()
                .take(4)
                .filter(|(_, has)| !*has)
                .map(|(name, _)| *name)
                .collect(),
        });
    }
    rules
}

/// Length of generated passwords: well above any domain minimum, and 24 characters from a
/// 77-character alphabet carry about 150 bits.
pub const GENERATED_LENGTH: usize = 24;

pub use common::secret::RandomError;

/// A random password with characters of all four categories that breaks none of `policy`'s
/// rules for this account.
pub fn generate(
    policy: &PasswordPolicy,
    sam_account_name: &str,
    display_name: Option<&str>,
) -> Result<Secret, RandomError> {
    let length = GENERATED_LENGTH.max(policy.min_length);
    let strict = PasswordPolicy {
        complexity: true,
        ..*policy
    };
    loop {
        let candidate = common::secret::random_password(length)?;
        if broken_rules(candidate.expose(), &strict, sam_account_name, display_name).is_empty() {
            return Ok(candidate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy {
        min_length: 7,
        complexity: true,
        history_length: 24,
    };

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        let encoded = unicode_pwd(&Secret::new("Pa55!".into()));
        assert_eq!(
            *encoded,
            [
                0x22, 0, 0x50, 0, 0x61, 0, 0x35, 0, 0x35, 0, 0x21, 0, 0x22, 0
            ]
        );
        let umlaut = unicode_pwd(&Secret::new("ü".into()));
        assert_eq!(*umlaut, [0x22, 0, 0xFC, 0, 0x22, 0]);
    }

    #[test]
    fn rules_are_named() {
        assert_eq!(
            broken_rules("Ab1!", &POLICY, "svc", None),
            [PolicyRule::TooShort { min: 7, actual: 4 }]
        );
        assert_eq!(
            broken_rules("alllowercase", &POLICY, "svc", None),
            [PolicyRule::NotComplex {
                missing: vec!["uppercase", "digits", "symbols"]
            }]
        );
        assert_eq!(
            broken_rules("xSAMyTTExch1!", &POLICY, "samyttexch", None),
            [PolicyRule::ContainsAccountName]
        );
        assert_eq!(
            broken_rules(
                "Timetable-2026!",
                &POLICY,
                "svc",
                Some("MyTimetable Exchange Service")
            ),
            Vec::<PolicyRule>::new(),
            "tokens are whole words of the display name"
        );
        assert_eq!(
            broken_rules(
                "Exchange-2026!",
                &POLICY,
                "svc",
                Some("MyTimetable Exchange Service")
            ),
            [PolicyRule::ContainsDisplayName("Exchange".into())]
        );
        assert!(broken_rules("Str0ng!Passw0rd", &POLICY, "svc", None).is_empty());
        let no_complexity = PasswordPolicy {
            complexity: false,
            ..POLICY
        };
        assert!(broken_rules("lowercase", &no_complexity, "svc", None).is_empty());
    }

    #[test]
    fn messages_read_as_admin_words() {
        assert_eq!(
            PolicyRule::TooShort { min: 7, actual: 4 }.to_string(),
            "it is 4 characters long and the domain requires at least 7"
        );
    }

    #[test]
    fn generated_passwords_are_long_varied_and_policy_clean() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let pw = generate(&POLICY, "abc", Some("Abc Def")).unwrap();
            let text = pw.expose();
            assert_eq!(text.len(), GENERATED_LENGTH);
            assert!(
                broken_rules(text, &POLICY, "abc", Some("Abc Def")).is_empty(),
                "{text}"
            );
            for class in [
                u8::is_ascii_uppercase,
                u8::is_ascii_lowercase,
                u8::is_ascii_digit,
                u8::is_ascii_punctuation,
            ] {
                assert!(text.bytes().any(|b| class(&b)), "{text}");
            }
            assert!(!text.contains(['"', '\'', '\\', '`', ',', ' ']));
            assert!(
                !text.starts_with(['=', '+', '-', '@']),
                "a spreadsheet would take {text} for a formula"
            );
            seen.insert(text.to_owned());
        }
        assert_eq!(seen.len(), 2000);
    }

    #[test]
    fn generated_length_follows_a_longer_minimum() {
        let long = PasswordPolicy {
            min_length: 40,
            ..POLICY
        };
        assert_eq!(generate(&long, "abc", None).unwrap().expose().len(), 40);
    }
}
