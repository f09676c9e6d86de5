//! Orders in PostgreSQL (schema: `migrations/`). All SQL of checkout is here.
//!
//! Status changes are conditional (`WHERE status = ...`) and report whether they happened, so
//! two requests working on one order can never move it backwards.
use shop_contract::{Address, MigrationReport, Money, Order, OrderLine, OrderStatus, RateUsed, ShopError};
use shop_domain::{OrderCursor, OrderId, OrderPageSize};
use shop_spin::store::{column, migrate, pg_error, read, read_one_row, Migration};
use spin_sdk::pg4::{Connection, ParameterValue as P, Row};

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "orders",
        sql: include_str!("../migrations/0001_orders.sql"),
    },
    Migration {
        version: 2,
        name: "reconcile",
        sql: include_str!("../migrations/0002_reconcile.sql"),
    },
    Migration {
        version: 3,
        name: "accounts",
        sql: include_str!("../migrations/0003_accounts.sql"),
    },
    Migration {
        version: 4,
        name: "currencies_and_stock",
        sql: include_str!("../migrations/0004_currencies_and_stock.sql"),
    },
];

/// `created_at` as RFC 3339 text (Spin cannot read `timestamptz`).
macro_rules! created_at_text {
    () => {
        shop_spin::rfc3339_utc!("created_at")
    };
}

/// The columns of an order.
const ORDER_COLUMNS: &str = concat!(
    r#"order_id, session, account_id, status, email, ship_name, ship_street, ship_city,
    ship_postal_code, ship_country, currency, subtotal_minor, shipping_minor, total_minor,
    transaction_id, tracking_id, failure, email_sent, rates, "#,
    created_at_text!(),
    " AS created_at"
);

/// Whose orders a list shows.
pub enum Owner<'a> {
    /// A guest's: placed from this session and owned by no account.
    Session(&'a str),
    /// Belonging to this account, from whichever session.
    Account(&'a str),
}

impl Owner<'_> {
    /// The condition on the `orders AS o` rows that are the owner's, with the value for `$1`.
    fn condition_and_value(&self) -> (&'static str, &str) {
        match self {
            // Once an account owns an order, only the account reads it: not the session it was
            // placed from, whose id a guest may have had planted (see `Store::get`).
            Owner::Session(s) => ("o.session = $1 AND o.account_id IS NULL", s),
            Owner::Account(a) => ("o.account_id = $1", a),
        }
    }
}

/// How long a shopper's request holds an order it works on (longer than a request may run).
pub const SHOPPER_LEASE_SECONDS: i32 = 60;

/// What the reconciler takes (see [`Store::claim_unfinished`]).
pub struct Claim<'a> {
    pub grace_seconds: u32,
    pub limit: u32,
    pub lease_seconds: u32,
    pub lease: &'a str,
    pub max_age_seconds: u32,
}

/// The orders a reconciler run took, and what it must know about them beyond the order itself.
pub struct Claimed {
    pub orders: Vec<Order>,
    /// Ids of the paid orders whose refund was started (they are only ever refunded and failed).
    pub refunding: Vec<String>,
    /// Ids of the failed orders whose stock has not been released yet.
    pub release_due: Vec<String>,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open() -> Result<Self, ShopError> {
        Ok(Store {
            conn: shop_spin::store::postgres()?,
        })
    }

    pub fn migrate(&self) -> Result<MigrationReport, ShopError> {
        migrate(&self.conn, "checkout", MIGRATIONS)
    }

    /// The order made by a checkout attempt, if any.
    pub fn find_attempt(
        &self,
        session: &str,
        attempt_id: &str,
    ) -> Result<Option<Order>, ShopError> {
        let sql =
            format!("SELECT {ORDER_COLUMNS} FROM orders WHERE session = $1 AND attempt_id = $2");
        Ok(self
            .orders(&sql, &[P::Str(session.into()), P::Str(attempt_id.into())])?
            .into_iter()
            .next())
    }

    /// An order placed from `session` that no account owns, or one belonging to `account`. A
    /// claimed order is the account's alone: the guest session it came from, whose id someone
    /// else may have planted in the shopper's browser, no longer reads it.
    pub fn get(&self, session: &str, account: Option<&str>, order_id: &str) -> Result<Option<Order>, ShopError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1 \
             AND ((session = $2 AND account_id IS NULL) OR account_id = $3::text)"
        );
        let account = account.map_or(P::DbNull, |a| P::Str(a.into()));
        Ok(self
            .orders(&sql, &[P::Str(order_id.into()), P::Str(session.into()), account])?
            .into_iter()
            .next())
    }

    /// One page of `owner`'s orders, newest first, starting after `before`; and the cursor of the
    /// next (older) page, if there is one.
    pub fn list_page(
        &self,
        owner: &Owner<'_>,
        before: Option<&OrderCursor>,
        size: OrderPageSize,
    ) -> Result<(Vec<Order>, Option<OrderCursor>), ShopError> {
        let (owner_condition, owner_value) = owner.condition_and_value();
        // Microseconds since the epoch, exactly (EXTRACT is numeric since PostgreSQL 14); the
        // cursor's bound is rebuilt from whole seconds and microseconds, each exact as a float.
        // The table's columns are qualified: unqualified, ORDER BY would take the `created_at`
        // output column, which is text to the second.
        let after_cursor = if before.is_some() {
            "AND (o.created_at, o.order_id) < ('epoch'::timestamptz + ($3::int8 / 1000000) * interval '1 second' \
                 + ($3::int8 % 1000000) * interval '1 microsecond', $4::text)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {ORDER_COLUMNS}, (extract(epoch FROM o.created_at) * 1000000)::int8 AS created_micros \
             FROM orders AS o WHERE {owner_condition} {after_cursor} \
             ORDER BY o.created_at DESC, o.order_id DESC LIMIT $2"
        );
        let mut params = vec![P::Str(owner_value.into()), P::Int64(i64::from(size.rows_to_fetch()))];
        if let Some(cursor) = before {
            params.push(P::Int64(cursor.created_micros()));
            params.push(P::Str(cursor.order_id().to_string()));
        }
        let (rows, more) = size.split(self.orders_with(&sql, &params, |row| column::<i64>(row, "created_micros"))?);
        let next = match rows.last() {
            Some((order, micros)) if more => Some(OrderCursor::new(*micros, stored_order_id(&order.order_id)?)),
            _ => None,
        };
        Ok((rows.into_iter().map(|(order, _)| order).collect(), next))
    }

    /// Gives `account` the orders placed from `session` that have no account yet; how many.
    /// Idempotent: a repeat finds none left. `updated_at` stays: the reconciler's grace period
    /// is about the order's progress, which this does not change.
    pub fn claim_for_account(&self, session: &str, account: &str) -> Result<u64, ShopError> {
        self.conn
            .execute(
                "UPDATE orders SET account_id = $2 WHERE session = $1 AND account_id IS NULL",
                &[P::Str(session.into()), P::Str(account.into())],
            )
            .map_err(|e| pg_error("claim orders", e))
    }

    /// Saves a new `pending` order and its lines in one statement (so atomically), and returns
    /// its `created_at`. Returns `None`, saving nothing, when the checkout attempt already has an
    /// order.
    pub fn insert_pending(&self, order: &Order, attempt_id: &str) -> Result<Option<String>, ShopError> {
        // Both inserts run whether or not the final SELECT reads them (data-modifying CTEs). The
        // new order starts leased to its shopper for SHOPPER_LEASE_SECONDS (60).
        let sql = concat!(
            "WITH new_order AS ( \
                INSERT INTO orders (order_id, session, attempt_id, status, email, ship_name, ship_street, \
                    ship_city, ship_postal_code, ship_country, currency, subtotal_minor, shipping_minor, total_minor, \
                    reconcile_lease, reconcile_lease_until, account_id, rates) \
                VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                    'shopper', now() + interval '60 seconds', $21::text, $24) \
                ON CONFLICT (session, attempt_id) DO NOTHING \
                RETURNING order_id, created_at), \
            new_lines AS ( \
                INSERT INTO order_lines (order_id, line_no, sku, name, image, unit_price_minor, quantity, line_total_minor, \
                    catalog_unit_price_minor, catalog_currency) \
                SELECT new_order.order_id, l.line_no, l.sku, l.name, l.image, l.unit_price_minor, l.quantity, l.line_total_minor, \
                    l.catalog_unit_price_minor, l.catalog_currency \
                FROM new_order, unnest($14::int4[], $15::text[], $16::text[], $17::text[], $18::int8[], $19::int4[], $20::int8[], \
                        $22::int8[], $23::text[]) \
                    AS l(line_no, sku, name, image, unit_price_minor, quantity, line_total_minor, \
                        catalog_unit_price_minor, catalog_currency)) \
            SELECT (SELECT ",
            created_at_text!(),
            " FROM new_order) AS created_at"
        );
        let lines = &order.lines;
        let strs = |f: fn(&OrderLine) -> &String| {
            P::ArrayStr(lines.iter().map(|l| Some(f(l).clone())).collect())
        };
        let mut line_numbers = Vec::with_capacity(lines.len());
        let mut quantities = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            line_numbers.push(Some(
                i32::try_from(i + 1).map_err(|_| too_big("line number"))?,
            ));
            quantities.push(Some(
                i32::try_from(line.quantity).map_err(|_| too_big("quantity"))?,
            ));
        }
        let a = &order.address;
        let params = [
            P::Str(order.order_id.clone()),
            P::Str(order.session.clone()),
            P::Str(attempt_id.into()),
            P::Str(order.email.clone()),
            P::Str(a.name.clone()),
            P::Str(a.street.clone()),
            P::Str(a.city.clone()),
            P::Str(a.postal_code.clone()),
            P::Str(a.country.clone()),
            P::Str(order.total.currency.clone()),
            P::Int64(order.subtotal.minor),
            P::Int64(order.shipping.minor),
            P::Int64(order.total.minor),
            P::ArrayInt32(line_numbers),
            strs(|l| &l.sku),
            strs(|l| &l.name),
            strs(|l| &l.image),
            P::ArrayInt64(lines.iter().map(|l| Some(l.unit_price.minor)).collect()),
            P::ArrayInt32(quantities),
            P::ArrayInt64(lines.iter().map(|l| Some(l.line_total.minor)).collect()),
            order.account_id.clone().map_or(P::DbNull, P::Str),
            P::ArrayInt64(lines.iter().map(|l| Some(l.catalog_unit_price.minor)).collect()),
            strs(|l| &l.catalog_unit_price.currency),
            P::Str(rates_to_text(&order.rates)?),
        ];
        // Always one row (a scalar subquery: see `read_one_row`); NULL when the attempt's order
        // already existed.
        let rows = read_one_row(&self.conn, "insert order", sql, &params)?;
        let first_row = rows.rows().next();
        Ok(first_row.map(|row| column::<Option<String>>(&row, "created_at")).transpose()?.flatten())
    }

    /// pending → paid, recording the charge.
    pub fn mark_paid(&self, order_id: &str, transaction_id: &str) -> Result<bool, ShopError> {
        self.update(
            "UPDATE orders SET status = 'paid', transaction_id = $2, updated_at = now() \
             WHERE order_id = $1 AND status = 'pending'",
            &[P::Str(order_id.into()), P::Str(transaction_id.into())],
        )
    }

    /// A shipped order, in one statement: pending (a shopper's fresh charge, not yet recorded)
    /// or paid → completed, recording the charge and the shipment; never once a refund was
    /// started. False when the order had moved on.
    pub fn complete(&self, order: &Order) -> Result<bool, ShopError> {
        let (Some(transaction_id), Some(tracking_id)) = (&order.transaction_id, &order.tracking_id) else {
            return Err(ShopError::internal("A shipped order lacks its transaction or tracking id"));
        };
        self.update(
            "UPDATE orders SET status = 'completed', transaction_id = $2, tracking_id = $3, updated_at = now() \
             WHERE order_id = $1 AND status IN ('pending', 'paid') AND NOT refund_started",
            &[
                P::Str(order.order_id.clone()),
                P::Str(transaction_id.clone()),
                P::Str(tracking_id.clone()),
            ],
        )
    }

    /// pending or paid → failed, with the reason in words for the shopper; `notice_due` when
    /// the shopper is not there to see it (the reconciler), so that a failure notice is sent.
    /// The same statement marks the order's stock as due for release: whoever failed it then
    /// releases it and calls [`Store::stock_released`]; if that never happens, the reconciler
    /// finds the flag.
    pub fn mark_failed(&self, order_id: &str, failure: &str, notice_due: bool) -> Result<bool, ShopError> {
        self.update(
            "UPDATE orders SET status = 'failed', failure = $2, notice_due = $3, stock_release_due = true, \
                 updated_at = now() \
             WHERE order_id = $1 AND status IN ('pending', 'paid')",
            &[P::Str(order_id.into()), P::Str(failure.into()), P::Boolean(notice_due)],
        )
    }

    /// Products gave a failed order's units back: nothing is due any more. `updated_at` stays
    /// (the reconciler's grace period is about the order's progress).
    pub fn stock_released(&self, order_id: &str) -> Result<bool, ShopError> {
        self.update(
            "UPDATE orders SET stock_release_due = false \
             WHERE order_id = $1 AND status = 'failed' AND stock_release_due",
            &[P::Str(order_id.into())],
        )
    }

    /// An order by id alone (the reconciler works across sessions).
    pub fn get_by_id(&self, order_id: &str) -> Result<Option<Order>, ShopError> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1");
        Ok(self.orders(&sql, &[P::Str(order_id.into())])?.into_iter().next())
    }

    /// Marks a paid order as being refunded, before the refund: from then on it can only fail.
    /// False when it is no longer paid (another request finished it).
    pub fn start_refund(&self, order_id: &str) -> Result<bool, ShopError> {
        self.update(
            "UPDATE orders SET refund_started = true WHERE order_id = $1 AND status = 'paid'",
            &[P::Str(order_id.into())],
        )
    }

    /// A shopper's request resuming an order takes its lease (for [`SHOPPER_LEASE_SECONDS`]):
    /// `None` while a reconciler holds it; otherwise whether a refund was started. Shoppers do
    /// not exclude each other (repeats of one attempt are idempotent anyway).
    pub fn lease_for_shopper(&self, order_id: &str) -> Result<Option<bool>, ShopError> {
        let sql = "WITH taken AS ( \
                UPDATE orders SET reconcile_lease = 'shopper', \
                    reconcile_lease_until = now() + make_interval(secs => $2::int4) \
                WHERE order_id = $1 AND (reconcile_lease_until IS NULL OR reconcile_lease_until < now() \
                    OR reconcile_lease = 'shopper') \
                RETURNING refund_started) \
            SELECT (SELECT refund_started FROM taken) AS refund_started";
        let params = [P::Str(order_id.into()), P::Int32(SHOPPER_LEASE_SECONDS)];
        let rows = read_one_row(&self.conn, "lease an order", sql, &params)?;
        let taken = match rows.rows().next() {
            Some(row) => column::<Option<bool>>(&row, "refund_started")?,
            None => None,
        };
        Ok(taken)
    }

    /// Takes up to `limit` orders that need the reconciler and were left alone for `grace_seconds`:
    /// pending or paid (created within `max_age_seconds`: older ones are left to an operator),
    /// completed without their confirmation, failed with a notice due, or failed with their
    /// stock still held (of any age: giving units back is always safe). Each is leased to
    /// `lease` for `lease_seconds` in the same statement; orders another reconciler has locked,
    /// or anyone holds a live lease on, are skipped. The least recently tried come first.
    pub fn claim_unfinished(&self, claim: &Claim<'_>) -> Result<Claimed, ShopError> {
        let sql = "WITH claimed AS ( \
                UPDATE orders SET reconcile_lease = $4, reconcile_lease_until = now() + make_interval(secs => $3::int4) \
                WHERE order_id IN ( \
                    SELECT order_id FROM orders \
                    WHERE updated_at < now() - make_interval(secs => $1::int4) \
                      AND (reconcile_lease_until IS NULL OR reconcile_lease_until < now()) \
                      AND ((status IN ('pending', 'paid') AND created_at > now() - make_interval(secs => $5::int4)) \
                           OR (status = 'completed' AND NOT email_sent) \
                           OR (status = 'failed' AND notice_due AND NOT email_sent) \
                           OR (status = 'failed' AND stock_release_due)) \
                    ORDER BY reconcile_attempted_at NULLS FIRST, updated_at LIMIT $2 \
                    FOR UPDATE SKIP LOCKED) \
                RETURNING order_id, refund_started, status, stock_release_due) \
            SELECT (SELECT array_agg(order_id) FROM claimed) AS ids, \
                   (SELECT array_agg(order_id) FROM claimed WHERE refund_started) AS refunding, \
                   (SELECT array_agg(order_id) FROM claimed WHERE status = 'failed' AND stock_release_due) AS release_due";
        let params = [
            P::Int32(seconds(claim.grace_seconds)?),
            P::Int64(i64::from(claim.limit)),
            P::Int32(seconds(claim.lease_seconds)?),
            P::Str(claim.lease.into()),
            P::Int32(seconds(claim.max_age_seconds)?),
        ];
        let rows = read_one_row(&self.conn, "claim unfinished orders", sql, &params)?;
        let nothing = || Claimed { orders: Vec::new(), refunding: Vec::new(), release_due: Vec::new() };
        let Some(row) = rows.rows().next() else {
            return Ok(nothing());
        };
        let ids_in = |name: &str| -> Result<Vec<Option<String>>, ShopError> {
            Ok(column::<Option<Vec<Option<String>>>>(&row, name)?.unwrap_or_default())
        };
        let ids = ids_in("ids")?;
        let refunding = ids_in("refunding")?;
        let release_due = ids_in("release_due")?;
        if ids.is_empty() {
            return Ok(nothing());
        }
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ANY($1::text[]) ORDER BY updated_at");
        Ok(Claimed {
            orders: self.orders(&sql, &[P::ArrayStr(ids)])?,
            refunding: refunding.into_iter().flatten().collect(),
            release_due: release_due.into_iter().flatten().collect(),
        })
    }

    /// Ends `lease` on an order (not anyone else's) and records the attempt, so that the next
    /// run may take it again, after the orders it has not tried yet.
    pub fn release(&self, order_id: &str, lease: &str) -> Result<bool, ShopError> {
        self.update(
            "UPDATE orders SET reconcile_lease = NULL, reconcile_lease_until = NULL, reconcile_attempted_at = now() \
             WHERE order_id = $1 AND reconcile_lease = $2",
            &[P::Str(order_id.into()), P::Str(lease.into())],
        )
    }

    /// Whether a failure notice is owed for an order (the reconciler failed it).
    pub fn notice_due(&self, order_id: &str) -> Result<bool, ShopError> {
        let sql = "SELECT (SELECT notice_due FROM orders WHERE order_id = $1) AS notice_due";
        let rows = read_one_row(&self.conn, "read notice_due", sql, &[P::Str(order_id.into())])?;
        let due = match rows.rows().next() {
            Some(row) => column::<Option<bool>>(&row, "notice_due")?.unwrap_or(false),
            None => false,
        };
        Ok(due)
    }

    /// Orders still pending or paid `alert_seconds` after they were created, or failed that long
    /// ago with their stock still held: how many, and the oldest few ids (for the log line an
    /// operator acts on).
    pub fn stuck(&self, alert_seconds: u32) -> Result<(u32, Vec<String>), ShopError> {
        let sql = "SELECT count(*) AS n, (array_agg(order_id ORDER BY created_at))[1:20] AS ids FROM orders \
                   WHERE (status IN ('pending', 'paid') AND created_at < now() - make_interval(secs => $1::int4)) \
                      OR (status = 'failed' AND stock_release_due AND updated_at < now() - make_interval(secs => $1::int4))";
        let rows = read_one_row(&self.conn, "count stuck orders", sql, &[P::Int32(seconds(alert_seconds)?)])?;
        let Some(row) = rows.rows().next() else {
            return Ok((0, Vec::new()));
        };
        let n: i64 = column(&row, "n")?;
        let ids: Vec<Option<String>> = column::<Option<Vec<Option<String>>>>(&row, "ids")?.unwrap_or_default();
        Ok((u32::try_from(n).unwrap_or(u32::MAX), ids.into_iter().flatten().collect()))
    }

    pub fn mark_email_sent(&self, order_id: &str) -> Result<bool, ShopError> {
        self.update(
            "UPDATE orders SET email_sent = true, updated_at = now() WHERE order_id = $1",
            &[P::Str(order_id.into())],
        )
    }

    fn update(&self, sql: &str, params: &[P]) -> Result<bool, ShopError> {
        Ok(self
            .conn
            .execute(sql, params)
            .map_err(|e| pg_error("update order", e))?
            > 0)
    }

    /// Runs an order query, then fetches all their lines with one more query.
    fn orders(&self, sql: &str, params: &[P]) -> Result<Vec<Order>, ShopError> {
        let orders = self.orders_with(sql, params, |_| Ok(()))?;
        Ok(orders.into_iter().map(|(order, ())| order).collect())
    }

    /// As [`Store::orders`], with something more read from each order's row.
    fn orders_with<T>(
        &self,
        sql: &str,
        params: &[P],
        extra: impl Fn(&Row<'_>) -> Result<T, ShopError>,
    ) -> Result<Vec<(Order, T)>, ShopError> {
        let rows = read(&self.conn, "read orders", sql, params)?;
        let mut orders = rows
            .rows()
            .map(|row| Ok((order_from_row(&row)?, extra(&row)?)))
            .collect::<Result<Vec<_>, ShopError>>()?;
        if orders.is_empty() {
            return Ok(orders);
        }
        let ids = orders.iter().map(|(o, _)| Some(o.order_id.clone())).collect();
        let lines = read(
            &self.conn,
            "read order lines",
            "SELECT order_id, sku, name, image, unit_price_minor, quantity, line_total_minor, \
                 catalog_unit_price_minor, catalog_currency \
             FROM order_lines WHERE order_id = ANY($1::text[]) ORDER BY order_id, line_no",
            &[P::ArrayStr(ids)],
        )?;
        for row in lines.rows() {
            let order_id: String = column(&row, "order_id")?;
            if let Some((order, _)) = orders.iter_mut().find(|(o, _)| o.order_id == order_id) {
                let currency = order.total.currency.clone();
                order.lines.push(line_from_row(&row, currency)?);
            }
        }
        Ok(orders)
    }
}

fn order_from_row(row: &Row<'_>) -> Result<Order, ShopError> {
    let currency: String = column(row, "currency")?;
    let money = |name: &str| -> Result<Money, ShopError> {
        Ok(Money {
            minor: column(row, name)?,
            currency: currency.clone(),
        })
    };
    Ok(Order {
        order_id: column(row, "order_id")?,
        session: column(row, "session")?,
        account_id: column(row, "account_id")?,
        status: status_from_text(&column::<String>(row, "status")?)?,
        email: column(row, "email")?,
        address: Address {
            name: column(row, "ship_name")?,
            street: column(row, "ship_street")?,
            city: column(row, "ship_city")?,
            postal_code: column(row, "ship_postal_code")?,
            country: column(row, "ship_country")?,
        },
        lines: Vec::new(),
        subtotal: money("subtotal_minor")?,
        shipping: money("shipping_minor")?,
        total: money("total_minor")?,
        transaction_id: column(row, "transaction_id")?,
        tracking_id: column(row, "tracking_id")?,
        failure: column(row, "failure")?,
        created_at: column(row, "created_at")?,
        email_sent: column(row, "email_sent")?,
        rates: rates_from_text(&column::<String>(row, "rates")?)?,
    })
}

/// The rates an order was converted with, as stored (a JSON list of rate-used records).
fn rates_to_text(rates: &[RateUsed]) -> Result<String, ShopError> {
    serde_json::to_string(rates).map_err(|e| ShopError::internal(format!("An order's exchange rates could not be stored: {e}")))
}

/// The stored rates of an order; only this module writes them, so unreadable ones are a bug.
fn rates_from_text(text: &str) -> Result<Vec<RateUsed>, ShopError> {
    serde_json::from_str(text).map_err(|e| {
        shop_spin::log::error(&format!("a stored order's rates are unreadable: {e}"));
        ShopError::internal("A stored order's exchange rates are unreadable")
    })
}

fn line_from_row(row: &Row<'_>, currency: String) -> Result<OrderLine, ShopError> {
    let quantity: i32 = column(row, "quantity")?;
    let unit_price_minor: i64 = column(row, "unit_price_minor")?;
    // Lines stored before migration 0004 have no catalog price: it was the unit price.
    let catalog_unit_price = match (
        column::<Option<i64>>(row, "catalog_unit_price_minor")?,
        column::<Option<String>>(row, "catalog_currency")?,
    ) {
        (Some(minor), Some(catalog_currency)) => Money { minor, currency: catalog_currency },
        _ => Money { minor: unit_price_minor, currency: currency.clone() },
    };
    Ok(OrderLine {
        sku: column(row, "sku")?,
        name: column(row, "name")?,
        image: column(row, "image")?,
        unit_price: Money {
            minor: unit_price_minor,
            currency: currency.clone(),
        },
        quantity: u32::try_from(quantity)
            .map_err(|_| ShopError::internal("A stored order line has a negative quantity"))?,
        line_total: Money {
            minor: column(row, "line_total_minor")?,
            currency,
        },
        catalog_unit_price,
    })
}

/// The statuses the table allows (see its CHECK constraint).
fn status_from_text(text: &str) -> Result<OrderStatus, ShopError> {
    match text {
        "pending" => Ok(OrderStatus::Pending),
        "paid" => Ok(OrderStatus::Paid),
        "completed" => Ok(OrderStatus::Completed),
        "failed" => Ok(OrderStatus::Failed),
        other => Err(ShopError::internal(format!(
            "A stored order has an unknown status `{other}`"
        ))),
    }
}

/// An order id read back from the table, which only ever stores valid ones.
fn stored_order_id(text: &str) -> Result<OrderId, ShopError> {
    OrderId::parse(text).map_err(|_| ShopError::internal(format!("A stored order has an invalid number `{text}`")))
}

fn seconds(s: u32) -> Result<i32, ShopError> {
    i32::try_from(s).map_err(|_| too_big("interval"))
}

fn too_big(what: &str) -> ShopError {
    ShopError::internal(format!("An order's {what} is too large to store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orders_rates_round_trip_as_json_text_with_rates_as_strings() {
        let rates = vec![RateUsed {
            currency: "EUR".into(),
            per_usd: "0.920000".into(),
            valid_from: "2026-01-01T00:00:00Z".into(),
        }];
        let text = rates_to_text(&rates).unwrap();
        assert_eq!(text, r#"[{"currency":"EUR","per_usd":"0.920000","valid_from":"2026-01-01T00:00:00Z"}]"#);
        assert_eq!(rates_from_text(&text).unwrap(), rates);
        // Orders stored before migration 0004 have the column's default.
        assert_eq!(rates_from_text("[]").unwrap(), Vec::new());
        assert_eq!(rates_from_text("{").unwrap_err().code, shop_contract::ErrorCode::Internal);
    }

    #[test]
    fn migration_0004_is_six_statements_and_keeps_the_reconcilers_index_complete() {
        let sql = MIGRATIONS.iter().find(|m| m.version == 4).map(|m| m.sql).unwrap_or_default();
        let statements = shop_spin::store::statements(sql);
        assert_eq!(statements.len(), 6, "{statements:#?}");
        let index = statements.last().cloned().unwrap_or_default();
        for predicate in [
            "status IN ('pending', 'paid')",
            "(status = 'completed' AND NOT email_sent)",
            "(status = 'failed' AND notice_due AND NOT email_sent)",
            "(status = 'failed' AND stock_release_due)",
        ] {
            assert!(index.contains(predicate), "{predicate} missing from {index}");
        }
        assert_eq!(MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }
}
