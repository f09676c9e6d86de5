//! One module per page; each makes at most two service calls (the header's cart count is one).
pub mod admin;
pub mod cart;
pub mod checkout;
pub mod home;
pub mod orders;
pub mod product;

#[cfg(test)]
mod tests;
