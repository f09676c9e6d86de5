//! One module per page; each makes at most two service calls (the header's cart count is one;
//! recommendations come with the page's one catalog call), plus, for a signed-in shopper, the one
//! that checks their session (`identity::resolve`) and, where they are shown, the one that reads
//! the saved addresses. Placing an order that checkout refuses with 409 (the total moved, stock
//! ran out) shows the form priced afresh: the order call, then the cart and its products.
pub mod account;
pub mod admin;
pub mod cart;
pub mod checkout;
pub mod currency;
pub mod home;
pub mod orders;
pub mod product;

#[cfg(test)]
pub(crate) mod tests;
