//! Static files compiled into the component: the stylesheet and the product pictures.
//!
//! Each answer carries a strong `ETag` (a hash of the exact bytes), so browsers revalidate with
//! `If-None-Match` and get a body-less 304 when nothing changed.
pub mod svg;

use shop_domain::catalog::ProductImage;

const CSS: &str = include_str!("assets/shop.css");
/// Computed at compile time; the stylesheet URL carries it so a new build is fetched at once.
pub const CSS_ETAG: u64 = fnv1a(CSS.as_bytes());
/// Computed at compile time too: the icon is asked for on every page load.
const FAVICON_ETAG: u64 = fnv1a(svg::FAVICON.as_bytes());

/// One static file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub content_type: &'static str,
    pub body: String,
    /// Quoted, as sent in the header.
    pub etag: String,
}

/// Pictures and the stylesheet may be cached for a day, then revalidated cheaply.
pub const CACHE_CONTROL: &str = "public, max-age=86400";

/// The file at `/static/<name>`, if there is one. Anything but an exact known name is `None`,
/// so `..`, encoded slashes and the like can never reach another file.
pub fn lookup(name: &str) -> Option<Asset> {
    if name == "shop.css" {
        return Some(Asset { content_type: "text/css; charset=utf-8", body: CSS.to_string(), etag: quoted(CSS_ETAG) });
    }
    if name == "favicon.svg" || name == "favicon.ico" {
        return Some(Asset { content_type: "image/svg+xml", etag: quoted(FAVICON_ETAG), body: svg::FAVICON.to_string() });
    }
    let picture = name.strip_prefix("img/")?.strip_suffix(".svg")?;
    let image = ProductImage::parse(picture).ok()?;
    // Only the canonical spelling, so one picture has one URL (and one cache entry).
    if image.to_string() != picture {
        return None;
    }
    let body = svg::render(image);
    Some(Asset { content_type: "image/svg+xml", etag: quoted(fnv1a(body.as_bytes())), body })
}

/// True when an `If-None-Match` header names `etag` (or is `*`).
pub fn not_modified(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|header| {
        header.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
    })
}

fn quoted(hash: u64) -> String {
    format!("\"{hash:016x}\"")
}

/// 64-bit FNV-1a: tiny, const, and plenty to tell two versions of a file apart.
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        // In bounds by the loop condition; a const fn can't use iterators.
        #[allow(clippy::indexing_slicing)]
        let byte = bytes[i];
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_files_are_found_with_types_and_etags() {
        let css = lookup("shop.css").unwrap();
        assert!(css.content_type.starts_with("text/css"));
        assert_eq!(css.etag, format!("\"{CSS_ETAG:016x}\""));
        let img = lookup("img/mug-teal.svg").unwrap();
        assert_eq!(img.content_type, "image/svg+xml");
        assert_eq!(img.etag, lookup("img/mug-teal.svg").unwrap().etag, "etags are stable");
        assert_ne!(img.etag, lookup("img/mug-coral.svg").unwrap().etag);
        let icon = lookup("favicon.svg").unwrap();
        assert_eq!(icon.etag, quoted(fnv1a(icon.body.as_bytes())), "the icon's etag is the hash of its bytes");
    }

    #[test]
    fn anything_else_is_not_found() {
        for name in [
            "", "shop.css/", "../Cargo.toml", "img/../shop.css", "img/mug-teal", "img/mug-teal.svg.svg",
            "img/mug-purple.svg", "img/MUG-TEAL.svg", "img/%2e%2e.svg", "img/ mug-teal.svg", "img//mug-teal.svg",
        ] {
            assert!(lookup(name).is_none(), "{name:?}");
        }
    }

    #[test]
    fn if_none_match_handling() {
        let tag = "\"00ff\"";
        assert!(not_modified(Some("\"00ff\""), tag));
        assert!(not_modified(Some("\"aa\", W/\"00ff\""), tag));
        assert!(not_modified(Some("*"), tag));
        assert!(!not_modified(Some("\"00fe\""), tag));
        assert!(!not_modified(None, tag));
    }

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
