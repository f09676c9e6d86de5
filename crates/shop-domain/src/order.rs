//! Orders: lines, pricing, order numbers and the order lifecycle.

use crate::codes::crockford12;
use crate::ids::{parse_code, string_id_impls, IdError};
use crate::money::{Currency, Money, MoneyError};
use crate::quantity::Quantity;
use crate::sku::Sku;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

/// One line of an order, with the price captured when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product.
    pub sku: Sku,
    /// Product name at the time of ordering (shown on receipts even if the catalog changes).
    pub name: String,
    /// Price of one item.
    pub unit_price: Money,
    /// How many.
    pub quantity: Quantity,
}

impl OrderLine {
    /// `unit_price × quantity`.
    pub fn line_total(&self) -> Result<Money, MoneyError> {
        self.unit_price.multiply(self.quantity)
    }
}

/// Why an order couldn't be priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// No lines.
    #[error("Your order has no items")]
    EmptyOrder,
    /// A line or the shipping is in a different currency from the rest.
    #[error("Prices must all be in {expected}, but one is in {found}")]
    CurrencyMismatch {
        /// The order's currency (that of the shipping price).
        expected: Currency,
        /// The odd one out.
        found: Currency,
    },
    /// A total doesn't fit in `i64` minor units.
    #[error("Order total is too large")]
    Overflow,
}

impl From<MoneyError> for PricingError {
    fn from(e: MoneyError) -> Self {
        match e {
            MoneyError::CurrencyMismatch { expected, found } => {
                PricingError::CurrencyMismatch { expected, found }
            }
            // Only checked additions/multiplications of valid amounts reach here, so anything else is overflow.
            _ => PricingError::Overflow,
        }
    }
}

/// Subtotal, shipping and total of an order; `total == subtotal + shipping`, all in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct OrderTotals {
    subtotal: Money,
    shipping: Money,
    total: Money,
}

impl OrderTotals {
    /// Builds totals from a subtotal and a shipping price (same currency).
    pub fn new(subtotal: Money, shipping: Money) -> Result<Self, PricingError> {
        let total = subtotal.checked_add(shipping)?;
        Ok(Self {
            subtotal,
            shipping,
            total,
        })
    }

    /// Sum of the line totals.
    pub fn subtotal(&self) -> Money {
        self.subtotal
    }

    /// Shipping price.
    pub fn shipping(&self) -> Money {
        self.shipping
    }

    /// Amount to charge.
    pub fn total(&self) -> Money {
        self.total
    }

    /// The order's currency.
    pub fn currency(&self) -> Currency {
        self.total.currency()
    }
}

impl<'de> Deserialize<'de> for OrderTotals {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            subtotal: Money,
            shipping: Money,
            total: Money,
        }
        let raw = Raw::deserialize(deserializer)?;
        let totals =
            OrderTotals::new(raw.subtotal, raw.shipping).map_err(serde::de::Error::custom)?;
        if totals.total != raw.total {
            return Err(serde::de::Error::custom(
                "total must equal subtotal plus shipping",
            ));
        }
        Ok(totals)
    }
}

/// Prices an order: subtotal of all lines plus `shipping`, all in the shipping price's currency.
pub fn price_order(lines: &[OrderLine], shipping: Money) -> Result<OrderTotals, PricingError> {
    if lines.is_empty() {
        return Err(PricingError::EmptyOrder);
    }
    let currency = shipping.currency();
    let line_totals = lines
        .iter()
        .map(|line| {
            if line.unit_price.currency() != currency {
                return Err(PricingError::CurrencyMismatch {
                    expected: currency,
                    found: line.unit_price.currency(),
                });
            }
            Ok(line.line_total()?)
        })
        .collect::<Result<Vec<Money>, PricingError>>()?;
    let subtotal = Money::sum(currency, line_totals)?;
    OrderTotals::new(subtotal, shipping)
}

/// Total number of items in `lines` (sum of quantities), e.g. for [`crate::shipping::quote`].
pub fn item_count(lines: &[OrderLine]) -> u32 {
    lines
        .iter()
        .fold(0_u32, |acc, line| acc.saturating_add(line.quantity.get()))
}

/// A shopper-facing order number: `ORD-` + 12 Crockford base32 characters (60 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

impl OrderId {
    const PREFIX: &'static str = "ORD-";
    const KIND: &'static str = "Order number";

    /// Builds an order number from 8 random bytes supplied by the caller.
    pub fn from_random(bytes: [u8; 8]) -> Self {
        Self(format!("{}{}", Self::PREFIX, crockford12(bytes)))
    }

    /// Validates `ORD-` + 12 Crockford characters, case-insensitively (stored uppercase).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        parse_code(input, Self::PREFIX, Self::KIND).map(Self)
    }
}
string_id_impls!(OrderId);

/// How many orders one page of a shopper's order list holds: 1..=[`OrderPageSize::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderPageSize(u32);

/// A page size outside 1..=[`OrderPageSize::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Limit must be between 1 and {}", OrderPageSize::MAX)]
pub struct PageSizeError;

impl OrderPageSize {
    /// Most orders on one page.
    pub const MAX: u32 = 50;

    /// Checks 1..=[`Self::MAX`].
    pub fn new(n: u32) -> Result<Self, PageSizeError> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(PageSizeError)
        }
    }

    /// The size.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The rows a page query should ask for: one more than the page, to learn whether an
    /// older page follows without counting.
    pub const fn rows_to_fetch(self) -> u32 {
        self.0.saturating_add(1)
    }

    /// Splits what a page query returned ([`Self::rows_to_fetch`] at most, newest first) into
    /// the page and whether an older page follows.
    pub fn split<T>(self, mut rows: Vec<T>) -> (Vec<T>, bool) {
        let size = usize::try_from(self.0).unwrap_or(usize::MAX);
        let more = rows.len() > size;
        rows.truncate(size);
        (rows, more)
    }
}

/// Where the next page of an order list (newest first) starts: just after the order with this
/// creation time and number, the last one of the previous page. Ordering by both keeps the pages
/// exact when two orders share a creation time, and needs no state on the server.
///
/// Callers treat its text as opaque; it is `<microseconds since 1970-01-01 UTC>.<order number>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCursor {
    created_micros: i64,
    order_id: OrderId,
}

impl OrderCursor {
    const KIND: &'static str = "Cursor";
    /// Longer text is refused before it is looked at: 19 digits, a dot and an order number.
    const MAX_LEN: usize = 40;

    /// The cursor after an order created at `created_micros` (microseconds since the epoch).
    pub fn new(created_micros: i64, order_id: OrderId) -> Self {
        Self {
            created_micros,
            order_id,
        }
    }

    /// Reads a cursor this type wrote (`Display`); anything else is [`IdError::Invalid`].
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let invalid = IdError::Invalid { kind: Self::KIND };
        if input.trim().is_empty() {
            return Err(IdError::Missing { kind: Self::KIND });
        }
        if input.len() > Self::MAX_LEN {
            return Err(invalid);
        }
        let (micros, order_id) = input.split_once('.').ok_or(invalid)?;
        if micros.is_empty() || !micros.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid);
        }
        let created_micros = micros.parse::<i64>().map_err(|_| invalid)?;
        let order_id = OrderId::parse(order_id)
            .ok()
            .filter(|id| id.as_str() == order_id)
            .ok_or(invalid)?;
        Ok(Self::new(created_micros, order_id))
    }

    /// When the order was created, in microseconds since 1970-01-01 UTC.
    pub fn created_micros(&self) -> i64 {
        self.created_micros
    }

    /// The order's number.
    pub fn order_id(&self) -> &OrderId {
        &self.order_id
    }
}

impl fmt::Display for OrderCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.created_micros, self.order_id)
    }
}

/// Where an order is in its lifecycle.
///
/// ```text
/// Pending ──► Paid ──► Shipped ──► Completed
///    │          │         │            │
///    ▼          └─────────┴────────────┴──► Refunded
///  Failed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, payment not yet confirmed.
    Pending,
    /// Payment captured.
    Paid,
    /// Handed to the carrier.
    Shipped,
    /// Delivered; nothing more to do.
    Completed,
    /// Payment failed; the order will not proceed.
    Failed,
    /// Money returned to the shopper.
    Refunded,
}

/// A status change that the lifecycle doesn't allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("An order that is {} can't become {}", .from.label(), .to.label())]
pub struct TransitionError {
    /// Current status.
    pub from: OrderStatus,
    /// Requested status.
    pub to: OrderStatus,
}

/// Why an order status text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Unknown order status")]
pub struct UnknownStatus;

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Completed,
        OrderStatus::Failed,
        OrderStatus::Refunded,
    ];

    /// Stable lowercase identifier (same as the serde form), e.g. `"paid"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Completed => "completed",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// Label for the shopper, e.g. `"Payment failed"`.
    pub const fn label(self) -> &'static str {
        match self {
            OrderStatus::Pending => "Pending",
            OrderStatus::Paid => "Paid",
            OrderStatus::Shipped => "Shipped",
            OrderStatus::Completed => "Completed",
            OrderStatus::Failed => "Payment failed",
            OrderStatus::Refunded => "Refunded",
        }
    }

    /// Parses [`OrderStatus::as_str`] output (any case).
    pub fn parse(input: &str) -> Result<Self, UnknownStatus> {
        let text = input.trim();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .ok_or(UnknownStatus)
    }

    /// Whether the lifecycle allows moving from `self` to `next`.
    pub const fn can_transition_to(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Paid)
                | (Pending, Failed)
                | (Paid, Shipped)
                | (Paid, Refunded)
                | (Shipped, Completed)
                | (Shipped, Refunded)
                | (Completed, Refunded)
        )
    }

    /// Moves to `next` if allowed.
    pub fn transition_to(self, next: OrderStatus) -> Result<OrderStatus, TransitionError> {
        if self.can_transition_to(next) {
            Ok(next)
        } else {
            Err(TransitionError {
                from: self,
                to: next,
            })
        }
    }

    /// True when no further transition is possible.
    pub fn is_terminal(self) -> bool {
        !Self::ALL
            .into_iter()
            .any(|next| self.can_transition_to(next))
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for OrderStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd).unwrap()
    }

    fn line(sku: &str, price: Money, qty: u32) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            name: format!("Product {sku}"),
            unit_price: price,
            quantity: Quantity::new(qty).unwrap(),
        }
    }

    #[test]
    fn page_sizes() {
        assert_eq!(OrderPageSize::new(0), Err(PageSizeError));
        assert_eq!(OrderPageSize::new(51), Err(PageSizeError));
        assert_eq!(PageSizeError.to_string(), "Limit must be between 1 and 50");
        let two = OrderPageSize::new(2).unwrap();
        assert_eq!((two.get(), two.rows_to_fetch()), (2, 3));
        assert_eq!(two.split(vec![1, 2, 3]), (vec![1, 2], true));
        assert_eq!(two.split(vec![1, 2]), (vec![1, 2], false));
        assert_eq!(two.split(Vec::<u8>::new()), (vec![], false));
        assert_eq!(OrderPageSize::new(50).unwrap().rows_to_fetch(), 51);
    }

    #[test]
    fn cursors_round_trip() {
        let id = OrderId::from_random([0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
        for micros in [0, 1_767_225_600_123_456, i64::MAX] {
            let cursor = OrderCursor::new(micros, id.clone());
            let text = cursor.to_string();
            assert_eq!(OrderCursor::parse(&text), Ok(cursor.clone()), "{text}");
            assert_eq!(cursor.created_micros(), micros);
            assert_eq!(cursor.order_id(), &id);
        }
    }

    #[test]
    fn bad_cursors_are_refused() {
        let kind = "Cursor";
        let id = OrderId::from_random([1; 8]);
        assert_eq!(OrderCursor::parse(" "), Err(IdError::Missing { kind }));
        for bad in [
            "x".to_string(),
            id.to_string(),
            format!(".{id}"),
            format!("-5.{id}"),
            format!("+5.{id}"),
            format!("1 .{id}"),
            format!("99999999999999999999.{id}"),
            format!("5.{}", id.as_str().to_lowercase()),
            format!("5.{id}.6"),
            "5.ORD-".to_string(),
            format!("5.{id}{}", "0".repeat(100)),
            "5.ORD-0123456789AB\u{0}".to_string(),
        ] {
            assert_eq!(OrderCursor::parse(&bad), Err(IdError::Invalid { kind }), "{bad}");
        }
        assert_eq!(IdError::Invalid { kind }.to_string(), "Cursor is not valid");
    }

    #[test]
    fn line_total_multiplies() {
        assert_eq!(line("TEE-1", usd(1999), 3).line_total(), Ok(usd(5997)));
    }

    #[test]
    fn prices_an_order() {
        let lines = [line("TEE-1", usd(1999), 2), line("MUG-1", usd(1250), 1)];
        let totals = price_order(&lines, usd(600)).unwrap();
        assert_eq!(totals.subtotal(), usd(5248));
        assert_eq!(totals.shipping(), usd(600));
        assert_eq!(totals.total(), usd(5848));
        assert_eq!(totals.currency(), Currency::Usd);
        assert_eq!(totals.total().format(), "$58.48");
        assert_eq!(item_count(&lines), 3);
    }

    #[test]
    fn pricing_errors() {
        assert_eq!(price_order(&[], usd(500)), Err(PricingError::EmptyOrder));
        let eur = Money::new(100, Currency::Eur).unwrap();
        assert_eq!(
            price_order(&[line("TEE-1", eur, 1)], usd(500)),
            Err(PricingError::CurrencyMismatch {
                expected: Currency::Usd,
                found: Currency::Eur
            })
        );
        assert_eq!(
            price_order(&[line("TEE-1", usd(i64::MAX), 2)], usd(0)),
            Err(PricingError::Overflow)
        );
        assert_eq!(
            price_order(&[line("TEE-1", usd(i64::MAX - 10), 1)], usd(11)),
            Err(PricingError::Overflow)
        );
        assert_eq!(
            price_order(
                &[
                    line("TEE-1", usd(i64::MAX / 2), 1),
                    line("TEE-2", usd(i64::MAX / 2 + 2), 1)
                ],
                usd(0)
            ),
            Err(PricingError::Overflow)
        );
    }

    #[test]
    fn total_is_always_subtotal_plus_shipping() {
        let mut x = 0x0123_4567_89AB_CDEF_u64;
        for _ in 0..500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let lines: Vec<OrderLine> = (0..(x % 5 + 1))
                .map(|i| {
                    line(
                        &format!("SKU-{i}"),
                        usd(((x >> (i * 8)) % 100_000) as i64),
                        (x >> 40) as u32 % 99 + 1,
                    )
                })
                .collect();
            let shipping = usd((x % 3_000) as i64);
            let totals = price_order(&lines, shipping).unwrap();
            let expected: i64 = lines
                .iter()
                .map(|l| l.unit_price.minor() * i64::from(l.quantity.get()))
                .sum();
            assert_eq!(totals.subtotal().minor(), expected);
            assert_eq!(totals.total().minor(), expected + shipping.minor());
        }
    }

    #[test]
    fn totals_serde_checks_consistency() {
        let totals = OrderTotals::new(usd(1000), usd(500)).unwrap();
        let json = serde_json::to_string(&totals).unwrap();
        assert_eq!(serde_json::from_str::<OrderTotals>(&json).unwrap(), totals);
        let bad = json.replace("1500", "1499");
        assert!(serde_json::from_str::<OrderTotals>(&bad).is_err());
    }

    #[test]
    fn order_id_format_and_parse() {
        let id = OrderId::from_random([0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
        assert!(id.as_str().starts_with("ORD-"));
        assert_eq!(id.as_str().len(), 16);
        assert_eq!(OrderId::parse(&id.as_str().to_lowercase()), Ok(id.clone()));
        assert_eq!(id.to_string(), id.as_str());
        let kind = "Order number";
        assert_eq!(OrderId::parse(""), Err(IdError::Missing { kind }));
        for bad in [
            "ORD-123",
            "ORD-0123456789ABC",
            "ORD-0123456789AU",
            "TRK-0123456789AB",
            "0123456789AB",
        ] {
            assert_eq!(OrderId::parse(bad), Err(IdError::Invalid { kind }), "{bad}");
        }
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<OrderId>(&json).unwrap(), id);
    }

    #[test]
    fn distinct_bytes_give_distinct_order_ids() {
        let a = OrderId::from_random([0, 0, 0, 0, 0, 0, 0, 0x10]);
        let b = OrderId::from_random([0, 0, 0, 0, 0, 0, 0, 0x20]);
        assert_ne!(a, b);
    }

    #[test]
    fn lifecycle_transitions() {
        use OrderStatus::*;
        let allowed = [
            (Pending, Paid),
            (Pending, Failed),
            (Paid, Shipped),
            (Paid, Refunded),
            (Shipped, Completed),
            (Shipped, Refunded),
            (Completed, Refunded),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_transition_to(to), expected, "{from:?} -> {to:?}");
                assert_eq!(from.transition_to(to).is_ok(), expected);
            }
        }
        assert!(Failed.is_terminal());
        assert!(Refunded.is_terminal());
        assert!(!Pending.is_terminal());
        assert!(!Completed.is_terminal());
        assert_eq!(
            Shipped.transition_to(Pending).unwrap_err().to_string(),
            "An order that is Shipped can't become Pending"
        );
    }

    #[test]
    fn status_text() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(OrderStatus::parse("PAID"), Ok(OrderStatus::Paid));
        assert_eq!(OrderStatus::parse("lost"), Err(UnknownStatus));
        assert_eq!(OrderStatus::Failed.to_string(), "Payment failed");
    }
}
