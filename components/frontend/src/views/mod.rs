//! HTML, written with maud: every value is escaped unless explicitly marked, so product names,
//! search text and form entries always show as text.
pub mod account;
pub mod cart;
pub mod checkout;
pub mod errors;
pub mod format;
pub mod home;
pub mod layout;
pub mod orders;
pub mod parts;
pub mod product;
