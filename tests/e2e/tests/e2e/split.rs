//! The split topology (runtime-k8s/overlays/split), on one machine: each service runs as an app of
//! its own that keeps only its component (selective deployment, as a SpinApp's `components` does),
//! and the services reach each other over HTTP at their `<service>_url`, with the internal token,
//! instead of by service chaining.
use anyhow::{ensure, Context, Result};
use shop_e2e::reliability::{add, books, checkout_attempt, checkout_fields, placed_order_id, GOOD_CARD, MUG, TEE};
use shop_e2e::{Shop, ShopOptions, SERVICES};

async fn split_shop() -> Result<Shop> {
    Shop::start_with_options(ShopOptions { split: true, ..ShopOptions::default() }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_buys_from_a_split_shop() -> Result<()> {
    // Starting it already ran the migrations: frontend -> products and checkout, over HTTP.
    let shop = split_shop().await?;
    let mut b = shop.browser();
    let home = b.get("/").await?;
    ensure!(home.status == 200 && home.body.contains("href=\"/product/"), "home: {}", home.status);
    add(&mut b, MUG, 2).await?;
    add(&mut b, TEE, 1).await?;
    let cart = b.get("/cart").await?;
    ensure!(cart.status == 200 && cart.body.contains(MUG), "cart: {}", cart.status);

    let attempt = checkout_attempt(&mut b).await?;
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    ensure!(placed.status == 303, "checkout: {} {}", placed.status, placed.body);
    let confirmation = b.follow(&placed).await?;
    ensure!(confirmation.status == 200, "confirmation: {}", confirmation.status);
    let order_id = placed_order_id(&placed).context("the confirmation names the order")?;

    let books = books(&shop).await?;
    books.check_settled()?;
    let order = books.orders.iter().find(|o| o.order_id == order_id).context("the order is stored")?;
    ensure!(order.status == "completed" && order.email_sent, "order: {} email_sent {}", order.status, order.email_sent);
    ensure!(order.total_minor > 2 * 1299 + 1999, "total with shipping: {}", order.total_minor);
    let cart = b.get("/cart").await?;
    ensure!(!cart.body.contains(MUG), "the cart is emptied");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_split_service_answers_only_its_own_routes() -> Result<()> {
    let shop = split_shop().await?;
    let client = reqwest::Client::new();
    for service in SERVICES {
        let base = shop.service_url(service).context("a split service")?;
        let health = client.get(format!("{base}/.well-known/spin/health")).send().await?;
        ensure!(health.status() == 200, "{service} health: {}", health.status());
        // Not the frontend's pages, not the other services' operations.
        let page = client.get(format!("{base}/")).send().await?;
        ensure!(page.status() == 404, "{service} GET /: {}", page.status());
        for other in shop_contract::all_operation_paths() {
            let own = match service {
                "products" => ["/api/catalog/", "/api/catalog_admin/", "/api/inventory/"].iter().any(|p| other.starts_with(p)),
                _ => other.starts_with(&format!("/api/{service}/")),
            };
            let r = client
                .post(format!("{base}{other}"))
                .header(shop_contract::INTERNAL_TOKEN_HEADER, &shop.internal_token)
                .body("{}")
                .send()
                .await?;
            let status = r.status().as_u16();
            let json = r.headers().get("content-type").is_some_and(|v| v == "application/json");
            let body = r.bytes().await?;
            if own {
                // Its own operations answer, with a JSON error for this empty request at worst.
                ensure!(json && !body.is_empty(), "{service} POST {other}: {status}, not answered by the service");
            } else {
                ensure!(status == 404 && body.is_empty(), "{service} POST {other}: {status}, expected the router's 404");
            }
        }
    }
    Ok(())
}
