//! Exact decimals: prices and quantities travel as decimal text (FIX, JSON) and live as
//! integers in units of 10^-`decimals`.

/// `value` in units of 10^-`decimals` as a decimal string without trailing zeros.
pub fn format_decimal(value: i64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    let (sign, abs) = if value < 0 { ("-", value.unsigned_abs()) } else { ("", value as u64) };
    let (whole, frac) = (abs / scale, abs % scale);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:0width$}", width = decimals as usize);
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

/// Parses a decimal string into units of 10^-`decimals`; `None` if it is not a number or has
/// more decimals than that.
pub fn parse_decimal(text: &[u8], decimals: u32) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > decimals as usize
        || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = 10i64.checked_pow(decimals)?;
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    // The fraction's digits, scaled to `decimals` places (no allocation: this is on hot paths).
    let frac_digits =
        frac.bytes().try_fold(0i64, |acc, b| acc.checked_mul(10)?.checked_add(i64::from(b - b'0')))?;
    let frac = frac_digits.checked_mul(10i64.checked_pow(decimals - frac.len() as u32)?)?;
    let value = whole.checked_mul(scale)?.checked_add(frac)?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(format_decimal(1_895_000, 4), "189.5");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(300, 2), "3");
        assert_eq!(parse_decimal(b"189.5", 4), Some(1_895_000));
        assert_eq!(parse_decimal(b"-0.05", 2), Some(-5));
        assert_eq!(parse_decimal(b"1.23456", 4), None, "more decimals than the unit holds");
        assert_eq!(parse_decimal(b"1e5", 4), None);
        assert_eq!(parse_decimal(b"", 4), None);
    }

    proptest! {
        #[test]
        fn decimals_round_trip(value in -10_000_000_000i64..10_000_000_000, decimals in 0u32..9) {
            prop_assert_eq!(parse_decimal(format_decimal(value, decimals).as_bytes(), decimals), Some(value));
        }

    }
}
