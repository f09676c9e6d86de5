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

pub mod address;
pub mod card;
pub mod cart;
mod codes;
pub mod email;
pub mod ids;
pub mod money;
pub mod order;
pub mod quantity;
pub mod shipping;
pub mod sku;
pub mod validation;

pub use address::{Address, AddressInput, Country};
pub use card::{
    Card, CardBrand, CardInput, CardNumber, ChargeDecision, Cvv, DeclineReason, Expiry,
};
pub use cart::{Cart, CartError, CartLine, MAX_LINES};
pub use email::EmailAddress;
pub use ids::{IdError, IdempotencyKey, SessionId, TrackingId, TransactionId};
pub use money::{Currency, Money, MoneyError};
pub use order::{OrderId, OrderLine, OrderStatus, OrderTotals, PricingError};
pub use quantity::{Quantity, QuantityError};
pub use shipping::ShippingZone;
pub use sku::{Sku, SkuError};
pub use validation::FieldError;

#[cfg(test)]
mod tests {
    /// The "no floats" rule is easy to break by accident; keep it checked.
    #[test]
    fn no_floating_point_types_in_sources() {
        let sources = [
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
