//! Shoppers: the pages and forms a person uses, with the shop's cookies and CSRF token, and the
//! three ways to drive them (journey mix, fixed rate, one step).
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::stats::{Report, Stats};

/// One kind of request, as the report names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Step {
    /// `GET /`
    Home,
    /// `GET /product/{sku}`
    Product,
    /// `GET /cart`
    Cart,
    /// `POST /cart/add`
    AddToCart,
    /// `GET /checkout` (the form, with a fresh attempt id)
    CheckoutForm,
    /// `POST /checkout` (places the order)
    #[value(alias = "checkout")]
    PlaceOrder,
    /// `GET /order/{id}` (the confirmation the order redirects to)
    Order,
    /// `GET /static/favicon.svg`: a trivial guest route (no service calls)
    Static,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Home => "home",
            Step::Product => "product",
            Step::Cart => "cart",
            Step::AddToCart => "add_to_cart",
            Step::CheckoutForm => "checkout_form",
            Step::PlaceOrder => "place_order",
            Step::Order => "order",
            Step::Static => "static",
        }
    }
}

/// What a shopper does next, by weight (Online Boutique's mix by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Browse,
    ViewCart,
    AddToCart,
    Home,
    Checkout,
}

#[derive(Clone, Debug)]
pub struct Mix {
    pub weights: Vec<(Action, u32)>,
}

impl Default for Mix {
    /// browse a product 10, view cart 3, add to cart 2, home 1, checkout 1.
    fn default() -> Self {
        Mix {
            weights: vec![
                (Action::Browse, 10),
                (Action::ViewCart, 3),
                (Action::AddToCart, 2),
                (Action::Home, 1),
                (Action::Checkout, 1),
            ],
        }
    }
}

impl Mix {
    /// `browse=10,cart=3,add=2,home=1,checkout=1`
    pub fn parse(s: &str) -> Result<Mix> {
        let mut weights = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, w) = part.split_once('=').with_context(|| format!("{part:?}: expected name=weight"))?;
            let action = match name.trim() {
                "browse" | "product" => Action::Browse,
                "cart" | "view_cart" => Action::ViewCart,
                "add" | "add_to_cart" => Action::AddToCart,
                "home" => Action::Home,
                "checkout" => Action::Checkout,
                other => bail!("unknown action {other:?} (browse, cart, add, home, checkout)"),
            };
            weights.push((action, w.trim().parse().with_context(|| format!("{part:?}: weight is not a number"))?));
        }
        if weights.iter().map(|(_, w)| w).sum::<u32>() == 0 {
            bail!("the mix has no weight");
        }
        Ok(Mix { weights })
    }

    fn pick(&self, rng: &mut Rng) -> Action {
        let total: u32 = self.weights.iter().map(|(_, w)| w).sum();
        let mut n = rng.below(total as u64) as u32;
        for (a, w) in &self.weights {
            if n < *w {
                return *a;
            }
            n -= w;
        }
        self.weights[0].0
    }
}

/// xorshift64*: plenty for picking pages.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// When a run must stop: a deadline and a request budget, whichever comes first.
pub struct Budget {
    deadline: Instant,
    remaining: AtomicU64,
}

impl Budget {
    pub fn new(duration: Duration, max_requests: u64) -> Arc<Budget> {
        Arc::new(Budget { deadline: Instant::now() + duration, remaining: AtomicU64::new(max_requests) })
    }
    /// Takes one request from the budget; false once time or count is used up.
    pub fn take(&self) -> bool {
        Instant::now() < self.deadline
            && self.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline || self.remaining.load(Ordering::Relaxed) == 0
    }
}

/// Shipping addresses shoppers pick from.
const ADDRESSES: &[(&str, &str, &str, &str)] = &[
    ("Ada Lovelace", "1600 Amphitheatre Parkway", "Mountain View", "94043"),
    ("Grace Hopper", "1 Hacker Way", "Menlo Park", "94025"),
    ("Alan Turing", "410 Terry Ave N", "Seattle", "98109"),
    ("Katherine Johnson", "350 Fifth Avenue", "New York", "10118"),
    ("Edsger Dijkstra", "2300 Red River St", "Austin", "78712"),
];

/// Product SKUs, read from the catalogue pages once and shared.
pub async fn discover_skus(base: &str) -> Result<Vec<String>> {
    let client = reqwest::Client::new();
    let mut skus: Vec<String> = Vec::new();
    for page in 1..=10 {
        let html = client.get(format!("{base}/?page={page}")).send().await?.error_for_status()?.text().await?;
        let before = skus.len();
        for sku in product_links(&html) {
            if !skus.contains(&sku) {
                skus.push(sku);
            }
        }
        if skus.len() == before {
            break;
        }
    }
    if skus.is_empty() {
        bail!("the home page at {base} lists no products (is the catalog migrated and seeded?)");
    }
    Ok(skus)
}

/// The SKUs of `/product/{sku}` links in a page.
pub fn product_links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in html.split("href=\"/product/").skip(1) {
        if let Some(end) = part.find('"') {
            let sku = &part[..end];
            if !sku.is_empty() && !out.iter().any(|s| s == sku) {
                out.push(sku.to_string());
            }
        }
    }
    out
}

/// The value of a hidden form input, e.g. `attempt`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// The current UTC year.
fn this_year() -> u32 {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    (1970.0 + days as f64 / 365.2425) as u32
}

/// A page as received.
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

/// One virtual shopper: its own connection, cookies and cart.
pub struct Shopper {
    client: reqwest::Client,
    base: String,
    sid: Option<String>,
    csrf: Option<String>,
    skus: Arc<Vec<String>>,
    rng: Rng,
    /// Whether our cart has something in it, as far as we know.
    cart_filled: bool,
    /// Follow the redirects of forms, like a browser (the mix); off when one step is hammered.
    follow: bool,
    stats: Stats,
    budget: Arc<Budget>,
    id: u64,
    /// The display currency's cookie value, when this shopper picked one (prices converted).
    currency: Option<&'static str>,
}

impl Shopper {
    pub fn new(base: &str, skus: Arc<Vec<String>>, stats: Stats, budget: Arc<Budget>, id: u64, seed: u64) -> Shopper {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(4)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a reqwest client builds");
        Shopper {
            client,
            base: base.to_string(),
            sid: None,
            csrf: None,
            skus,
            rng: Rng::new(seed ^ id.wrapping_mul(0x1000_0000_01B3)),
            cart_filled: false,
            follow: true,
            stats,
            budget,
            id,
            currency: None,
        }
    }

    /// Shops in `code` (the `currency` cookie the header's picker sets).
    pub fn with_currency(mut self, code: &'static str) -> Self {
        self.currency = Some(code);
        self
    }

    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }

    fn cookie_header(&self) -> Option<String> {
        let cookies: Vec<String> = [("sid", self.sid.as_deref()), ("csrf", self.csrf.as_deref()), ("currency", self.currency)]
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| format!("{name}={v}")))
            .collect();
        (!cookies.is_empty()).then(|| cookies.join("; "))
    }

    /// Sends one request (if the budget allows), records it under `step`; `Ok(None)` = budget
    /// used up. An unexpected status is an error.
    async fn send(
        &mut self,
        step: Step,
        req: reqwest::RequestBuilder,
        expect: u16,
        started: Option<Instant>,
    ) -> Result<Option<Answer>> {
        if !self.budget.take() {
            return Ok(None);
        }
        let req = match self.cookie_header() {
            Some(c) => req.header(COOKIE, c),
            None => req,
        };
        let started = started.unwrap_or_else(Instant::now);
        let result = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            for v in resp.headers().get_all(SET_COOKIE) {
                let Ok(v) = v.to_str() else { continue };
                let pair = v.split(';').next().unwrap_or("");
                if let Some((name, value)) = pair.split_once('=') {
                    match name.trim() {
                        "sid" => self.sid = Some(value.to_string()),
                        "csrf" => self.csrf = Some(value.to_string()),
                        _ => {}
                    }
                }
            }
            let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
            let body = resp.text().await?;
            anyhow::Ok(Answer { status, location, body })
        }
        .await;
        let elapsed = started.elapsed();
        match result {
            Ok(a) if a.status == expect => {
                self.stats.record(step, elapsed, None);
                Ok(Some(a))
            }
            Ok(a) => {
                let snippet: String = a.body.chars().take(120).collect();
                let msg = format!("status {} (expected {expect}) {snippet:?}", a.status);
                self.stats.record(step, elapsed, Some(msg.clone()));
                bail!(msg)
            }
            Err(e) => {
                self.stats.record(step, elapsed, Some(format!("{e:#}")));
                Err(e)
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn random_sku(&mut self) -> String {
        let i = self.rng.below(self.skus.len() as u64) as usize;
        self.skus[i].clone()
    }

    pub async fn home(&mut self, started: Option<Instant>) -> Result<bool> {
        let req = self.client.get(self.url("/"));
        Ok(self.send(Step::Home, req, 200, started).await?.is_some())
    }

    pub async fn browse(&mut self, started: Option<Instant>) -> Result<bool> {
        let sku = self.random_sku();
        let req = self.client.get(self.url(&format!("/product/{sku}")));
        Ok(self.send(Step::Product, req, 200, started).await?.is_some())
    }

    pub async fn view_cart(&mut self, started: Option<Instant>) -> Result<bool> {
        let req = self.client.get(self.url("/cart"));
        Ok(self.send(Step::Cart, req, 200, started).await?.is_some())
    }

    pub async fn trivial(&mut self, started: Option<Instant>) -> Result<bool> {
        let req = self.client.get(self.url("/static/favicon.svg"));
        Ok(self.send(Step::Static, req, 200, started).await?.is_some())
    }

    async fn ensure_session(&mut self) -> Result<bool> {
        if self.csrf.is_none() {
            return self.home(None).await;
        }
        Ok(true)
    }

    /// `POST /cart/add` of `sku` (random if `None`) with `quantity` (random 1–10 if `None`).
    pub async fn add_to_cart(&mut self, sku: Option<String>, quantity: Option<u32>, started: Option<Instant>) -> Result<bool> {
        if !self.ensure_session().await? {
            return Ok(false);
        }
        let sku = sku.unwrap_or_else(|| self.random_sku());
        let quantity = quantity.unwrap_or_else(|| 1 + self.rng.below(10) as u32).to_string();
        let csrf = self.csrf.clone().unwrap_or_default();
        let req = self
            .client
            .post(self.url("/cart/add"))
            .form(&[("csrf", csrf.as_str()), ("sku", sku.as_str()), ("quantity", quantity.as_str())]);
        let Some(a) = self.send(Step::AddToCart, req, 303, started).await? else { return Ok(false) };
        let location = a.location.unwrap_or_default();
        if location.starts_with("/cart?notice=added") {
            self.cart_filled = true;
        } else if !location.contains("notice=limit") {
            // A refusal for too many of one item is the shop working; anything else is not.
            bail!("add to cart redirected to {location:?}");
        }
        if self.follow {
            let req = self.client.get(self.url(&location));
            return Ok(self.send(Step::Cart, req, 200, None).await?.is_some());
        }
        Ok(true)
    }

    /// Fills the cart with exactly `lines` distinct products, one of each (no redirects followed).
    pub async fn fill_cart(&mut self, lines: usize) -> Result<bool> {
        if lines > self.skus.len() {
            bail!("a {lines}-line cart needs {lines} products; the catalog lists {}", self.skus.len());
        }
        let start = self.rng.below(self.skus.len() as u64) as usize;
        let follow = std::mem::replace(&mut self.follow, false);
        let mut ok = true;
        for i in 0..lines {
            let sku = self.skus[(start + i) % self.skus.len()].clone();
            if !self.add_to_cart(Some(sku), Some(1), None).await? {
                ok = false;
                break;
            }
        }
        self.follow = follow;
        Ok(ok)
    }

    /// The checkout form, then the order with a test card and a random address; an empty cart
    /// gets an item first. Returns the order's path.
    pub async fn checkout(&mut self, started: Option<Instant>) -> Result<bool> {
        if !self.cart_filled && !self.add_to_cart(None, None, None).await? {
            return Ok(false);
        }
        let req = self.client.get(self.url("/checkout"));
        let Some(form) = self.send(Step::CheckoutForm, req, 200, started).await? else { return Ok(false) };
        let attempt = input_value(&form.body, "attempt").context("the checkout form has no attempt id")?;
        // The total and the lines the form showed, which the shop orders or refuses: its hidden fields go back
        // as a browser sends them.
        let expected: Vec<(&str, String)> = ["expected_total", "expected_currency", "expected_items", "expected_country", "lines"]
            .into_iter()
            .filter_map(|name| Some((name, input_value(&form.body, name)?)))
            .collect();
        let (name, street, city, postal_code) = ADDRESSES[self.rng.below(ADDRESSES.len() as u64) as usize];
        let email = format!("shopper{}@example.com", self.id);
        let year = (this_year() + 3).to_string();
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("attempt", attempt.as_str()),
            ("email", email.as_str()),
            ("name", name),
            ("street", street),
            ("city", city),
            ("postal_code", postal_code),
            ("country", "US"),
            ("card_number", "4242 4242 4242 4242"),
            ("expiry_month", "12"),
            ("expiry_year", year.as_str()),
            ("cvv", "123"),
        ];
        fields.extend(expected.iter().map(|(name, value)| (*name, value.as_str())));
        let req = self.client.post(self.url("/checkout")).form(&fields);
        let Some(placed) = self.send(Step::PlaceOrder, req, 303, None).await? else { return Ok(false) };
        let location = placed.location.unwrap_or_default();
        if !location.starts_with("/order/") {
            bail!("placing the order redirected to {location:?}");
        }
        self.cart_filled = false;
        if self.follow {
            let req = self.client.get(self.url(&location));
            return Ok(self.send(Step::Order, req, 200, None).await?.is_some());
        }
        Ok(true)
    }

    /// One step of the mix.
    pub async fn act(&mut self, action: Action, started: Option<Instant>) -> Result<bool> {
        match action {
            Action::Browse => self.browse(started).await,
            Action::ViewCart => self.view_cart(started).await,
            Action::AddToCart => self.add_to_cart(None, None, started).await,
            Action::Home => self.home(started).await,
            Action::Checkout => self.checkout(started).await,
        }
    }

    /// One repetition of a hammered step; for checkout, the cart is filled first.
    pub async fn repeat(&mut self, step: Step, cart_lines: usize) -> Result<bool> {
        match step {
            Step::Home => self.home(None).await,
            Step::Product => self.browse(None).await,
            Step::Cart => self.view_cart(None).await,
            Step::AddToCart => self.add_to_cart(None, None, None).await,
            Step::Static => self.trivial(None).await,
            Step::CheckoutForm | Step::PlaceOrder | Step::Order => {
                if !self.fill_cart(cart_lines).await? {
                    return Ok(false);
                }
                self.checkout(None).await
            }
        }
    }
}

/// Settings shared by the three modes.
#[derive(Clone)]
pub struct RunConfig {
    pub base: String,
    pub duration: Duration,
    pub max_requests: u64,
    pub seed: u64,
    pub skus: Arc<Vec<String>>,
}

/// `concurrency` shoppers (following redirects or not), each running `work` until it returns;
/// what they recorded.
async fn run_shoppers<F, Fut>(cfg: &RunConfig, concurrency: usize, follow: bool, work: F) -> Report
where
    F: Fn(Shopper, Arc<Budget>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let stats = Stats::default();
    let budget = Budget::new(cfg.duration, cfg.max_requests);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency as u64)
        .map(|id| {
            let shopper =
                Shopper::new(&cfg.base, cfg.skus.clone(), stats.clone(), budget.clone(), id, cfg.seed).follow_redirects(follow);
            tokio::spawn(work(shopper, budget.clone()))
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let mut report = stats.snapshot();
    report.elapsed = started.elapsed();
    report
}

/// The journey mix: `concurrency` shoppers, each starting at the home page, then choosing by weight.
pub async fn run_mix(cfg: &RunConfig, mix: &Mix, concurrency: usize) -> Report {
    run_shoppers(cfg, concurrency, true, |shopper, budget| {
        let mix = mix.clone();
        // Every other shopper sees prices in euros, so conversion is part of the load.
        let mut shopper = if shopper.id % 2 == 1 { shopper.with_currency("EUR") } else { shopper };
        async move {
            let _ = shopper.home(None).await;
            while !budget.expired() {
                let action = mix.pick(&mut shopper.rng);
                match shopper.act(action, None).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    // Recorded already; a shopper that hit an error starts over at the home page.
                    Err(_) => {
                        let _ = shopper.home(None).await;
                    }
                }
            }
        }
    })
    .await
}

/// One step at `concurrency` (per-endpoint mode).
pub async fn run_step(cfg: &RunConfig, step: Step, concurrency: usize, cart_lines: usize) -> Report {
    run_shoppers(cfg, concurrency, false, |mut shopper, budget| async move {
        while !budget.expired() {
            match shopper.repeat(step, cart_lines).await {
                Ok(true) | Err(_) => {}
                Ok(false) => break,
            }
        }
    })
    .await
}

/// Product pages and cart pages, alternately, by `concurrency` shoppers who each first put
/// `cart_lines` products in their cart (so each cart page prices lines and recommends).
pub async fn run_pages(cfg: &RunConfig, concurrency: usize, cart_lines: usize) -> Report {
    run_shoppers(cfg, concurrency, false, |mut shopper, budget| async move {
        if !matches!(shopper.fill_cart(cart_lines).await, Ok(true)) {
            return;
        }
        while !budget.expired() {
            let _ = shopper.browse(None).await;
            let _ = shopper.view_cart(None).await;
        }
    })
    .await
}

/// Fixed rate: `rps` arrivals a second, each one step (of the mix, or `step`) by an idle shopper
/// from a pool (at most `max_users`). Latency counts from the scheduled arrival, so a shop that
/// falls behind shows it (no coordinated omission).
pub async fn run_rate(cfg: &RunConfig, mix: &Mix, step: Option<Step>, rps: f64, max_users: usize) -> Report {
    let stats = Stats::default();
    let budget = Budget::new(cfg.duration, cfg.max_requests);
    let started = Instant::now();
    let pool: Arc<tokio::sync::Mutex<Vec<Shopper>>> = Arc::default();
    let users = Arc::new(tokio::sync::Semaphore::new(max_users));
    let created = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(1.0 / rps.max(0.001));
    let mut tasks = tokio::task::JoinSet::new();
    let mut n: u32 = 0;
    let mut rng = Rng::new(cfg.seed);
    while !budget.expired() {
        let due = started + interval * n;
        n += 1;
        tokio::time::sleep_until(due.into()).await;
        let action = mix.pick(&mut rng);
        let (pool, users, created, stats, budget, cfg) =
            (pool.clone(), users.clone(), created.clone(), stats.clone(), budget.clone(), cfg.clone());
        tasks.spawn(async move {
            let Ok(_permit) = users.acquire().await else { return };
            let popped = pool.lock().await.pop();
            let mut shopper = match popped {
                Some(s) => s,
                None => {
                    let id = created.fetch_add(1, Ordering::Relaxed);
                    let mut s = Shopper::new(&cfg.base, cfg.skus.clone(), stats.clone(), budget.clone(), id, cfg.seed);
                    if step.is_some() {
                        s.follow = false;
                    }
                    if !matches!(s.home(None).await, Ok(true)) {
                        return;
                    }
                    s
                }
            };
            let ok = match step {
                Some(Step::Static) => shopper.trivial(Some(due)).await,
                Some(Step::Home) => shopper.home(Some(due)).await,
                Some(Step::Product) => shopper.browse(Some(due)).await,
                Some(Step::Cart) => shopper.view_cart(Some(due)).await,
                Some(Step::AddToCart) => shopper.add_to_cart(None, None, Some(due)).await,
                Some(_) => shopper.checkout(Some(due)).await,
                None => shopper.act(action, Some(due)).await,
            };
            if ok.is_ok() {
                pool.lock().await.push(shopper);
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut report = stats.snapshot();
    report.elapsed = started.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapes_links_and_inputs() {
        let html = r#"<a href="/product/KIT-MUG-TEAL">x</a><a href="/product/APP-CAP-AMBER"><a href="/product/KIT-MUG-TEAL">
            <input type="hidden" name="attempt" value="0123abcd"><input type="hidden" name="csrf" value="zz">"#;
        assert_eq!(product_links(html), vec!["KIT-MUG-TEAL".to_string(), "APP-CAP-AMBER".to_string()]);
        assert_eq!(input_value(html, "attempt").as_deref(), Some("0123abcd"));
        assert_eq!(input_value(html, "nope"), None);
    }

    #[test]
    fn mix_weights() {
        let mix = Mix::default();
        let mut rng = Rng::new(7);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..17_000 {
            *counts.entry(mix.pick(&mut rng)).or_insert(0u32) += 1;
        }
        let browse = counts[&Action::Browse];
        assert!((9_000..11_000).contains(&browse), "{browse}");
        assert!((600..1_400).contains(&counts[&Action::Checkout]));
        let parsed = Mix::parse("browse=1, checkout=3").unwrap();
        assert_eq!(parsed.weights, vec![(Action::Browse, 1), (Action::Checkout, 3)]);
        assert!(Mix::parse("fly=1").is_err());
        assert!(Mix::parse("home=0").is_err());
    }

    #[test]
    fn budget_counts_down() {
        let b = Budget::new(Duration::from_secs(60), 2);
        assert!(b.take() && b.take());
        assert!(!b.take());
        assert!(b.expired());
    }
}
