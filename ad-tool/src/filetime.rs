//! AD's time values: `accountExpires`, `pwdLastSet` and friends count 100-nanosecond intervals
//! since 1601-01-01 UTC (a Windows FILETIME). `accountExpires` uses both 0 and
//! 0x7FFFFFFFFFFFFFFF for "never".

use std::fmt;
use std::str::FromStr;

/// 100 ns intervals between 1601-01-01 and 1970-01-01.
const UNIX_EPOCH_AS_FILETIME: i64 = 116_444_736_000_000_000;
const TICKS_PER_SECOND: i64 = 10_000_000;

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
            Self::At(t) => f.write_str(&format_filetime(*t)),
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

fn parse_utc(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (
            d,
            Some(t.strip_suffix('Z').or_else(|| t.strip_suffix('z'))?),
        ),
        None => (text, None),
    };
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    if !(1601..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
    {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    if let Some(time) = time {
        let mut parts = time.splitn(3, ':');
        let h: i64 = parts.next()?.parse().ok()?;
        let m: i64 = parts.next()?.parse().ok()?;
        let s: i64 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
        if h > 23 || m > 59 || s > 59 || h < 0 || m < 0 || s < 0 {
            return None;
        }
        seconds += h * 3600 + m * 60 + s;
    }
    Some(seconds * TICKS_PER_SECOND + UNIX_EPOCH_AS_FILETIME)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the "days from civil" algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A FILETIME as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_filetime(filetime: i64) -> String {
    let seconds = (filetime - UNIX_EPOCH_AS_FILETIME).div_euclid(TICKS_PER_SECOND);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `pwdLastSet` as people read it: 0 means the user must change the password at next logon.
pub fn describe_pwd_last_set(value: i64) -> String {
    if value == 0 {
        "must change at next logon".to_owned()
    } else {
        format_filetime(value)
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
            AccountExpires::At(1_801_353_600 * 10_000_000 + UNIX_EPOCH_AS_FILETIME)
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
            format_filetime(134_404_596_427_443_870),
            "2026-11-29T21:00:42Z"
        );
        assert_eq!(
            format_filetime(UNIX_EPOCH_AS_FILETIME),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(describe_pwd_last_set(0), "must change at next logon");
    }

    #[test]
    fn civil_conversion_round_trips_over_centuries() {
        for days in (-200_000..200_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
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
        ] {
            assert!(text.parse::<AccountExpires>().is_err(), "{text}");
        }
    }
}
