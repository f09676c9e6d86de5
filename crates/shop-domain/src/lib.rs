//! The shop's functional core: validated domain types and pure business rules.
//!
//! *Parse at the edge, then trust the types.* Every value that crosses a trust
//! boundary (form field, JSON body, database row) is turned into one of these
//! types by a `parse`/`new` constructor that validates it; after that the rest of
//! the code can rely on the invariant without re-checking. Fields are private so a
//! value can't be built any other way, and `Deserialize` impls re-run validation.
//!
//! No I/O, no clock, no randomness, no floating point: callers supply "today" and
//! random bytes, and money is integer minor units. This keeps every rule
//! deterministic, unit-testable natively and usable from `wasm32-wasip2`.
//!
//! Error `Display` texts are worded for shoppers and can be shown beside a form
//! field as-is (see [`validation::FieldError`]).
//!
//! ```
//! use shop_domain::{order, shipping, Country, Currency, Money, OrderLine, Quantity, Sku};
//!
//! let line = OrderLine {
//!     sku: Sku::parse("tee-blk-m")?,
//!     name: "Black T-shirt (M)".into(),
//!     unit_price: Money::parse_decimal("19.99", Currency::Usd)?,
//!     quantity: Quantity::parse("2")?,
//! };
//! let lines = [line];
//! let shipping = shipping::quote(Country::US, order::item_count(&lines), Currency::Usd);
//! let totals = order::price_order(&lines, shipping)?;
//! assert_eq!(totals.subtotal().format(), "$39.98");
//! assert_eq!(totals.shipping().format(), "$6.00");
//! assert_eq!(totals.total().format(), "$45.98");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Money and quantities must never silently wrap or panic; floats are banned outright.
#![deny(clippy::float_arithmetic, clippy::float_cmp)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod account;
pub mod account_address;
pub mod account_session;
pub mod address;
pub mod card;
pub mod card_details;
pub mod catalog;
pub mod cart;
pub mod checkout;
pub mod codes;
pub mod email;
pub mod exchange;
pub mod ids;
pub mod money;
pub mod order;
pub mod password;
pub mod quantity;
pub mod shipping;
pub mod signin_limit;
pub mod sku;
pub mod stock;
pub mod validation;

pub use address::{Address, AddressInput, Country, CountryError, PostalCodeError};
pub use card::{
    Card, CardBrand, CardInput, CardNumber, CardNumberError, ChargeDecision, Cvv, CvvError,
    DeclineReason, Expiry, ExpiryError, YearMonth,
};
pub use cart::{Cart, CartChange, CartError, CartLine, LineUpdate, Merge, MAX_LINES};
pub use email::{EmailAddress, EmailError};
pub use exchange::{ExchangeError, PerUsd, Rates};
pub use ids::{IdError, IdempotencyKey, SessionId, TrackingId, TransactionId};
pub use money::{Currency, Money, MoneyError};
pub use order::{
    OrderCursor, OrderId, OrderLine, OrderPageSize, OrderStatus, OrderTotals, PageSizeError,
    PricingError, TransitionError, UnknownStatus,
};
pub use quantity::{Quantity, QuantityError};
pub use shipping::ShippingZone;
pub use sku::{Sku, SkuError};
pub use stock::StockLevel;
pub use validation::{ErrorCollector, FieldError, TextError};

#[cfg(test)]
mod tests {
    /// The "no floats" rule is easy to break by accident; keep it checked.
    #[test]
    fn no_floating_point_types_in_sources() {
        let sources = [
            include_str!("account.rs"),
            include_str!("account_address.rs"),
            include_str!("account_session.rs"),
            include_str!("password.rs"),
            include_str!("signin_limit.rs"),
            include_str!("address.rs"),
            include_str!("card.rs"),
            include_str!("cart.rs"),
            include_str!("codes.rs"),
            include_str!("email.rs"),
            include_str!("ids.rs"),
            include_str!("money.rs"),
            include_str!("order.rs"),
            include_str!("quantity.rs"),
            include_str!("shipping.rs"),
            include_str!("sku.rs"),
            include_str!("validation.rs"),
        ];
        let banned = [concat!("f", "32"), concat!("f", "64")];
        for src in sources {
            for word in src.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
                assert!(
                    !banned.contains(&word),
                    "floating point type `{word}` found"
                );
            }
        }
    }
}
