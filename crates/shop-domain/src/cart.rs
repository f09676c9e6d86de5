//! Cart rules: one line per SKU, at most [`MAX_LINES`] lines, at most [`Quantity::MAX`] of each item.
//!
//! Limits are enforced by returning an error the shopper can act on, never by silently
//! clamping, so the cart never ends up holding something other than what was asked for. The one
//! exception is [`merge_lines`] (signing in with a guest cart): nobody asked for anything there,
//! and refusing the sign-in over a full cart would be worse than capping it.

use crate::quantity::{Quantity, QuantityError};
use crate::sku::Sku;
use serde::{Deserialize, Deserializer, Serialize};

/// Most distinct items (lines) a cart may hold.
pub const MAX_LINES: usize = 50;

/// One item in a cart: which product, how many.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CartLine {
    /// The product.
    pub sku: Sku,
    /// How many of it.
    pub quantity: Quantity,
}

/// Why a cart change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    /// Adding would take the line above [`Quantity::MAX`].
    #[error("{}", item_limit_message(*.in_cart))]
    ItemLimit {
        /// Quantity already in the cart for that SKU.
        in_cart: Quantity,
    },
    /// A new line would exceed [`MAX_LINES`].
    #[error("Your cart can hold at most {MAX_LINES} different items")]
    TooManyLines,
    /// The same SKU appears on two lines of stored cart data.
    #[error("{0} appears more than once in the cart")]
    DuplicateLine(Sku),
}

fn item_limit_message(in_cart: Quantity) -> String {
    match in_cart.headroom() {
        0 => format!(
            "You already have the maximum of {} of this item in your cart",
            Quantity::MAX_VALUE
        ),
        1 => format!("You already have {in_cart} of this item in your cart; you can add 1 more"),
        more => format!(
            "You already have {in_cart} of this item in your cart; you can add at most {more} more"
        ),
    }
}

/// Quantity of a line after adding `add` to the `existing` quantity, or [`CartError::ItemLimit`] above 99.
pub fn combine_quantities(existing: Quantity, add: Quantity) -> Result<Quantity, CartError> {
    existing
        .checked_add(add)
        .map_err(|_| CartError::ItemLimit { in_cart: existing })
}

/// Checks that a cart with `count` lines is within [`MAX_LINES`].
pub fn check_line_count(count: usize) -> Result<(), CartError> {
    if count > MAX_LINES {
        Err(CartError::TooManyLines)
    } else {
        Ok(())
    }
}

/// What adding an item does to a cart's stored lines (for services that persist lines individually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartChange {
    /// Insert this new line.
    Insert(CartLine),
    /// Replace the existing line for this SKU with this quantity.
    Update(CartLine),
}

impl CartChange {
    /// The line as it will be stored.
    pub fn line(&self) -> &CartLine {
        match self {
            CartChange::Insert(line) | CartChange::Update(line) => line,
        }
    }
}

/// Decides the result of adding `quantity` of `sku` to a cart currently holding `lines`.
pub fn plan_add(
    lines: &[CartLine],
    sku: &Sku,
    quantity: Quantity,
) -> Result<CartChange, CartError> {
    match lines.iter().find(|line| &line.sku == sku) {
        Some(existing) => Ok(CartChange::Update(CartLine {
            sku: sku.clone(),
            quantity: combine_quantities(existing.quantity, quantity)?,
        })),
        None => {
            check_line_count(lines.len().saturating_add(1))?;
            Ok(CartChange::Insert(CartLine {
                sku: sku.clone(),
                quantity,
            }))
        }
    }
}

/// What merging a guest cart into another cart gives ([`merge_lines`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merge {
    /// The receiving cart afterwards: its own lines first, in their order, then the new ones.
    pub lines: Vec<CartLine>,
    /// The lines that are new or whose quantity changed, as they are now: what to store.
    pub changed: Vec<CartLine>,
    /// Lines of the guest cart left out because the receiving cart was full ([`MAX_LINES`]).
    pub dropped: Vec<CartLine>,
}

/// Adds the lines of `from` into the cart holding `into`, within the cart rules:
///
/// - a SKU in both carts gets the sum of the quantities, capped at [`Quantity::MAX`] (the
///   items above it are not carried over);
/// - a SKU only in `from` becomes a new line while the cart has fewer than [`MAX_LINES`]
///   lines; the lines that do not fit are dropped (in `from`'s order: the first ones fit) and
///   reported in [`Merge::dropped`].
///
/// Never fails: a sign-in must not be refused over its cart. A SKU repeated in `from` is added
/// twice, as two adds would be.
pub fn merge_lines(into: &[CartLine], from: &[CartLine]) -> Merge {
    let mut lines = into.to_vec();
    let mut dropped = Vec::new();
    for line in from {
        let full = lines.len() >= MAX_LINES;
        match lines.iter_mut().find(|l| l.sku == line.sku) {
            Some(existing) => {
                existing.quantity = existing
                    .quantity
                    .checked_add(line.quantity)
                    .unwrap_or(Quantity::MAX);
            }
            None if full => dropped.push(line.clone()),
            None => lines.push(line.clone()),
        }
    }
    let changed = lines
        .iter()
        .filter(|l| !into.contains(l))
        .cloned()
        .collect();
    Merge { lines, changed, dropped }
}

/// A shopper's requested change to one line: set a quantity, or remove the line (quantity `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineUpdate {
    /// Remove the line.
    Remove,
    /// Set the line to this quantity.
    Set(Quantity),
}

impl LineUpdate {
    /// Parses a quantity box where `0` means "remove"; other input follows [`Quantity::parse`].
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        match Quantity::parse(input) {
            Ok(q) => Ok(LineUpdate::Set(q)),
            Err(QuantityError::Zero) => Ok(LineUpdate::Remove),
            Err(e) => Err(e),
        }
    }
}

/// A valid cart: unique SKUs, at most [`MAX_LINES`] lines, in the order items were first added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Cart {
    lines: Vec<CartLine>,
}

impl Cart {
    /// An empty cart.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a cart from stored lines, rejecting duplicates and too many lines.
    pub fn from_lines(lines: Vec<CartLine>) -> Result<Self, CartError> {
        check_line_count(lines.len())?;
        for (i, line) in lines.iter().enumerate() {
            if lines
                .iter()
                .skip(i.saturating_add(1))
                .any(|other| other.sku == line.sku)
            {
                return Err(CartError::DuplicateLine(line.sku.clone()));
            }
        }
        Ok(Self { lines })
    }

    /// The lines, in the order first added.
    pub fn lines(&self) -> &[CartLine] {
        &self.lines
    }

    /// Consumes the cart, returning its lines.
    pub fn into_lines(self) -> Vec<CartLine> {
        self.lines
    }

    /// True when the cart has no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Number of distinct items.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// Total number of items (sum of quantities; at most 50 × 99, so it can't overflow).
    pub fn item_count(&self) -> u32 {
        self.lines
            .iter()
            .fold(0_u32, |acc, line| acc.saturating_add(line.quantity.get()))
    }

    /// Quantity of `sku` in the cart, if any.
    pub fn quantity_of(&self, sku: &Sku) -> Option<Quantity> {
        self.lines
            .iter()
            .find(|l| &l.sku == sku)
            .map(|l| l.quantity)
    }

    /// Adds `quantity` of `sku` (merging with an existing line); returns the line's new quantity.
    pub fn add(&mut self, sku: &Sku, quantity: Quantity) -> Result<Quantity, CartError> {
        let change = plan_add(&self.lines, sku, quantity)?;
        let new_quantity = change.line().quantity;
        self.apply(change);
        Ok(new_quantity)
    }

    /// Sets the quantity of `sku`, adding the line if it is missing (subject to [`MAX_LINES`]).
    pub fn set_quantity(&mut self, sku: &Sku, quantity: Quantity) -> Result<(), CartError> {
        if let Some(line) = self.lines.iter_mut().find(|l| &l.sku == sku) {
            line.quantity = quantity;
            return Ok(());
        }
        check_line_count(self.lines.len().saturating_add(1))?;
        self.lines.push(CartLine {
            sku: sku.clone(),
            quantity,
        });
        Ok(())
    }

    /// Applies a [`LineUpdate`] to `sku`.
    pub fn update(&mut self, sku: &Sku, update: LineUpdate) -> Result<(), CartError> {
        match update {
            LineUpdate::Remove => {
                self.remove(sku);
                Ok(())
            }
            LineUpdate::Set(quantity) => self.set_quantity(sku, quantity),
        }
    }

    /// Removes the line for `sku`; returns whether it was there.
    pub fn remove(&mut self, sku: &Sku) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| &l.sku != sku);
        self.lines.len() != before
    }

    /// Empties the cart.
    pub fn clear(&mut self) {
        self.lines.clear();
    }

    fn apply(&mut self, change: CartChange) {
        match change {
            CartChange::Insert(line) => self.lines.push(line),
            CartChange::Update(new) => {
                if let Some(line) = self.lines.iter_mut().find(|l| l.sku == new.sku) {
                    line.quantity = new.quantity;
                }
            }
        }
    }
}

impl<'de> Deserialize<'de> for Cart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let lines = Vec::<CartLine>::deserialize(deserializer)?;
        Cart::from_lines(lines).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn q(n: u32) -> Quantity {
        Quantity::new(n).unwrap()
    }

    #[test]
    fn combine_within_limit() {
        assert_eq!(combine_quantities(q(2), q(3)), Ok(q(5)));
        assert_eq!(combine_quantities(q(98), q(1)), Ok(q(99)));
    }

    #[test]
    fn combine_above_limit_is_rejected_not_clamped() {
        assert_eq!(
            combine_quantities(q(97), q(5)),
            Err(CartError::ItemLimit { in_cart: q(97) })
        );
    }

    #[test]
    fn item_limit_messages_say_what_to_do() {
        assert_eq!(
            CartError::ItemLimit { in_cart: q(97) }.to_string(),
            "You already have 97 of this item in your cart; you can add at most 2 more"
        );
        assert_eq!(
            CartError::ItemLimit { in_cart: q(98) }.to_string(),
            "You already have 98 of this item in your cart; you can add 1 more"
        );
        assert_eq!(
            CartError::ItemLimit { in_cart: q(99) }.to_string(),
            "You already have the maximum of 99 of this item in your cart"
        );
        assert_eq!(
            CartError::TooManyLines.to_string(),
            "Your cart can hold at most 50 different items"
        );
    }

    #[test]
    fn combine_property_never_exceeds_max_and_never_loses_items() {
        for a in 1..=99 {
            for b in 1..=99 {
                match combine_quantities(q(a), q(b)) {
                    Ok(sum) => assert_eq!(sum.get(), a + b),
                    Err(CartError::ItemLimit { in_cart }) => {
                        assert!(a + b > 99);
                        assert_eq!(in_cart, q(a));
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
        }
    }

    #[test]
    fn plan_add_inserts_or_updates() {
        let lines = vec![CartLine {
            sku: sku("AAA"),
            quantity: q(2),
        }];
        assert_eq!(
            plan_add(&lines, &sku("AAA"), q(3)),
            Ok(CartChange::Update(CartLine {
                sku: sku("AAA"),
                quantity: q(5)
            }))
        );
        assert_eq!(
            plan_add(&lines, &sku("BBB"), q(1)),
            Ok(CartChange::Insert(CartLine {
                sku: sku("BBB"),
                quantity: q(1)
            }))
        );
    }

    #[test]
    fn plan_add_respects_line_limit_but_allows_merging_when_full() {
        let lines: Vec<CartLine> = (0..MAX_LINES)
            .map(|i| CartLine {
                sku: sku(&format!("SKU-{i}")),
                quantity: q(1),
            })
            .collect();
        assert_eq!(
            plan_add(&lines, &sku("NEW-1"), q(1)),
            Err(CartError::TooManyLines)
        );
        assert!(plan_add(&lines, &sku("SKU-0"), q(1)).is_ok());
    }

    #[test]
    fn line_count_check() {
        assert!(check_line_count(0).is_ok());
        assert!(check_line_count(MAX_LINES).is_ok());
        assert_eq!(
            check_line_count(MAX_LINES + 1),
            Err(CartError::TooManyLines)
        );
    }

    #[test]
    fn cart_add_merges_and_counts() {
        let mut cart = Cart::new();
        assert!(cart.is_empty());
        assert_eq!(cart.add(&sku("AAA"), q(2)), Ok(q(2)));
        assert_eq!(cart.add(&sku("BBB"), q(1)), Ok(q(1)));
        assert_eq!(cart.add(&sku("aaa"), q(3)), Ok(q(5)));
        assert_eq!(cart.line_count(), 2);
        assert_eq!(cart.item_count(), 6);
        assert_eq!(cart.quantity_of(&sku("AAA")), Some(q(5)));
        assert_eq!(cart.lines()[0].sku, sku("AAA"));
    }

    #[test]
    fn cart_add_rejection_leaves_cart_unchanged() {
        let mut cart = Cart::new();
        cart.add(&sku("AAA"), q(95)).unwrap();
        let before = cart.clone();
        assert_eq!(
            cart.add(&sku("AAA"), q(5)),
            Err(CartError::ItemLimit { in_cart: q(95) })
        );
        assert_eq!(cart, before);
    }

    #[test]
    fn cart_set_update_remove() {
        let mut cart = Cart::new();
        cart.set_quantity(&sku("AAA"), q(4)).unwrap();
        cart.set_quantity(&sku("AAA"), q(1)).unwrap();
        assert_eq!(cart.quantity_of(&sku("AAA")), Some(q(1)));
        cart.update(&sku("BBB"), LineUpdate::Set(q(7))).unwrap();
        cart.update(&sku("AAA"), LineUpdate::Remove).unwrap();
        assert_eq!(cart.quantity_of(&sku("AAA")), None);
        assert!(!cart.remove(&sku("AAA")));
        assert!(cart.remove(&sku("BBB")));
        assert!(cart.is_empty());
        cart.add(&sku("CCC"), q(1)).unwrap();
        cart.clear();
        assert!(cart.into_lines().is_empty());
    }

    #[test]
    fn set_quantity_respects_line_limit() {
        let mut cart = Cart::new();
        for i in 0..MAX_LINES {
            cart.add(&sku(&format!("SKU-{i}")), q(1)).unwrap();
        }
        assert_eq!(
            cart.set_quantity(&sku("NEW-1"), q(1)),
            Err(CartError::TooManyLines)
        );
        assert_eq!(cart.add(&sku("NEW-1"), q(1)), Err(CartError::TooManyLines));
        assert!(cart.set_quantity(&sku("SKU-3"), q(9)).is_ok());
        assert_eq!(cart.item_count(), 58);
    }

    fn line(s: &str, n: u32) -> CartLine {
        CartLine {
            sku: sku(s),
            quantity: q(n),
        }
    }

    #[test]
    fn merge_adds_quantities_and_new_lines() {
        let into = [line("AAA", 2), line("BBB", 1)];
        let from = [line("AAA", 3), line("CCC", 4)];
        let merged = merge_lines(&into, &from);
        assert_eq!(
            merged.lines,
            [line("AAA", 5), line("BBB", 1), line("CCC", 4)]
        );
        assert_eq!(merged.changed, [line("AAA", 5), line("CCC", 4)]);
        assert!(merged.dropped.is_empty());
    }

    #[test]
    fn merge_caps_each_line_at_the_item_limit() {
        let into = [line("AAA", 60), line("BBB", 99)];
        let from = [line("AAA", 60), line("BBB", 5), line("AAA", 1)];
        let merged = merge_lines(&into, &from);
        assert_eq!(merged.lines, [line("AAA", 99), line("BBB", 99)]);
        assert_eq!(merged.changed, [line("AAA", 99)], "a line already at 99 is not rewritten");
        assert!(merged.dropped.is_empty());
    }

    #[test]
    fn merge_drops_new_lines_beyond_the_line_limit_but_still_adds_to_existing_ones() {
        let into: Vec<CartLine> = (0..MAX_LINES - 1)
            .map(|i| line(&format!("SKU-{i}"), 1))
            .collect();
        let from = [line("NEW-1", 1), line("NEW-2", 2), line("SKU-0", 3), line("NEW-3", 3)];
        let merged = merge_lines(&into, &from);
        assert_eq!(merged.lines.len(), MAX_LINES);
        assert_eq!(merged.changed, [line("SKU-0", 4), line("NEW-1", 1)]);
        assert_eq!(merged.dropped, [line("NEW-2", 2), line("NEW-3", 3)]);
        assert!(Cart::from_lines(merged.lines).is_ok());
    }

    #[test]
    fn merge_with_an_empty_side() {
        let some = [line("AAA", 2)];
        assert_eq!(merge_lines(&some, &[]), Merge { lines: some.to_vec(), ..Merge::default() });
        let into_empty = merge_lines(&[], &some);
        assert_eq!(into_empty.lines, some);
        assert_eq!(into_empty.changed, some);
        assert_eq!(merge_lines(&[], &[]), Merge::default());
    }

    #[test]
    fn merge_property_stays_within_the_rules_and_keeps_what_fits() {
        // Carts of 0..=60 lines over a pool of 80 SKUs, quantities spread over 1..=99.
        for seed in 0..200_u32 {
            let pick = |salt: u32, n: u32| (seed.wrapping_mul(2_654_435_761).wrapping_add(salt * 40_503)) % n;
            let make = |salt: u32, len: u32| -> Vec<CartLine> {
                let mut lines: Vec<CartLine> = Vec::new();
                for i in 0..len {
                    let s = sku(&format!("SKU-{}", pick(salt + i, 80)));
                    if lines.iter().all(|l| l.sku != s) {
                        lines.push(CartLine { sku: s, quantity: q(1 + pick(salt * 7 + i, 99)) });
                    }
                }
                lines
            };
            let into = make(1, pick(3, 51));
            let from = make(1000, pick(5, 61));
            let merged = merge_lines(&into, &from);
            assert!(Cart::from_lines(merged.lines.clone()).is_ok(), "seed {seed}");
            for l in &from {
                let before = into.iter().find(|i| i.sku == l.sku).map_or(0, |i| i.quantity.get());
                let after = merged.lines.iter().find(|m| m.sku == l.sku).map(|m| m.quantity.get());
                match after {
                    Some(after) => assert_eq!(after, (before + l.quantity.get()).min(99), "seed {seed}"),
                    None => assert!(merged.dropped.contains(l) && merged.lines.len() == MAX_LINES, "seed {seed}"),
                }
            }
            for l in &into {
                assert!(merged.lines.iter().any(|m| m.sku == l.sku && m.quantity >= l.quantity), "seed {seed}");
            }
            for c in &merged.changed {
                assert!(merged.lines.contains(c) && !into.contains(c), "seed {seed}");
            }
        }
    }

    #[test]
    fn line_update_parse() {
        assert_eq!(LineUpdate::parse("0"), Ok(LineUpdate::Remove));
        assert_eq!(LineUpdate::parse(" 4 "), Ok(LineUpdate::Set(q(4))));
        assert_eq!(LineUpdate::parse("-1"), Err(QuantityError::Negative));
        assert_eq!(LineUpdate::parse(""), Err(QuantityError::Missing));
    }

    #[test]
    fn from_lines_validates() {
        let dup = vec![
            CartLine {
                sku: sku("AAA"),
                quantity: q(1),
            },
            CartLine {
                sku: sku("BBB"),
                quantity: q(1),
            },
            CartLine {
                sku: sku("AAA"),
                quantity: q(2),
            },
        ];
        assert_eq!(
            Cart::from_lines(dup),
            Err(CartError::DuplicateLine(sku("AAA")))
        );
        let too_many: Vec<CartLine> = (0..=MAX_LINES)
            .map(|i| CartLine {
                sku: sku(&format!("SKU-{i}")),
                quantity: q(1),
            })
            .collect();
        assert_eq!(Cart::from_lines(too_many), Err(CartError::TooManyLines));
    }

    #[test]
    fn serde_round_trip_validates() {
        let mut cart = Cart::new();
        cart.add(&sku("AAA"), q(2)).unwrap();
        let json = serde_json::to_string(&cart).unwrap();
        assert_eq!(json, r#"[{"sku":"AAA","quantity":2}]"#);
        assert_eq!(serde_json::from_str::<Cart>(&json).unwrap(), cart);
        assert!(serde_json::from_str::<Cart>(
            r#"[{"sku":"AAA","quantity":2},{"sku":"aaa","quantity":1}]"#
        )
        .is_err());
        assert!(serde_json::from_str::<Cart>(r#"[{"sku":"AAA","quantity":100}]"#).is_err());
    }
}
