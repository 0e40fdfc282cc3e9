//! FIX UTCTimestamp text (`YYYYMMDD-HH:MM:SS.sss`) to and from nanoseconds since the Unix epoch.
//!
//! We write milliseconds, the finest precision FIX 4.4 defines; we read any fraction of up to
//! nine digits, since counterparties on later versions send micro- or nanoseconds.

const NS_PER_S: u64 = 1_000_000_000;
const S_PER_DAY: u64 = 86_400;

/// The proleptic Gregorian date of `days` since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let shifted_month = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Appends the low `width` (at most 4) decimal digits of `value`, zero-padded.
fn push_padded(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut digits = [b'0'; 4];
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// Appends `ns` (since the Unix epoch) to `out` as `YYYYMMDD-HH:MM:SS.sss`.
pub fn write_utc_timestamp(out: &mut Vec<u8>, ns: u64) {
    let seconds = ns / NS_PER_S;
    let (year, month, day) = civil_from_days((seconds / S_PER_DAY) as i64);
    let in_day = seconds % S_PER_DAY;
    push_padded(out, year as u64, 4);
    push_padded(out, u64::from(month), 2);
    push_padded(out, u64::from(day), 2);
    out.push(b'-');
    push_padded(out, in_day / 3_600, 2);
    out.push(b':');
    push_padded(out, in_day / 60 % 60, 2);
    out.push(b':');
    push_padded(out, in_day % 60, 2);
    out.push(b'.');
    push_padded(out, ns % NS_PER_S / 1_000_000, 3);
}

fn digits(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0')))
}

/// Parses `YYYYMMDD-HH:MM:SS[.f{1,9}]` into nanoseconds since the Unix epoch; `None` if it is
/// not such a timestamp, names a date that does not exist, or falls before 1970.
pub fn parse_utc_timestamp(text: &[u8]) -> Option<u64> {
    if text.len() < 17 || text[8] != b'-' || text[11] != b':' || text[14] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&text[0..4])?, digits(&text[4..6])?, digits(&text[6..8])?);
    let (hour, minute, second) = (digits(&text[9..11])?, digits(&text[12..14])?, digits(&text[15..17])?);
    let fraction_ns = match &text[17..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * 10u64.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year as i64, month as u32, day as u32);
    if days < 0 || civil_from_days(days) != (year as i64, month as u32, day as u32) {
        return None;
    }
    let seconds = days as u64 * S_PER_DAY + hour * 3_600 + minute * 60 + second;
    Some(seconds * NS_PER_S + fraction_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(ns: u64) -> String {
        let mut out = Vec::new();
        write_utc_timestamp(&mut out, ns);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_are_written_as_fix_utc_timestamps_with_milliseconds() {
        assert_eq!(text(0), "19700101-00:00:00.000");
        // 2026-11-24 22:36:39.123456789 UTC.
        assert_eq!(text(1_795_559_799_123_456_789), "20261124-22:36:39.123");
        assert_eq!(text(951_782_400 * NS_PER_S), "20000229-00:00:00.000", "a leap day");
    }

    #[test]
    fn timestamps_are_read_with_any_fraction_up_to_nanoseconds() {
        assert_eq!(parse_utc_timestamp(b"20261124-22:36:39"), Some(1_795_559_799 * NS_PER_S));
        assert_eq!(parse_utc_timestamp(b"20261124-22:36:39.5"), Some(1_795_559_799_500_000_000));
        assert_eq!(parse_utc_timestamp(b"20261124-22:36:39.123456789"), Some(1_795_559_799_123_456_789));
    }

    #[test]
    fn impossible_dates_and_bad_syntax_are_refused() {
        for bad in [
            &b"20250229-00:00:00"[..],
            b"20261324-00:00:00",
            b"20261124-24:00:00",
            b"20261124 22:36:39",
            b"20261124-22:36:39.",
            b"20261124-22:36:39.1234567890",
            b"19691231-23:59:59",
            b"2026112-22:36:39",
        ] {
            assert_eq!(parse_utc_timestamp(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn timestamps_round_trip_at_millisecond_precision(ms in 0u64..8_000_000_000_000) {
            prop_assert_eq!(parse_utc_timestamp(text(ms * 1_000_000).as_bytes()), Some(ms * 1_000_000));
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_utc_timestamp(&bytes);
        }
    }
}
