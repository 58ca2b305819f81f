//! AD's time values as people read and write them: `accountExpires` (a FILETIME, see
//! [`common::filetime`], where both 0 and 0x7FFFFFFFFFFFFFFF mean "never") and `pwdLastSet`.

use std::fmt;
use std::str::FromStr;

use common::filetime;

/// `accountExpires`: never, or a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountExpires {
    /// The account does not expire (stored as 0 or `i64::MAX`).
    Never,
    /// The account expires at this FILETIME.
    At(i64),
}

/// Why text is not an expiry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an account expiry: use never, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)")]
pub struct ExpiryError(String);

impl AccountExpires {
    /// Reads the stored value; 0 and `i64::MAX` both mean never.
    pub fn from_stored(value: i64) -> Self {
        if value == 0 || value == i64::MAX {
            Self::Never
        } else {
            Self::At(value)
        }
    }

    /// The value to store: `i64::MAX` for never, as New-ADUser and ADUC write it.
    pub fn stored(self) -> i64 {
        match self {
            Self::Never => i64::MAX,
            Self::At(t) => t,
        }
    }
}

impl fmt::Display for AccountExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Never => f.write_str("never"),
            Self::At(t) => f.write_str(&filetime::format(*t)),
        }
    }
}

impl FromStr for AccountExpires {
    type Err = ExpiryError;

    /// `never` (or `0`, as New-ADUser takes it), a date (the account expires at 00:00 UTC that
    /// day), or a UTC timestamp.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("never") || t == "0" {
            return Ok(Self::Never);
        }
        parse_utc(t)
            .map(Self::At)
            .ok_or_else(|| ExpiryError(text.to_owned()))
    }
}

/// A date (00:00 UTC that day) or a UTC timestamp (`YYYY-MM-DDTHH:MM[:SS]Z`), from 1601 on.
fn parse_utc(text: &str) -> Option<i64> {
    let time = if text.contains(['T', 't', ' ']) {
        // An offset other than Z would be a local time in disguise: refused.
        if !text.ends_with(['Z', 'z']) {
            return None;
        }
        text.parse::<jiff::Timestamp>().ok()?
    } else {
        let date: jiff::civil::Date = text.parse().ok()?;
        date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp()
    };
    (time >= first_filetime()).then(|| filetime::from_timestamp(time))
}

fn first_filetime() -> jiff::Timestamp {
    filetime::to_timestamp(0).unwrap_or(jiff::Timestamp::MIN)
}

/// `pwdLastSet` as people read it: 0 means the user must change the password at next logon.
pub fn describe_pwd_last_set(value: i64) -> String {
    if value == 0 {
        "must change at next logon".to_owned()
    } else {
        filetime::format(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_has_two_stored_forms() {
        assert_eq!(AccountExpires::from_stored(0), AccountExpires::Never);
        assert_eq!(AccountExpires::from_stored(i64::MAX), AccountExpires::Never);
        assert_eq!(
            "never".parse::<AccountExpires>().unwrap(),
            AccountExpires::Never
        );
        assert_eq!(
            "0".parse::<AccountExpires>().unwrap().stored(),
            0x7FFF_FFFF_FFFF_FFFF
        );
    }

    #[test]
    fn dates_are_midnight_utc() {
        // 2027-01-31T00:00:00Z = 1801353600 s after the Unix epoch.
        let expiry: AccountExpires = "2027-01-31".parse().unwrap();
        assert_eq!(
            expiry,
            AccountExpires::At(1_801_353_600 * filetime::TICKS_PER_SECOND + filetime::UNIX_EPOCH)
        );
        assert_eq!(expiry.to_string(), "2027-01-31T00:00:00Z");
        assert_eq!(
            "2024-02-29T13:45:10Z"
                .parse::<AccountExpires>()
                .unwrap()
                .to_string(),
            "2024-02-29T13:45:10Z"
        );
    }

    #[test]
    fn a_real_pwd_last_set_reads_as_a_date() {
        assert_eq!(
            describe_pwd_last_set(134_404_596_427_443_870),
            "2026-11-29T21:00:42Z"
        );
        assert_eq!(describe_pwd_last_set(0), "must change at next logon");
    }

    #[test]
    fn bad_dates_are_refused() {
        for text in [
            "2027-02-30",
            "2023-02-29",
            "2027-13-01",
            "27-01-01",
            "tomorrow",
            "2027-01-01T25:00:00Z",
            "2027-01-01T10:00:00",
            "2027-01-01T10:00:00+02:00",
            "1600-12-31",
        ] {
            assert!(text.parse::<AccountExpires>().is_err(), "{text}");
        }
    }
}
