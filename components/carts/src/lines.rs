//! Reading a cart hash back from Redis replies, defensively: the store is shared, so a field or
//! value that is not a valid SKU and quantity is reported and skipped, never trusted or panicked on.
use shop_domain::{CartLine, Quantity, Sku};
use spin_sdk::redis::RedisResult;

/// What one stored quantity value says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// No such field.
    Absent,
    /// A quantity within 1..=99.
    Valid(Quantity),
    /// An integer outside 1..=99: above 99 only briefly while a concurrent add is compensated
    /// (see `handlers::add_item`); 0 or below only after an interrupted compensation.
    OutOfRange(i64),
    /// Not an integer at all.
    Garbage(String),
}

/// Reads a stored quantity value (`HGET` reply bytes).
pub fn stored_quantity(value: Option<&[u8]>) -> Stored {
    let Some(bytes) = value else {
        return Stored::Absent;
    };
    let text = String::from_utf8_lossy(bytes);
    match text.trim().parse::<i64>() {
        Ok(n) => Quantity::from_i64(n).map_or(Stored::OutOfRange(n), Stored::Valid),
        Err(_) => Stored::Garbage(text.into_owned()),
    }
}

/// The lines of an `HGETALL` reply (alternating field, value), sorted by SKU, plus a note for
/// every entry that was skipped.
pub fn decode_hash(replies: &[RedisResult]) -> (Vec<CartLine>, Vec<String>) {
    let mut lines = Vec::new();
    let mut skipped = Vec::new();
    for pair in replies.chunks(2) {
        match pair {
            [RedisResult::Binary(field), RedisResult::Binary(value)] => {
                let field_text = String::from_utf8_lossy(field);
                let sku = Sku::parse(&field_text);
                match (sku, stored_quantity(Some(value))) {
                    // Only the canonical form is written, so another form is a field nobody can address.
                    (Ok(sku), _) if sku.as_str() != field_text => {
                        skipped.push(format!("field {field_text:?} is not a canonical SKU"))
                    }
                    (Ok(sku), Stored::Valid(quantity)) => lines.push(CartLine { sku, quantity }),
                    (Ok(_), stored) => {
                        skipped.push(format!("line {field_text:?} has quantity {stored:?}"))
                    }
                    (Err(e), _) => skipped.push(format!("field {field_text:?} is not a SKU: {e}")),
                }
            }
            other => skipped.push(format!("unexpected reply entries {other:?}")),
        }
    }
    lines.sort_by(|a, b| a.sku.cmp(&b.sku));
    (lines, skipped)
}

/// A script's answer: its integer flag, then the rest (e.g. the cart's `HGETALL` pairs).
pub fn split_flag(replies: &[RedisResult]) -> Option<(i64, &[RedisResult])> {
    match replies.split_first() {
        Some((RedisResult::Int64(flag), rest)) => Some((*flag, rest)),
        _ => None,
    }
}

/// Total number of items (sum of quantities).
pub fn item_count(lines: &[CartLine]) -> u32 {
    lines
        .iter()
        .fold(0, |sum, line| sum.saturating_add(line.quantity.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(s: &str) -> RedisResult {
        RedisResult::Binary(s.as_bytes().to_vec())
    }

    #[test]
    fn decodes_sorted_lines_and_skips_garbage() {
        let replies = [
            bin("TEC-KEYBOARD-ROSE"),
            bin("2"),
            bin("APP-TEE-TEAL"),
            bin("5"),
            bin("bad sku"),
            bin("1"),
            bin("KIT-MUG-TEAL"),
            bin("lots"),
            bin("KIT-MUG-SLATE"),
            bin("0"),
            bin("OFF-CLOCK-TEAL"),
            bin("120"),
            RedisResult::Int64(3),
            bin("1"),
            bin("kit-bottle-sky"),
            bin("1"),
            bin("DANGLING"),
        ];
        let (lines, skipped) = decode_hash(&replies);
        let got: Vec<(&str, u32)> = lines
            .iter()
            .map(|l| (l.sku.as_str(), l.quantity.get()))
            .collect();
        assert_eq!(got, [("APP-TEE-TEAL", 5), ("TEC-KEYBOARD-ROSE", 2)]);
        assert_eq!(skipped.len(), 7, "{skipped:?}");
        assert_eq!(item_count(&lines), 7);
    }

    #[test]
    fn reads_stored_quantities() {
        assert_eq!(stored_quantity(None), Stored::Absent);
        assert_eq!(
            stored_quantity(Some(b"7")),
            Stored::Valid(Quantity::new(7).unwrap())
        );
        assert_eq!(stored_quantity(Some(b"100")), Stored::OutOfRange(100));
        assert_eq!(stored_quantity(Some(b"-3")), Stored::OutOfRange(-3));
        assert_eq!(stored_quantity(Some(b"x")), Stored::Garbage("x".into()));
        assert_eq!(
            stored_quantity(Some(b"99999999999999999999")),
            Stored::Garbage("99999999999999999999".into())
        );
    }

    #[test]
    fn a_scripts_answer_is_a_flag_then_the_rest() {
        assert_eq!(split_flag(&[RedisResult::Int64(1)]), Some((1, &[][..])));
        let answer = [RedisResult::Int64(0), bin("APP-TEE-TEAL"), bin("2")];
        assert_eq!(split_flag(&answer), Some((0, &answer[1..])));
        assert_eq!(split_flag(&[]), None);
        assert_eq!(split_flag(&[bin("1")]), None);
        assert_eq!(split_flag(&[RedisResult::Nil, RedisResult::Int64(1)]), None);
    }

    #[test]
    fn empty_cart() {
        assert_eq!(decode_hash(&[]), (vec![], vec![]));
        assert_eq!(item_count(&[]), 0);
    }
}
