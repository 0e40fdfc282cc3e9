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
/// more decimals than that. Allocates nothing.
pub fn parse_decimal(text: &[u8], decimals: u32) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let (whole, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &[][..]),
    };
    if whole.is_empty() && frac.is_empty()
        || frac.len() > decimals as usize
        || !whole.iter().chain(frac).all(u8::is_ascii_digit)
    {
        return None;
    }
    let number =
        |d: &[u8]| d.iter().try_fold(0i64, |v, &b| v.checked_mul(10)?.checked_add(i64::from(b - b'0')));
    let frac = number(frac)?.checked_mul(10i64.checked_pow(decimals - frac.len() as u32)?)?;
    let value = number(whole)?.checked_mul(10i64.checked_pow(decimals)?)?.checked_add(frac)?;
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
        assert_eq!(parse_decimal(b"-", 4), None);
        assert_eq!(parse_decimal(b".5", 4), Some(5_000));
        assert_eq!(parse_decimal(b"1.2.3", 4), None);
        assert_eq!(parse_decimal(b"99999999999", 9), None, "beyond i64 in units of 1e-9");
    }

    proptest! {
        #[test]
        fn decimals_round_trip(value in -10_000_000_000i64..10_000_000_000, decimals in 0u32..9) {
            prop_assert_eq!(parse_decimal(format_decimal(value, decimals).as_bytes(), decimals), Some(value));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in proptest::collection::vec(any::<u8>(), 0..30), decimals in 0u32..12) {
            let _ = parse_decimal(&text, decimals);
        }

    }
}
