//! Big-endian field access on byte slices whose length the caller has already checked, and
//! fixed-width ASCII fields.

use crate::FieldError;

/// Reads a big-endian unsigned integer of `N` bytes (up to 8) at `at`.
#[inline]
pub(crate) fn be<const N: usize>(bytes: &[u8], at: usize) -> u64 {
    bytes[at..at + N].iter().fold(0u64, |value, &b| value << 8 | u64::from(b))
}

/// Writes the low `N` bytes of `value` big-endian at `at`.
#[inline]
pub(crate) fn put_be<const N: usize>(bytes: &mut [u8], at: usize, value: u64) {
    for (i, b) in bytes[at..at + N].iter_mut().enumerate() {
        *b = (value >> (8 * (N - 1 - i))) as u8;
    }
}

/// The `N` bytes at `at`, as an array.
#[inline]
pub(crate) fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().expect("the caller checked the length")
}

/// `text` left-aligned in `N` bytes and padded with spaces (an "alpha" field), or `None` if it is
/// longer than `N` or not printable ASCII.
pub(crate) fn left_aligned<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() > N || !text.iter().all(|b| (b' '..=b'~').contains(b)) {
        return None;
    }
    let mut out = [b' '; N];
    out[..text.len()].copy_from_slice(text);
    Some(out)
}

/// `text` as the alpha field `field` of `N` bytes: left-aligned and padded with spaces.
pub fn alpha<const N: usize>(field: &'static str, text: &str) -> Result<[u8; N], FieldError> {
    left_aligned(text.as_bytes()).ok_or_else(|| FieldError { field, width: N, text: text.to_owned() })
}

/// An alpha field without its padding spaces.
pub(crate) fn trim_spaces(field: &[u8]) -> &[u8] {
    let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
    let end = field.iter().rposition(|&b| b != b' ').map_or(start, |i| i + 1);
    &field[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_byte_timestamps_round_trip() {
        let mut buf = [0u8; 8];
        put_be::<6>(&mut buf, 1, 0x0102_0304_0506);
        assert_eq!(buf, [0, 1, 2, 3, 4, 5, 6, 0]);
        assert_eq!(be::<6>(&buf, 1), 0x0102_0304_0506);
    }

    #[test]
    fn alpha_fields_are_left_aligned_and_space_padded() {
        assert_eq!(left_aligned::<6>(b"ab"), Some(*b"ab    "));
        assert_eq!(left_aligned::<2>(b"abc"), None);
        assert_eq!(left_aligned::<4>(b"a\nb"), None);
        assert_eq!(trim_spaces(b"  ab c  "), b"ab c");
        assert_eq!(trim_spaces(b"    "), b"");
    }
}
