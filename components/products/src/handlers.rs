//! The catalog operations: parse the request into shop-domain types, run one query, answer.
use shop_contract::catalog::{
    Category as CategorySummary, CategoryList, GetProductRequest, GetProductsRequest,
    GetProductsResponse, ListProductsRequest, ProductPage,
};
use shop_contract::catalog_admin::ProductInput;
use shop_contract::{FieldError, MigrationReport, Money, NoParams, Product, ShopError};
use shop_domain::catalog::{self as domain, Category, ListQuery};
use shop_domain::Sku;

use crate::db;

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

/// One page of products, optionally of one category and matching a search text.
pub async fn list_products(req: ListProductsRequest) -> Result<ProductPage, ShopError> {
    let query = ListQuery::parse(
        req.category.as_deref(),
        req.query.as_deref(),
        req.page,
        req.page_size,
    )
    .map_err(invalid)?;
    let conn = shop_spin::store::postgres()?;
    let (products, total) = db::list(&conn, &query)?;
    Ok(ProductPage {
        products: products.iter().map(to_contract).collect(),
        page: query.page(),
        page_size: query.page_size(),
        total,
    })
}

pub async fn get_product(req: GetProductRequest) -> Result<Product, ShopError> {
    let sku = parse_sku(&req.sku)?;
    let conn = shop_spin::store::postgres()?;
    db::get(&conn, &sku)?
        .map(|p| to_contract(&p))
        .ok_or_else(|| {
            ShopError::not_found(format!(
            "No product with SKU {sku}; check the code, or list the catalog to see which SKUs exist"
        ))
        })
}

/// Up to 100 products in one query, in the order asked for; unknown SKUs are listed in `missing`.
pub async fn get_products(req: GetProductsRequest) -> Result<GetProductsResponse, ShopError> {
    let skus = domain::parse_sku_batch(&req.skus).map_err(invalid)?;
    if skus.is_empty() {
        return Ok(GetProductsResponse {
            products: Vec::new(),
            missing: Vec::new(),
        });
    }
    let conn = shop_spin::store::postgres()?;
    let found = db::get_many(&conn, &skus)?;
    let mut response = GetProductsResponse {
        products: Vec::with_capacity(skus.len()),
        missing: Vec::new(),
    };
    for sku in &skus {
        match found.iter().find(|p| p.sku() == sku) {
            Some(p) => response.products.push(to_contract(p)),
            None => response.missing.push(sku.to_string()),
        }
    }
    Ok(response)
}

/// Adds a product; 409 if its SKU is taken.
pub async fn create_product(req: ProductInput) -> Result<Product, ShopError> {
    let product = parse_input(req)?;
    let conn = shop_spin::store::postgres()?;
    if !db::insert(&conn, &product)? {
        return Err(ShopError::conflict(format!(
            "A product with SKU {} already exists; use update_product to change it",
            product.sku()
        )));
    }
    shop_spin::log::info(&format!("product {} created", product.sku()));
    Ok(to_contract(&product))
}

/// Replaces a product; 404 if there is none with its SKU.
pub async fn update_product(req: ProductInput) -> Result<Product, ShopError> {
    let product = parse_input(req)?;
    let conn = shop_spin::store::postgres()?;
    if !db::update(&conn, &product)? {
        return Err(ShopError::not_found(format!(
            "No product with SKU {}; use create_product to add it",
            product.sku()
        )));
    }
    shop_spin::log::info(&format!("product {} updated", product.sku()));
    Ok(to_contract(&product))
}

pub async fn migrate(_: NoParams) -> Result<MigrationReport, ShopError> {
    let conn = shop_spin::store::postgres()?;
    db::migrate(&conn)
}

fn parse_sku(raw: &str) -> Result<Sku, ShopError> {
    Sku::parse(raw)
        .map_err(|e| ShopError::invalid_fields(vec![FieldError::new("sku", e.to_string())]))
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

/// The wire form; `category` is the slug (the name comes from `list_categories`).
pub fn to_contract(p: &domain::Product) -> Product {
    Product {
        sku: p.sku().to_string(),
        name: p.name().to_string(),
        description: p.description().to_string(),
        price: Money {
            minor: p.price().minor(),
            currency: p.price().currency().code().to_string(),
        },
        category: p.category().slug().to_string(),
        image: p.image().to_string(),
    }
}
