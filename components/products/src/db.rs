//! The catalog's SQL: parameterised queries, rows decoded and validated into shop-domain products.
//!
//! Timestamps are never selected as such: Spin cannot read `timestamptz` columns, so they are
//! read as RFC 3339 text (`shop_spin::rfc3339_utc!`).
//!
//! Every catalog read fetches the exchange rates in force in the same statement as its products
//! (a one-row CTE of arrays that the products are joined to), so a read is one statement, two
//! with recommendations, never one per product.
use shop_contract::{MigrationReport, ShopError};
use shop_domain::catalog::{Category, ListQuery, Product, ProductInput};
use shop_domain::Sku;
use shop_spin::store::{column, pg_error, Migration};
use spin_sdk::pg4::{Connection, ParameterValue, Row, RowSet};

use crate::pricing::StoredRate;
use crate::recommend::Signals;

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "catalog",
        sql: include_str!("../migrations/0001_catalog.sql"),
    },
    Migration {
        version: 2,
        name: "seed",
        sql: include_str!("../migrations/0002_seed.sql"),
    },
    Migration {
        version: 3,
        name: "commerce",
        sql: include_str!("../migrations/0003_commerce.sql"),
    },
];

/// The columns every product query selects, in the names [`decode`] reads.
const COLUMNS: &str = "sku, name, description, price_minor, currency, category, image, stock";

/// One row: the rates in force (latest `valid_from <= now()` of each currency) as three
/// parallel arrays ordered by currency, empty when there are none.
const CURRENT_RATES: &str = concat!(
    "SELECT coalesce(array_agg(currency ORDER BY currency), '{}') AS rate_currencies, ",
    "coalesce(array_agg(per_usd_micros ORDER BY currency), '{}') AS rate_micros, ",
    "coalesce(array_agg(valid_from_text ORDER BY currency), '{}') AS rate_valid_from ",
    "FROM (SELECT DISTINCT ON (currency) currency, per_usd_micros, ",
    shop_spin::rfc3339_utc!("valid_from"),
    // Not named `valid_from`: ORDER BY would then sort this text (whole seconds), not the time.
    " AS valid_from_text FROM exchange_rates WHERE valid_from <= now() ",
    "ORDER BY currency, exchange_rates.valid_from DESC) AS current_rate"
);

/// A product as the catalog holds it: the validated product and the units still sellable.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub product: Product,
    pub stock: u32,
}

/// What a catalog read answers: its products (and, for a list, the total) and the rates in force.
#[derive(Debug, Default)]
pub struct Read {
    pub products: Vec<Listed>,
    pub rates: Vec<StoredRate>,
    /// The window count of a list query (0 when no row carried it).
    pub total: i64,
}

pub fn migrate(conn: &Connection) -> Result<MigrationReport, ShopError> {
    shop_spin::store::migrate(conn, "products", MIGRATIONS)
}

/// How many products each category has (categories without products are absent).
pub fn category_counts(conn: &Connection) -> Result<Vec<(Category, u32)>, ShopError> {
    let rows = query(
        conn,
        "SELECT category, count(*) AS products FROM products GROUP BY category",
        &[],
    )?;
    let mut counts = Vec::new();
    for row in rows.rows() {
        let slug: String = column(&row, "category")?;
        let n: i64 = column(&row, "products")?;
        match Category::parse(&slug) {
            Ok(c) => counts.push((c, u32::try_from(n).unwrap_or(u32::MAX))),
            Err(_) => {
                shop_spin::log::error(&format!("{n} products have the unknown category {slug:?}"))
            }
        }
    }
    Ok(counts)
}

/// `inner` (a products query selecting [`COLUMNS`]) joined to the rates in force: always at
/// least one row, whose product columns are NULL when `inner` has none.
fn with_rates(inner: &str, order: &str) -> String {
    format!(
        "WITH rates AS ({CURRENT_RATES}) \
         SELECT rates.rate_currencies, rates.rate_micros, rates.rate_valid_from, p.* \
         FROM rates LEFT JOIN LATERAL ({inner}) AS p ON true{order}"
    )
}

/// Runs a [`with_rates`] statement and decodes its rates and products.
fn read_with_rates(
    conn: &Connection,
    sql: &str,
    params: &[ParameterValue],
    total: bool,
) -> Result<Read, ShopError> {
    let rows = query(conn, sql, params)?;
    let mut read = Read::default();
    for (i, row) in rows.rows().enumerate() {
        if i == 0 {
            read.rates = decode_rates(&row)?;
        }
        if column::<Option<String>>(&row, "sku")?.is_none() {
            continue;
        }
        if total {
            read.total = column::<i64>(&row, "total")?;
        }
        read.products.push(decode(&row)?);
    }
    Ok(read)
}

/// One page of products and the total number matching, ordered by name, with the rates in force.
pub fn list(conn: &Connection, q: &ListQuery) -> Result<Read, ShopError> {
    let (filter, mut params) = list_filter(q);
    params.push(ParameterValue::Int64(i64::from(q.page_size())));
    let limit = params.len();
    params.push(ParameterValue::Int64(i64::from(q.offset())));
    let offset = params.len();
    // The window count gives the total in the same round trip as the page.
    let inner = format!(
        "SELECT {COLUMNS}, count(*) OVER () AS total FROM products{filter} \
         ORDER BY name, sku LIMIT ${limit} OFFSET ${offset}"
    );
    let mut read = read_with_rates(
        conn,
        &with_rates(&inner, " ORDER BY p.name, p.sku"),
        &params,
        true,
    )?;
    if read.products.is_empty() && q.offset() > 0 {
        // A page past the end has no rows to carry the count.
        let (filter, params) = list_filter(q);
        let rows = query(
            conn,
            &format!("SELECT count(*) AS total FROM products{filter}"),
            &params,
        )?;
        if let Some(row) = rows.rows().next() {
            read.total = column::<i64>(&row, "total")?;
        };
    }
    Ok(read)
}
/// The `WHERE` clause of a list query and its parameters (`$1`...).
fn list_filter(q: &ListQuery) -> (String, Vec<ParameterValue>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    if let Some(category) = q.category() {
        params.push(ParameterValue::Str(category.slug().to_string()));
        clauses.push(format!("category = ${}", params.len()));
    }
    if let Some(pattern) = q.like_pattern() {
        params.push(ParameterValue::Str(pattern));
        let p = params.len();
        // Only slugs are stored, so categories whose name matches are found in Rust.
        let slugs = q
            .matching_categories()
            .into_iter()
            .map(|c| Some(c.slug().to_string()))
            .collect();
        params.push(ParameterValue::ArrayStr(slugs));
        let c = params.len();
        clauses.push(format!(
            "(name ILIKE ${p} ESCAPE '\\' OR description ILIKE ${p} ESCAPE '\\' OR category = ANY(${c}))"
        ));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (filter, params)
}

/// The product with `sku` (if any) and the rates in force.
pub fn get(conn: &Connection, sku: &Sku) -> Result<Read, ShopError> {
    let inner = format!("SELECT {COLUMNS} FROM products WHERE sku = $1");
    read_with_rates(
        conn,
        &with_rates(&inner, ""),
        &[ParameterValue::Str(sku.to_string())],
        false,
    )
}

/// The products among `skus` that exist, in no particular order, and the rates in force: one
/// query with a text array.
pub fn get_many(conn: &Connection, skus: &[Sku]) -> Result<Read, ShopError> {
    let array = skus.iter().map(|s| Some(s.to_string())).collect();
    let inner = format!("SELECT {COLUMNS} FROM products WHERE sku = ANY($1)");
    read_with_rates(
        conn,
        &with_rates(&inner, ""),
        &[ParameterValue::ArrayStr(array)],
        false,
    )
}

/// The candidates for recommendations next to `anchors`, with the signals the rule in
/// [`crate::recommend`] ranks by: every product bought together with an anchor, and the `n`
/// best sellers of each anchor's category and of the whole catalog (in the rule's own order of
/// those tiers, so the best `n` by the rule are always among them). Anchors and sold-out
/// products are left out. One query.
pub fn recommendation_candidates(
    conn: &Connection,
    anchors: &[Sku],
    n: u32,
) -> Result<Vec<(Listed, Signals)>, ShopError> {
    const SQL: &str = "WITH anchor AS ( \
            SELECT sku, category FROM products WHERE sku = ANY($1::text[]) \
        ), together AS ( \
            SELECT other AS sku, sum(orders) AS together FROM co_purchases \
            WHERE sku = ANY($1::text[]) AND other <> ALL($1::text[]) AND orders > 0 \
            GROUP BY other \
        ), candidate AS ( \
            SELECT sku FROM together \
            UNION \
            SELECT s.sku FROM (SELECT DISTINCT category FROM anchor) AS a CROSS JOIN LATERAL ( \
                SELECT p.sku FROM products p \
                WHERE p.category = a.category AND p.stock > 0 AND p.sku <> ALL($1::text[]) \
                ORDER BY p.units_sold DESC, p.sku COLLATE \"C\" LIMIT $2 \
            ) AS s \
            UNION \
            SELECT b.sku FROM ( \
                SELECT p.sku FROM products p WHERE p.stock > 0 AND p.sku <> ALL($1::text[]) \
                ORDER BY p.units_sold DESC, p.sku COLLATE \"C\" LIMIT $2 \
            ) AS b \
        ) \
        SELECT p.sku, p.name, p.description, p.price_minor, p.currency, p.category, p.image, p.stock, \
            p.units_sold, coalesce(t.together, 0) AS together, \
            p.category IN (SELECT category FROM anchor) AS same_category \
        FROM candidate k JOIN products p ON p.sku = k.sku LEFT JOIN together t ON t.sku = k.sku \
        WHERE p.stock > 0";
    let array = anchors.iter().map(|s| Some(s.to_string())).collect();
    let rows = query(
        conn,
        SQL,
        &[
            ParameterValue::ArrayStr(array),
            ParameterValue::Int64(i64::from(n)),
        ],
    )?;
    rows.rows()
        .map(|row| {
            let listed = decode(&row)?;
            let signals = Signals {
                together: column(&row, "together")?,
                same_category: column(&row, "same_category")?,
                units_sold: i64::from(column::<i32>(&row, "units_sold")?),
                stock: listed.stock,
            };
            Ok((listed, signals))
        })
        .collect()
}

/// Inserts `p`; its stock (the column's default) when stored, `None` if its SKU already
/// exists (nothing changed).
pub fn insert(conn: &Connection, p: &Product) -> Result<Option<u32>, ShopError> {
    let rows = shop_spin::store::read_one_row(
        conn,
        "insert product",
        "WITH inserted AS (INSERT INTO products (sku, name, description, price_minor, currency, category, image) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sku) DO NOTHING RETURNING stock) \
         SELECT (SELECT stock FROM inserted) AS stock",
        &values(p),
    )?;
    stock_of(&rows)
}

/// Replaces the product with `p`'s SKU (its stock stays); its stock, `None` if there is none.
pub fn update(conn: &Connection, p: &Product) -> Result<Option<u32>, ShopError> {
    let rows = shop_spin::store::read_one_row(
        conn,
        "update product",
        "WITH updated AS (UPDATE products SET name = $2, description = $3, price_minor = $4, currency = $5, \
         category = $6, image = $7, updated_at = now() WHERE sku = $1 RETURNING stock) \
         SELECT (SELECT stock FROM updated) AS stock",
        &values(p),
    )?;
    stock_of(&rows)
}

fn stock_of(rows: &RowSet) -> Result<Option<u32>, ShopError> {
    match rows.rows().next() {
        Some(row) => Ok(column::<Option<i32>>(&row, "stock")?.map(stock_units)),
        None => Ok(None),
    }
}

/// A stored stock count (never negative: the column's CHECK) as units.
pub fn stock_units(stock: i32) -> u32 {
    u32::try_from(stock).unwrap_or(0)
}

fn values(p: &Product) -> [ParameterValue; 7] {
    [
        ParameterValue::Str(p.sku().to_string()),
        ParameterValue::Str(p.name().to_string()),
        ParameterValue::Str(p.description().to_string()),
        ParameterValue::Int64(p.price().minor()),
        ParameterValue::Str(p.price().currency().code().to_string()),
        ParameterValue::Str(p.category().slug().to_string()),
        ParameterValue::Str(p.image().to_string()),
    ]
}

/// The rates in force and the ones scheduled, `(current, scheduled)`: current by currency,
/// scheduled by when they take effect.
pub fn rate_table(conn: &Connection) -> Result<(Vec<StoredRate>, Vec<StoredRate>), ShopError> {
    const SQL: &str = concat!(
        "SELECT * FROM (SELECT DISTINCT ON (currency) false AS scheduled, currency, per_usd_micros, ",
        shop_spin::rfc3339_utc!("valid_from"),
        " AS valid_from_text, valid_from FROM exchange_rates WHERE valid_from <= now() ",
        "ORDER BY currency, valid_from DESC) AS current_rate ",
        "UNION ALL SELECT true, currency, per_usd_micros, ",
        shop_spin::rfc3339_utc!("valid_from"),
        ", valid_from FROM exchange_rates WHERE valid_from > now()"
    );
    // `valid_from` itself is only sorted by, never decoded (Spin cannot read timestamptz).
    let sql = format!(
        "SELECT scheduled, currency, per_usd_micros, valid_from_text FROM ({SQL}) AS t \
         ORDER BY scheduled, valid_from, currency"
    );
    let rows = query(conn, &sql, &[])?;
    let (mut current, mut scheduled) = (Vec::new(), Vec::new());
    for row in rows.rows() {
        let rate = StoredRate::from_row(
            &column::<String>(&row, "currency")?,
            column(&row, "per_usd_micros")?,
            column(&row, "valid_from_text")?,
        );
        match (rate, column::<bool>(&row, "scheduled")?) {
            (Some(r), false) => current.push(r),
            (Some(r), true) => scheduled.push(r),
            (None, _) => {}
        }
    }
    Ok((current, scheduled))
}

/// Records the rates to take effect at `valid_from` (RFC 3339; none: now), all or none: one
/// statement. A rate for the same currency and instant is replaced.
pub fn insert_rates(conn: &Connection, rates: &crate::pricing::NewRates) -> Result<(), ShopError> {
    let currencies = rates
        .rates
        .iter()
        .map(|(c, _)| Some(c.code().to_string()))
        .collect();
    let micros = rates.rates.iter().map(|(_, r)| Some(r.micros())).collect();
    let valid_from = match &rates.valid_from {
        Some(t) => ParameterValue::Str(t.clone()),
        None => ParameterValue::DbNull,
    };
    conn.execute(
        "INSERT INTO exchange_rates (currency, per_usd_micros, valid_from) \
         SELECT r.currency, r.micros, coalesce($3::text::timestamptz, now()) \
         FROM unnest($1::text[], $2::int8[]) AS r(currency, micros) \
         ON CONFLICT (currency, valid_from) DO UPDATE SET per_usd_micros = EXCLUDED.per_usd_micros",
        &[
            ParameterValue::ArrayStr(currencies),
            ParameterValue::ArrayInt64(micros),
            valid_from,
        ],
    )
    .map_err(|e| pg_error("insert rates", e))?;
    Ok(())
}

pub(crate) fn query(
    conn: &Connection,
    sql: &str,
    params: &[ParameterValue],
) -> Result<RowSet, ShopError> {
    shop_spin::store::read(conn, "catalog query", sql, params)
}

/// The rates arrays of a [`with_rates`] row.
fn decode_rates(row: &Row<'_>) -> Result<Vec<StoredRate>, ShopError> {
    let currencies: Vec<Option<String>> = column(row, "rate_currencies")?;
    let micros: Vec<Option<i64>> = column(row, "rate_micros")?;
    let valid_from: Vec<Option<String>> = column(row, "rate_valid_from")?;
    Ok(currencies
        .into_iter()
        .zip(micros)
        .zip(valid_from)
        .filter_map(|((c, m), v)| StoredRate::from_row(&c?, m?, v?))
        .collect())
}

/// A row as a validated product and its stock. A row that breaks the catalog rules is a bug
/// (rows are validated on the way in), so it is logged in full and answered as 500.
fn decode(row: &Row<'_>) -> Result<Listed, ShopError> {
    let input = ProductInput {
        sku: column(row, "sku")?,
        name: column(row, "name")?,
        description: column(row, "description")?,
        price_minor: column(row, "price_minor")?,
        currency: column(row, "currency")?,
        category: column(row, "category")?,
        image: column(row, "image")?,
    };
    let stock = stock_units(column(row, "stock")?);
    let sku = input.sku.clone();
    let product = Product::parse(input).map_err(|errors| {
        shop_spin::log::error(&format!(
            "stored product {sku:?} is invalid: {}",
            shop_domain::validation::join_messages(&errors)
        ));
        ShopError::internal("A product in the catalog has invalid data")
    })?;
    Ok(Listed { product, stock })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_filters_number_their_parameters() {
        let q = ListQuery::parse(None, None, 1, 12).unwrap();
        let (filter, params) = list_filter(&q);
        assert_eq!((filter.as_str(), params.len()), ("", 0));

        let q = ListQuery::parse(Some("home"), Some("50%"), 2, 12).unwrap();
        let (filter, params) = list_filter(&q);
        assert_eq!(
            filter,
            " WHERE category = $1 AND (name ILIKE $2 ESCAPE '\\' OR description ILIKE $2 ESCAPE '\\' OR category = ANY($3))"
        );
        assert!(matches!(&params[1], ParameterValue::Str(p) if p == "%50\\%%"));
        assert!(matches!(&params[2], ParameterValue::ArrayStr(a) if a.is_empty()));

        let q = ListQuery::parse(None, Some("living"), 1, 12).unwrap();
        let (_, params) = list_filter(&q);
        assert!(
            matches!(&params[1], ParameterValue::ArrayStr(a) if a == &[Some("home".to_string())])
        );
    }

    #[test]
    fn seed_products_are_valid() {
        // Every seed row must pass the same validation as operator input, or the catalog answers 500.
        let seed = include_str!("../migrations/0002_seed.sql");
        let rows: Vec<&str> = seed
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("('"))
            .collect();
        assert!(rows.len() >= 24, "only {} seed products", rows.len());
        let mut skus = std::collections::HashSet::new();
        let mut categories = std::collections::HashSet::new();
        for line in rows {
            let fields = split_sql_tuple(line);
            assert_eq!(fields.len(), 7, "{line}");
            let product = Product::parse(ProductInput {
                sku: fields[0].clone(),
                name: fields[1].clone(),
                description: fields[2].clone(),
                price_minor: fields[3].parse().unwrap(),
                currency: fields[4].clone(),
                category: fields[5].clone(),
                image: fields[6].clone(),
            })
            .unwrap_or_else(|e| panic!("{line}: {e:?}"));
            assert_eq!(
                product.sku().as_str(),
                fields[0],
                "seed SKUs are stored in canonical form"
            );
            assert_eq!(product.name(), fields[1]);
            assert_eq!(product.image().to_string(), fields[6]);
            assert!(skus.insert(fields[0].clone()), "duplicate {}", fields[0]);
            categories.insert(product.category());
        }
        assert_eq!(
            categories.len(),
            Category::ALL.len(),
            "every category has products"
        );
    }

    #[test]
    fn the_commerce_migration_splits_into_whole_statements_and_seeds_the_design_rates() {
        let sql = include_str!("../migrations/0003_commerce.sql");
        let statements = shop_spin::store::statements(sql);
        assert_eq!(statements.len(), 12, "{statements:#?}");
        for s in &statements {
            let first = s.split_whitespace().next().unwrap_or("");
            assert!(
                ["ALTER", "UPDATE", "CREATE", "INSERT"].contains(&first),
                "{s}"
            );
            assert!(!s.contains(';'), "one statement each: {s}");
        }
        // Existing databases upgrade: nothing is created twice.
        for s in statements
            .iter()
            .filter(|s| s.starts_with("CREATE") || s.starts_with("ALTER"))
        {
            assert!(s.contains("IF NOT EXISTS"), "{s}");
        }
        let seeded: Vec<(String, i64)> = sql
            .lines()
            .filter_map(|l| {
                let l = l.trim().strip_prefix("('")?;
                let (code, rest) = l.split_once("', ")?;
                let micros = rest.split(',').next()?.trim().parse().ok()?;
                Some((code.to_string(), micros))
            })
            .collect();
        let design = [
            ("EUR", "0.92"),
            ("GBP", "0.79"),
            ("JPY", "151.25"),
            ("CAD", "1.36"),
            ("CHF", "0.88"),
            ("KWD", "0.3075"),
        ];
        assert_eq!(seeded.len(), design.len());
        for ((code, micros), (want_code, want_rate)) in seeded.iter().zip(design) {
            assert_eq!(code, want_code);
            assert_eq!(
                *micros,
                shop_domain::PerUsd::parse(want_rate).unwrap().micros(),
                "{code}"
            );
        }
        // The two low seed products exist.
        let seed = include_str!("../migrations/0002_seed.sql");
        for sku in ["OFF-STICKER-CORAL", "HOM-LAMP-AMBER"] {
            assert!(
                seed.contains(&format!("('{sku}'")) && sql.contains(&format!("sku = '{sku}'")),
                "{sku}"
            );
        }
    }

    /// `('a', 'it''s', 123, ...)` -> ["a", "it's", "123", ...].
    fn split_sql_tuple(line: &str) -> Vec<String> {
        let inner = line
            .trim_end_matches(',')
            .strip_prefix('(')
            .unwrap()
            .strip_suffix(')')
            .unwrap();
        let mut out = Vec::new();
        let mut chars = inner.chars().peekable();
        let mut current = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('\'', true) if chars.peek() == Some(&'\'') => {
                    chars.next();
                    current.push('\'');
                }
                ('\'', _) => quoted = !quoted,
                (',', false) => out.push(std::mem::take(&mut current).trim().to_string()),
                (c, _) => current.push(c),
            }
        }
        out.push(current.trim().to_string());
        out
    }
}
