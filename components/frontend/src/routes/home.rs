//! `/`: the catalogue, filtered by `?category=`, searched with `?q=`, paged with `?page=`.
use shop_contract::catalog::{ops, ListProductsRequest};
use shop_domain::catalog::{Category, ListQuery};

use crate::app::{Ctx, PageResult};
use crate::backend::{Backend, Service};
use crate::views::errors;
use crate::views::home::{self, Listing};
use crate::views::layout::Section;

pub const PAGE_SIZE: u32 = 12;

pub async fn page<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let search: String = ctx.query.text("q").trim().chars().take(ListQuery::MAX_SEARCH).collect();
    let category_text = ctx.query.text("category").trim();
    // A page number that isn't one (typed by hand, or from an old link) shows the first page.
    let page = ctx.query.text("page").parse::<u32>().ok().filter(|p| (1..=ListQuery::MAX_PAGE).contains(p)).unwrap_or(1);
    let query = match ListQuery::parse(Some(category_text), Some(&search), page, PAGE_SIZE) {
        Ok(query) => query,
        Err(problems) => {
            let count = ctx.cart_count().await;
            let mut chrome = ctx.chrome(count, Section::Catalog);
            chrome.search = search.clone();
            if Category::parse(category_text).is_err() && !category_text.is_empty() {
                return Ok(errors::not_found(&chrome, "We don't have that category", "Have a look at the categories above instead."));
            }
            let message = problems.first().map_or("Please try a different search.", |p| p.message.as_str());
            return Ok(errors::bad_request(&chrome, message));
        }
    };
    let request = ListProductsRequest {
        category: query.category().map(|c| c.slug().to_string()),
        query: query.search().map(str::to_string),
        page: query.page(),
        page_size: query.page_size(),
        currency: ctx.currency_code(),
    };
    let (count, products) = futures::join!(ctx.cart_count(), ctx.backend.call(Service::Products, ops::list_products, &request));
    let products = products.map_err(crate::app::priced_in)?;
    let mut chrome = ctx.chrome(count, Section::Catalog);
    chrome.search = search.clone();
    chrome.category = query.category();
    let listing = Listing { category: query.category(), search: query.search().unwrap_or(""), page: &products };
    let title = if listing.search.is_empty() && listing.category.is_none() { "Shop".to_string() } else { listing.title() };
    Ok(ctx.page(200, &chrome, &title, home::render(&listing)))
}
