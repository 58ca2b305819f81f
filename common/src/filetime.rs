//! Windows FILETIME: 100-nanosecond intervals since 1601-01-01 UTC, the clock Active Directory
//! stores times by (`accountExpires`, `pwdLastSet`) and NTLM stamps its answers with. Calendar
//! arithmetic is jiff's; this holds the epoch and the unit.

use jiff::Timestamp;

/// FILETIME intervals in a second.
pub const TICKS_PER_SECOND: i64 = 10_000_000;

/// The Unix epoch (1970-01-01T00:00:00Z) as a FILETIME.
pub const UNIX_EPOCH: i64 = 116_444_736_000_000_000;

/// The FILETIME of a point in time (sub-100-ns parts dropped).
pub fn from_timestamp(time: Timestamp) -> i64 {
    let ticks = time.as_nanosecond().div_euclid(100);
    i64::try_from(ticks).map_or(i64::MAX, |t| t.saturating_add(UNIX_EPOCH))
}

/// The point in time a FILETIME stands for; `None` past what a calendar date can name.
pub fn to_timestamp(filetime: i64) -> Option<Timestamp> {
    let nanoseconds = (i128::from(filetime) - i128::from(UNIX_EPOCH)) * 100;
    Timestamp::from_nanosecond(nanoseconds).ok()
}

/// Now, as a FILETIME.
pub fn now() -> i64 {
    from_timestamp(Timestamp::now())
}

/// A FILETIME as `YYYY-MM-DDTHH:MM:SSZ`; one past the calendar's end as its number.
pub fn format(filetime: i64) -> String {
    match to_timestamp(filetime) {
        Some(time) => time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => filetime.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epochs_line_up() {
        assert_eq!(from_timestamp(Timestamp::UNIX_EPOCH), UNIX_EPOCH);
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(format(0), "1601-01-01T00:00:00Z");
        // A pwdLastSet a Samba DC wrote.
        assert_eq!(format(134_404_596_427_443_870), "2026-11-29T21:00:42Z");
        let time: Timestamp = "2026-11-29T21:00:42.744387Z".parse().unwrap();
        assert_eq!(from_timestamp(time), 134_404_596_427_443_870);
        assert_eq!(format(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        assert!(now() > 134_404_596_427_443_870);
    }
}
