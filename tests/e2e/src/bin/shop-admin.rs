//! Operator chores for a running shop, used by scripts/run-shop:
//!
//! - `shop-admin create-database <postgres-url>`: creates the URL's database if it is missing.
//! - `shop-admin drop-database <postgres-url>`: drops the URL's database if it exists (used by the
//!   browser tests' teardown).
//! - `shop-admin migrate <shop-base-url>`: waits for the shop's health check, then applies the
//!   migrations through `POST /admin/migrate` with the token in `SPIN_VARIABLE_OPERATOR_TOKEN`.
//! - `shop-admin let-time-pass <postgres-url> <seconds>`: for tests, moves the orders' last
//!   change back and ends shoppers' leases, as if that much time had passed.
//! - `shop-admin reconcile <shop-base-url> [every-seconds]`: runs the order reconciler
//!   (`POST /admin/reconcile`) once, or every so many seconds until stopped (scripts/run-shop
//!   runs it every minute, as the Kubernetes CronJob does, so a developer's shop heals itself).
use anyhow::{bail, Context, Result};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["create-database", url] => shop_e2e::admin::create_database(url).await,
        ["drop-database", url] => shop_e2e::admin::drop_database(url).await,
        ["migrate", base] => {
            let token = std::env::var("SPIN_VARIABLE_OPERATOR_TOKEN").context("SPIN_VARIABLE_OPERATOR_TOKEN is not set")?;
            shop_e2e::admin::wait_healthy(base).await?;
            let report = shop_e2e::admin::migrate(base, &token).await?;
            println!("{report}");
            Ok(())
        }
        ["let-time-pass", url, seconds] => {
            let n = shop_e2e::admin::let_time_pass_at(url, seconds.parse().context("seconds must be a whole number")?).await?;
            println!("{n} orders");
            Ok(())
        }
        ["reconcile", base, rest @ ..] => {
            let token = std::env::var("SPIN_VARIABLE_OPERATOR_TOKEN").context("SPIN_VARIABLE_OPERATOR_TOKEN is not set")?;
            let every = match rest {
                [] => None,
                [s] => Some(std::time::Duration::from_secs(s.parse().context("every-seconds must be a whole number")?)),
                _ => bail!("usage: shop-admin reconcile <shop-base-url> [every-seconds]"),
            };
            shop_e2e::admin::wait_healthy(base).await?;
            loop {
                match shop_e2e::admin::reconcile(base, &token, "{}").await {
                    // Quiet when there was nothing to do; the report otherwise.
                    Ok(report) if !report.contains("\"orders\":[]") || every.is_none() => println!("reconcile: {report}"),
                    Ok(_) => {}
                    Err(e) if every.is_some() => eprintln!("reconcile: {e:#}"),
                    Err(e) => return Err(e),
                }
                match every {
                    Some(d) => tokio::time::sleep(d).await,
                    None => return Ok(()),
                }
            }
        }
        _ => bail!("usage: shop-admin create-database <postgres-url> | shop-admin drop-database <postgres-url> | shop-admin migrate <shop-base-url> | shop-admin reconcile <shop-base-url> [every-seconds] | shop-admin let-time-pass <postgres-url> <seconds>"),
    }
}
