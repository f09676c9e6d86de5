//! `/product/{sku}`: one product in the shopper's currency, its stock, the form that adds it to
//! the cart, and what others bought with it. Two calls: the cart (the header's count, and how
//! many of this product it holds) and the product with its recommendations.
use shop_contract::catalog::{ops, GetProductRequest};
use shop_contract::ErrorCode;
use shop_domain::Sku;

use crate::app::{Ctx, PageResult};
use crate::backend::{Backend, Service};
use crate::views::layout::Section;
use crate::views::product::{self, AddProblem, ProductView};
use crate::views::errors;

/// "Often bought together" products the page shows.
pub const RECOMMENDATIONS: u32 = 4;

pub async fn page<B: Backend>(ctx: &Ctx<'_, B>, raw_sku: &str) -> PageResult {
    let sku = Sku::parse(raw_sku).ok();
    let fetch = async {
        match &sku {
            Some(sku) => {
                let req = GetProductRequest { sku: sku.to_string(), currency: ctx.currency_code(), recommendations: RECOMMENDATIONS };
                ctx.backend.call(Service::Products, ops::get_product, &req).await.map(Some)
            }
            None => Ok(None),
        }
    };
    let (cart, found) = futures::join!(ctx.cart(), fetch);
    // A cart that can't be read must not take the page down with it.
    let cart = cart.ok();
    let mut chrome = ctx.chrome(cart.as_ref().map(|c| c.item_count), Section::Catalog);
    match found {
        Ok(Some(details)) => {
            let p = &details.product;
            chrome.category = shop_domain::catalog::Category::parse(&p.category).ok();
            let in_cart = cart
                .iter()
                .flat_map(|c| c.lines.iter())
                .find(|l| l.sku.eq_ignore_ascii_case(&p.sku))
                .map_or(0, |l| l.quantity);
            let problem = match ctx.query.get("error") {
                Some("quantity") => Some(AddProblem::Quantity),
                Some("stock") => Some(AddProblem::Stock),
                _ => None,
            };
            let view = ProductView { product: p, recommendations: &details.recommendations, in_cart, problem, csrf: ctx.csrf() };
            Ok(ctx.page(200, &chrome, &p.name, product::render(&view)))
        }
        Ok(None) => Ok(not_found(&chrome)),
        Err(e) if e.code == ErrorCode::NotFound => Ok(not_found(&chrome)),
        Err(e) => Err(crate::app::priced_in(e)),
    }
}

pub fn not_found(chrome: &crate::views::layout::Chrome) -> crate::http::Outgoing {
    // Not a page of the catalogue: no category link is marked as the current page.
    let chrome = crate::views::layout::Chrome { section: Section::Other, category: None, ..chrome.clone() };
    errors::not_found(
        &chrome,
        "We couldn't find that product",
        "It may have sold out for good, or the link may be mistyped. Try searching for it, or browse our categories.",
    )
}
