//! Shared by the reliability tests: a shopper's steps, and the checkout money invariants checked
//! against what is really stored (orders in PostgreSQL, payment's records in Redis).
use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use redis::AsyncCommands;

use crate::browser::{Browser, Page};
use crate::upstream::FaultyService;
use crate::{Shop, ShopOptions};

/// The routes the failure tests break, between checkout and the services it calls.
pub const CHARGE: &str = "/api/payment/charge";
pub const SETTLE: &str = "/api/payment/settle";
pub const REFUND: &str = "/api/payment/refund";
pub const SHIP: &str = "/api/shipping/ship_order";
pub const SEND: &str = "/api/email/send_confirmation";
pub const NOTICE: &str = "/api/email/send_failure_notice";
pub const PLACE: &str = "/api/checkout/place_order";

/// A shop whose payment, shipping and email (as checkout reaches them) and checkout (as the
/// frontend reaches it) sit behind faulty proxies the tests control.
pub struct World {
    pub shop: Shop,
    pub payment: FaultyService,
    pub shipping: FaultyService,
    pub email: FaultyService,
    pub checkout: FaultyService,
}

/// Starts a [`World`] on the shared PostgreSQL, or on `pg` (a private one a test may stop).
pub async fn world(pg: Option<String>) -> Result<World> {
    let payment = FaultyService::start("payment").await?;
    let shipping = FaultyService::start("shipping").await?;
    let email = FaultyService::start("email").await?;
    // The frontend's way to checkout, so its answer can be lost after checkout finished.
    let checkout = FaultyService::start("checkout").await?;
    let overrides: std::collections::HashMap<String, String> =
        [payment.variable(), shipping.variable(), email.variable(), checkout.variable()].into_iter().collect();
    let hooks = [payment.attacher(), shipping.attacher(), email.attacher(), checkout.attacher()];
    let on_load = std::sync::Arc::new(move |app: &runtime_local::App| hooks.iter().for_each(|h| h(app)));
    let shop = Shop::start_with_options(ShopOptions {
        overrides,
        pg_addr: pg,
        limits: Some(failure_test_limits()),
        on_load: Some(on_load),
        ..ShopOptions::default()
    })
    .await?;
    Ok(World { shop, payment, shipping, email, checkout })
}

impl World {
    /// The faulty proxy in front of `name` (payment, shipping, email; checkout otherwise).
    pub fn service(&self, name: &str) -> &FaultyService {
        match name {
            "payment" => &self.payment,
            "shipping" => &self.shipping,
            "email" => &self.email,
            _ => &self.checkout,
        }
    }

    pub fn heal(&self) {
        for s in [&self.payment, &self.shipping, &self.email, &self.checkout] {
            s.heal();
        }
    }
}

/// The stored cart of a browser.
pub async fn cart(shop: &Shop, b: &Browser) -> Result<BTreeMap<String, u32>> {
    let key = format!("{}shop:cart:{}", shop.redis_prefix, b.session().context("a session")?);
    Ok(shop.redis().await?.hgetall(key).await?)
}

/// The emails in the outbox, newest first, as JSON.
pub async fn outbox(shop: &Shop) -> Result<Vec<serde_json::Value>> {
    let raw: Vec<String> = shop.redis().await?.lrange(format!("{}shop:outbox", shop.redis_prefix), 0, -1).await?;
    raw.iter().map(|e| Ok(serde_json::from_str(e)?)).collect()
}

pub async fn outbox_len(shop: &Shop) -> Result<usize> {
    Ok(outbox(shop).await?.len())
}

/// Runtime limits for the failure tests: a dead store or a hung service costs a shopper seconds,
/// not the production defaults' tens of seconds, while leaving a busy 2-core machine ample room
/// for the work a healthy request does (the slowest stand-in a test sets is 700 ms per call).
pub fn failure_test_limits() -> runtime_local::Limits {
    runtime_local::Limits {
        backend_timeout: Duration::from_secs(2),
        outbound_http_timeout: Duration::from_secs(5),
        execution_time: Duration::from_secs(30),
        ..runtime_local::Limits::default()
    }
}

/// The longest a shopper may wait for an answer when something is down. The slowest way down is
/// a service that hangs: its caller gives up after `shop_spin::rpc::CALL_TIMEOUT` (10 s) at most.
/// The 8 s on top are for a busy machine; the bound still catches two timeouts served one after
/// the other (20 s), which is the regression it is here for.
pub const SHOPPER_WAIT_BOUND: Duration = Duration::from_secs(18);

pub const MUG: &str = "KIT-MUG-TEAL";
pub const TEE: &str = "APP-TEE-TEAL";
pub const GOOD_CARD: &str = "4242 4242 4242 4242";
pub const DECLINED_CARD: &str = "4000 0000 0000 0002";

/// Adds `quantity` of `sku` to the browser's cart (expects the redirect to the cart).
pub async fn add(b: &mut Browser, sku: &str, quantity: u32) -> Result<()> {
    let page = b.post("/cart/add", &[("sku", sku), ("quantity", &quantity.to_string())]).await?;
    ensure!(page.status == 303, "add to cart answered {}: {}", page.status, page.body);
    Ok(())
}

/// A complete, valid checkout form for `attempt`, paying with `card`.
pub fn checkout_fields<'a>(card: &'a str, attempt: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("attempt", attempt),
        ("email", "ada@example.com"),
        ("name", "Ada Lovelace"),
        ("street", "12 Analytical Row"),
        ("city", "London"),
        ("postal_code", "N1 9GU"),
        ("country", "GB"),
        ("card_number", card),
        ("expiry_month", "12"),
        ("expiry_year", "2035"),
        ("cvv", "123"),
    ]
}

/// Opens the checkout form and returns its attempt id.
pub async fn checkout_attempt(b: &mut Browser) -> Result<String> {
    let form = b.get("/checkout").await?;
    ensure!(form.status == 200, "the checkout form answered {}", form.status);
    crate::html::input_value(&form.body, "attempt").context("the form carries no attempt id")
}

/// The order id a successful checkout redirected to (`/order/<id>?placed=1`).
pub fn placed_order_id(page: &Page) -> Option<String> {
    let location = page.location.as_deref()?;
    let rest = location.strip_prefix("/order/")?;
    Some(rest.split('?').next()?.to_string())
}

/// An order as stored.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub order_id: String,
    pub session: String,
    pub attempt_id: String,
    pub status: String,
    pub total_minor: i64,
    pub transaction_id: Option<String>,
    pub tracking_id: Option<String>,
    pub email_sent: bool,
}

/// A charge as payment stored it (`charge:<idempotency key>` → receipt).
#[derive(Debug, Clone)]
pub struct StoredCharge {
    pub key: String,
    pub transaction_id: String,
    pub amount_minor: i64,
}

/// Orders and payment records of one shop, read together.
#[derive(Debug, Clone)]
pub struct Books {
    pub orders: Vec<StoredOrder>,
    pub charges: Vec<StoredCharge>,
    /// `txn:<id>` keys (transaction ids).
    pub transactions: Vec<String>,
    /// `refund:<txn>` keys (transaction ids refunded).
    pub refunds: Vec<String>,
    /// `charge:<key>` records that close the key instead (payment's `settle` found no charge).
    pub closed: Vec<String>,
}

pub async fn books(shop: &Shop) -> Result<Books> {
    let rows = shop
        .db()
        .await?
        .query(
            "SELECT order_id, session, attempt_id, status, total_minor, transaction_id, tracking_id, email_sent \
             FROM orders ORDER BY created_at",
            &[],
        )
        .await?;
    let orders = rows
        .iter()
        .map(|r| StoredOrder {
            order_id: r.get(0),
            session: r.get(1),
            attempt_id: r.get(2),
            status: r.get(3),
            total_minor: r.get(4),
            transaction_id: r.get(5),
            tracking_id: r.get(6),
            email_sent: r.get(7),
        })
        .collect();
    let mut redis = shop.redis().await?;
    let prefix = format!("{}shop:", shop.redis_prefix);
    let keys = |pattern: &str| format!("{prefix}{pattern}");
    let charge_keys: Vec<String> = redis.keys(keys("charge:*")).await?;
    let mut charges = Vec::new();
    let mut closed = Vec::new();
    for key in charge_keys {
        let raw: String = redis.get(&key).await?;
        let receipt: serde_json::Value = serde_json::from_str(&raw)?;
        let key = key.trim_start_matches(&keys("charge:")).to_string();
        if receipt.get("transaction_id").is_none() {
            closed.push(key);
            continue;
        }
        charges.push(StoredCharge {
            key,
            transaction_id: receipt["transaction_id"].as_str().unwrap_or_default().to_string(),
            amount_minor: receipt["amount"]["minor"].as_i64().unwrap_or(-1),
        });
    }
    let strip = |list: Vec<String>, p: &str| list.into_iter().map(|k| k.trim_start_matches(&keys(p)).to_string()).collect();
    let transactions = strip(redis.keys(keys("txn:*")).await?, "txn:");
    let refunds = strip(redis.keys(keys("refund:*")).await?, "refund:");
    Ok(Books { orders, charges, transactions, refunds, closed })
}

impl Books {
    /// The invariants that hold at every moment, even right after a failure:
    /// - never a charge without an order: every charge's key is a stored order;
    /// - never two charges for one attempt: one charge per order, one transaction per charge,
    ///   and one order per `(session, attempt)`;
    /// - never an order without its charge: a paid or completed order names the transaction of
    ///   its own charge, for its total;
    /// - a charge whose order failed was refunded.
    pub fn check_safe(&self) -> Result<()> {
        let by_id: BTreeMap<&str, &StoredOrder> = self.orders.iter().map(|o| (o.order_id.as_str(), o)).collect();
        let mut attempts = std::collections::BTreeSet::new();
        for o in &self.orders {
            ensure!(attempts.insert((&o.session, &o.attempt_id)), "two orders for one attempt: {o:?}");
        }
        let mut charged: BTreeMap<&str, &StoredCharge> = BTreeMap::new();
        for c in &self.charges {
            let order = by_id.get(c.key.as_str()).with_context(|| format!("a charge without an order: {c:?}\n{self:#?}"))?;
            ensure!(charged.insert(c.key.as_str(), c).is_none(), "two charges for order {}", c.key);
            ensure!(c.amount_minor == order.total_minor, "charge {c:?} is not the total of {order:?}");
            ensure!(self.transactions.contains(&c.transaction_id), "charge {c:?} has no transaction record");
            if order.status == "failed" {
                ensure!(self.refunds.contains(&c.transaction_id), "order {} failed but its charge was not refunded", order.order_id);
            }
        }
        ensure!(
            self.transactions.len() == self.charges.len(),
            "transactions {:?} do not match charges {:?}",
            self.transactions,
            self.charges
        );
        for o in &self.orders {
            if o.status == "paid" || o.status == "completed" {
                let c = charged.get(o.order_id.as_str()).with_context(|| format!("an order without its charge: {o:?}"))?;
                ensure!(o.transaction_id.as_deref() == Some(c.transaction_id.as_str()), "order {o:?} names another transaction than {c:?}");
            }
            if o.status == "completed" {
                ensure!(o.tracking_id.is_some(), "a completed order without tracking id: {o:?}");
            }
        }
        for r in &self.refunds {
            ensure!(self.transactions.contains(r), "a refund of an unknown transaction {r}");
        }
        // A closed key was never charged: its order is not paid and not completed.
        for k in &self.closed {
            if let Some(o) = by_id.get(k.as_str()) {
                ensure!(o.status == "pending" || o.status == "failed", "order {o:?} went on with its charge key closed");
            }
        }
        Ok(())
    }

    /// [`Books::check_safe`], and nothing left half-way: every order is completed, or failed
    /// with any charge refunded; every charge belongs to a completed order or was refunded.
    pub fn check_settled(&self) -> Result<()> {
        self.check_safe()?;
        for o in &self.orders {
            ensure!(o.status == "completed" || o.status == "failed", "order left half-way: {o:?}\n{self:#?}");
        }
        for c in &self.charges {
            let o = self.orders.iter().find(|o| o.order_id == c.key).expect("checked above");
            ensure!(o.status == "completed" || self.refunds.contains(&c.transaction_id), "charge {c:?} kept for {o:?}");
        }
        Ok(())
    }

    pub fn completed(&self) -> Vec<&StoredOrder> {
        self.orders.iter().filter(|o| o.status == "completed").collect()
    }

    /// Charges not refunded.
    pub fn kept_charges(&self) -> usize {
        self.charges.iter().filter(|c| !self.refunds.contains(&c.transaction_id)).count()
    }
}

/// A shopper checks out one mug while payment holds the charge; the database (`pg`, the
/// world's private one) is stopped, then the charge goes on: the shopper gets 503, the order
/// stays pending with a charge that names it. The database is started again before returning.
/// Returns the shopper's browser and the submitted form (to retry the same attempt).
pub async fn charge_then_lose_the_database(
    w: &World,
    pg: &mut crate::stores::PrivatePostgres,
) -> Result<(Browser, Vec<(String, String)>)> {
    let mut b = w.shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    let fields: Vec<(String, String)> =
        checkout_fields(GOOD_CARD, &attempt).iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    w.payment.set(CHARGE, crate::upstream::Mode::Held);
    let shopper = {
        let mut b = b.clone_session();
        let fields = fields.clone();
        tokio::spawn(async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b.post("/checkout", &f).await
        })
    };
    // Stop the database while payment holds the charge, then let the charge go on.
    let started = std::time::Instant::now();
    while w.payment.calls(CHARGE) == 0 {
        ensure!(started.elapsed() < Duration::from_secs(30), "the charge never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pg.stop()?;
    w.payment.release();
    let first = shopper.await??;
    ensure!(first.status == 503, "with the database gone after the charge: {} {}", first.status, first.body);
    pg.restart()?;
    Ok((b, fields))
}
