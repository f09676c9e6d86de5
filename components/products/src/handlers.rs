//! The catalog operations: parse the request into shop-domain types, run at most two
//! statements (products with the rates in force, then recommendations), answer.
use shop_contract::catalog::{
    Category as CategorySummary, CategoryList, GetProductRequest, GetProductsRequest,
    GetProductsResponse, ListProductsRequest, ProductDetails, ProductPage, RateTable,
};
use shop_contract::catalog_admin::{ProductInput, SetRatesRequest, SetStockRequest, StockLevel};
use shop_contract::{FieldError, MigrationReport, NoParams, Product, ShopError};
use shop_domain::catalog::{self as domain, Category, ListQuery};
use shop_domain::Sku;

use crate::db::{self, Listed};
use crate::pricing::{self, Pricing, StoredRate};
use crate::recommend;

/// Every category, in display order, with how many products it has (0 included).
pub async fn list_categories(_: NoParams) -> Result<CategoryList, ShopError> {
    let conn = shop_spin::store::postgres()?;
    let counts = db::category_counts(&conn)?;
    let categories = Category::ALL
        .into_iter()
        .map(|c| CategorySummary {
            slug: c.slug().to_string(),
            name: c.name().to_string(),
            product_count: counts.iter().find(|(k, _)| *k == c).map_or(0, |(_, n)| *n),
        })
        .collect();
    Ok(CategoryList { categories })
}

/// One page of products, optionally of one category and matching a search text, priced in the
/// currency asked for.
pub async fn list_products(req: ListProductsRequest) -> Result<ProductPage, ShopError> {
    let query = ListQuery::parse(
        req.category.as_deref(),
        req.query.as_deref(),
        req.page,
        req.page_size,
    )
    .map_err(wire_fields);
    let (query, currency, _) = parse_read(query, req.currency.as_deref(), 0)?;
    let conn = shop_spin::store::postgres()?;
    let read = db::list(&conn, &query)?;
    let mut pricing = Pricing::new(currency, read.rates)?;
    Ok(ProductPage {
        products: priced(&read.products, &mut pricing)?,
        page: query.page(),
        page_size: query.page_size(),
        total: u32::try_from(read.total).unwrap_or(u32::MAX),
    })
}

/// A product and up to `recommendations` products bought with it.
pub async fn get_product(req: GetProductRequest) -> Result<ProductDetails, ShopError> {
    let sku = Sku::parse(&req.sku).map_err(|e| vec![FieldError::new("sku", e.to_string())]);
    let (sku, currency, n) = parse_read(sku, req.currency.as_deref(), req.recommendations)?;
    let conn = shop_spin::store::postgres()?;
    let read = db::get(&conn, &sku)?;
    let mut pricing = Pricing::new(currency, read.rates)?;
    let Some(listed) = read.products.first() else {
        return Err(ShopError::not_found(format!(
            "No product with SKU {sku}; check the code, or list the catalog to see which SKUs exist"
        )));
    };
    let product = to_contract(listed, &mut pricing)?;
    let recommendations = recommendations(&conn, std::slice::from_ref(&sku), n, &mut pricing)?;
    Ok(ProductDetails {
        product,
        recommendations,
    })
}

/// Up to 100 products in one query, in the order asked for; unknown SKUs are listed in
/// `missing`; up to `recommendations` products bought with them; the rates used.
pub async fn get_products(req: GetProductsRequest) -> Result<GetProductsResponse, ShopError> {
    let skus = domain::parse_sku_batch(&req.skus).map_err(wire_fields);
    let (skus, currency, n) = parse_read(skus, req.currency.as_deref(), req.recommendations)?;
    let mut response = GetProductsResponse {
        products: Vec::with_capacity(skus.len()),
        missing: Vec::new(),
        recommendations: Vec::new(),
        rates: Vec::new(),
    };
    if skus.is_empty() && n == 0 && currency.is_none() {
        return Ok(response);
    }
    let conn = shop_spin::store::postgres()?;
    let read = db::get_many(&conn, &skus)?;
    let mut pricing = Pricing::new(currency, read.rates)?;
    for sku in &skus {
        match read.products.iter().find(|p| p.product.sku() == sku) {
            Some(p) => response.products.push(to_contract(p, &mut pricing)?),
            None => response.missing.push(sku.to_string()),
        }
    }
    response.recommendations = recommendations(&conn, &skus, n, &mut pricing)?;
    response.rates = pricing.rates_used();
    Ok(response)
}

/// The common parts of a catalog read, checked with what it reads (`what`): the currency to
/// price in and how many recommendations (0..=12). A 400 names every bad field at once.
pub fn parse_read<T>(
    what: Result<T, Vec<FieldError>>,
    currency: Option<&str>,
    recommendations: u32,
) -> Result<(T, Option<shop_domain::Currency>, u32), ShopError> {
    let currency = pricing::parse_currency(currency);
    let n = recommend::parse_count(recommendations);
    match (what, currency, n) {
        (Ok(what), Ok(currency), Ok(n)) => Ok((what, currency, n)),
        (what, currency, n) => {
            let mut fields = what.err().unwrap_or_default();
            fields.extend(currency.err());
            fields.extend(n.err());
            Err(ShopError::invalid_fields(fields))
        }
    }
}

/// Up to `n` recommendations next to `anchors` (one query; none when `n` is 0).
fn recommendations(
    conn: &spin_sdk::pg4::Connection,
    anchors: &[Sku],
    n: u32,
    pricing: &mut Pricing,
) -> Result<Vec<Product>, ShopError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let candidates = db::recommendation_candidates(conn, anchors, n)?;
    let anchors: Vec<&str> = anchors.iter().map(Sku::as_str).collect();
    let best = recommend::rank(
        candidates,
        |l: &Listed| l.product.sku().as_str(),
        &anchors,
        n,
    );
    priced(&best, pricing)
}

/// The rates in force now, and those scheduled to take effect later.
pub async fn get_rates(_: NoParams) -> Result<RateTable, ShopError> {
    let conn = shop_spin::store::postgres()?;
    rate_table(&conn)
}

fn rate_table(conn: &spin_sdk::pg4::Connection) -> Result<RateTable, ShopError> {
    let (current, scheduled) = db::rate_table(conn)?;
    Ok(RateTable {
        current: current.iter().map(StoredRate::to_wire).collect(),
        scheduled: scheduled.iter().map(StoredRate::to_wire).collect(),
    })
}

/// Records new rates (all of them, or none when any is invalid) and answers the rate table.
pub async fn set_rates(req: SetRatesRequest) -> Result<RateTable, ShopError> {
    let pairs: Vec<(String, String)> = req
        .rates
        .into_iter()
        .map(|r| (r.currency, r.per_usd))
        .collect();
    let rates = pricing::parse_set_rates(req.valid_from.as_deref(), &pairs).map_err(invalid)?;
    let conn = shop_spin::store::postgres()?;
    db::insert_rates(&conn, &rates)?;
    let listed: Vec<String> = rates
        .rates
        .iter()
        .map(|(c, r)| format!("{c} {r}"))
        .collect();
    shop_spin::log::info(&format!(
        "exchange rates set from {}: {}",
        rates.valid_from.as_deref().unwrap_or("now"),
        listed.join(", ")
    ));
    rate_table(&conn)
}

/// Most units the operator can set for one product.
pub const MAX_STOCK: u32 = 1_000_000;

/// Sets the units a product can sell from now on (not counting those orders hold).
pub async fn set_stock(req: SetStockRequest) -> Result<StockLevel, ShopError> {
    let mut fields = Vec::new();
    let sku = Sku::parse(&req.sku)
        .map_err(|e| fields.push(FieldError::new("sku", e.to_string())))
        .ok();
    if req.stock > MAX_STOCK {
        fields.push(FieldError::new(
            "stock",
            format!("Stock can be at most {MAX_STOCK} units"),
        ));
    }
    let Some(sku) = sku.filter(|_| fields.is_empty()) else {
        return Err(ShopError::invalid_fields(fields));
    };
    let conn = shop_spin::store::postgres()?;
    let Some((stock, reserved)) = crate::stock::set(&conn, &sku, req.stock)? else {
        return Err(ShopError::not_found(format!(
            "No product with SKU {sku}; create it first, then set its stock"
        )));
    };
    shop_spin::log::info(&format!(
        "stock of {sku} set to {stock} ({reserved} reserved)"
    ));
    Ok(StockLevel {
        sku: sku.to_string(),
        stock,
        reserved,
    })
}

/// Adds a product; 409 if its SKU is taken.
pub async fn create_product(req: ProductInput) -> Result<Product, ShopError> {
    let product = parse_input(req)?;
    let conn = shop_spin::store::postgres()?;
    let Some(stock) = db::insert(&conn, &product)? else {
        return Err(ShopError::conflict(format!(
            "A product with SKU {} already exists; use update_product to change it",
            product.sku()
        )));
    };
    shop_spin::log::info(&format!("product {} created", product.sku()));
    as_stored(product, stock)
}

/// Replaces a product; 404 if there is none with its SKU.
pub async fn update_product(req: ProductInput) -> Result<Product, ShopError> {
    let product = parse_input(req)?;
    let conn = shop_spin::store::postgres()?;
    let Some(stock) = db::update(&conn, &product)? else {
        return Err(ShopError::not_found(format!(
            "No product with SKU {}; use create_product to add it",
            product.sku()
        )));
    };
    shop_spin::log::info(&format!("product {} updated", product.sku()));
    as_stored(product, stock)
}

pub async fn migrate(_: NoParams) -> Result<MigrationReport, ShopError> {
    let conn = shop_spin::store::postgres()?;
    db::migrate(&conn)
}

fn parse_input(req: ProductInput) -> Result<domain::Product, ShopError> {
    domain::Product::parse(domain::ProductInput {
        sku: req.sku,
        name: req.name,
        description: req.description,
        price_minor: req.price.minor,
        currency: req.price.currency,
        category: req.category,
        image: req.image,
    })
    .map_err(invalid)
}

/// A 400 naming every invalid field.
fn invalid(errors: Vec<shop_domain::FieldError>) -> ShopError {
    shop_spin::wire::invalid_fields(errors)
}

/// A 400 naming every invalid field, as wire field errors.
fn wire_fields(errors: Vec<shop_domain::FieldError>) -> Vec<FieldError> {
    shop_spin::wire::prefixed("", errors).collect()
}

/// A product just written, as answered: its price as stored.
fn as_stored(product: domain::Product, stock: u32) -> Result<Product, ShopError> {
    to_contract(
        &Listed { product, stock },
        &mut Pricing::new(None, Vec::new())?,
    )
}

/// Products on the wire, priced.
fn priced(products: &[Listed], pricing: &mut Pricing) -> Result<Vec<Product>, ShopError> {
    products.iter().map(|p| to_contract(p, pricing)).collect()
}

/// The wire form; `category` is the slug (the name comes from `list_categories`), and
/// `display_price` the price in the currency the read asked for.
pub fn to_contract(listed: &Listed, pricing: &mut Pricing) -> Result<Product, ShopError> {
    let p = &listed.product;
    Ok(Product {
        sku: p.sku().to_string(),
        name: p.name().to_string(),
        description: p.description().to_string(),
        price: shop_spin::wire::money_to_wire(p.price()),
        display_price: shop_spin::wire::money_to_wire(pricing.display(p.price())?),
        category: p.category().slug().to_string(),
        image: p.image().to_string(),
        stock: listed.stock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_domain::Currency;

    #[test]
    fn a_read_names_every_bad_field_at_once() {
        let ok = parse_read(Ok("MUG"), Some("jpy"), 4).unwrap();
        assert_eq!(ok, ("MUG", Some(Currency::Jpy), 4));
        assert_eq!(parse_read(Ok(()), None, 0).unwrap(), ((), None, 0));
        let bad = parse_read::<()>(
            Err(vec![FieldError::new("sku", "SKU must be 3–32 characters")]),
            Some("XBT"),
            13,
        )
        .unwrap_err();
        assert_eq!(bad.status(), 400);
        let fields: Vec<&str> = bad.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["sku", "currency", "recommendations"]);
        let one = parse_read(Ok(()), Some("euro"), 0).unwrap_err();
        assert!(
            one.message
                .starts_with("Choose one of the shop's currencies"),
            "{}",
            one.message
        );
    }
}
