//! The order confirmation, as plain text and as HTML. Pure: the values arrive validated and
//! formatted. Every value in the HTML goes through maud's escaping, so a product called
//! `<script>` is shown as text, never run.
use maud::{html, DOCTYPE};

/// One order line, ready to show.
pub struct Line {
    pub name: String,
    pub quantity: u32,
    pub unit_price: String,
    pub line_total: String,
}

/// Everything the confirmation shows, ready to show.
pub struct Confirmation {
    pub order_id: String,
    pub lines: Vec<Line>,
    pub subtotal: String,
    pub shipping: String,
    pub total: String,
    /// Name, street, "postal code city", country.
    pub address: Vec<String>,
    pub transaction_id: Option<String>,
    pub tracking_id: Option<String>,
}

impl Confirmation {
    pub fn subject(&self) -> String {
        format!("Your order {} is confirmed", self.order_id)
    }

    pub fn text(&self) -> String {
        let mut out = format!("Thank you for your order!\n\nOrder {}\n\n", self.order_id);
        for l in &self.lines {
            out.push_str(&format!(
                "  {} x {} ({} each): {}\n",
                l.quantity, l.name, l.unit_price, l.line_total
            ));
        }
        out.push_str(&format!(
            "\nSubtotal: {}\nShipping: {}\nTotal:    {}\n\nShipping to:\n",
            self.subtotal, self.shipping, self.total
        ));
        for line in &self.address {
            out.push_str(&format!("  {line}\n"));
        }
        if let Some(t) = &self.transaction_id {
            out.push_str(&format!("\nPayment reference: {t}\n"));
        }
        if let Some(t) = &self.tracking_id {
            out.push_str(&format!("Tracking number: {t}\n"));
        }
        out
    }

    pub fn html(&self) -> String {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { (self.subject()) }
                }
                body {
                    h1 { "Thank you for your order!" }
                    p { "Order " strong { (self.order_id) } }
                    table {
                        thead { tr { th { "Item" } th { "Quantity" } th { "Price" } th { "Total" } } }
                        tbody {
                            @for l in &self.lines {
                                tr { td { (l.name) } td { (l.quantity) } td { (l.unit_price) } td { (l.line_total) } }
                            }
                        }
                        tfoot {
                            tr { th colspan="3" { "Subtotal" } td { (self.subtotal) } }
                            tr { th colspan="3" { "Shipping" } td { (self.shipping) } }
                            tr { th colspan="3" { "Total" } td { strong { (self.total) } } }
                        }
                    }
                    h2 { "Shipping to" }
                    p {
                        @for (i, line) in self.address.iter().enumerate() {
                            @if i > 0 { br; }
                            (line)
                        }
                    }
                    @if let Some(t) = &self.transaction_id { p { "Payment reference: " (t) } }
                    @if let Some(t) = &self.tracking_id { p { "Tracking number: " (t) } }
                }
            }
        }
        .into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirmation(name: &str) -> Confirmation {
        Confirmation {
            order_id: "ORD-0123456789AB".into(),
            lines: vec![Line {
                name: name.into(),
                quantity: 2,
                unit_price: "$19.99".into(),
                line_total: "$39.98".into(),
            }],
            subtotal: "$39.98".into(),
            shipping: "$6.00".into(),
            total: "$45.98".into(),
            address: vec![
                "Ada <b>".into(),
                "1 Main St".into(),
                "12345 Springfield".into(),
                "United States".into(),
            ],
            transaction_id: Some("txn_0123".into()),
            tracking_id: Some("TRK-0123456789AB".into()),
        }
    }

    #[test]
    fn html_escapes_every_value() {
        let html = confirmation("<script>alert('x')</script> & co").html();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; co"));
        assert!(html.contains("Ada &lt;b&gt;"));
    }

    #[test]
    fn both_bodies_show_the_order() {
        let c = confirmation("Black T-shirt");
        for body in [c.text(), c.html()] {
            for want in [
                "ORD-0123456789AB",
                "Black T-shirt",
                "$39.98",
                "$6.00",
                "$45.98",
                "12345 Springfield",
                "txn_0123",
                "TRK-0123456789AB",
            ] {
                assert!(body.contains(want), "{want} missing from {body}");
            }
        }
        assert!(c.text().contains("2 x Black T-shirt ($19.99 each): $39.98"));
        assert_eq!(c.subject(), "Your order ORD-0123456789AB is confirmed");
    }
}
