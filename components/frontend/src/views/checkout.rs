//! The checkout form: contact, shipping address and card, with errors beside each field.
use maud::{html, Markup};
use shop_domain::Country;

use crate::summary::{Expected, Summary};
use crate::views::{cart, format, parts};

/// Everything the form shows: what the shopper typed (never the card number or CVV), the
/// errors per field, and a message for the whole form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutForm {
    /// A fresh random id per rendering: submitting the same rendering twice places one order.
    pub attempt: String,
    pub email: String,
    pub name: String,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    pub expiry_month: String,
    pub expiry_year: String,
    /// `(form field, message)`; the field is one of [`FIELDS`] or anything else for the top list.
    pub errors: Vec<(String, String)>,
    /// `(title, text)` shown above the form.
    pub alert: Option<(String, String)>,
    /// A guest is offered to sign in (and come back here); never required to.
    pub offer_sign_in: bool,
    /// The total the form showed last time (sent back in hidden fields), kept when the page is
    /// shown again without a priced summary; a priced summary's own total replaces it.
    pub expected: Option<Expected>,
    /// The lines the form showed last time (the hidden `lines` field), kept likewise.
    pub lines: Option<String>,
}

/// The form's fields, in page order; errors are shown beside these.
pub const FIELDS: [&str; 9] =
    ["email", "name", "street", "city", "postal_code", "country", "card_number", "expiry", "cvv"];

/// The form field a service's error field name belongs to (checkout reports `address.city`,
/// `card.number`, `card.expiry` …; shop-domain parsers report the bare names).
pub fn form_field(service_field: &str) -> Option<&'static str> {
    let bare = service_field.strip_prefix("address.").or_else(|| service_field.strip_prefix("card.")).unwrap_or(service_field);
    let field = match bare {
        "number" | "card_number" => "card_number",
        "expiry" | "expiry_month" | "expiry_year" => "expiry",
        other => other,
    };
    FIELDS.into_iter().find(|f| *f == field)
}

impl CheckoutForm {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    /// Records an error against its form field; the first message per field wins.
    pub fn add_error(&mut self, service_field: &str, message: &str) {
        let field = form_field(service_field).map_or_else(|| service_field.to_string(), str::to_string);
        if self.error(&field).is_none() {
            self.errors.push((field, message.to_string()));
        }
    }

    fn other_errors(&self) -> impl Iterator<Item = &str> {
        self.errors.iter().filter(|(f, _)| !FIELDS.contains(&f.as_str())).map(|(_, m)| m.as_str())
    }
}

/// Lays out one text input with its label, hint and error.
fn input(
    form: &CheckoutForm,
    id: &str,
    label: &str,
    value: &str,
    attrs: (&str, &str, Option<&str>),
    hint: Option<&str>,
) -> Markup {
    let (kind, autocomplete, inputmode) = attrs;
    parts::input(&parts::Input { id, label, value, kind, autocomplete, inputmode, hint, error: form.error(id) })
}

pub fn render(form: &CheckoutForm, summary: Option<&Summary>, item_count: Option<u32>, csrf: &str, this_year: u32) -> Markup {
    let other_errors: Vec<&str> = form.other_errors().collect();
    let has_field_errors = form.errors.len() > other_errors.len();
    let country = if form.country.is_empty() { "US" } else { form.country.as_str() };
    let expiry_error = form.error("expiry");
    // The total this page shows is the one the shopper confirms by placing the order.
    let expected = summary.and_then(|s| s.totals.as_ref()).map(|t| t.expected).or(form.expected);
    // ... and the lines it shows are the ones ordered.
    let lines = summary.map(Summary::confirmed_lines).or_else(|| form.lines.clone());
    html! {
        div.page-head {
            h1 { "Checkout" }
            @if form.offer_sign_in {
                p { "Have an account? " a href="/account/sign-in?next=%2Fcheckout" { "Sign in" } " — or just carry on as a guest." }
            }
        }
        @if let Some((title, text)) = &form.alert {
            (parts::alert(title, text))
        }
        @if has_field_errors || !other_errors.is_empty() {
            div.alert role="alert" {
                h2 { "Please check your details" }
                ul {
                    @for message in &other_errors {
                        li { (message) }
                    }
                    // In the order the fields appear on the page.
                    @for field in FIELDS {
                        @if let Some(message) = form.error(field) {
                            li { a href={ "#" (if field == "expiry" { "expiry_month" } else { field }) } { (message) } }
                        }
                    }
                }
            }
        }
        div.layout-2 {
            form method="post" action="/checkout" novalidate {
                (parts::csrf_field(csrf))
                input type="hidden" name="attempt" value=(form.attempt);
                @if let Some(e) = expected {
                    input type="hidden" name="expected_total" value=(e.total.minor());
                    input type="hidden" name="expected_currency" value=(e.total.currency().code());
                    input type="hidden" name="expected_items" value=(e.items);
                    input type="hidden" name="expected_country" value=(e.country.code());
                }
                @if let Some(lines) = &lines {
                    input type="hidden" name="lines" value=(lines);
                }
                fieldset.group {
                    legend { "Contact" }
                    (input(form, "email", "Email address", &form.email, ("email", "email", None),
                        Some("We'll send your order confirmation here.")))
                }
                fieldset.group {
                    legend { "Shipping address" }
                    (input(form, "name", "Full name", &form.name, ("text", "name", None), None))
                    (input(form, "street", "Street address", &form.street, ("text", "street-address", None), None))
                    div.row {
                        (input(form, "city", "City", &form.city, ("text", "address-level2", None), None))
                        (input(form, "postal_code", "Postal code", &form.postal_code, ("text", "postal-code", None), None))
                    }
                    div.field {
                        label for="country" { "Country" }
                        select #country name="country" autocomplete="country" required
                            aria-invalid=[form.error("country").map(|_| "true")]
                            aria-describedby=[parts::described_by("country", form.error("country"), false)] {
                            @for c in Country::ALL {
                                option value=(c.code()) selected[c.code().eq_ignore_ascii_case(country)] { (c.name()) }
                            }
                        }
                        (parts::field_error("country", form.error("country")))
                    }
                }
                fieldset.group {
                    legend { "Payment" }
                    (input(form, "card_number", "Card number", "", ("text", "cc-number", Some("numeric")),
                        Some("The long number on the front of your card. Spaces are fine.")))
                    div.row {
                        fieldset.field aria-describedby=[parts::described_by("expiry", expiry_error, false)] {
                            legend { "Expiry date" }
                            div.inline {
                                div {
                                    label.visually-hidden for="expiry_month" { "Expiry month" }
                                    select #expiry_month name="expiry_month" autocomplete="cc-exp-month" required
                                        aria-invalid=[expiry_error.map(|_| "true")] {
                                        option value="" { "Month" }
                                        @for m in 1..=12u32 {
                                            @let value = format!("{m:02}");
                                            option value=(value) selected[form.expiry_month == value] { (value) }
                                        }
                                    }
                                }
                                div {
                                    label.visually-hidden for="expiry_year" { "Expiry year" }
                                    select #expiry_year name="expiry_year" autocomplete="cc-exp-year" required
                                        aria-invalid=[expiry_error.map(|_| "true")] {
                                        option value="" { "Year" }
                                        @for y in this_year..=this_year + 15 {
                                            @let value = y.to_string();
                                            option value=(value) selected[form.expiry_year == value] { (value) }
                                        }
                                    }
                                }
                            }
                            (parts::field_error("expiry", expiry_error))
                        }
                        (input(form, "cvv", "Security code (CVV)", "", ("text", "cc-csc", Some("numeric")),
                            Some("3 digits on the back, or 4 on the front for Amex.")))
                    }
                }
                button.btn-large type="submit" { "Place order" }
                p.hint { "Your card is charged only when you place the order. Sending the form twice places one order." }
            }
            aside.summary aria-labelledby="summary-title" {
                h2 #summary-title { "Your order" }
                @match summary {
                    Some(summary) => {
                        ul.mini-lines {
                            @for line in &summary.lines {
                                li {
                                    img src=(parts::image_url(&line.image)) alt="" width="48" height="48";
                                    span.grow {
                                        (line.name) " × " (line.quantity)
                                        @if !line.in_stock() {
                                            @if let Some(note) = line.stock_note() {
                                                span.line-stock.short { (note) }
                                            }
                                        }
                                    }
                                    span { (line.line_total) }
                                }
                            }
                        }
                        (cart::totals(summary))
                        p.small {
                            "Shipping shown for " (summary.shipping_country.name()) ". Your total with shipping to:"
                        }
                        @if let Some(totals) = &summary.totals {
                            ul.small.by-destination {
                                @for (countries, total) in totals.expected.by_zone() {
                                    li {
                                        (countries.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "))
                                        ": " strong { (total.format()) }
                                    }
                                }
                            }
                        }
                    }
                    None => {
                        @if let Some(n) = item_count {
                            p { (format::count(n, "item", "items")) " in your cart." }
                        }
                    }
                }
                p.small { a href="/cart" { "Review or change your cart" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_fields_map_to_form_fields() {
        assert_eq!(form_field("email"), Some("email"));
        assert_eq!(form_field("address.name"), Some("name"));
        assert_eq!(form_field("address.postal_code"), Some("postal_code"));
        assert_eq!(form_field("address.country"), Some("country"));
        assert_eq!(form_field("card.number"), Some("card_number"));
        assert_eq!(form_field("card.expiry"), Some("expiry"));
        assert_eq!(form_field("card.expiry_year"), Some("expiry"));
        assert_eq!(form_field("card.cvv"), Some("cvv"));
        assert_eq!(form_field("attempt_id"), None);
    }

    #[test]
    fn errors_show_beside_fields_and_card_secrets_are_never_echoed() {
        let mut form = CheckoutForm { email: "a@b".into(), attempt: "x".into(), ..Default::default() };
        form.add_error("email", "Enter a valid email address");
        form.add_error("email", "second message is dropped");
        form.add_error("card.cvv", "Enter the 3-digit security code");
        form.add_error("session", "Something else");
        let html = render(&form, None, Some(2), "tok", 2026).into_string();
        assert!(html.contains(r#"id="email-error""#));
        assert!(html.contains("Enter a valid email address"));
        assert!(!html.contains("second message"));
        assert!(html.contains(r#"aria-describedby="cvv-hint cvv-error""#));
        assert!(html.contains("Something else"));
        assert!(html.contains(r#"name="card_number" type="text" value="""#));
    }

    #[test]
    fn the_error_summary_follows_the_page_order() {
        let mut form = CheckoutForm { attempt: "x".into(), ..Default::default() };
        form.add_error("expiry", "Choose the expiry");
        form.add_error("card.number", "Enter a card number");
        form.add_error("email", "Enter an email address");
        form.add_error("session", "Something else");
        let html = render(&form, None, Some(1), "tok", 2026).into_string();
        let at = |text: &str| html.find(text).unwrap_or_else(|| panic!("{text} missing"));
        assert!(at("<li>Something else") < at(">Enter an email address</a>"));
        assert!(at(">Enter an email address</a>") < at(">Enter a card number</a>"));
        assert!(at(">Enter a card number</a>") < at(r##"href="#expiry_month">Choose the expiry</a>"##));
    }
}
