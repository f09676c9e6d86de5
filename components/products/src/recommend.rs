//! "Often bought together": which products to show next to some anchors (a product page's
//! product, a cart's lines), ranked by the rule below. The SQL (`db::recommendation_candidates`)
//! only gathers the candidates and their signals in one query; the rule itself lives here.
//!
//! **The rule:** never an anchor, never a sold-out product; first the products bought together
//! with the anchors most often (the sum over the anchors), then those of an anchor's category,
//! then the best sellers (units held by orders not failed), then by SKU.
use std::cmp::Ordering;

use shop_contract::FieldError;

/// Most recommendations one read answers.
pub const MAX: u32 = 12;

/// The `recommendations` count of a read: 0..=[`MAX`].
pub fn parse_count(n: u32) -> Result<u32, FieldError> {
    if n > MAX {
        return Err(FieldError::new(
            "recommendations",
            format!("Ask for at most {MAX} recommendations (0 for none)"),
        ));
    }
    Ok(n)
}

/// What the rule ranks a candidate by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// Orders (not failed) that hold this product and an anchor, summed over the anchors.
    pub together: i64,
    /// Of the same category as one of the anchors.
    pub same_category: bool,
    /// Units held by orders not failed.
    pub units_sold: i64,
    pub stock: u32,
}

/// The rule's order: best first.
pub fn compare(a: (&str, &Signals), b: (&str, &Signals)) -> Ordering {
    let (sa, a) = a;
    let (sb, b) = b;
    b.together
        .cmp(&a.together)
        .then(b.same_category.cmp(&a.same_category))
        .then(b.units_sold.cmp(&a.units_sold))
        .then(sa.cmp(sb))
}

/// The best `n` of `candidates` (keyed by SKU) by the rule; anchors and sold-out products
/// never, whatever the candidates hold.
pub fn rank<T>(
    mut candidates: Vec<(T, Signals)>,
    sku: impl Fn(&T) -> &str,
    anchors: &[&str],
    n: u32,
) -> Vec<T> {
    candidates.retain(|(c, s)| s.stock > 0 && !anchors.contains(&sku(c)));
    candidates.sort_by(|(a, sa), (b, sb)| compare((sku(a), sa), (sku(b), sb)));
    candidates.dedup_by(|(a, _), (b, _)| sku(a) == sku(b));
    candidates.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    candidates.into_iter().map(|(c, _)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(together: i64, same_category: bool, units_sold: i64, stock: u32) -> Signals {
        Signals {
            together,
            same_category,
            units_sold,
            stock,
        }
    }

    fn ranked(
        candidates: &[(&'static str, Signals)],
        anchors: &[&str],
        n: u32,
    ) -> Vec<&'static str> {
        rank(candidates.to_vec(), |c| c, anchors, n)
    }

    #[test]
    fn bought_together_first_then_category_then_best_sellers_then_sku() {
        let c = [
            ("BEST-SELLER", s(0, false, 500, 10)),
            ("SAME-CAT-B", s(0, true, 3, 10)),
            ("SAME-CAT-A", s(0, true, 3, 10)),
            ("SAME-CAT-TOP", s(0, true, 40, 10)),
            ("TOGETHER-ONCE", s(1, false, 0, 10)),
            ("TOGETHER-TWICE", s(2, false, 0, 10)),
            ("TOGETHER-ONCE-CAT", s(1, true, 0, 10)),
            ("NOBODY", s(0, false, 0, 10)),
        ];
        assert_eq!(
            ranked(&c, &[], 12),
            [
                "TOGETHER-TWICE",
                "TOGETHER-ONCE-CAT",
                "TOGETHER-ONCE",
                "SAME-CAT-TOP",
                "SAME-CAT-A",
                "SAME-CAT-B",
                "BEST-SELLER",
                "NOBODY"
            ]
        );
        assert_eq!(ranked(&c, &[], 2), ["TOGETHER-TWICE", "TOGETHER-ONCE-CAT"]);
        assert!(ranked(&c, &[], 0).is_empty());
    }

    #[test]
    fn never_an_anchor_nor_sold_out_nor_twice() {
        let c = [
            ("ANCHOR", s(9, true, 9, 10)),
            ("SOLD-OUT", s(9, true, 9, 0)),
            ("OK", s(0, false, 0, 1)),
            ("OK", s(0, false, 0, 1)),
        ];
        assert_eq!(ranked(&c, &["ANCHOR"], 12), ["OK"]);
    }

    #[test]
    fn the_count_is_bounded() {
        assert_eq!(parse_count(0), Ok(0));
        assert_eq!(parse_count(12), Ok(12));
        let e = parse_count(13).unwrap_err();
        assert_eq!(e.field, "recommendations");
        assert!(e.message.contains("at most 12"));
    }
}
