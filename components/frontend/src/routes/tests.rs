//! The whole shop driven through `app::respond` with in-memory services: pages, actions,
//! sessions, accounts, CSRF, error pages and the two-calls-per-page budget.
use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};
use shop_contract::{ErrorCode, FieldError, Operation, ShopError};

use crate::app::{respond, Config};
use crate::backend::{Backend, Service};
use crate::http::{Incoming, Outgoing};

const SID: &str = "0123456789abcdef0123456789abcdef";
const CSRF: &str = "fedcba9876543210fedcba9876543210";

/// Runs a future that never waits on anything outside it (the routes' tests use fake backends).
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// The account the tests sign in to, its session token, and its password.
const ACCOUNT: &str = "a0000000000000000000000000000001";
/// `ACCOUNT`'s cart key (`AccountId::cart_key`): its cart, and the session of its orders.
const ACCOUNT_CART: &str = "a000000000000000000000000000000100000000000000000000000000000000";
const TOKEN: &str = "70000000000000000000000000000001";
const PASSWORD: &str = "correct horse battery";

#[derive(Default)]
struct World {
    /// The guest cart of `SID`.
    cart: Vec<(String, u32)>,
    /// Every other cart (an account's, a rotated session's), by key.
    other_carts: std::collections::BTreeMap<String, Vec<(String, u32)>>,
    orders: Vec<Value>,
    attempts: Vec<(String, String)>,
    down: Vec<&'static str>,
    calls: Vec<String>,
    /// `(email, password, account id)`.
    accounts: Vec<(String, String, String)>,
    /// `(token, account id)` of sessions that are on.
    sessions: Vec<(String, String)>,
    /// `(account id, saved address)`.
    addresses: Vec<(String, Value)>,
    /// Sign-in attempts are refused with 429.
    limited: bool,
    /// Every session ends just before a password change is answered.
    ended_meanwhile: bool,
    /// Operations that fail with 503 although their service is up.
    failing: Vec<&'static str>,
    /// The `client` of every sign-in attempt.
    sign_in_clients: Vec<String>,
    /// Units left of a product, when not the default 1000.
    stock: std::collections::BTreeMap<String, u32>,
    /// What the catalog recommends with anything (minus the anchors and sold-out products).
    recommend: Vec<&'static str>,
    /// Added to every catalog price in USD cents from now on (a price that moved).
    price_bump: i64,
    /// Every catalog read and place-order request, as sent.
    requests: Vec<(String, Value)>,
}

impl World {
    fn cart_of(&mut self, key: &str) -> &mut Vec<(String, u32)> {
        if key == SID {
            &mut self.cart
        } else {
            self.other_carts.entry(key.to_string()).or_default()
        }
    }

    /// An account with a signed-in session `TOKEN` (and `n` more accounts' worth of tokens later).
    fn with_member(&mut self) {
        self.accounts.push(("ada@example.com".into(), PASSWORD.into(), ACCOUNT.into()));
        self.sessions.push((TOKEN.into(), ACCOUNT.into()));
    }

    fn signed_in(&self, account_id: &str, token: &str) -> Value {
        let email = self.accounts.iter().find(|(_, _, id)| id == account_id).map(|(e, _, _)| e.clone()).unwrap();
        json!({"account": {"account_id": account_id, "email": email, "created_at": "2026-02-03T10:00:00Z"}, "token": token})
    }

    fn new_session(&mut self, account_id: &str) -> Value {
        let token = format!("{:032x}", 0x7100 + self.sessions.len() + self.calls.len());
        self.sessions.push((token.clone(), account_id.to_string()));
        self.signed_in(account_id, &token)
    }

    fn account_of(&self, token: &Value) -> Result<String, ShopError> {
        self.sessions
            .iter()
            .find(|(t, _)| token.as_str() == Some(t.as_str()))
            .map(|(_, id)| id.clone())
            .ok_or_else(|| err(ErrorCode::Unauthorized, "Your session has ended"))
    }
}

#[derive(Default)]
struct Fake {
    world: RefCell<World>,
}

fn product(sku: &str, name: &str, minor: i64, category: &str, image: &str) -> Value {
    json!({"sku": sku, "name": name, "description": format!("About {name}."), "price": {"minor": minor, "currency": "USD"},
           "display_price": {"minor": minor, "currency": "USD"}, "category": category, "image": image, "stock": 1000})
}

fn catalog() -> Vec<Value> {
    vec![
        product("MUG-TEAL", "Teal Mug", 1250, "kitchen", "mug-teal"),
        product("TEE-CORAL", "Coral Tee", 1999, "apparel", "tshirt-coral"),
        product("XSS-1", "<script>alert(1)</script>", 500, "office", "sticker-rose"),
        product("LAMP-AMBER", "Amber Lamp", 8999, "home", "lamp-amber"),
        product("CAP-RED", "Red Cap", 2499, "apparel", "cap-amber"),
    ]
}

/// The fake catalog's rates (none for CHF: asking for it is refused, as products does).
const RATES: [(&str, &str); 5] = [("EUR", "0.92"), ("GBP", "0.79"), ("JPY", "151.25"), ("CAD", "1.36"), ("KWD", "0.3075")];

fn rate_table() -> shop_domain::Rates {
    shop_domain::Rates::new(RATES.map(|(c, r)| (shop_domain::Currency::parse(c).unwrap(), shop_domain::PerUsd::parse(r).unwrap()))).unwrap()
}

/// `rates` as the catalog answers them (those used to convert into `currency`).
fn rates_used(currency: &str) -> Value {
    match RATES.iter().find(|(c, _)| *c == currency) {
        Some((c, r)) => json!([{"currency": c, "per_usd": shop_domain::PerUsd::parse(r).unwrap().to_decimal_string(), "valid_from": "2026-01-01T00:00:00Z"}]),
        None => json!([]),
    }
}

/// A product by SKU, as the catalog shows it now (in a currency).
type Lookup = Box<dyn Fn(&str) -> Option<Value>>;

fn err(code: ErrorCode, message: &str) -> ShopError {
    ShopError::new(code, message)
}

impl Fake {
    fn answer(&self, path: &str, req: Value) -> Result<Value, ShopError> {
        let mut w = self.world.borrow_mut();
        w.calls.push(path.to_string());
        let service = path.split('/').nth(2).unwrap_or_default();
        let service = if service == "catalog" { "products" } else { service };
        if w.down.contains(&service) {
            return Err(err(ErrorCode::Unavailable, "down"));
        }
        if w.failing.contains(&path) {
            return Err(err(ErrorCode::Unavailable, "down"));
        }
        if path.starts_with("/api/catalog/") || path == "/api/checkout/place_order" {
            w.requests.push((path.to_string(), req.clone()));
        }
        // The catalog as it is now: stock and price changes applied, prices shown in `currency`.
        let (stock, bump) = (w.stock.clone(), w.price_bump);
        let shown = move |currency: &Value| -> Result<Lookup, ShopError> {
            let to = match currency.as_str() {
                None => shop_domain::Currency::Usd,
                Some(code) => shop_domain::Currency::parse(code).map_err(|e| err(ErrorCode::BadRequest, &e.to_string()))?,
            };
            rate_table().per_usd(to).map_err(|e| err(ErrorCode::Unprocessable, &e.to_string()))?;
            let (stock, bump) = (stock.clone(), bump);
            Ok(Box::new(move |sku: &str| {
                let mut p = catalog().into_iter().find(|p| p["sku"] == sku)?;
                p["stock"] = json!(stock.get(sku).copied().unwrap_or(1000));
                let usd = p["price"]["minor"].as_i64().unwrap() + bump;
                p["price"]["minor"] = json!(usd);
                let converted = rate_table().convert(shop_domain::Money::new(usd, shop_domain::Currency::Usd).unwrap(), to).unwrap();
                p["display_price"] = json!({"minor": converted.minor(), "currency": to.code()});
                Some(p)
            }))
        };
        let find = shown(&Value::Null)?;
        let recommend = |w: &World, anchors: &[String], n: u64, find: &dyn Fn(&str) -> Option<Value>| -> Vec<Value> {
            w.recommend
                .iter()
                .filter(|s| !anchors.iter().any(|a| a == *s))
                .filter_map(|s| find(s))
                .filter(|p| p["stock"] != 0)
                .take(n as usize)
                .collect()
        };
        let key = req["session"].as_str().unwrap_or_default().to_string();
        let cart_json = |w: &mut World, key: &str| {
            let cart = w.cart_of(key);
            let lines: Vec<Value> = cart.iter().map(|(s, q)| json!({"sku": s, "quantity": q})).collect();
            json!({"session": key, "lines": lines, "item_count": cart.iter().map(|(_, q)| q).sum::<u32>()})
        };
        let sku = req["sku"].as_str().unwrap_or_default().to_string();
        if path.starts_with("/api/accounts/") {
            return Self::accounts(&mut w, path, &req);
        }
        match path {
            "/api/catalog/list_products" => {
                let q = req["query"].as_str().unwrap_or_default().to_lowercase();
                let find = shown(&req["currency"])?;
                let all: Vec<Value> = catalog()
                    .into_iter()
                    .filter(|p| req["category"].is_null() || p["category"] == req["category"])
                    .filter(|p| p["name"].as_str().unwrap().to_lowercase().contains(&q))
                    .filter_map(|p| find(p["sku"].as_str().unwrap()))
                    .collect();
                let page = req["page"].as_u64().unwrap();
                Ok(json!({"products": if page == 1 { all.clone() } else { vec![] }, "page": page, "page_size": req["page_size"], "total": all.len()}))
            }
            "/api/catalog/get_product" => {
                let find = shown(&req["currency"])?;
                let product = find(&sku).ok_or_else(|| err(ErrorCode::NotFound, "No such product"))?;
                let recommendations = recommend(&w, std::slice::from_ref(&sku), req["recommendations"].as_u64().unwrap(), &*find);
                Ok(json!({"product": product, "recommendations": recommendations}))
            }
            "/api/catalog/get_products" => {
                let find = shown(&req["currency"])?;
                let skus: Vec<String> = serde_json::from_value(req["skus"].clone()).unwrap();
                let products: Vec<Value> = skus.iter().filter_map(|s| find(s)).collect();
                let missing: Vec<&String> = skus.iter().filter(|s| find(s).is_none()).collect();
                let recommendations = recommend(&w, &skus, req["recommendations"].as_u64().unwrap(), &*find);
                let rates = rates_used(req["currency"].as_str().unwrap_or("USD"));
                Ok(json!({"products": products, "missing": missing, "recommendations": recommendations, "rates": rates}))
            }
            "/api/carts/get_cart" => Ok(cart_json(&mut w, &key)),
            "/api/carts/add_item" => {
                let p = find(&sku).ok_or_else(|| err(ErrorCode::NotFound, "No such product"))?;
                let add = req["quantity"].as_u64().unwrap() as u32;
                let left = p["stock"].as_u64().unwrap() as u32;
                let cart = w.cart_of(&key);
                let had = cart.iter().find(|(s, _)| *s == sku).map_or(0, |(_, q)| *q);
                if had + add <= 99 {
                    shop_domain::stock::check_available(p["name"].as_str().unwrap(), had + add, left).map_err(ShopError::conflict)?;
                }
                match cart.iter_mut().find(|(s, _)| *s == sku) {
                    Some((_, q)) if *q + add > 99 => return Err(err(ErrorCode::BadRequest, "limit")),
                    Some((_, q)) => *q += add,
                    None => cart.push((sku, add)),
                }
                Ok(cart_json(&mut w, &key))
            }
            "/api/carts/set_quantity" => {
                let q = req["quantity"].as_u64().unwrap() as u32;
                let line = w.cart_of(&key).iter_mut().find(|(s, _)| *s == sku).ok_or_else(|| err(ErrorCode::NotFound, "not in cart"))?;
                line.1 = q;
                Ok(cart_json(&mut w, &key))
            }
            "/api/carts/remove_item" => {
                w.cart_of(&key).retain(|(s, _)| *s != sku);
                Ok(cart_json(&mut w, &key))
            }
            "/api/carts/merge_cart" => {
                let (from, into) = (req["from"].as_str().unwrap().to_string(), req["into"].as_str().unwrap().to_string());
                let lines = std::mem::take(w.cart_of(&from));
                let cart = w.cart_of(&into);
                for (sku, q) in lines {
                    match cart.iter_mut().find(|(s, _)| *s == sku) {
                        Some((_, have)) => *have = (*have + q).min(99),
                        None => cart.push((sku, q)),
                    }
                }
                Ok(cart_json(&mut w, &into))
            }
            "/api/checkout/place_order" => {
                let attempt = req["attempt_id"].as_str().unwrap().to_string();
                if let Some((_, id)) = w.attempts.iter().find(|(a, _)| *a == attempt) {
                    let id = id.clone();
                    return Ok(w.orders.iter().find(|o| o["order_id"] == id.as_str()).unwrap().clone());
                }
                if w.cart_of(&key).is_empty() {
                    return Err(err(ErrorCode::Unprocessable, "Your cart is empty"));
                }
                if req["card"]["number"] == "4000000000000002" {
                    return Err(err(ErrorCode::PaymentDeclined, "Your card was declined"));
                }
                if req["address"]["city"] == "Nowhere" {
                    let mut e = ShopError::invalid_fields(vec![FieldError::new("address.city", "We can't ship to Nowhere")]);
                    e.message = "Check the address".into();
                    return Err(e);
                }
                // Priced as checkout prices it: display prices in the order's currency, shipping quoted
                // in it to the address's country; refused when that is not the total expected.
                let find = shown(&req["currency"])?;
                let currency = shop_domain::Currency::parse(req["currency"].as_str().unwrap()).unwrap();
                let cart = w.cart_of(&key).clone();
                let lines: Vec<(Value, i64, u32)> = cart
                    .iter()
                    .map(|(s, q)| {
                        let p = find(s).unwrap();
                        (p.clone(), p["display_price"]["minor"].as_i64().unwrap(), *q)
                    })
                    .collect();
                let short: Vec<(&Value, u32)> =
                    lines.iter().filter(|(p, _, q)| p["stock"].as_u64().unwrap() < u64::from(*q)).map(|(p, _, q)| (p, *q)).collect();
                if !short.is_empty() {
                    let messages: Vec<String> = short
                        .iter()
                        .map(|(p, _)| match p["stock"].as_u64().unwrap() {
                            0 => format!("Sold out: {}", p["name"].as_str().unwrap()),
                            n => format!("Only {n} left of {}", p["name"].as_str().unwrap()),
                        })
                        .collect();
                    let mut e = ShopError::conflict(messages.join("; "));
                    e.fields = short.iter().map(|(p, _)| FieldError::new(format!("lines.{}", p["sku"].as_str().unwrap()), "short")).collect();
                    return Err(e);
                }
                let items: u32 = lines.iter().map(|(_, _, q)| q).sum();
                let subtotal: i64 = lines.iter().map(|(_, unit, q)| unit * i64::from(*q)).sum();
                let country = shop_domain::Country::parse(req["address"]["country"].as_str().unwrap()).unwrap();
                let shipping = shop_domain::shipping::quote(country, items, currency).minor();
                let total = shop_domain::Money::new(subtotal + shipping, currency).unwrap();
                if !req["expected_total"].is_null() && req["expected_total"] != json!({"minor": total.minor(), "currency": currency.code()}) {
                    let was = shop_domain::Money::new(req["expected_total"]["minor"].as_i64().unwrap(), currency).unwrap();
                    return Err(ShopError::conflict(format!(
                        "The total changed since you opened checkout (prices or exchange rates moved): it is now {}, not {}. Please review your order and confirm again.",
                        total.format(),
                        was.format()
                    )));
                }
                let money = |minor: i64| json!({"minor": minor, "currency": currency.code()});
                let id = format!("ORD-{:012}", w.orders.len() + 1);
                let order = json!({
                    "order_id": id, "session": key, "account_id": req["account_id"], "status": "Completed", "email": req["email"], "address": req["address"],
                    "lines": lines.iter().map(|(p, unit, q)| json!({"sku": p["sku"], "name": p["name"], "image": "mug-teal",
                        "unit_price": money(*unit), "quantity": q, "line_total": money(unit * i64::from(*q)), "catalog_unit_price": p["price"]})).collect::<Vec<_>>(),
                    "subtotal": money(subtotal), "shipping": money(shipping), "total": money(total.minor()),
                    "transaction_id": "TXN-ABC", "tracking_id": "TRK-XYZ", "failure": null,
                    "created_at": format!("2025-03-0{}T10:00:00Z", w.orders.len() + 1), "email_sent": true,
                    "rates": rates_used(currency.code())
                });
                w.orders.push(order.clone());
                w.attempts.push((attempt, id));
                w.cart_of(&key).clear();
                Ok(order)
            }
            "/api/checkout/get_order" => w
                .orders
                .iter()
                .find(|o| {
                    // As checkout: a session reads only the orders no account owns.
                    o["order_id"] == req["order_id"]
                        && ((o["session"] == req["session"] && o["account_id"].is_null())
                            || (!req["account_id"].is_null() && o["account_id"] == req["account_id"]))
                })
                .cloned()
                .ok_or_else(|| err(ErrorCode::NotFound, "No such order")),
            "/api/checkout/list_orders" => {
                let mine: Vec<&Value> = w
                    .orders
                    .iter()
                    .rev()
                    .filter(|o| match req["account_id"].is_null() {
                        true => o["session"] == req["session"] && o["account_id"].is_null(),
                        false => o["account_id"] == req["account_id"],
                    })
                    .collect();
                let start = match req["before"].as_str() {
                    Some(cursor) => mine.iter().position(|o| o["order_id"] == cursor).ok_or_else(|| err(ErrorCode::BadRequest, "bad cursor"))? + 1,
                    None => 0,
                };
                let limit = req["limit"].as_u64().unwrap() as usize;
                let page: Vec<&Value> = mine.iter().skip(start).take(limit).copied().collect();
                let next = (start + limit < mine.len()).then(|| page.last().unwrap()["order_id"].clone());
                Ok(json!({"orders": page, "next": next}))
            }
            "/api/checkout/claim_orders" => {
                let mut claimed = 0;
                for o in w.orders.iter_mut().filter(|o| o["session"] == req["session"] && o["account_id"].is_null()) {
                    o["account_id"] = req["account_id"].clone();
                    claimed += 1;
                }
                Ok(json!({"claimed": claimed}))
            }
            other => panic!("unexpected call {other}"),
        }
    }

    /// The accounts service: credentials checked as typed, sessions by token.
    fn accounts(w: &mut World, path: &str, req: &Value) -> Result<Value, ShopError> {
        let email = req["email"].as_str().unwrap_or_default().to_string();
        match path {
            "/api/accounts/sign_up" => {
                if w.accounts.iter().any(|(e, _, _)| *e == email) {
                    return Err(err(ErrorCode::Conflict, "An account with this email already exists"));
                }
                let id = format!("{:032x}", 0xa100 + w.accounts.len());
                w.accounts.push((email, req["password"].as_str().unwrap().into(), id.clone()));
                Ok(w.new_session(&id))
            }
            "/api/accounts/sign_in" => {
                w.sign_in_clients.push(req["client"].as_str().unwrap_or_default().to_string());
                if w.limited {
                    return Err(err(ErrorCode::TooManyRequests, "Too many sign-in attempts. Try again in 32 seconds."));
                }
                let id = w.accounts.iter().find(|(e, p, _)| *e == email && req["password"] == p.as_str()).map(|(_, _, id)| id.clone());
                let id = id.ok_or_else(|| err(ErrorCode::Unauthorized, "Email or password is incorrect."))?;
                Ok(w.new_session(&id))
            }
            "/api/accounts/get_session" => {
                let id = w.account_of(&req["token"])?;
                Ok(w.signed_in(&id, req["token"].as_str().unwrap()))
            }
            "/api/accounts/sign_out" => {
                let before = w.sessions.len();
                w.sessions.retain(|(t, _)| req["token"].as_str() != Some(t.as_str()));
                Ok(json!({"ended": w.sessions.len() < before}))
            }
            "/api/accounts/change_password" => {
                if w.ended_meanwhile {
                    w.sessions.clear();
                }
                let id = w.account_of(&req["token"])?;
                let account = w.accounts.iter_mut().find(|(_, _, a)| *a == id).unwrap();
                if req["current_password"] != account.1.as_str() {
                    return Err(ShopError::invalid_fields(vec![FieldError::new("current_password", "This is not your current password")]));
                }
                account.1 = req["new_password"].as_str().unwrap().to_string();
                let before = w.sessions.len();
                w.sessions.retain(|(t, a)| *a != id || req["token"].as_str() == Some(t.as_str()));
                Ok(json!({"other_sessions_ended": before - w.sessions.len()}))
            }
            "/api/accounts/list_addresses" => {
                let id = w.account_of(&req["token"])?;
                let mut list: Vec<Value> = w.addresses.iter().filter(|(a, _)| *a == id).map(|(_, v)| v.clone()).collect();
                list.reverse();
                Ok(json!({"addresses": list}))
            }
            "/api/accounts/save_address" => {
                let id = w.account_of(&req["token"])?;
                let saved = json!({"address_id": format!("{:032x}", 0xad00 + w.addresses.len()), "address": req["address"],
                    "last_used_at": format!("2026-03-{:02}T10:00:00Z", w.addresses.len() + 1)});
                w.addresses.push((id, saved.clone()));
                Ok(saved)
            }
            "/api/accounts/delete_address" => {
                let id = w.account_of(&req["token"])?;
                let before = w.addresses.len();
                w.addresses.retain(|(a, v)| *a != id || v["address_id"] != req["address_id"]);
                if w.addresses.len() == before {
                    return Err(err(ErrorCode::NotFound, "No such address"));
                }
                Ok(json!({"addresses": w.addresses.iter().filter(|(a, _)| *a == id).map(|(_, v)| v.clone()).collect::<Vec<_>>()}))
            }
            other => panic!("unexpected call {other}"),
        }
    }

    fn calls(&self) -> usize {
        self.world.borrow().calls.len()
    }

    fn reset_calls(&self) {
        self.world.borrow_mut().calls.clear();
    }
}

impl Backend for Fake {
    async fn call<Req: Serialize, Resp: DeserializeOwned>(&self, _s: Service, op: Operation<Req, Resp>, req: &Req) -> Result<Resp, ShopError> {
        let value = self.answer(op.path, serde_json::to_value(req).unwrap())?;
        Ok(serde_json::from_value(value).unwrap())
    }

    async fn call_as_operator<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        _s: Service,
        op: Operation<Req, Resp>,
        req: &Req,
        authorization: &str,
    ) -> Result<Resp, ShopError> {
        let req = serde_json::to_value(req).unwrap();
        let mut w = self.world.borrow_mut();
        w.calls.push(op.path.to_string());
        w.requests.push((op.path.to_string(), req.clone()));
        if authorization != "Bearer secret" {
            return Err(err(ErrorCode::Unauthorized, "A valid operator token is required"));
        }
        let service = op.path.split('/').nth(2).unwrap_or_default();
        let answer = match op.path {
            "/api/catalog_admin/set_rates" => {
                let current: Vec<Value> = req["rates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| json!({"currency": r["currency"], "per_usd": r["per_usd"], "valid_from": "2026-05-01T00:00:00Z"}))
                    .collect();
                json!({"current": current, "scheduled": []})
            }
            "/api/catalog/get_rates" => json!({"current": rates_used("EUR"), "scheduled": []}),
            "/api/catalog_admin/set_stock" => {
                let sku = req["sku"].as_str().unwrap().to_string();
                if !catalog().iter().any(|p| p["sku"] == sku.as_str()) {
                    return Err(err(ErrorCode::NotFound, "No such product"));
                }
                let stock = req["stock"].as_u64().unwrap() as u32;
                w.stock.insert(sku.clone(), stock);
                json!({"sku": sku, "stock": stock, "reserved": 0})
            }
            _ => json!({"service": service, "applied": [], "version": 1}),
        };
        Ok(serde_json::from_value(answer).unwrap())
    }
}

fn config() -> Config {
    Config { secure_cookies: false, today: (2026, 5), client_ip_header: None }
}

fn request(method: &str, target: &str, body: &str, cookies: bool) -> Incoming {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = vec![("host".to_string(), "shop.test".to_string())];
    if cookies {
        headers.push(("cookie".into(), format!("sid={SID}; csrf={CSRF}")));
    }
    Incoming { method: method.into(), path: path.into(), query: query.into(), headers, body: body.as_bytes().to_vec() }
}

fn get(fake: &Fake, target: &str) -> (Outgoing, String) {
    fake.reset_calls();
    let out = block_on(respond(fake, &config(), &request("GET", target, "", true), false));
    let html = String::from_utf8(out.body.clone()).unwrap();
    (out, html)
}

fn post(fake: &Fake, target: &str, body: &str) -> (Outgoing, String) {
    fake.reset_calls();
    let body = format!("csrf={CSRF}&{body}");
    let out = block_on(respond(fake, &config(), &request("POST", target, &body, true), false));
    let html = String::from_utf8(out.body.clone()).unwrap();
    (out, html)
}

fn assert_secured(out: &Outgoing) {
    assert!(out.header("content-security-policy").unwrap().contains("default-src 'self'"));
    assert_eq!(out.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(out.header("x-frame-options"), Some("DENY"));
    assert_eq!(out.header("referrer-policy"), Some("strict-origin-when-cross-origin"));
}

#[test]
fn home_lists_products_with_the_cart_count_in_two_calls() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 3)];
    let (out, html) = get(&fake, "/");
    assert_eq!(out.status, 200);
    assert_secured(&out);
    assert_eq!(out.header("cache-control"), Some("no-store"));
    assert!(html.contains(r#"<html lang="en">"#) && html.contains(r#"name="viewport""#));
    assert!(html.contains("Teal Mug") && html.contains("$12.50") && html.contains("/static/img/mug-teal.svg"));
    assert!(html.contains(r#"<span class="cart-count" aria-hidden="true">3</span>"#));
    assert!(html.contains("Home &amp; Living") && html.contains(r#"href="/?category=tech""#));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>"));
    assert!(fake.calls() <= 2);
    assert!(out.headers.iter().all(|(k, _)| k != "set-cookie"), "known session: no new cookies");
}

#[test]
fn a_first_visit_gets_session_and_csrf_cookies() {
    let fake = Fake::default();
    let out = block_on(respond(&fake, &config(), &request("GET", "/", "", false), false));
    let cookies: Vec<&str> = out.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str()).collect();
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with("sid=") && cookies[1].starts_with("csrf="));
    assert!(cookies.iter().all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/")));
    let secure = Config { secure_cookies: true, ..config() };
    let out = block_on(respond(&fake, &secure, &request("GET", "/", "", false), false));
    assert!(out.headers.iter().filter(|(k, _)| k == "set-cookie").all(|(_, v)| v.ends_with("; Secure")));
}

#[test]
fn filtering_searching_and_empty_results() {
    let fake = Fake::default();
    let (_, html) = get(&fake, "/?category=apparel");
    assert!(html.contains("Coral Tee") && !html.contains("Teal Mug"));
    assert!(html.contains(r#"aria-current="page">Apparel"#));
    let (_, html) = get(&fake, "/?q=zebra+%3Cb%3E");
    assert!(html.contains("No products match “zebra &lt;b&gt;”"));
    assert!(html.contains(r#"value="zebra &lt;b&gt;""#), "the search box keeps the text");
    let (out, _) = get(&fake, "/?category=toys");
    assert_eq!(out.status, 404);
    let (out, html) = get(&fake, "/?page=7");
    assert_eq!(out.status, 200);
    assert!(html.contains("no page 7"));
    let (out, _) = get(&fake, "/?page=abc&q=%zz");
    assert_eq!(out.status, 400, "a damaged query string is a 400 page, not a 500");
}

#[test]
fn product_page_and_its_404() {
    let fake = Fake::default();
    let (out, html) = get(&fake, "/product/MUG-TEAL");
    assert_eq!(out.status, 200);
    assert!(html.contains(r#"action="/cart/add""#) && html.contains(&format!(r#"name="csrf" value="{CSRF}""#)));
    assert!(html.contains(r#"<option value="10">10</option>"#) && html.contains("About Teal Mug."));
    assert!(html.contains(r#"alt="Teal Mug""#));
    assert!(fake.calls() <= 2);
    let (out, html) = get(&fake, "/product/NOPE-1");
    assert_eq!(out.status, 404);
    assert!(html.contains("We couldn't find that product"));
    assert!(!html.contains("aria-current"), "a missing product is not the catalogue's current page");
    let (out, _) = get(&fake, "/product/..%2F..%2Fetc");
    assert_eq!(out.status, 404);
}

#[test]
fn adding_to_the_cart_needs_a_valid_csrf_token() {
    let fake = Fake::default();
    let (out, _) = post(&fake, "/cart/add", "sku=MUG-TEAL&quantity=2");
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/cart?notice=added&sku=MUG-TEAL"));
    assert_eq!(fake.world.borrow().cart, vec![("MUG-TEAL".to_string(), 2)]);

    // Missing token, wrong token, or no cookies at all: refused, nothing changes.
    for body in ["sku=MUG-TEAL&quantity=1", "csrf=fedcba9876543210fedcba9876543211&sku=MUG-TEAL&quantity=1"] {
        let out = block_on(respond(&fake, &config(), &request("POST", "/cart/add", body, true), false));
        assert_eq!(out.status, 403);
        assert!(String::from_utf8(out.body).unwrap().contains("This form has expired, please try again"));
    }
    let out = block_on(respond(&fake, &config(), &request("POST", "/cart/add", &format!("csrf={CSRF}&sku=MUG-TEAL&quantity=1"), false), false));
    assert_eq!(out.status, 403);
    let mut cross = request("POST", "/cart/add", &format!("csrf={CSRF}&sku=MUG-TEAL&quantity=1"), true);
    cross.headers.push(("sec-fetch-site".into(), "cross-site".into()));
    assert_eq!(block_on(respond(&fake, &config(), &cross, false)).status, 403);
    let mut other_origin = request("POST", "/cart/add", &format!("csrf={CSRF}&sku=MUG-TEAL&quantity=1"), true);
    other_origin.headers.push(("origin".into(), "https://evil.example".into()));
    assert_eq!(block_on(respond(&fake, &config(), &other_origin, false)).status, 403);
    assert_eq!(fake.world.borrow().cart, vec![("MUG-TEAL".to_string(), 2)]);
}

#[test]
fn cart_actions_redirect_with_notices() {
    let fake = Fake::default();
    let (out, _) = post(&fake, "/cart/add", "sku=MUG-TEAL&quantity=abc");
    assert_eq!(out.header("location"), Some("/product/MUG-TEAL?error=quantity"));
    let (out, _) = post(&fake, "/cart/add", "sku=GONE-1&quantity=1");
    assert_eq!(out.status, 404);
    post(&fake, "/cart/add", "sku=MUG-TEAL&quantity=98");
    let (out, _) = post(&fake, "/cart/add", "sku=MUG-TEAL&quantity=5");
    assert_eq!(out.header("location"), Some("/cart?notice=limit&sku=MUG-TEAL"));
    let (out, _) = post(&fake, "/cart/update", "sku=MUG-TEAL&quantity=4");
    assert_eq!(out.header("location"), Some("/cart?notice=updated&sku=MUG-TEAL"));
    let (_, html) = get(&fake, "/cart?notice=updated&sku=MUG-TEAL");
    assert!(html.contains("Updated the quantity of Teal Mug."));
    let (out, _) = post(&fake, "/cart/update", "sku=MUG-TEAL&quantity=-3");
    assert_eq!(out.header("location"), Some("/cart?notice=bad-quantity&sku=MUG-TEAL"));
    let (out, _) = post(&fake, "/cart/update", "sku=MUG-TEAL&quantity=0");
    assert_eq!(out.header("location"), Some("/cart?notice=removed"));
    assert!(fake.world.borrow().cart.is_empty());
    let (out, _) = post(&fake, "/cart/remove", "sku=");
    assert_eq!(out.status, 400);
}

#[test]
fn cart_page_shows_lines_totals_and_the_us_shipping_estimate() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 2), ("GONE-9".into(), 1)];
    let (out, html) = get(&fake, "/cart");
    assert_eq!(out.status, 200);
    assert!(html.contains("Teal Mug") && html.contains("$25.00") && html.contains("Estimated shipping to United States"));
    assert!(html.contains("no longer available"));
    assert!(html.contains(r#"action="/cart/update""#) && html.contains(r#"action="/cart/remove""#));
    assert!(html.contains(r#"href="/checkout""#));
    assert_eq!(fake.calls(), 2);
    fake.world.borrow_mut().cart.clear();
    let (_, html) = get(&fake, "/cart");
    assert!(html.contains("Your cart is empty") && html.contains("Browse the catalog"));
}

const GOOD: &str = "email=ada%40example.com&name=Ada+Lovelace&street=1+Main+St&city=Springfield&postal_code=12345&country=US\
&card_number=4242+4242+4242+4242&expiry_month=12&expiry_year=2030&cvv=123";

#[test]
fn checkout_validates_beside_each_field_and_keeps_entries() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    let (out, html) = get(&fake, "/checkout");
    assert_eq!(out.status, 200);
    assert!(html.contains(r#"name="attempt""#) && html.contains(r#"<option value="US" selected>United States</option>"#));
    let (out, html) = post(&fake, "/checkout", "attempt=a1&email=not-an-email&name=Ada&street=&city=Paris&postal_code=75001&country=FR\
&card_number=4242424242424241&expiry_month=&expiry_year=&cvv=12");
    assert_eq!(out.status, 400);
    assert!(html.contains(r#"id="email-error""#) && html.contains(r#"id="street-error""#));
    assert!(html.contains(r#"id="card_number-error""#) && html.contains(r#"id="expiry-error""#) && html.contains(r#"id="cvv-error""#));
    assert!(html.contains(r#"value="not-an-email""#) && html.contains(r#"<option value="FR" selected>France</option>"#));
    assert!(html.contains("Estimated shipping to France"), "the summary estimates shipping to the country chosen");
    assert!(!html.contains("4242424242424241"), "the card number is never written back");
    assert!(fake.calls() <= 2);
    assert!(fake.world.borrow().orders.is_empty());
}

#[test]
fn placing_an_order_is_idempotent_and_shows_the_confirmation() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    let (out, _) = post(&fake, "/checkout", &format!("attempt=a1&{GOOD}"));
    assert_eq!(out.status, 303);
    let location = out.header("location").unwrap().to_string();
    assert_eq!(location, "/order/ORD-000000000001?placed=1");
    let (again, _) = post(&fake, "/checkout", &format!("attempt=a1&{GOOD}"));
    assert_eq!(again.header("location"), Some(location.as_str()), "a double submit places one order");
    assert_eq!(fake.world.borrow().orders.len(), 1);
    let (out, html) = get(&fake, &location);
    assert_eq!(out.status, 200);
    let total = shop_domain::Money::new(1250 + shop_domain::shipping::quote(shop_domain::Country::US, 1, shop_domain::Currency::Usd).minor(), shop_domain::Currency::Usd).unwrap();
    for text in ["ORD-000000000001", "Thank you", "ada@example.com", "TXN-ABC", "TRK-XYZ", &total.format()] {
        assert!(html.contains(text), "{text}");
    }
    assert!(fake.calls() <= 2);
    let (out, _) = get(&fake, "/order/ORD-999999999999");
    assert_eq!(out.status, 404);
    let (out, _) = get(&fake, "/order/<script>");
    assert_eq!(out.status, 404);
}

#[test]
fn declines_and_refusals_are_explained() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    let declined = GOOD.replace("4242+4242+4242+4242", "4000000000000002");
    let (out, html) = post(&fake, "/checkout", &format!("attempt=a2&{declined}"));
    assert_eq!(out.status, 402);
    assert!(html.contains("Your card was declined") && html.contains("Nothing was charged"));
    assert!(html.contains(r#"value="ada@example.com""#) && !html.contains("4000000000000002"));
    assert!(!html.contains(r#"value="a2""#), "a new rendering gets a new attempt id");
    assert!(fake.calls() <= 2);

    let (out, html) = post(&fake, "/checkout", &format!("attempt=a3&{}", GOOD.replace("Springfield", "Nowhere")));
    assert_eq!(out.status, 400);
    assert!(html.contains(r#"<p class="field-error" id="city-error">We can't ship to Nowhere</p>"#));

    fake.world.borrow_mut().cart.clear();
    let (out, _) = post(&fake, "/checkout", &format!("attempt=a4&{GOOD}"));
    assert_eq!(out.header("location"), Some("/cart?notice=nothing-to-order"));
    let (out, _) = get(&fake, "/checkout");
    assert_eq!(out.header("location"), Some("/cart"));
}

#[test]
fn orders_are_listed_newest_first() {
    let fake = Fake::default();
    for attempt in ["a1", "a2"] {
        fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
        post(&fake, "/checkout", &format!("attempt={attempt}&{GOOD}"));
    }
    let (_, html) = get(&fake, "/orders");
    let first = html.find("ORD-000000000002").unwrap();
    let second = html.find("ORD-000000000001").unwrap();
    assert!(first < second);
    assert!(html.contains(r#"href="/order/ORD-000000000001""#));
}

#[test]
fn a_service_being_down_is_a_friendly_503_and_a_down_cart_does_not_break_browsing() {
    let fake = Fake::default();
    fake.world.borrow_mut().down = vec!["products"];
    let (out, html) = get(&fake, "/");
    assert_eq!(out.status, 503);
    assert!(html.contains("We can't reach part of the shop right now — try again in a moment"));
    assert_secured(&out);
    fake.world.borrow_mut().down = vec!["carts"];
    let (out, html) = get(&fake, "/");
    assert_eq!(out.status, 200);
    assert!(html.contains("Teal Mug") && !html.contains("cart-count"));
    let (out, _) = get(&fake, "/cart");
    assert_eq!(out.status, 503);
    fake.world.borrow_mut().down = vec!["checkout"];
    assert_eq!(get(&fake, "/orders").0.status, 503);
}

#[test]
fn static_files_are_cached_and_revalidated() {
    let fake = Fake::default();
    let (out, _) = get(&fake, "/static/shop.css");
    assert_eq!(out.status, 200);
    assert_eq!(out.header("cache-control"), Some("public, max-age=86400"));
    let etag = out.header("etag").unwrap().to_string();
    assert!(out.headers.iter().all(|(k, _)| k != "set-cookie"));
    assert_secured(&out);
    let mut again = request("GET", "/static/shop.css", "", false);
    again.headers.push(("if-none-match".into(), etag));
    let out = block_on(respond(&fake, &config(), &again, false));
    assert_eq!(out.status, 304);
    assert!(out.body.is_empty());
    let (out, body) = get(&fake, "/static/img/lamp-amber.svg");
    assert_eq!(out.header("content-type"), Some("image/svg+xml"));
    assert!(body.starts_with("<svg"));
    for path in ["/static/../Cargo.toml", "/static/img/lamp-purple.svg", "/static/img/../shop.css"] {
        assert_eq!(get(&fake, path).0.status, 404, "{path}");
    }
    assert_eq!(fake.calls(), 0);
    let head = block_on(respond(&fake, &config(), &request("HEAD", "/static/shop.css", "", false), false));
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn unknown_paths_wrong_methods_and_huge_bodies() {
    let fake = Fake::default();
    let (out, html) = get(&fake, "/no/such/page");
    assert_eq!(out.status, 404);
    assert!(html.contains("We couldn't find that page") && html.contains("Wasm Goods"));
    let (out, _) = get(&fake, "/cart/add");
    assert_eq!(out.status, 405);
    assert_eq!(out.header("allow"), Some("POST"));
    let out = block_on(respond(&fake, &config(), &request("POST", "/cart/add", "", true), true));
    assert_eq!(out.status, 413);
}

#[test]
fn a_forged_session_cookie_is_replaced() {
    let fake = Fake::default();
    let mut req = request("GET", "/", "", false);
    req.headers.push(("cookie".into(), "sid=admin; csrf=x".into()));
    let out = block_on(respond(&fake, &config(), &req, false));
    let cookies: Vec<&str> = out.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str()).collect();
    assert_eq!(cookies.len(), 2);
    assert!(!cookies[0].starts_with("sid=admin"));
}

/// Writes a few rendered pages and every asset under `$FRONTEND_DUMP` for a visual check in a
/// browser: `FRONTEND_DUMP=/tmp/site cargo test -p frontend --lib dump_pages -- --ignored`.
#[test]
#[ignore]
fn dump_pages() {
    let Ok(dir) = std::env::var("FRONTEND_DUMP") else { return };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir.join("static/img")).unwrap();
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 2), ("TEE-CORAL".into(), 1)];
    let declined = GOOD.replace("4242+4242+4242+4242", "4000000000000002");
    {
        let mut w = fake.world.borrow_mut();
        w.stock.extend([("LAMP-AMBER".to_string(), 0), ("CAP-RED".to_string(), 3)]);
        w.recommend = vec!["TEE-CORAL", "CAP-RED", "XSS-1", "MUG-TEAL"];
    }
    let in_yen = |target: &str| {
        let mut req = request("GET", target, "", false);
        req.headers.push(("cookie".into(), format!("sid={SID}; csrf={CSRF}; currency=JPY")));
        block_on(respond(&fake, &config(), &req, false))
    };
    let pages: Vec<(&str, Outgoing)> = vec![
        ("product-jpy.html", in_yen("/product/MUG-TEAL")),
        ("product-sold-out.html", get(&fake, "/product/LAMP-AMBER?error=stock").0),
        ("product-low.html", get(&fake, "/product/CAP-RED").0),
        ("cart-jpy.html", in_yen("/cart")),
        ("home.html", get(&fake, "/").0),
        ("product.html", get(&fake, "/product/MUG-TEAL").0),
        ("cart.html", get(&fake, "/cart?notice=added&sku=MUG-TEAL").0),
        ("checkout.html", get(&fake, "/checkout").0),
        ("checkout-errors.html", post(&fake, "/checkout", "attempt=a1&email=bad&name=&street=&city=&postal_code=1&country=US&card_number=1234&expiry_month=&expiry_year=&cvv=").0),
        ("checkout-declined.html", post(&fake, "/checkout", &format!("attempt=a2&{declined}")).0),
        ("order-placed.html", {
            post(&fake, "/checkout", &format!("attempt=a3&{GOOD}"));
            get(&fake, "/order/ORD-000000000001?placed=1").0
        }),
        ("orders.html", get(&fake, "/orders").0),
        ("empty-cart.html", get(&fake, "/cart").0),
        ("search-empty.html", get(&fake, "/?q=zebra").0),
        ("404.html", get(&fake, "/nope").0),
        ("403.html", block_on(respond(&fake, &config(), &request("POST", "/cart/add", "", true), false))),
        ("503.html", {
            fake.world.borrow_mut().down = vec!["products"];
            get(&fake, "/").0
        }),
    ];
    for (name, out) in pages {
        std::fs::write(dir.join(name), &out.body).unwrap();
    }
    std::fs::write(dir.join("static/shop.css"), crate::assets::lookup("shop.css").unwrap().body).unwrap();
    for kind in shop_domain::catalog::IMAGE_KINDS {
        for color in shop_domain::catalog::IMAGE_COLORS {
            let name = format!("img/{kind}-{color}.svg");
            std::fs::write(dir.join("static").join(&name), crate::assets::lookup(&name).unwrap().body).unwrap();
        }
    }
    std::fs::write(dir.join("static/favicon.svg"), crate::assets::lookup("favicon.svg").unwrap().body).unwrap();
    let mut gallery = String::from("<!doctype html><html><body style=\"margin:0;display:grid;grid-template-columns:repeat(16,120px)\">");
    for color in shop_domain::catalog::IMAGE_COLORS {
        for kind in shop_domain::catalog::IMAGE_KINDS {
            gallery.push_str(&format!("<img width=120 height=120 src=\"static/img/{kind}-{color}.svg\">"));
        }
    }
    std::fs::write(dir.join("gallery.html"), gallery).unwrap();
}

#[test]
fn operator_migrate_forwards_the_token_and_needs_no_session_or_csrf() {
    let fake = Fake::default();
    let mut req = request("POST", "/admin/migrate", "", false);
    req.headers.push(("authorization".into(), "Bearer secret".into()));
    let out = block_on(respond(&fake, &config(), &req, false));
    assert_eq!(out.status, 200, "{}", String::from_utf8_lossy(&out.body));
    let body: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body["migrations"][0]["service"], "catalog_admin");
    assert_eq!(body["migrations"][1]["service"], "checkout");
    assert!(out.headers.iter().all(|(k, _)| k != "set-cookie"));
}

#[test]
fn operator_api_refuses_a_missing_or_wrong_token() {
    let fake = Fake::default();
    let out = block_on(respond(&fake, &config(), &request("POST", "/admin/migrate", "", false), false));
    assert_eq!(out.status, 401);
    assert_eq!(fake.calls(), 0, "nothing is called without a token");
    let mut req = request("POST", "/admin/migrate", "", false);
    req.headers.push(("authorization".into(), "Bearer wrong".into()));
    let out = block_on(respond(&fake, &config(), &req, false));
    assert_eq!(out.status, 401);
    let body: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[test]
fn operator_update_requires_the_path_and_body_sku_to_agree() {
    let fake = Fake::default();
    let body = r#"{"sku":"MUG-TEAL","name":"n","description":"d","price":{"minor":1,"currency":"USD"},"category":"kitchen","image":"mug-teal"}"#;
    let mut req = request("PUT", "/admin/products/CAP-RED", body, false);
    req.headers.push(("authorization".into(), "Bearer secret".into()));
    let out = block_on(respond(&fake, &config(), &req, false));
    assert_eq!(out.status, 400);
    assert_eq!(fake.calls(), 0);
}

mod accounts;
mod commerce;
