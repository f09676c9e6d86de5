//! The shop's product pictures: one flat drawing per kind, painted in one of the catalog's
//! colours. Drawn with presentation attributes only (no `style`), so the strict CSP holds.
use std::fmt::Write;

use shop_domain::catalog::ProductImage;

/// Main, dark, light and background shades of a catalog colour.
struct Palette {
    main: &'static str,
    dark: &'static str,
    light: &'static str,
    bg: &'static str,
}

fn palette(color: &str) -> Palette {
    let (main, dark, light, bg) = match color {
        "teal" => ("#14b8a6", "#0f766e", "#99f6e4", "#e6f7f4"),
        "coral" => ("#fb7b5b", "#c2492e", "#ffc4b3", "#fff0eb"),
        "indigo" => ("#6366f1", "#4338ca", "#c7d2fe", "#eef0ff"),
        "amber" => ("#f59e0b", "#b45309", "#fde68a", "#fff6e0"),
        "rose" => ("#f43f5e", "#be123c", "#fecdd3", "#ffeef1"),
        "lime" => ("#84cc16", "#4d7c0f", "#d9f99d", "#f3fbe4"),
        "sky" => ("#0ea5e9", "#0369a1", "#bae6fd", "#e8f6fd"),
        _ => ("#64748b", "#334155", "#cbd5e1", "#eef2f6"),
    };
    Palette { main, dark, light, bg }
}

/// The complete SVG document for a picture.
pub fn render(image: ProductImage) -> String {
    let p = palette(image.color());
    let label = format!("{} {}", capitalised(image.color()), kind_label(image.kind()));
    let mut out = String::with_capacity(2048);
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 240" width="240" height="240" role="img" aria-label="{label}"><title>{label}</title><rect width="240" height="240" fill="{bg}"/><circle cx="120" cy="116" r="92" fill="#ffffff" fill-opacity=".55"/><ellipse cx="120" cy="204" rx="70" ry="9" fill="#1f2937" fill-opacity=".08"/>"##,
        bg = p.bg
    );
    out.push_str(&drawing(image.kind(), &p));
    out.push_str("</svg>");
    out
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "tshirt" => "T-shirt",
        "cap" => "cap",
        other => other,
    }
}

fn drawing(kind: &str, p: &Palette) -> String {
    let (m, d, l) = (p.main, p.dark, p.light);
    match kind {
        "mug" => format!(
            r##"<path d="M150 96h12a30 30 0 0 1 0 60h-12" fill="none" stroke="{d}" stroke-width="14"/><rect x="62" y="72" width="100" height="126" rx="14" fill="{m}"/><rect x="62" y="72" width="100" height="16" rx="8" fill="{d}"/><rect x="78" y="104" width="12" height="70" rx="6" fill="#ffffff" fill-opacity=".35"/><path d="M92 60q-8-12 0-24M112 60q-8-12 0-24M132 60q-8-12 0-24" fill="none" stroke="{d}" stroke-opacity=".35" stroke-width="5" stroke-linecap="round"/>"##
        ),
        "tshirt" => format!(
            r##"<path d="M88 46L58 58L26 94L52 120L70 104V200H170V104L188 120L214 94L182 58L152 46Q120 76 88 46Z" fill="{m}"/><path d="M88 46Q120 76 152 46Q120 60 88 46Z" fill="{d}"/><path d="M26 94L52 120M214 94L188 120" stroke="{d}" stroke-width="6"/><circle cx="120" cy="136" r="22" fill="{l}"/><path d="M110 136l7 7l14-15" fill="none" stroke="{d}" stroke-width="5" stroke-linecap="round" stroke-linejoin="round"/>"##
        ),
        "hoodie" => format!(
            r##"<path d="M84 58L56 70Q36 102 34 180L58 182L66 114L70 198H170L174 114L182 182L206 180Q204 102 184 70L156 58Z" fill="{m}"/><path d="M84 60Q82 26 120 26Q158 26 156 60Q140 84 120 84Q100 84 84 60Z" fill="{d}"/><path d="M98 60Q120 42 142 60Q132 74 120 74Q108 74 98 60Z" fill="#1f2937" fill-opacity=".55"/><path d="M110 80v30M130 80v30" stroke="#ffffff" stroke-width="4" stroke-linecap="round"/><path d="M90 150H150L160 184H80Z" fill="{d}" fill-opacity=".45"/><rect x="32" y="174" width="28" height="10" rx="3" fill="{d}"/><rect x="180" y="174" width="28" height="10" rx="3" fill="{d}"/><rect x="70" y="188" width="100" height="12" rx="3" fill="{d}"/>"##
        ),
        "cap" => format!(
            r##"<path d="M40 156Q40 72 118 68Q194 72 194 156Z" fill="{m}"/><path d="M118 68Q98 104 100 156M118 68Q142 104 148 156" fill="none" stroke="{d}" stroke-opacity=".5" stroke-width="3"/><circle cx="118" cy="68" r="7" fill="{d}"/><rect x="66" y="110" width="38" height="22" rx="6" fill="{l}"/><path d="M140 150Q196 142 224 162Q216 176 178 172Q148 168 136 160Z" fill="{d}"/><rect x="40" y="150" width="154" height="10" rx="4" fill="{d}"/>"##
        ),
        "socks" => format!(
            r##"<g transform="translate(46 -12)" fill-opacity=".8"><path d="M70 44h44v92q0 10 8 16l34 26q14 12 2 26q-12 12-28 2l-52-36q-8-6-8-18Z" fill="{l}"/><rect x="70" y="44" width="44" height="20" fill="{d}" fill-opacity=".6"/></g><path d="M62 50h44v92q0 10 8 16l34 26q14 12 2 26q-12 12-28 2l-52-36q-8-6-8-18Z" fill="{m}"/><rect x="62" y="50" width="44" height="22" fill="{d}"/><rect x="62" y="98" width="44" height="8" fill="{l}"/><rect x="62" y="114" width="44" height="8" fill="{l}"/><path d="M130 204q-12 12-28 2l-10-7q10-14 26-8Z" fill="{d}"/>"##
        ),
        "tote" => format!(
            r##"<path d="M88 98V72a32 32 0 0 1 64 0V98" fill="none" stroke="{d}" stroke-width="10" stroke-linecap="round"/><path d="M54 92H186L174 202H66Z" fill="{m}"/><path d="M54 92H186L185 106H55Z" fill="{d}"/><circle cx="120" cy="150" r="30" fill="{l}"/><path d="M120 168l-18-17a11 11 0 0 1 18-13a11 11 0 0 1 18 13Z" fill="{d}"/>"##
        ),
        "bottle" => format!(
            r##"<rect x="100" y="26" width="40" height="24" rx="6" fill="{d}"/><rect x="106" y="48" width="28" height="16" fill="{l}"/><rect x="84" y="60" width="72" height="142" rx="24" fill="{m}"/><rect x="84" y="112" width="72" height="40" fill="{l}"/><path d="M100 132h40" stroke="{d}" stroke-width="4" stroke-linecap="round"/><rect x="96" y="76" width="8" height="28" rx="4" fill="#ffffff" fill-opacity=".4"/><rect x="96" y="160" width="8" height="28" rx="4" fill="#ffffff" fill-opacity=".4"/>"##
        ),
        "notebook" => format!(
            r##"<rect x="68" y="38" width="118" height="166" rx="10" fill="#ffffff"/><path d="M180 50v142" stroke="#d6d3d1" stroke-width="3"/><rect x="58" y="32" width="118" height="166" rx="10" fill="{m}"/><rect x="58" y="32" width="24" height="166" rx="8" fill="{d}"/><rect x="148" y="32" width="8" height="166" fill="{d}" fill-opacity=".75"/><rect x="94" y="68" width="46" height="32" rx="4" fill="{l}"/><path d="M101 80h32M101 89h20" stroke="{d}" stroke-width="3" stroke-linecap="round"/>"##
        ),
        "poster" => format!(
            r##"<path d="M92 32L120 12L148 32" fill="none" stroke="#1f2937" stroke-width="3"/><rect x="50" y="30" width="140" height="180" rx="6" fill="#1f2937"/><rect x="60" y="40" width="120" height="160" fill="{l}"/><circle cx="150" cy="78" r="16" fill="#ffffff" fill-opacity=".9"/><path d="M60 200V150L96 104L124 140L144 118L180 160V200Z" fill="{m}"/><path d="M60 200V178Q100 150 140 172Q160 182 180 170V200Z" fill="{d}"/>"##
        ),
        "sticker" => format!(
            r##"<circle cx="120" cy="118" r="80" fill="#ffffff"/><circle cx="120" cy="118" r="70" fill="{m}"/><circle cx="120" cy="118" r="50" fill="{d}" fill-opacity=".25"/><path d="M120 82L128.8 105.9L154.2 106.9L134.3 122.6L141.2 147.1L120 133L98.8 147.1L105.7 122.6L85.8 106.9L111.2 105.9Z" fill="#ffffff"/><path d="M168 168L188 188Q166 196 154 180Z" fill="{l}"/>"##
        ),
        "keyboard" => {
            let mut keys = String::new();
            for (row, y) in [92, 110, 128].into_iter().enumerate() {
                for col in 0..10 {
                    let x = 38 + col * 17;
                    let fill = if (row + col) % 7 == 3 { l } else { "#ffffff" };
                    let _ = write!(keys, r##"<rect x="{x}" y="{y}" width="14" height="14" rx="3" fill="{fill}" fill-opacity=".9"/>"##);
                }
            }
            format!(
                r##"<rect x="24" y="78" width="192" height="94" rx="12" fill="{d}"/><rect x="30" y="84" width="180" height="80" rx="8" fill="{m}"/>{keys}<rect x="72" y="146" width="96" height="12" rx="3" fill="#ffffff" fill-opacity=".9"/>"##
            )
        }
        "headphones" => format!(
            r##"<path d="M54 142V120a66 66 0 0 1 132 0V142" fill="none" stroke="{d}" stroke-width="14" stroke-linecap="round"/><rect x="34" y="122" width="42" height="70" rx="17" fill="{m}"/><rect x="164" y="122" width="42" height="70" rx="17" fill="{m}"/><rect x="68" y="132" width="14" height="50" rx="7" fill="{d}"/><rect x="158" y="132" width="14" height="50" rx="7" fill="{d}"/><circle cx="52" cy="146" r="6" fill="{l}"/><circle cx="188" cy="146" r="6" fill="{l}"/>"##
        ),
        "lamp" => format!(
            r##"<path d="M140 122L192 104L222 198H112Z" fill="#fde68a" fill-opacity=".45"/><ellipse cx="90" cy="196" rx="42" ry="10" fill="{d}"/><path d="M90 192L74 130L128 84" fill="none" stroke="{d}" stroke-width="8" stroke-linecap="round" stroke-linejoin="round"/><circle cx="74" cy="130" r="8" fill="{m}"/><path d="M116 78L150 52L192 104Q172 126 140 122Z" fill="{m}"/><circle cx="166" cy="116" r="9" fill="#fff7cc"/>"##
        ),
        "plant" => format!(
            r##"<path d="M120 132C80 122 64 82 72 56C104 66 120 98 120 132Z" fill="#2f9e55"/><path d="M120 132C160 122 176 86 168 60C136 70 120 102 120 132Z" fill="#237a41"/><path d="M120 136C108 98 114 60 120 34C126 60 132 98 120 136Z" fill="#46b96d"/><path d="M78 130H162L150 202H90Z" fill="{m}"/><rect x="72" y="124" width="96" height="18" rx="5" fill="{d}"/><path d="M96 164h48" stroke="{l}" stroke-width="5" stroke-linecap="round"/>"##
        ),
        "clock" => format!(
            r##"<circle cx="120" cy="118" r="82" fill="{m}"/><circle cx="120" cy="118" r="66" fill="#ffffff"/><rect x="117" y="56" width="6" height="12" rx="2" fill="{d}"/><rect x="117" y="168" width="6" height="12" rx="2" fill="{d}"/><rect x="58" y="115" width="12" height="6" rx="2" fill="{d}"/><rect x="170" y="115" width="12" height="6" rx="2" fill="{d}"/><g fill="{d}" fill-opacity=".6"><circle cx="148" cy="69.5" r="3"/><circle cx="168.5" cy="90" r="3"/><circle cx="168.5" cy="146" r="3"/><circle cx="148" cy="166.5" r="3"/><circle cx="92" cy="166.5" r="3"/><circle cx="71.5" cy="146" r="3"/><circle cx="71.5" cy="90" r="3"/><circle cx="92" cy="69.5" r="3"/></g><path d="M120 118V76M120 118L150 134" stroke="{d}" stroke-width="6" stroke-linecap="round"/><path d="M120 118L96 150" stroke="{m}" stroke-width="3" stroke-linecap="round"/><circle cx="120" cy="118" r="7" fill="{d}"/>"##
        ),
        // "backpack", and anything the catalog adds before the drawing exists.
        _ => format!(
            r##"<path d="M100 54a20 20 0 0 1 40 0" fill="none" stroke="{d}" stroke-width="8"/><rect x="48" y="110" width="14" height="62" rx="7" fill="{d}"/><rect x="178" y="110" width="14" height="62" rx="7" fill="{d}"/><rect x="58" y="50" width="124" height="152" rx="34" fill="{m}"/><path d="M58 98Q58 50 120 50Q182 50 182 98Q120 114 58 98Z" fill="{d}"/><rect x="112" y="98" width="16" height="22" rx="4" fill="{l}"/><rect x="80" y="128" width="80" height="58" rx="16" fill="{l}"/><path d="M90 142H150" stroke="{d}" stroke-width="4" stroke-linecap="round"/>"##
        ),
    }
}

/// The shop's icon: a shopping bag in the brand colour.
pub const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#0f6e66"/><path d="M24 24v-4a8 8 0 0 1 16 0v4" fill="none" stroke="#ffffff" stroke-width="4" stroke-linecap="round"/><path d="M16 24H48L45 50H19Z" fill="#ffffff"/></svg>"##;

#[cfg(test)]
mod tests {
    use super::*;
    use shop_domain::catalog::{IMAGE_COLORS, IMAGE_KINDS};

    #[test]
    fn every_kind_and_colour_draws_a_distinct_well_formed_picture() {
        let mut seen = std::collections::HashSet::new();
        for kind in IMAGE_KINDS {
            for color in IMAGE_COLORS {
                let svg = render(ProductImage::parse(&format!("{kind}-{color}")).unwrap());
                assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
                assert!(!svg.contains("style") && !svg.contains("script"), "{kind}-{color}");
                assert_eq!(svg.matches('<').count(), svg.matches('>').count());
                assert!(seen.insert(svg), "{kind}-{color} looks like another picture");
            }
        }
    }

    #[test]
    fn every_kind_has_its_own_drawing() {
        let p = palette("teal");
        let drawings: std::collections::HashSet<String> = IMAGE_KINDS.iter().map(|k| drawing(k, &p)).collect();
        assert_eq!(drawings.len(), IMAGE_KINDS.len());
    }
}
