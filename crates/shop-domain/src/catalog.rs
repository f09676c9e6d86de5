//! The catalog: its fixed categories, product pictures, product text rules and list queries.
//!
//! Categories and pictures are closed sets: the frontend has a page per category and draws an
//! SVG per picture kind, so anything else stored in the database would render as a broken page.

use crate::money::{Currency, Money, MoneyError};
use crate::sku::Sku;
use crate::validation::{is_forbidden_char, ErrorCollector, FieldError};
use std::fmt;

/// Why a catalog value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// Not one of [`Category::ALL`].
    #[error("Category must be one of apparel, kitchen, office, home or tech")]
    UnknownCategory,
    /// Not `<kind>-<color>` with a known kind and colour.
    #[error("Image must be <kind>-<color> (e.g. mug-teal) with a known kind and colour")]
    UnknownImage,
}

/// A section of the shop. The set is fixed; the database stores the slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// T-shirts, hoodies, caps, socks.
    Apparel,
    /// Mugs, bottles.
    Kitchen,
    /// Notebooks, stickers, desk things.
    Office,
    /// Lamps, plants, clocks, posters.
    Home,
    /// Keyboards, headphones.
    Tech,
}

impl Category {
    /// Every category, in display order.
    pub const ALL: [Category; 5] = [
        Category::Apparel,
        Category::Kitchen,
        Category::Office,
        Category::Home,
        Category::Tech,
    ];

    /// The URL and database form, e.g. `"home"`.
    pub const fn slug(self) -> &'static str {
        match self {
            Category::Apparel => "apparel",
            Category::Kitchen => "kitchen",
            Category::Office => "office",
            Category::Home => "home",
            Category::Tech => "tech",
        }
    }

    /// The shopper-facing name, e.g. `"Home & Living"`.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Apparel => "Apparel",
            Category::Kitchen => "Kitchen",
            Category::Office => "Office",
            Category::Home => "Home & Living",
            Category::Tech => "Tech",
        }
    }

    /// Parses a slug, ignoring surrounding spaces and case.
    pub fn parse(slug: &str) -> Result<Self, CatalogError> {
        let slug = slug.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.slug().eq_ignore_ascii_case(slug))
            .ok_or(CatalogError::UnknownCategory)
    }

    /// The categories whose slug or name contains `text` (case-insensitive), so a search for
    /// "living" finds the products of "Home & Living" although only the slug is stored.
    pub fn matching(text: &str) -> Vec<Category> {
        let needle = text.trim().to_lowercase();
        if needle.is_empty() {
            return Vec::new();
        }
        Self::ALL
            .into_iter()
            .filter(|c| c.slug().contains(&needle) || c.name().to_lowercase().contains(&needle))
            .collect()
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Picture kinds the frontend can draw.
pub const IMAGE_KINDS: [&str; 16] = [
    "mug",
    "tshirt",
    "hoodie",
    "cap",
    "socks",
    "tote",
    "bottle",
    "notebook",
    "poster",
    "sticker",
    "keyboard",
    "headphones",
    "lamp",
    "plant",
    "clock",
    "backpack",
];

/// Colours the frontend can draw a picture in.
pub const IMAGE_COLORS: [&str; 8] = [
    "teal", "coral", "indigo", "amber", "slate", "rose", "lime", "sky",
];

/// A product picture, `<kind>-<color>` (e.g. `mug-teal`), from [`IMAGE_KINDS`] and [`IMAGE_COLORS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProductImage {
    kind: &'static str,
    color: &'static str,
}

impl ProductImage {
    /// Parses `<kind>-<color>`, ignoring surrounding spaces and case.
    pub fn parse(input: &str) -> Result<Self, CatalogError> {
        let text = input.trim().to_ascii_lowercase();
        let (kind, color) = text.split_once('-').ok_or(CatalogError::UnknownImage)?;
        let kind = IMAGE_KINDS
            .into_iter()
            .find(|k| *k == kind)
            .ok_or(CatalogError::UnknownImage)?;
        let color = IMAGE_COLORS
            .into_iter()
            .find(|c| *c == color)
            .ok_or(CatalogError::UnknownImage)?;
        Ok(ProductImage { kind, color })
    }

    /// What is drawn, e.g. `"mug"`.
    pub const fn kind(self) -> &'static str {
        self.kind
    }

    /// The colour it is drawn in, e.g. `"teal"`.
    pub const fn color(self) -> &'static str {
        self.color
    }
}

impl fmt::Display for ProductImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind, self.color)
    }
}

/// Longest product name, in characters.
pub const NAME_MAX: usize = 100;
/// Longest product description, in characters.
pub const DESCRIPTION_MAX: usize = 2000;
/// Highest price in minor units (999,999.99 in a two-decimal currency): keeps order totals far from overflow.
pub const PRICE_MAX_MINOR: i64 = 99_999_999;

/// Trims a product name and checks it is 1..=[`NAME_MAX`] characters without control characters.
pub fn parse_product_name(input: &str) -> Result<String, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("Enter a product name".to_owned());
    }
    check_text(text, NAME_MAX, "Name")?;
    Ok(text.to_owned())
}

/// Trims a product description (may be empty) and checks it is at most [`DESCRIPTION_MAX`]
/// characters without control characters.
pub fn parse_product_description(input: &str) -> Result<String, String> {
    let text = input.trim();
    check_text(text, DESCRIPTION_MAX, "Description")?;
    Ok(text.to_owned())
}

fn check_text(text: &str, max: usize, label: &str) -> Result<(), String> {
    if text.chars().any(is_forbidden_char) {
        return Err(format!(
            "{label} contains characters that aren't allowed (e.g. line breaks or tabs)"
        ));
    }
    if text.chars().count() > max {
        return Err(format!("{label} must be at most {max} characters"));
    }
    Ok(())
}

/// A product as entered by an operator or read from a database row, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductInput {
    /// Product code.
    pub sku: String,
    /// Shown as the title.
    pub name: String,
    /// One to a few sentences; may be empty.
    pub description: String,
    /// Price in minor units of `currency`.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Category slug.
    pub category: String,
    /// Picture, `<kind>-<color>`.
    pub image: String,
}

/// A validated product.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Product {
    sku: Sku,
    name: String,
    description: String,
    price: Money,
    category: Category,
    image: ProductImage,
}

impl Product {
    /// Validates every field, returning all problems at once. Field names: `sku`, `name`,
    /// `description`, `price` (the amount), `price.currency`, `category`, `image`.
    pub fn parse(input: ProductInput) -> Result<Product, Vec<FieldError>> {
        let mut errors = ErrorCollector::new();
        let sku = errors.check("sku", Sku::parse(&input.sku));
        let name = errors.check("name", parse_product_name(&input.name));
        let description =
            errors.check("description", parse_product_description(&input.description));
        let currency = errors.check("price.currency", Currency::parse(&input.currency));
        let price = match currency {
            Some(currency) => errors.check("price", parse_price(input.price_minor, currency)),
            // Without a currency the amount can still be judged on its sign.
            None => {
                if input.price_minor < 0 {
                    errors.push("price", MoneyError::Negative.to_string());
                }
                None
            }
        };
        let category = errors.check("category", Category::parse(&input.category));
        let image = errors.check("image", ProductImage::parse(&input.image));
        match (sku, name, description, price, category, image) {
            (
                Some(sku),
                Some(name),
                Some(description),
                Some(price),
                Some(category),
                Some(image),
            ) => Ok(Product {
                sku,
                name,
                description,
                price,
                category,
                image,
            }),
            _ => Err(errors.into_errors()),
        }
    }

    /// Product code.
    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// Name (trimmed).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Description (trimmed, may be empty).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Unit price.
    pub fn price(&self) -> Money {
        self.price
    }

    /// Category.
    pub fn category(&self) -> Category {
        self.category
    }

    /// Picture.
    pub fn image(&self) -> ProductImage {
        self.image
    }
}

fn parse_price(minor: i64, currency: Currency) -> Result<Money, String> {
    let price = Money::new(minor, currency).map_err(|e| e.to_string())?;
    if minor > PRICE_MAX_MINOR {
        let max = Money::new(PRICE_MAX_MINOR, currency).map_err(|e| e.to_string())?;
        return Err(format!("Price must be at most {max}"));
    }
    Ok(price)
}

/// Most SKUs one batch lookup (`get-products`) accepts.
pub const MAX_BATCH: usize = 100;

/// Parses the SKUs of a batch lookup: at most [`MAX_BATCH`], each valid (errors name `skus[i]`).
/// Duplicates (after normalisation) are dropped, keeping the first occurrence's position.
pub fn parse_sku_batch(skus: &[String]) -> Result<Vec<Sku>, Vec<FieldError>> {
    if skus.len() > MAX_BATCH {
        return Err(vec![FieldError::new(
            "skus",
            format!("Ask for at most {MAX_BATCH} SKUs at once"),
        )]);
    }
    let mut errors = ErrorCollector::new();
    let mut out: Vec<Sku> = Vec::with_capacity(skus.len());
    for (i, raw) in skus.iter().enumerate() {
        if let Some(sku) = errors.check(&format!("skus[{i}]"), Sku::parse(raw)) {
            if !out.contains(&sku) {
                out.push(sku);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.into_errors())
    }
}

/// A validated request for one page of the product list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    category: Option<Category>,
    search: Option<String>,
    page: u32,
    page_size: u32,
}

impl ListQuery {
    /// Largest page.
    pub const MAX_PAGE_SIZE: u32 = 48;
    /// Longest search text, in characters.
    pub const MAX_SEARCH: usize = 100;
    /// Highest page number: far beyond any real catalog, and keeps offsets small.
    pub const MAX_PAGE: u32 = 10_000;

    /// Validates a list request. A blank category or search means "no filter".
    /// Field names: `category`, `query`, `page`, `page_size`.
    pub fn parse(
        category: Option<&str>,
        search: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = ErrorCollector::new();
        let category = match category.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(slug) => errors.check("category", Category::parse(slug)),
        };
        let search = match search.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => errors.check(
                "query",
                check_text(text, Self::MAX_SEARCH, "Search text").map(|()| text.to_owned()),
            ),
        };
        if !(1..=Self::MAX_PAGE).contains(&page) {
            errors.push(
                "page",
                format!("Page must be between 1 and {}", Self::MAX_PAGE),
            );
        }
        if !(1..=Self::MAX_PAGE_SIZE).contains(&page_size) {
            errors.push(
                "page_size",
                format!("Page size must be between 1 and {}", Self::MAX_PAGE_SIZE),
            );
        }
        if errors.is_empty() {
            Ok(ListQuery {
                category,
                search,
                page,
                page_size,
            })
        } else {
            Err(errors.into_errors())
        }
    }

    /// The category filter, if any.
    pub fn category(&self) -> Option<Category> {
        self.category
    }

    /// The trimmed search text, if any.
    pub fn search(&self) -> Option<&str> {
        self.search.as_deref()
    }

    /// 1-based page number.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// Products per page.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Products to skip: `(page - 1) × page_size` (at most 9,999 × 48).
    pub fn offset(&self) -> u32 {
        self.page.saturating_sub(1).saturating_mul(self.page_size)
    }

    /// An `ILIKE` pattern finding the search text anywhere, with `\` as the escape character.
    pub fn like_pattern(&self) -> Option<String> {
        self.search
            .as_deref()
            .map(|s| format!("%{}%", escape_like(s)))
    }

    /// Categories whose name or slug contains the search text.
    pub fn matching_categories(&self) -> Vec<Category> {
        self.search
            .as_deref()
            .map(Category::matching)
            .unwrap_or_default()
    }
}

/// Escapes `\`, `%` and `_` so `text` matches literally inside a `LIKE … ESCAPE '\'` pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            sku: "mug-001".into(),
            name: "  Teal Mug ".into(),
            description: "Holds coffee.".into(),
            price_minor: 1299,
            currency: "usd".into(),
            category: "kitchen".into(),
            image: "mug-teal".into(),
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn categories_round_trip_and_have_names() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.slug()), Ok(c));
            assert_eq!(Category::parse(&c.slug().to_uppercase()), Ok(c));
        }
        assert_eq!(Category::Home.name(), "Home & Living");
        assert_eq!(Category::parse(" Tech "), Ok(Category::Tech));
        assert_eq!(Category::parse("toys"), Err(CatalogError::UnknownCategory));
        assert_eq!(Category::parse(""), Err(CatalogError::UnknownCategory));
    }

    #[test]
    fn categories_match_search_text_by_slug_or_name() {
        assert_eq!(Category::matching("LIVING"), vec![Category::Home]);
        assert_eq!(Category::matching("home"), vec![Category::Home]);
        assert_eq!(
            Category::matching("e"),
            vec![
                Category::Apparel,
                Category::Kitchen,
                Category::Office,
                Category::Home,
                Category::Tech
            ]
        );
        assert!(Category::matching("  ").is_empty());
        assert!(Category::matching("mug").is_empty());
    }

    #[test]
    fn images_are_kind_dash_color() {
        let img = ProductImage::parse(" Mug-Teal ").unwrap();
        assert_eq!(img.to_string(), "mug-teal");
        assert_eq!((img.kind(), img.color()), ("mug", "teal"));
        for kind in IMAGE_KINDS {
            for color in IMAGE_COLORS {
                let name = format!("{kind}-{color}");
                assert_eq!(ProductImage::parse(&name).unwrap().to_string(), name);
            }
        }
        for bad in [
            "",
            "mug",
            "mug-",
            "-teal",
            "mug-purple",
            "cup-teal",
            "mug-teal-x",
            "mug teal",
            "../etc-teal",
        ] {
            assert_eq!(
                ProductImage::parse(bad),
                Err(CatalogError::UnknownImage),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn product_parse_normalises() {
        let p = Product::parse(input()).unwrap();
        assert_eq!(p.sku().as_str(), "MUG-001");
        assert_eq!(p.name(), "Teal Mug");
        assert_eq!(p.price().minor(), 1299);
        assert_eq!(p.price().currency(), Currency::Usd);
        assert_eq!(p.category(), Category::Kitchen);
        assert_eq!(p.image().to_string(), "mug-teal");
    }

    #[test]
    fn product_parse_collects_every_error() {
        let bad = ProductInput {
            sku: "x".into(),
            name: " ".into(),
            description: "a\u{0}b".into(),
            price_minor: -1,
            currency: "USD".into(),
            category: "toys".into(),
            image: "mug-purple".into(),
        };
        let errors = Product::parse(bad).unwrap_err();
        assert_eq!(
            fields(&errors),
            ["sku", "name", "description", "price", "category", "image"]
        );
        assert_eq!(errors[1].message, "Enter a product name");
        assert_eq!(errors[3].message, "Amount can't be negative");
    }

    #[test]
    fn product_text_limits() {
        assert!(parse_product_name(&"n".repeat(NAME_MAX)).is_ok());
        assert_eq!(
            parse_product_name(&"n".repeat(NAME_MAX + 1)),
            Err("Name must be at most 100 characters".to_owned())
        );
        assert!(parse_product_name("Tab\there").is_err());
        assert_eq!(parse_product_description("  "), Ok(String::new()));
        assert!(parse_product_description(&"é".repeat(DESCRIPTION_MAX)).is_ok());
        assert!(parse_product_description(&"é".repeat(DESCRIPTION_MAX + 1)).is_err());
        assert!(parse_product_description("line\nbreak").is_err());
    }

    #[test]
    fn product_price_limits_and_currency() {
        let mut p = input();
        p.price_minor = PRICE_MAX_MINOR;
        assert!(Product::parse(p.clone()).is_ok());
        p.price_minor = PRICE_MAX_MINOR + 1;
        let errors = Product::parse(p.clone()).unwrap_err();
        assert_eq!(errors[0].message, "Price must be at most $999,999.99");
        p.price_minor = 0;
        assert!(Product::parse(p.clone()).is_ok());
        p.currency = "XYZ".into();
        assert_eq!(
            fields(&Product::parse(p.clone()).unwrap_err()),
            ["price.currency"]
        );
        p.price_minor = -5;
        assert_eq!(
            fields(&Product::parse(p).unwrap_err()),
            ["price.currency", "price"]
        );
    }

    #[test]
    fn sku_batches() {
        let skus: Vec<String> = ["a-1", "B-2", "A-1"].map(String::from).to_vec();
        let parsed = parse_sku_batch(&skus).unwrap();
        assert_eq!(
            parsed.iter().map(Sku::as_str).collect::<Vec<_>>(),
            ["A-1", "B-2"]
        );
        assert_eq!(parse_sku_batch(&[]), Ok(vec![]));
        let errors = parse_sku_batch(&["ok-1".into(), "no".into(), "bad sku".into()]).unwrap_err();
        assert_eq!(fields(&errors), ["skus[1]", "skus[2]"]);
        let too_many = vec!["abc".to_string(); MAX_BATCH + 1];
        assert_eq!(fields(&parse_sku_batch(&too_many).unwrap_err()), ["skus"]);
        assert!(parse_sku_batch(&vec!["abc".to_string(); MAX_BATCH]).is_ok());
    }

    #[test]
    fn list_query_validation() {
        let q = ListQuery::parse(Some(" Home "), Some("  50%_off "), 3, 12).unwrap();
        assert_eq!(q.category(), Some(Category::Home));
        assert_eq!(q.search(), Some("50%_off"));
        assert_eq!(q.offset(), 24);
        assert_eq!(q.like_pattern().as_deref(), Some(r"%50\%\_off%"));
        let q = ListQuery::parse(Some(""), Some("   "), 1, 48).unwrap();
        assert_eq!(
            (q.category(), q.search(), q.offset(), q.like_pattern()),
            (None, None, 0, None)
        );
        let errors = ListQuery::parse(Some("toys"), Some("a\u{7}"), 0, 49).unwrap_err();
        assert_eq!(fields(&errors), ["category", "query", "page", "page_size"]);
        assert_eq!(errors[3].message, "Page size must be between 1 and 48");
        assert!(ListQuery::parse(None, None, 1, 0).is_err());
        assert!(ListQuery::parse(None, None, ListQuery::MAX_PAGE + 1, 1).is_err());
        assert!(ListQuery::parse(None, Some(&"s".repeat(101)), 1, 1).is_err());
        let last =
            ListQuery::parse(None, None, ListQuery::MAX_PAGE, ListQuery::MAX_PAGE_SIZE).unwrap();
        assert_eq!(last.offset(), 9_999 * 48);
    }

    #[test]
    fn like_escaping() {
        assert_eq!(escape_like(r"a\b%c_d"), r"a\\b\%c\_d");
        assert_eq!(escape_like("plain"), "plain");
    }
}
