//! One module per page; each makes at most two service calls (the header's cart count is one),
//! plus, for a signed-in shopper, the one that checks their session (`identity::resolve`) and,
//! where they are shown, the one that reads the saved addresses.
pub mod account;
pub mod admin;
pub mod cart;
pub mod checkout;
pub mod home;
pub mod orders;
pub mod product;

#[cfg(test)]
mod tests;
