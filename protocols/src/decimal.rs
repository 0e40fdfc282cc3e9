//! Exact decimals: prices and quantities travel as decimal text (FIX, JSON) and live as
//! integers in units of 10^-`decimals`.

/// `value` in units of 10^-`decimals` as a decimal string without trailing zeros.
pub fn format_decimal(value: i64, decimals: u32) -> String {
    let mut text = Vec::with_capacity(24);
    write_decimal(&mut text, value, decimals);
    String::from_utf8(text).expect("decimal digits are ASCII")
}

/// Appends `value` in units of 10^-`decimals` to `out` as decimal text without trailing zeros,
/// without allocating (beyond `out` growing).
pub fn write_decimal(out: &mut Vec<u8>, value: i64, decimals: u32) {
    let scale = 10u64.pow(decimals);
    if value < 0 {
        out.push(b'-');
    }
    let abs = value.unsigned_abs();
    let (whole, mut frac) = (abs / scale, abs % scale);
    write_unsigned(out, whole);
    if frac == 0 {
        return;
    }
    let mut width = decimals as usize;
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    out.push(b'.');
    let mut digits = [b'0'; 20];
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// Appends `value` in decimal digits to `out`, without allocating (beyond `out` growing).
pub fn write_unsigned(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = decimals as usize).parse().ok()?
    };
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
        assert_eq!(format_decimal(1_050, 3), "1.05");
        assert_eq!(format_decimal(i64::MIN, 9), "-9223372036.854775808");
        let mut text = Vec::new();
        write_unsigned(&mut text, u64::MAX);
        assert_eq!(text, u64::MAX.to_string().as_bytes());
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
