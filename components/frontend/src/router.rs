//! Which page a method and path ask for. Pure, so every route is unit-tested natively.

/// A request method, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    /// Answered like GET, without a body.
    Head,
    Post,
    /// Only the operator API uses it.
    Put,
    Other,
}

impl Verb {
    pub fn parse(method: &str) -> Verb {
        match method {
            "GET" => Verb::Get,
            "HEAD" => Verb::Head,
            "POST" => Verb::Post,
            "PUT" => Verb::Put,
            _ => Verb::Other,
        }
    }
}

/// Every page and action of the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Home,
    /// The raw path segment; it is validated as a SKU by the page (an invalid one is a 404).
    Product(String),
    Cart,
    CartAdd,
    CartUpdate,
    CartRemove,
    CheckoutForm,
    PlaceOrder,
    Order(String),
    Orders,
    SignUpForm,
    SignUp,
    SignInForm,
    SignIn,
    SignOut,
    /// `/account`: the signed-in shopper's details, saved addresses and password form.
    Account,
    ChangePassword,
    DeleteAddress,
    /// `POST /admin/migrate`: the operator API (bearer token, JSON; no session, no CSRF).
    AdminMigrate,
    /// `POST /admin/reconcile`: drive orders left pending or paid to a final state.
    AdminReconcile,
    /// `POST /admin/products`: create a product.
    AdminCreateProduct,
    /// `PUT /admin/products/<sku>`: replace a product.
    AdminUpdateProduct(String),
    /// `PUT /admin/rates`: add exchange rates (now or from a later time).
    AdminSetRates,
    /// `PUT /admin/stock/<sku>`: set the units of a product that can be sold.
    AdminSetStock(String),
    /// `GET /currency?code=EUR&next=/cart`: the header's currency picker.
    Currency,
    /// `/static/<name>`; unknown names are a 404.
    Static(String),
    NotFound,
    /// The path exists but not for this method; `allow` is the `Allow` header value.
    MethodNotAllowed { allow: &'static str },
}

impl Route {
    pub fn resolve(verb: Verb, path: &str) -> Route {
        let readable = matches!(verb, Verb::Get | Verb::Head);
        let page = |route: Route| if readable { route } else { Route::MethodNotAllowed { allow: "GET, HEAD" } };
        let action = |route: Route| if verb == Verb::Post { route } else { Route::MethodNotAllowed { allow: "POST" } };
        match path {
            "/" => page(Route::Home),
            "/cart" => page(Route::Cart),
            "/orders" => page(Route::Orders),
            "/cart/add" => action(Route::CartAdd),
            "/cart/update" => action(Route::CartUpdate),
            "/cart/remove" => action(Route::CartRemove),
            "/admin/migrate" => action(Route::AdminMigrate),
            "/admin/reconcile" => action(Route::AdminReconcile),
            "/admin/products" => action(Route::AdminCreateProduct),
            // Reading rates needs no operator: the catalog's public `get_rates` answers them.
            "/admin/rates" => match verb {
                Verb::Put => Route::AdminSetRates,
                _ => Route::MethodNotAllowed { allow: "PUT" },
            },
            "/currency" => page(Route::Currency),
            "/checkout" => form(verb, Route::CheckoutForm, Route::PlaceOrder),
            "/account" => page(Route::Account),
            "/account/sign-up" => form(verb, Route::SignUpForm, Route::SignUp),
            "/account/sign-in" => form(verb, Route::SignInForm, Route::SignIn),
            "/account/sign-out" => action(Route::SignOut),
            "/account/password" => action(Route::ChangePassword),
            "/account/addresses/delete" => action(Route::DeleteAddress),
            _ => {
                if let Some(name) = path.strip_prefix("/static/") {
                    return page(Route::Static(name.to_string()));
                }
                if path == "/favicon.ico" {
                    return page(Route::Static("favicon.ico".to_string()));
                }
                if let Some(sku) = single_segment(path, "/admin/products/") {
                    return match verb {
                        Verb::Put => Route::AdminUpdateProduct(sku.to_string()),
                        _ => Route::MethodNotAllowed { allow: "PUT" },
                    };
                }
                if let Some(sku) = single_segment(path, "/admin/stock/") {
                    return match verb {
                        Verb::Put => Route::AdminSetStock(sku.to_string()),
                        _ => Route::MethodNotAllowed { allow: "PUT" },
                    };
                }
                match single_segment(path, "/product/").map(|s| Route::Product(s.to_string())) {
                    Some(route) => page(route),
                    None => match single_segment(path, "/order/") {
                        Some(id) => page(Route::Order(id.to_string())),
                        None => Route::NotFound,
                    },
                }
            }
        }
    }

    /// Routes that answer with a shop page (and so need a session); static files do not.
    pub fn needs_session(&self) -> bool {
        !matches!(self, Route::Static(_)) && !self.is_operator_api()
    }

    /// The operator's JSON API: authenticated by a bearer token, not by the session cookie.
    pub fn is_operator_api(&self) -> bool {
        matches!(
            self,
            Route::AdminMigrate
                | Route::AdminReconcile
                | Route::AdminCreateProduct
                | Route::AdminUpdateProduct(_)
                | Route::AdminSetRates
                | Route::AdminSetStock(_)
        )
    }
}

/// A page that shows a form (GET, HEAD) and takes it back (POST).
fn form(verb: Verb, show: Route, take: Route) -> Route {
    match verb {
        Verb::Get | Verb::Head => show,
        Verb::Post => take,
        Verb::Put | Verb::Other => Route::MethodNotAllowed { allow: "GET, HEAD, POST" },
    }
}

/// The one non-empty segment after `prefix`, e.g. `/product/MUG-1` → `MUG-1`.
fn single_segment<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix).filter(|rest| !rest.is_empty() && !rest.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_actions() {
        assert_eq!(Route::resolve(Verb::Get, "/"), Route::Home);
        assert_eq!(Route::resolve(Verb::Head, "/cart"), Route::Cart);
        assert_eq!(Route::resolve(Verb::Get, "/product/MUG-TEAL"), Route::Product("MUG-TEAL".into()));
        assert_eq!(Route::resolve(Verb::Get, "/order/ORD-ABC"), Route::Order("ORD-ABC".into()));
        assert_eq!(Route::resolve(Verb::Get, "/orders"), Route::Orders);
        assert_eq!(Route::resolve(Verb::Get, "/checkout"), Route::CheckoutForm);
        assert_eq!(Route::resolve(Verb::Post, "/checkout"), Route::PlaceOrder);
        assert_eq!(Route::resolve(Verb::Post, "/cart/add"), Route::CartAdd);
        assert_eq!(Route::resolve(Verb::Post, "/cart/update"), Route::CartUpdate);
        assert_eq!(Route::resolve(Verb::Post, "/cart/remove"), Route::CartRemove);
        assert_eq!(Route::resolve(Verb::Post, "/admin/migrate"), Route::AdminMigrate);
        assert_eq!(Route::resolve(Verb::Post, "/admin/reconcile"), Route::AdminReconcile);
        assert!(Route::AdminReconcile.is_operator_api());
        assert_eq!(Route::resolve(Verb::Get, "/admin/reconcile"), Route::MethodNotAllowed { allow: "POST" });
        assert_eq!(Route::resolve(Verb::Post, "/admin/products"), Route::AdminCreateProduct);
        assert_eq!(Route::resolve(Verb::Put, "/admin/products/MUG-1"), Route::AdminUpdateProduct("MUG-1".into()));
        assert_eq!(Route::resolve(Verb::Get, "/admin/products/MUG-1"), Route::MethodNotAllowed { allow: "PUT" });
        assert!(!Route::AdminMigrate.needs_session());
        assert_eq!(Route::resolve(Verb::Get, "/static/shop.css"), Route::Static("shop.css".into()));
    }

    #[test]
    fn the_currency_picker_and_the_operators_rates_and_stock() {
        assert_eq!(Route::resolve(Verb::Get, "/currency"), Route::Currency);
        assert_eq!(Route::resolve(Verb::Head, "/currency"), Route::Currency);
        assert_eq!(Route::resolve(Verb::Post, "/currency"), Route::MethodNotAllowed { allow: "GET, HEAD" });
        assert!(Route::Currency.needs_session() && !Route::Currency.is_operator_api());
        assert_eq!(Route::resolve(Verb::Put, "/admin/rates"), Route::AdminSetRates);
        assert_eq!(Route::resolve(Verb::Get, "/admin/rates"), Route::MethodNotAllowed { allow: "PUT" });
        assert_eq!(Route::resolve(Verb::Post, "/admin/rates"), Route::MethodNotAllowed { allow: "PUT" });
        assert_eq!(Route::resolve(Verb::Put, "/admin/stock/HOM-LAMP-AMBER"), Route::AdminSetStock("HOM-LAMP-AMBER".into()));
        assert_eq!(Route::resolve(Verb::Post, "/admin/stock/HOM-LAMP-AMBER"), Route::MethodNotAllowed { allow: "PUT" });
        for path in ["/admin/stock/", "/admin/stock/a/b", "/admin/stock", "/currency/EUR"] {
            assert_eq!(Route::resolve(Verb::Put, path), Route::NotFound, "{path}");
        }
        for route in [Route::AdminSetRates, Route::AdminSetStock("X-1".into())] {
            assert!(route.is_operator_api() && !route.needs_session(), "{route:?}");
        }
    }

    #[test]
    fn account_pages_and_actions() {
        assert_eq!(Route::resolve(Verb::Get, "/account"), Route::Account);
        assert_eq!(Route::resolve(Verb::Get, "/account/sign-up"), Route::SignUpForm);
        assert_eq!(Route::resolve(Verb::Post, "/account/sign-up"), Route::SignUp);
        assert_eq!(Route::resolve(Verb::Head, "/account/sign-in"), Route::SignInForm);
        assert_eq!(Route::resolve(Verb::Post, "/account/sign-in"), Route::SignIn);
        assert_eq!(Route::resolve(Verb::Post, "/account/sign-out"), Route::SignOut);
        assert_eq!(Route::resolve(Verb::Post, "/account/password"), Route::ChangePassword);
        assert_eq!(Route::resolve(Verb::Post, "/account/addresses/delete"), Route::DeleteAddress);
        // Signing out changes state: never by following a link (or a prefetch).
        assert_eq!(Route::resolve(Verb::Get, "/account/sign-out"), Route::MethodNotAllowed { allow: "POST" });
        assert_eq!(Route::resolve(Verb::Get, "/account/password"), Route::MethodNotAllowed { allow: "POST" });
        assert_eq!(Route::resolve(Verb::Post, "/account"), Route::MethodNotAllowed { allow: "GET, HEAD" });
        assert_eq!(Route::resolve(Verb::Put, "/account/sign-in"), Route::MethodNotAllowed { allow: "GET, HEAD, POST" });
        for path in ["/account/", "/account/sign-in/", "/account/addresses", "/Account"] {
            assert_eq!(Route::resolve(Verb::Get, path), Route::NotFound, "{path}");
        }
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        assert_eq!(Route::resolve(Verb::Get, "/cart/add"), Route::MethodNotAllowed { allow: "POST" });
        assert_eq!(Route::resolve(Verb::Post, "/"), Route::MethodNotAllowed { allow: "GET, HEAD" });
        assert_eq!(
            Route::resolve(Verb::Other, "/checkout"),
            Route::MethodNotAllowed { allow: "GET, HEAD, POST" }
        );
    }

    #[test]
    fn anything_else_is_not_found() {
        for path in ["/product/", "/product/a/b", "/order/", "/cart/", "/nope", "", "//", "/Cart"] {
            assert_eq!(Route::resolve(Verb::Get, path), Route::NotFound, "{path}");
        }
        assert!(!Route::resolve(Verb::Get, "/static/x").needs_session());
        assert!(Route::resolve(Verb::Get, "/nope").needs_session());
    }
}
