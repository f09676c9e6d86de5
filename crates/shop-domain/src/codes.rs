//! Text encodings for identifiers built from caller-supplied random bytes.
//!
//! Crockford base32 is used for codes people read aloud or type (order and tracking
//! numbers): no I/L/O/U, so no 1/l/0/O confusion. Lowercase hex is used for opaque
//! machine identifiers.

/// Crockford base32 alphabet (digits and uppercase letters without I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Number of Crockford characters produced by [`crockford12`]: 12 × 5 bits = 60 random bits.
pub(crate) const CROCKFORD_LEN: usize = 12;

/// Encodes the top 60 bits of `bytes` as 12 Crockford base32 characters.
pub(crate) fn crockford12(bytes: [u8; 8]) -> String {
    let mut bits = u64::from_be_bytes(bytes) >> 4;
    let mut out = [b'0'; CROCKFORD_LEN];
    // Fill from the right, five bits per character, so the first character holds the top bits.
    for slot in out.iter_mut().rev() {
        let index = usize::try_from(bits & 0x1F).unwrap_or_default();
        *slot = CROCKFORD.get(index).copied().unwrap_or(b'0');
        bits >>= 5;
    }
    out.iter().copied().map(char::from).collect()
}

/// True for an uppercase Crockford base32 character.
pub(crate) fn is_crockford(c: char) -> bool {
    c.is_ascii() && CROCKFORD.contains(&(c as u8))
}

/// Lowercase hex of `bytes`.
pub fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        for nibble in [b >> 4, b & 0x0F] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// Parses `PREFIX` + 12 Crockford characters, case-insensitively; returns the canonical uppercase form.
pub(crate) fn parse_prefixed_crockford(input: &str, prefix: &str) -> Option<String> {
    let upper = input.trim().to_ascii_uppercase();
    let body = upper.strip_prefix(prefix)?;
    (body.chars().count() == CROCKFORD_LEN && body.chars().all(is_crockford)).then_some(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crockford_of_zero_and_max() {
        assert_eq!(crockford12([0; 8]), "000000000000");
        assert_eq!(crockford12([0xFF; 8]), "ZZZZZZZZZZZZ");
    }

    #[test]
    fn crockford_is_big_endian_five_bit_groups() {
        // 0x0000_0000_0000_0010 >> 4 = 1 → last character is '1'.
        assert_eq!(crockford12([0, 0, 0, 0, 0, 0, 0, 0x10]), "000000000001");
        // Lowest nibble is dropped (only 60 bits are used).
        assert_eq!(crockford12([0, 0, 0, 0, 0, 0, 0, 0x0F]), "000000000000");
        // Top five bits 0b11111 → first character 'Z'.
        assert_eq!(crockford12([0xF8, 0, 0, 0, 0, 0, 0, 0]), "Z00000000000");
    }

    #[test]
    fn crockford_output_is_always_valid() {
        let mut seed = 0x1234_5678_9ABC_DEF0_u64;
        for _ in 0..500 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let code = crockford12(seed.to_be_bytes());
            assert_eq!(code.len(), CROCKFORD_LEN);
            assert!(code.chars().all(is_crockford), "{code}");
        }
    }

    #[test]
    fn crockford_excludes_ambiguous_letters() {
        for c in ['I', 'L', 'O', 'U', 'i', 'a', '-'] {
            assert!(!is_crockford(c), "{c}");
        }
    }

    #[test]
    fn hex_lower_encodes_each_byte() {
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex_lower(&[]), "");
    }

    #[test]
    fn prefixed_crockford_parsing() {
        assert_eq!(
            parse_prefixed_crockford(" ord-0123456789ab ", "ORD-"),
            Some("ORD-0123456789AB".into())
        );
        assert_eq!(parse_prefixed_crockford("ORD-0123456789A", "ORD-"), None);
        assert_eq!(parse_prefixed_crockford("ORD-0123456789ABC", "ORD-"), None);
        assert_eq!(parse_prefixed_crockford("ORD-0123456789AI", "ORD-"), None);
        assert_eq!(parse_prefixed_crockford("TRK-0123456789AB", "ORD-"), None);
    }
}
