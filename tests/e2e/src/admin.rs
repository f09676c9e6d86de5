//! Operator chores shared by the test harness and the `shop-admin` tool.
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

/// Creates the database named in a `postgres://user@host:port/name?...` URL if it is missing.
pub async fn create_database(url: &str) -> Result<()> {
    let (host, port, user, name) = parse_url(url)?;
    let client = crate::connect_to(&host, &port, &user, "postgres").await?;
    let exists = client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some();
    if !exists {
        client.batch_execute(&format!("CREATE DATABASE {name}")).await?;
        println!("created database {name}");
    }
    Ok(())
}

/// Drops the database named in a `postgres://user@host:port/name?...` URL if it exists, closing
/// any connections still open to it (`WITH (FORCE)`).
pub async fn drop_database(url: &str) -> Result<()> {
    let (host, port, user, name) = parse_url(url)?;
    let client = crate::connect_to(&host, &port, &user, "postgres").await?;
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
    Ok(())
}

/// `(host, port, user, database)` of a `postgres://` URL; the database name must be a plain
/// identifier, since it is written into SQL.
fn parse_url(url: &str) -> Result<(String, String, String, String)> {
    let rest = url.strip_prefix("postgres://").context("the database URL must start with postgres://")?;
    let (authority, path) = rest.split_once('/').context("the database URL names no database")?;
    let name = path.split('?').next().unwrap_or_default();
    ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name `{name}` must be letters, digits and underscores"
    );
    let (user, hostport) = authority.split_once('@').unwrap_or(("postgres", authority));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    Ok((host.to_string(), port.to_string(), user.to_string(), name.to_string()))
}

/// Waits up to a minute for `GET /.well-known/spin/health` to answer 200.
pub async fn wait_healthy(base: &str) -> Result<()> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let health = client.get(format!("{base}/.well-known/spin/health")).send().await;
        if matches!(&health, Ok(r) if r.status().is_success()) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the shop at {base} did not become healthy within a minute");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Applies every service's migrations; returns the JSON report.
pub async fn migrate(base: &str, token: &str) -> Result<String> {
    let response = reqwest::Client::new().post(format!("{base}/admin/migrate")).bearer_auth(token).send().await?;
    let status = response.status();
    let body = response.text().await?;
    ensure!(status.is_success(), "migrate answered {status}: {body}");
    Ok(body)
}

/// Runs the order reconciler once (`POST /admin/reconcile`, the given JSON body or `{}` for the
/// shop's defaults); returns the JSON report.
pub async fn reconcile(base: &str, token: &str, body: &str) -> Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{base}/admin/reconcile"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    ensure!(status.is_success(), "reconcile answered {status}: {text}");
    Ok(text)
}

/// For tests: lets `seconds` pass for the orders of the database a client is connected to:
/// their last change moves back, and shoppers' leases (60 s) end. Creation times are kept.
pub async fn let_time_pass(client: &tokio_postgres::Client, seconds: i32) -> Result<u64> {
    Ok(client
        .execute(
            "UPDATE orders SET updated_at = updated_at - make_interval(secs => $1::int4), \
                 reconcile_lease = CASE WHEN reconcile_lease = 'shopper' THEN NULL ELSE reconcile_lease END, \
                 reconcile_lease_until = CASE WHEN reconcile_lease = 'shopper' THEN NULL ELSE reconcile_lease_until END",
            &[&seconds],
        )
        .await?)
}

/// [`let_time_pass`] for the database named in a `postgres://` URL.
pub async fn let_time_pass_at(url: &str, seconds: i32) -> Result<u64> {
    let (host, port, user, name) = parse_url(url)?;
    let client = crate::connect_to(&host, &port, &user, &name).await?;
    let_time_pass(&client, seconds).await
}
