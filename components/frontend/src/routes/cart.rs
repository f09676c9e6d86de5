//! `/cart` and the cart actions. Actions answer `303 See Other` back to the cart with a notice
//! code in the URL (Post/Redirect/Get), so reloading never repeats a change.
use shop_contract::carts::{ops, AddItemRequest, Cart, RemoveItemRequest, SetQuantityRequest};
use shop_contract::catalog::{ops as catalog_ops, GetProductsRequest};
use shop_contract::{ErrorCode, ShopError};
use shop_domain::{Country, Quantity, Sku};

use crate::app::{Ctx, PageResult};
use crate::backend::{Backend, Service};
use crate::http::Outgoing;
use crate::summary::{self, Summary};
use crate::views::cart::{self as view, Notice};
use crate::views::layout::Section;
use crate::views::parts;

/// "Often bought together" products the cart page shows.
pub const RECOMMENDATIONS: u32 = 4;

/// The cart joined with its products, priced in the shopper's currency, with shipping estimated
/// to `country` (the one chosen at checkout) and up to `recommendations` products bought with
/// these: when the cart has lines, one batch lookup (which answers all of it).
pub async fn load_summary_for<B: Backend>(
    ctx: &Ctx<'_, B>,
    cart: &Cart,
    country: Country,
    recommendations: u32,
) -> Result<Summary, ShopError> {
    if cart.lines.is_empty() {
        return Ok(Summary { shipping_country: country, ..Summary::default() });
    }
    let req = GetProductsRequest { skus: cart.lines.iter().map(|l| l.sku.clone()).collect(), currency: ctx.currency_code(), recommendations };
    let found = ctx.backend.call(Service::Products, catalog_ops::get_products, &req).await.map_err(crate::app::priced_in)?;
    let mut summary = summary::build_for(cart, &found.products, country);
    summary.recommendations = found.recommendations;
    Ok(summary)
}

pub async fn page<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let cart = ctx.cart().await?;
    let summary = load_summary_for(ctx, &cart, summary::ESTIMATE_COUNTRY, RECOMMENDATIONS).await?;
    let notice = ctx.query.get("notice").and_then(Notice::parse).map(|n| (n, ctx.query.get("sku")));
    let chrome = ctx.chrome(Some(cart.item_count), Section::Cart);
    Ok(ctx.page(200, &chrome, "Your cart", view::render(&summary, ctx.csrf(), notice)))
}

/// The SKU a cart form names; a form that names none was not made by this shop.
fn form_sku<B>(ctx: &Ctx<'_, B>) -> Result<Sku, ShopError> {
    Sku::parse(ctx.form.text("sku")).map_err(|_| ShopError::bad_request("That form didn't say which item it was for. Please go back and try again."))
}

pub async fn add<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let sku = form_sku(ctx)?;
    let Ok(quantity) = Quantity::parse(ctx.form.text("quantity")) else {
        return Ok(Outgoing::see_other(&format!("{}?error=quantity", parts::product_url(sku.as_str()))));
    };
    let req = AddItemRequest { session: ctx.cart_key()?, sku: sku.to_string(), quantity: quantity.get() };
    match ctx.backend.call(Service::Carts, ops::add_item, &req).await {
        Ok(_) => Ok(Outgoing::see_other(&Notice::Added.url(Some(sku.as_str())))),
        Err(e) if e.code == ErrorCode::NotFound => {
            let count = ctx.cart_count().await;
            Ok(super::product::not_found(&ctx.chrome(count, Section::Catalog)))
        }
        // Sold out, or not that many left: the product page says how many there are now.
        Err(e) if e.code == ErrorCode::Conflict => Ok(Outgoing::see_other(&format!("{}?error=stock", parts::product_url(sku.as_str())))),
        Err(e) => refused(e, &sku),
    }
}

pub async fn update<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let sku = form_sku(ctx)?;
    let text = ctx.form.text("quantity").trim();
    // 0 means "none of these", which is what the shopper would expect of the number box.
    if !text.is_empty() && text.bytes().all(|b| b == b'0') {
        return remove_sku(ctx, sku).await;
    }
    let Ok(quantity) = Quantity::parse(text) else {
        return Ok(Outgoing::see_other(&Notice::BadQuantity.url(Some(sku.as_str()))));
    };
    let req = SetQuantityRequest { session: ctx.cart_key()?, sku: sku.to_string(), quantity: quantity.get() };
    match ctx.backend.call(Service::Carts, ops::set_quantity, &req).await {
        Ok(_) => Ok(Outgoing::see_other(&Notice::Updated.url(Some(sku.as_str())))),
        Err(e) if e.code == ErrorCode::NotFound => Ok(Outgoing::see_other(&Notice::Gone.url(None))),
        Err(e) => refused(e, &sku),
    }
}

pub async fn remove<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let sku = form_sku(ctx)?;
    remove_sku(ctx, sku).await
}

async fn remove_sku<B: Backend>(ctx: &Ctx<'_, B>, sku: Sku) -> PageResult {
    let req = RemoveItemRequest { session: ctx.cart_key()?, sku: sku.to_string() };
    match ctx.backend.call(Service::Carts, ops::remove_item, &req).await {
        Ok(_) => Ok(Outgoing::see_other(&Notice::Removed.url(None))),
        // Already gone (e.g. the form was sent twice): the shopper got what they wanted.
        Err(e) if e.code == ErrorCode::NotFound => Ok(Outgoing::see_other(&Notice::Removed.url(None))),
        Err(e) => Err(e),
    }
}

/// The cart said no to a change the shopper can fix (too many of an item, too many lines; a
/// quantity change over the stock is shown on the cart page itself).
fn refused(e: ShopError, sku: &Sku) -> PageResult {
    match e.code {
        ErrorCode::BadRequest | ErrorCode::Unprocessable | ErrorCode::Conflict => {
            Ok(Outgoing::see_other(&Notice::Limit.url(Some(sku.as_str()))))
        }
        _ => Err(e),
    }
}
