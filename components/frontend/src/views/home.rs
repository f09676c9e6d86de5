//! The catalogue grid: all products, one category, or search results, a page at a time.
use maud::{html, Markup};
use shop_contract::catalog::ProductPage;
use shop_domain::catalog::Category;

use crate::forms::encode_component;
use crate::views::{format, parts};

pub struct Listing<'a> {
    pub category: Option<Category>,
    pub search: &'a str,
    pub page: &'a ProductPage,
}

impl Listing<'_> {
    pub fn title(&self) -> String {
        match (self.search.is_empty(), self.category) {
            (false, _) => format!("Results for “{}”", self.search),
            (true, Some(c)) => c.name().to_string(),
            (true, None) => "All products".to_string(),
        }
    }

    pub fn last_page(&self) -> u32 {
        let size = self.page.page_size.max(1);
        self.page.total.div_ceil(size).max(1)
    }

    /// The link to another page of this same listing.
    pub fn page_url(&self, page: u32) -> String {
        let mut params = Vec::new();
        if let Some(c) = self.category {
            params.push(format!("category={}", c.slug()));
        }
        if !self.search.is_empty() {
            params.push(format!("q={}", encode_component(self.search)));
        }
        if page > 1 {
            params.push(format!("page={page}"));
        }
        if params.is_empty() {
            "/".to_string()
        } else {
            format!("/?{}", params.join("&"))
        }
    }
}

pub fn render(l: &Listing<'_>) -> Markup {
    let p = l.page;
    let last = l.last_page();
    html! {
        div.page-head {
            h1 { (l.title()) }
            @if p.total > 0 {
                p { (format::count(p.total, "product", "products")) @if last > 1 { " · page " (p.page) " of " (last) } }
            }
        }
        @if p.products.is_empty() {
            (empty_state(l))
        } @else {
            ul.grid {
                @for product in &p.products {
                    li { (parts::product_card(product)) }
                }
            }
            @if last > 1 {
                nav.pager aria-label="Pages" {
                    @if p.page > 1 {
                        a.btn.btn-quiet href=(l.page_url(p.page - 1)) rel="prev" { "← Previous" }
                    }
                    span { "Page " (p.page) " of " (last) }
                    @if p.page < last {
                        a.btn.btn-quiet href=(l.page_url(p.page + 1)) rel="next" { "Next →" }
                    }
                }
            }
        }
    }
}

fn empty_state(l: &Listing<'_>) -> Markup {
    let p = l.page;
    html! {
        div.empty {
            @if p.total > 0 {
                h2 { "There's no page " (p.page) " here" }
                p { "This list only has " (l.last_page()) " pages." }
                a.btn href=(l.page_url(1)) { "Go to the first page" }
            } @else if !l.search.is_empty() {
                h2 { "No products match “" (l.search) "”" }
                p { "Check the spelling, try a shorter word, or browse a category instead." }
                a.btn href="/" { "Show all products" }
            } @else if let Some(c) = l.category {
                h2 { "Nothing in " (c.name()) " just now" }
                p { "New things arrive often. In the meantime, have a look around the rest of the shop." }
                a.btn href="/" { "Show all products" }
            } @else {
                h2 { "The shelves are being stocked" }
                p { "There are no products in the shop yet. Please come back soon." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(total: u32, page: u32) -> ProductPage {
        ProductPage { products: Vec::new(), page, page_size: 12, total }
    }

    #[test]
    fn page_links_keep_the_filters() {
        let p = listing(30, 2);
        let l = Listing { category: Some(Category::Home), search: "red & blue", page: &p };
        assert_eq!(l.last_page(), 3);
        assert_eq!(l.page_url(3), "/?category=home&q=red%20%26%20blue&page=3");
        assert_eq!(l.page_url(1), "/?category=home&q=red%20%26%20blue");
        let plain = Listing { category: None, search: "", page: &p };
        assert_eq!(plain.page_url(1), "/");
        assert_eq!(plain.title(), "All products");
    }

    #[test]
    fn empty_results_explain_themselves() {
        let p = listing(0, 1);
        let html = render(&Listing { category: None, search: "<b>zebra</b>", page: &p }).into_string();
        assert!(html.contains("No products match “&lt;b&gt;zebra&lt;/b&gt;”"));
        let p = listing(5, 4);
        let html = render(&Listing { category: None, search: "", page: &p }).into_string();
        assert!(html.contains("no page 4"));
    }
}
