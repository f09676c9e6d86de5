//! The emails about an order — the confirmation and the failure notice — as plain text and as
//! HTML. Pure: the values arrive validated and formatted. Every value in the HTML goes through
//! maud's escaping, so a product called `<script>` is shown as text, never run.
use maud::{html, Markup, DOCTYPE};

/// One email, ready to send.
pub trait Email {
    fn subject(&self) -> String;
    fn text(&self) -> String;
    fn html(&self) -> String;
}

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
    /// "Paid in EUR at 1 USD = 0.92 EUR" when the prices were converted into the shopper's
    /// currency (the rate stored with the order).
    pub rate: Option<String>,
}

/// "We could not complete your order": what was ordered, whether money moved, and why.
pub struct FailureNotice {
    pub order_id: String,
    pub lines: Vec<Line>,
    pub total: String,
    /// The order's charge was refunded (it has a transaction id); otherwise nothing was charged.
    pub refunded: bool,
    /// Why the order failed, in words for the shopper.
    pub failure: Option<String>,
}

/// The text form of the lines: `  2 x Mug ($19.99 each): $39.98`.
/// An email's HTML document around its body.
fn document(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
            }
            body { (body) }
        }
    }
    .into_string()
}

fn text_lines(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| format!("  {} x {} ({} each): {}\n", l.quantity, l.name, l.unit_price, l.line_total))
        .collect()
}

/// The HTML table of the lines, with `footer` (rows of totals) under them.
fn lines_table(lines: &[Line], footer: Markup) -> Markup {
    html! {
        table {
            thead { tr { th { "Item" } th { "Quantity" } th { "Price" } th { "Total" } } }
            tbody {
                @for l in lines {
                    tr { td { (l.name) } td { (l.quantity) } td { (l.unit_price) } td { (l.line_total) } }
                }
            }
            tfoot { (footer) }
        }
    }
}

impl Email for Confirmation {
    fn subject(&self) -> String {
        format!("Your order {} is confirmed", self.order_id)
    }

    fn text(&self) -> String {
        let mut out = format!("Thank you for your order!\n\nOrder {}\n\n", self.order_id);
        out.push_str(&text_lines(&self.lines));
        out.push_str(&format!(
            "\nSubtotal: {}\nShipping: {}\nTotal:    {}\n",
            self.subtotal, self.shipping, self.total
        ));
        if let Some(rate) = &self.rate {
            out.push_str(&format!("{rate}\n"));
        }
        out.push_str("\nShipping to:\n");
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

    fn html(&self) -> String {
        document(&self.subject(), html! {
            h1 { "Thank you for your order!" }
            p { "Order " strong { (self.order_id) } }
            (lines_table(&self.lines, html! {
                tr { th colspan="3" { "Subtotal" } td { (self.subtotal) } }
                tr { th colspan="3" { "Shipping" } td { (self.shipping) } }
                tr { th colspan="3" { "Total" } td { strong { (self.total) } } }
            }))
            @if let Some(rate) = &self.rate { p { (rate) } }
            h2 { "Shipping to" }
            p {
                @for (i, line) in self.address.iter().enumerate() {
                    @if i > 0 { br; }
                    (line)
                }
            }
            @if let Some(t) = &self.transaction_id { p { "Payment reference: " (t) } }
            @if let Some(t) = &self.tracking_id { p { "Tracking number: " (t) } }
        })
    }
}

impl FailureNotice {
    /// Whether money moved, in one sentence.
    fn payment_sentence(&self) -> String {
        if self.refunded {
            format!("Your payment of {} was refunded.", self.total)
        } else {
            "You were not charged.".to_string()
        }
    }
}

impl Email for FailureNotice {
    fn subject(&self) -> String {
        format!("We could not complete your order {}", self.order_id)
    }

    fn text(&self) -> String {
        let mut out = format!(
            "We are sorry: we could not complete your order.\n\nOrder {}\n\n",
            self.order_id
        );
        out.push_str(&text_lines(&self.lines));
        out.push_str(&format!("\nTotal: {}\n\n", self.total));
        if let Some(reason) = &self.failure {
            out.push_str(&format!("What happened: {reason}\n\n"));
        }
        out.push_str(&self.payment_sentence());
        out.push_str("\nNothing will be shipped. You are welcome to place the order again.\n");
        out
    }

    fn html(&self) -> String {
        document(&self.subject(), html! {
            h1 { "We could not complete your order" }
            p { "Order " strong { (self.order_id) } }
            (lines_table(&self.lines, html! {
                tr { th colspan="3" { "Total" } td { strong { (self.total) } } }
            }))
            @if let Some(reason) = &self.failure { p { "What happened: " (reason) } }
            p { strong { (self.payment_sentence()) } }
            p { "Nothing will be shipped. You are welcome to place the order again." }
        })
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
            rate: None,
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

    fn notice(refunded: bool, failure: Option<&str>) -> FailureNotice {
        let c = confirmation("Black <T-shirt>");
        FailureNotice {
            order_id: c.order_id,
            lines: c.lines,
            total: c.total,
            refunded,
            failure: failure.map(str::to_string),
        }
    }

    #[test]
    fn a_failure_notice_says_whether_money_moved() {
        let unpaid = notice(false, None);
        let refunded = notice(true, Some("Shipping is unavailable & <b>down</b>"));
        assert_eq!(unpaid.subject(), "We could not complete your order ORD-0123456789AB");
        for body in [unpaid.text(), unpaid.html()] {
            assert!(body.contains("You were not charged."), "{body}");
            assert!(!body.contains("refunded") && !body.contains("What happened"), "{body}");
            assert!(body.contains("ORD-0123456789AB") && body.contains("$45.98"), "{body}");
        }
        for body in [refunded.text(), refunded.html()] {
            assert!(body.contains("Your payment of $45.98 was refunded."), "{body}");
            assert!(!body.contains("not charged"), "{body}");
        }
        assert!(unpaid.text().contains("2 x Black <T-shirt> ($19.99 each): $39.98"));
        assert!(refunded.text().contains("What happened: Shipping is unavailable & <b>down</b>"));
        let html = refunded.html();
        assert!(html.contains("Black &lt;T-shirt&gt;") && !html.contains("<T-shirt>"));
        assert!(html.contains("What happened: Shipping is unavailable &amp; &lt;b&gt;down&lt;/b&gt;"));
        assert!(!html.contains("<b>down"));
    }
}
