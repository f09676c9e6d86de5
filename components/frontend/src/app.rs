//! The shop as a function from request to response, over any [`Backend`]: sessions, who is
//! signed in, CSRF, routing, error pages and headers. The Spin entry point only does I/O around it.
use shop_contract::carts::{ops as carts_ops, Cart, CartRef};
use shop_contract::{ErrorCode, ShopError};
use shop_domain::Currency;

use crate::assets;
use crate::backend::{Backend, Service};
use crate::csrf::{self, Provenance};
use crate::currency;
use crate::forms::Form;
use crate::http::{Incoming, Outgoing};
use crate::identity::{self, Member, Who};
use crate::next_path::NextPath;
use crate::router::{Route, Verb};
use crate::routes;
use crate::session::{random_token, set_cookie_name, Session};
use crate::views::errors;
use crate::views::layout::{self, AccountLinks, Chrome, Section};

#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Adds `Secure` to cookies (the shop is served over HTTPS).
    pub secure_cookies: bool,
    /// The current year and month (UTC), for card expiry checks and the expiry selector.
    pub today: (u32, u32),
    /// A request header that a trusted proxy in front of the shop sets to the shopper's address
    /// (variable `client_ip_header`, e.g. `x-envoy-external-address` behind the Istio gateway,
    /// which overwrites it for requests from outside). Unset: the host's `spin-client-addr`.
    pub client_ip_header: Option<String>,
}

/// One request being answered: who asks, and with what.
pub struct Ctx<'a, B> {
    pub backend: &'a B,
    pub session: &'a Session,
    /// A guest, or the signed-in shopper.
    pub who: &'a Who,
    pub req: &'a Incoming,
    pub config: &'a Config,
    /// The decoded query string.
    pub query: Form,
    /// The decoded body of a POST (empty otherwise).
    pub form: Form,
    /// The currency the shopper sees prices in (the `currency` cookie; US dollars by default).
    pub currency: Currency,
}

impl<B> Ctx<'_, B> {
    /// The key of the shopper's cart, and the `session` of their orders: the account's cart key
    /// when signed in (so both follow the account to any device; 64 hex digits, a shape no `sid`
    /// cookie is ever taken in), else the browser's session id.
    pub fn cart_key(&self) -> Result<String, ShopError> {
        match self.who {
            Who::Guest => Ok(self.session.id.clone()),
            Who::Member(m) => Ok(m.account_id.cart_key().to_string()),
            Who::Unknown => Err(ShopError::unavailable("The accounts service can't say who is signed in")),
        }
    }

    pub fn member(&self) -> Option<&Member> {
        match self.who {
            Who::Member(m) => Some(m),
            Who::Guest | Who::Unknown => None,
        }
    }

    pub fn account_id(&self) -> Option<String> {
        self.member().map(|m| m.account_id.to_string())
    }

    /// The shopper's IP address, for the sign-in limits.
    pub fn client(&self) -> String {
        let trusted = self.config.client_ip_header.as_deref().and_then(|h| identity::client_addr(self.req.header_values(h)));
        trusted.or_else(|| identity::client_addr(self.req.header_values("spin-client-addr"))).unwrap_or_else(|| "0.0.0.0".to_string())
    }

    /// This page, to come back to after signing in: a page that was read (not a form's answer),
    /// and not the home page (the default) or an account page.
    pub fn here(&self) -> Option<NextPath> {
        let read = matches!(self.req.method.as_str(), "GET" | "HEAD");
        let path = self.req.path.as_str();
        if !read || path.starts_with("/account") || (path == "/" && self.req.query.is_empty()) {
            return None;
        }
        let target = if self.req.query.is_empty() { path.to_string() } else { format!("{path}?{}", self.req.query) };
        NextPath::parse(&target)
    }

    fn account_links(&self) -> AccountLinks {
        match self.who {
            Who::Guest => AccountLinks::Guest { next: self.here() },
            Who::Member(m) => AccountLinks::SignedIn { email: m.email.clone(), csrf: self.session.csrf.clone() },
            Who::Unknown => AccountLinks::Hidden,
        }
    }
}

impl<B: Backend> Ctx<'_, B> {
    pub async fn cart(&self) -> Result<Cart, ShopError> {
        let session = self.cart_key()?;
        self.backend.call(Service::Carts, carts_ops::get_cart, &CartRef { session }).await
    }

    /// The header's item count; a cart that can't be read must not take the page down with it.
    pub async fn cart_count(&self) -> Option<u32> {
        self.cart().await.ok().map(|c| c.item_count)
    }

    pub fn chrome(&self, cart_count: Option<u32>, section: Section) -> Chrome {
        Chrome { cart_count, section, account: self.account_links(), ..self.bare_chrome() }
    }

    /// The header of a page that knows nothing but the shopper's currency (error pages): the
    /// picker stays, so a currency the catalog can't price in can be changed from there.
    pub fn bare_chrome(&self) -> Chrome {
        Chrome { currency: Some(self.currency), currency_next: currency::here(self.req), ..Chrome::default() }
    }

    /// The shopper's currency, as the catalog's requests name it.
    pub fn currency_code(&self) -> Option<String> {
        Some(self.currency.code().to_string())
    }

    pub fn page(&self, status: u16, chrome: &Chrome, title: &str, content: maud::Markup) -> Outgoing {
        Outgoing::html(status, layout::page(chrome, title, content))
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

/// What a page handler answers: a response, or an error to show as an error page.
pub type PageResult = Result<Outgoing, ShopError>;

/// A catalog read refused for the shopper's currency (422: there is no exchange rate for it
/// yet) says how to go on: the error page keeps the currency picker.
pub fn priced_in(mut e: ShopError) -> ShopError {
    if e.code == ErrorCode::Unprocessable {
        e.message = format!("{}. Please choose another currency at the top of the page.", e.message.trim_end_matches('.'));
    }
    e
}

pub async fn respond<B: Backend>(backend: &B, config: &Config, req: &Incoming, body_too_large: bool) -> Outgoing {
    let verb = Verb::parse(&req.method);
    let route = Route::resolve(verb, &req.path);
    let mut out = match &route {
        Route::Static(name) => static_file(name, req),
        operator if operator.is_operator_api() => routes::admin::respond(backend, operator, req, body_too_large).await,
        _ => {
            let cookies: Vec<&str> = req.header_values("cookie").collect();
            let cookie_header = (!cookies.is_empty()).then(|| cookies.join("; "));
            let session = Session::from_cookie_header(cookie_header.as_deref(), config.secure_cookies, random_token);
            let (who, clear_auth) = identity::resolve(backend, cookie_header.as_deref(), config.secure_cookies).await;
            let mut out = with_session(backend, config, req, &session, &who, route, body_too_large).await;
            // A handler that set a cookie itself (signing in or out rotates them) has the last word.
            let own: Vec<String> =
                out.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| set_cookie_name(v).to_string()).collect();
            for cookie in session.set_cookies.iter().chain(clear_auth.iter()) {
                if !own.iter().any(|name| name == set_cookie_name(cookie)) {
                    out.headers.push(("set-cookie".into(), cookie.clone()));
                }
            }
            out
        }
    };
    if verb == Verb::Head {
        out.body.clear();
    }
    out.secured()
}

async fn with_session<B: Backend>(
    backend: &B,
    config: &Config,
    req: &Incoming,
    session: &Session,
    who: &Who,
    route: Route,
    body_too_large: bool,
) -> Outgoing {
    let verb = Verb::parse(&req.method);
    let bare = Chrome::default();
    let Ok(query) = Form::parse(req.query.as_bytes()) else {
        return errors::bad_request(&bare, "That link looks damaged. Please go back and try again.");
    };
    let mut ctx = Ctx { backend, session, who, req, config, query, form: Form::default(), currency: currency::of_request(req) };
    if verb == Verb::Post {
        if body_too_large {
            return errors::too_large(&bare);
        }
        let hosts: Vec<&str> = req.header_values("host").chain(req.header_values("x-forwarded-host")).collect();
        let provenance = Provenance { sec_fetch_site: req.header("sec-fetch-site"), origin: req.header("origin"), hosts: &hosts };
        // Cross-site first; then a form that cannot be decoded is a 400 (as documented), which
        // acts on nothing; only a decoded form can carry the token that lets it act.
        if !csrf::same_origin(provenance) {
            let count = ctx.cart_count().await;
            return errors::form_expired(&ctx.chrome(count, Section::Other));
        }
        let Ok(form) = Form::parse(&req.body) else {
            return errors::bad_request(&bare, "We couldn't read that form. Please go back and try again.");
        };
        if !csrf::token_matches(&session.csrf, form.get(csrf::FIELD)) {
            let count = ctx.cart_count().await;
            return errors::form_expired(&ctx.chrome(count, Section::Other));
        }
        ctx.form = form;
    }
    let result = match route {
        Route::Home => routes::home::page(&ctx).await,
        Route::Product(sku) => routes::product::page(&ctx, &sku).await,
        Route::Cart => routes::cart::page(&ctx).await,
        Route::CartAdd => routes::cart::add(&ctx).await,
        Route::CartUpdate => routes::cart::update(&ctx).await,
        Route::CartRemove => routes::cart::remove(&ctx).await,
        Route::CheckoutForm => routes::checkout::form(&ctx).await,
        Route::PlaceOrder => routes::checkout::place(&ctx).await,
        Route::Order(id) => routes::orders::order(&ctx, &id).await,
        Route::Orders => routes::orders::list(&ctx).await,
        Route::SignUpForm => routes::account::sign_up_form(&ctx).await,
        Route::SignUp => routes::account::sign_up(&ctx).await,
        Route::SignInForm => routes::account::sign_in_form(&ctx).await,
        Route::SignIn => routes::account::sign_in(&ctx).await,
        Route::SignOut => routes::account::sign_out(&ctx).await,
        Route::Account => routes::account::page(&ctx).await,
        Route::ChangePassword => routes::account::change_password(&ctx).await,
        Route::DeleteAddress => routes::account::delete_address(&ctx).await,
        Route::Currency => Ok(routes::currency::choose(&ctx)),
        Route::MethodNotAllowed { allow } => Ok(errors::method_not_allowed(&bare, allow)),
        Route::NotFound
        | Route::Static(_)
        | Route::AdminMigrate
        | Route::AdminReconcile
        | Route::AdminCreateProduct
        | Route::AdminUpdateProduct(_)
        | Route::AdminSetRates
        | Route::AdminSetStock(_) => {
            let count = ctx.cart_count().await;
            Ok(errors::page_not_found(&ctx.chrome(count, Section::Other)))
        }
    };
    result.unwrap_or_else(|e| error_page_with(&ctx.bare_chrome(), &e))
}

/// The page for an error no handler dealt with itself. A service being down is a 503; nothing
/// a shopper can type ends in a 500.
pub fn error_page(e: &ShopError) -> Outgoing {
    error_page_with(&Chrome::default(), e)
}

/// As [`error_page`], with the header `bare` (which shows at most the currency picker).
pub fn error_page_with(bare: &Chrome, e: &ShopError) -> Outgoing {
    match e.code {
        ErrorCode::NotFound => errors::page_not_found(bare),
        ErrorCode::BadRequest | ErrorCode::Unprocessable | ErrorCode::Conflict | ErrorCode::PaymentDeclined => {
            errors::bad_request(bare, &e.message)
        }
        ErrorCode::PayloadTooLarge => errors::too_large(bare),
        ErrorCode::TooManyRequests => errors::too_many_requests(bare, &e.message),
        ErrorCode::MethodNotAllowed => errors::method_not_allowed(bare, "GET, HEAD"),
        ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::Unauthorized => errors::unavailable(bare),
    }
}

fn static_file(name: &str, req: &Incoming) -> Outgoing {
    match assets::lookup(name) {
        None => errors::page_not_found(&Chrome::default()),
        Some(asset) => {
            let headers = vec![
                ("content-type".to_string(), asset.content_type.to_string()),
                ("cache-control".to_string(), assets::CACHE_CONTROL.to_string()),
                ("etag".to_string(), asset.etag.clone()),
            ];
            if assets::not_modified(req.header("if-none-match"), &asset.etag) {
                Outgoing { status: 304, headers, body: Vec::new() }
            } else {
                Outgoing { status: 200, headers, body: asset.body.into_bytes() }
            }
        }
    }
}
