//! `/product/{sku}`: one product, with the form that adds it to the cart.
use shop_contract::catalog::{ops, GetProductRequest};
use shop_contract::ErrorCode;
use shop_domain::Sku;

use crate::app::{Ctx, PageResult};
use crate::backend::{Backend, Service};
use crate::views::layout::Section;
use crate::views::{errors, product};

pub async fn page<B: Backend>(ctx: &Ctx<'_, B>, raw_sku: &str) -> PageResult {
    let sku = Sku::parse(raw_sku).ok();
    let fetch = async {
        match &sku {
            Some(sku) => ctx.backend.call(Service::Products, ops::get_product, &GetProductRequest { sku: sku.to_string() }).await.map(Some),
            None => Ok(None),
        }
    };
    let (count, found) = futures::join!(ctx.cart_count(), fetch);
    let mut chrome = ctx.chrome(count, Section::Catalog);
    match found {
        Ok(Some(p)) => {
            chrome.category = shop_domain::catalog::Category::parse(&p.category).ok();
            let quantity_error = ctx.query.get("error") == Some("quantity");
            Ok(ctx.page(200, &chrome, &p.name, product::render(&p, ctx.csrf(), quantity_error)))
        }
        Ok(None) => Ok(not_found(&chrome)),
        Err(e) if e.code == ErrorCode::NotFound => Ok(not_found(&chrome)),
        Err(e) => Err(e),
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
