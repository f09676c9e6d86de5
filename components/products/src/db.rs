//! The catalog's SQL: parameterised queries, rows decoded and validated into shop-domain products.
//!
//! Timestamps are never selected: Spin cannot read `timestamptz` columns, and the contract has none.
use shop_contract::{MigrationReport, ShopError};
use shop_domain::catalog::{Category, ListQuery, Product, ProductInput};
use shop_domain::Sku;
use shop_spin::store::{column, pg_error, Migration};
use spin_sdk::pg4::{Connection, ParameterValue, Row, RowSet};

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
];

/// The columns every product query selects, in the names [`decode`] reads.
const COLUMNS: &str = "sku, name, description, price_minor, currency, category, image";

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

/// One page of products and the total number matching, ordered by name.
pub fn list(conn: &Connection, q: &ListQuery) -> Result<(Vec<Product>, u32), ShopError> {
    let (filter, mut params) = list_filter(q);
    params.push(ParameterValue::Int64(i64::from(q.page_size())));
    let limit = params.len();
    params.push(ParameterValue::Int64(i64::from(q.offset())));
    let offset = params.len();
    // The window count gives the total in the same round trip as the page.
    let sql = format!(
        "SELECT {COLUMNS}, count(*) OVER () AS total FROM products{filter} \
         ORDER BY name, sku LIMIT ${limit} OFFSET ${offset}"
    );
    let rows = query(conn, &sql, &params)?;
    let mut total = 0;
    let mut products = Vec::new();
    for row in rows.rows() {
        total = column::<i64>(&row, "total")?;
        products.push(decode(&row)?);
    }
    if products.is_empty() && q.offset() > 0 {
        // A page past the end has no rows to carry the count.
        let (filter, params) = list_filter(q);
        let rows = query(
            conn,
            &format!("SELECT count(*) AS total FROM products{filter}"),
            &params,
        )?;
        if let Some(row) = rows.rows().next() {
            total = column::<i64>(&row, "total")?;
        };
    }
    Ok((products, u32::try_from(total).unwrap_or(u32::MAX)))
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

pub fn get(conn: &Connection, sku: &Sku) -> Result<Option<Product>, ShopError> {
    let rows = query(
        conn,
        &format!("SELECT {COLUMNS} FROM products WHERE sku = $1"),
        &[ParameterValue::Str(sku.to_string())],
    )?;
    let product = rows.rows().next().map(|row| decode(&row)).transpose();
    product
}

/// The products among `skus` that exist, in no particular order: one query with a text array.
pub fn get_many(conn: &Connection, skus: &[Sku]) -> Result<Vec<Product>, ShopError> {
    let array = skus.iter().map(|s| Some(s.to_string())).collect();
    let rows = query(
        conn,
        &format!("SELECT {COLUMNS} FROM products WHERE sku = ANY($1)"),
        &[ParameterValue::ArrayStr(array)],
    )?;
    rows.rows().map(|row| decode(&row)).collect()
}

/// Inserts `p`; false if its SKU already exists (nothing changed).
pub fn insert(conn: &Connection, p: &Product) -> Result<bool, ShopError> {
    let n = conn
        .execute(
            "INSERT INTO products (sku, name, description, price_minor, currency, category, image) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sku) DO NOTHING",
            &values(p),
        )
        .map_err(|e| pg_error("insert product", e))?;
    Ok(n > 0)
}

/// Replaces the product with `p`'s SKU; false if there is none.
pub fn update(conn: &Connection, p: &Product) -> Result<bool, ShopError> {
    let n = conn
        .execute(
            "UPDATE products SET name = $2, description = $3, price_minor = $4, currency = $5, \
             category = $6, image = $7, updated_at = now() WHERE sku = $1",
            &values(p),
        )
        .map_err(|e| pg_error("update product", e))?;
    Ok(n > 0)
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

fn query(conn: &Connection, sql: &str, params: &[ParameterValue]) -> Result<RowSet, ShopError> {
    shop_spin::store::read(conn, "catalog query", sql, params)
}

/// A row as a validated product. A row that breaks the catalog rules is a bug (rows are
/// validated on the way in), so it is logged in full and answered as 500.
fn decode(row: &Row<'_>) -> Result<Product, ShopError> {
    let input = ProductInput {
        sku: column(row, "sku")?,
        name: column(row, "name")?,
        description: column(row, "description")?,
        price_minor: column(row, "price_minor")?,
        currency: column(row, "currency")?,
        category: column(row, "category")?,
        image: column(row, "image")?,
    };
    let sku = input.sku.clone();
    Product::parse(input).map_err(|errors| {
        shop_spin::log::error(&format!(
            "stored product {sku:?} is invalid: {}",
            shop_domain::validation::join_messages(&errors)
        ));
        ShopError::internal("A product in the catalog has invalid data")
    })
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
