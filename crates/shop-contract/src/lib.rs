//! The shop's service contract in Rust.
//!
//! Every record in `wit/shop.wit` becomes a Rust type here (wit-bindgen, with serde derives), and
//! every WIT function becomes an [`Operation`] constant that fixes its route, request type and
//! response type by referring to the generated function's signature. Callers and callees both
//! use these constants, so a contract change breaks the build on whichever side disagrees.
//!
//! The generated functions themselves (e.g. `carts::add_item`) must never be called: that would
//! import a WIT interface no host provides. Calls go over HTTP (`shop_spin::rpc`).

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "contract",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        generate_all,
    });
}

mod error;
mod operation;

pub use error::{ErrorBody, ErrorDetails};
pub use operation::{
    is_public_path, NoParams, Operation, ANY_OPERATION_PREFIX, INTERNAL_TOKEN_HEADER, PUBLIC_OPERATION_PREFIX,
};

pub use bindings::shop::api::types;
pub use types::{
    Address, CardDetails, ErrorCode, FieldError, MigrationReport, Money, Order, OrderLine,
    OrderStatus, Product, RateUsed, ShopError,
};

/// Declares a module per WIT interface: its generated types, plus `ops::<function>` constants.
/// The request/response types written here are checked against the generated function.
macro_rules! interface {
    ($(#[$doc:meta])* $iface:ident { $($func:ident ( $($req:ty)? ) -> $resp:ty),* $(,)? }) => {
        $(#[$doc])*
        pub mod $iface {
            pub use crate::bindings::shop::api::$iface::*;

            /// One constant per WIT function: its route and its request/response types.
            #[allow(non_upper_case_globals)]
            pub mod ops {
                #[allow(unused_imports)]
                use super::*;
                $(
                    pub const $func: crate::Operation<interface!(@req $($req)?), $resp> =
                        interface!(@op $iface $func $($req)?);
                )*

                /// Every operation's path, for route tables and tests.
                pub const ALL_PATHS: &[&str] = &[$($func.path),*];
            }
        }
    };
    (@req) => { crate::NoParams };
    (@req $req:ty) => { $req };
    (@op $iface:ident $func:ident) => {
        crate::Operation::without_params(super::$func, concat!("/api/", stringify!($iface), "/", stringify!($func)))
    };
    (@op $iface:ident $func:ident $req:ty) => {
        crate::Operation::with_params(super::$func, concat!("/api/", stringify!($iface), "/", stringify!($func)))
    };
}

interface!(
    /// products, public and read-only.
    catalog {
        list_categories() -> CategoryList,
        list_products(ListProductsRequest) -> ProductPage,
        get_product(GetProductRequest) -> ProductDetails,
        get_products(GetProductsRequest) -> GetProductsResponse,
        get_rates() -> RateTable,
    }
);
interface!(
    /// products, private: operator writes and schema.
    catalog_admin {
        create_product(ProductInput) -> Product,
        update_product(ProductInput) -> Product,
        migrate() -> MigrationReport,
        set_rates(SetRatesRequest) -> RateTable,
        set_stock(SetStockRequest) -> StockLevel,
    }
);
interface!(
    /// products, private: stock reservations for checkout.
    inventory {
        reserve(ReserveRequest) -> Reservation,
        release(ReleaseRequest) -> Released,
    }
);
interface!(
    /// carts, private.
    carts {
        get_cart(CartRef) -> Cart,
        add_item(AddItemRequest) -> Cart,
        set_quantity(SetQuantityRequest) -> Cart,
        remove_item(RemoveItemRequest) -> Cart,
        empty_cart(CartRef) -> Cart,
        remove_lines(RemoveLinesRequest) -> Cart,
        merge_cart(MergeCartRequest) -> Cart,
    }
);
interface!(
    /// payment, private.
    payment {
        charge(ChargeRequest) -> Receipt,
        refund(RefundRequest) -> RefundReceipt,
        settle(SettleRequest) -> Settlement,
    }
);
interface!(
    /// shipping, private.
    shipping {
        get_quote(QuoteRequest) -> Quote,
        ship_order(ShipRequest) -> Shipment,
    }
);
interface!(
    /// email, private.
    email {
        send_confirmation(ConfirmationRequest) -> SentEmail,
        send_failure_notice(FailureNoticeRequest) -> SentEmail,
        list_outbox(OutboxRequest) -> Outbox,
    }
);
interface!(
    /// checkout, private.
    checkout {
        place_order(PlaceOrderRequest) -> Order,
        get_order(OrderRef) -> Order,
        list_orders(ListOrdersRequest) -> OrderList,
        claim_orders(ClaimOrdersRequest) -> ClaimedOrders,
        migrate() -> MigrationReport,
        reconcile(ReconcileRequest) -> ReconcileReport,
    }
);

interface!(
    /// accounts, private.
    accounts {
        sign_up(Credentials) -> SignedIn,
        sign_in(Credentials) -> SignedIn,
        get_session(TokenRef) -> SignedIn,
        sign_out(TokenRef) -> SignedOut,
        change_password(ChangePasswordRequest) -> PasswordChanged,
        list_addresses(TokenRef) -> AddressList,
        save_address(SaveAddressRequest) -> SavedAddress,
        delete_address(DeleteAddressRequest) -> AddressList,
        migrate() -> MigrationReport,
    }
);

/// The path of every operation of every interface.
pub fn all_operation_paths() -> Vec<&'static str> {
    [
        catalog::ops::ALL_PATHS,
        catalog_admin::ops::ALL_PATHS,
        inventory::ops::ALL_PATHS,
        carts::ops::ALL_PATHS,
        payment::ops::ALL_PATHS,
        shipping::ops::ALL_PATHS,
        email::ops::ALL_PATHS,
        checkout::ops::ALL_PATHS,
        accounts::ops::ALL_PATHS,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_transport_rule() {
        assert_eq!(carts::ops::add_item.path, "/api/carts/add_item");
        assert_eq!(catalog_admin::ops::migrate.path, "/api/catalog_admin/migrate");
        let all = all_operation_paths();
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "two operations share a path");
        assert!(all.iter().all(|p| p.starts_with(ANY_OPERATION_PREFIX)));
    }

    #[test]
    fn only_the_catalog_reads_are_public() {
        let public: Vec<_> = all_operation_paths().into_iter().filter(|p| is_public_path(p)).collect();
        assert_eq!(public, catalog::ops::ALL_PATHS.to_vec());
        assert!(!is_public_path(catalog_admin::ops::migrate.path));
        assert!(!is_public_path("/api/catalogue/list_products"));
    }

    #[test]
    fn every_wit_function_has_an_operation() {
        // Counts `name: func(` lines in the WIT file, so a new function without an operation fails.
        let wit = include_str!("../../../wit/shop.wit");
        let wit_functions = wit.lines().filter(|l| l.contains(": func(")).count();
        let operations = all_operation_paths().len();
        assert_eq!(wit_functions, operations);
    }

    #[test]
    fn records_serialize_with_wit_field_names_in_snake_case() {
        let req = carts::AddItemRequest { session: "s".into(), sku: "MUG-1".into(), quantity: 2 };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json, serde_json::json!({"session": "s", "sku": "MUG-1", "quantity": 2}));
        let bad = serde_json::from_str::<carts::AddItemRequest>(r#"{"session":"s","sku":"A","quantity":-1}"#);
        assert!(bad.is_err(), "negative quantity must not deserialize into u32");
    }
}
