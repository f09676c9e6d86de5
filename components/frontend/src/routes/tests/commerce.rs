//! Currencies, stock and recommendations through `app::respond`: the picker and its cookie,
//! prices in the shopper's currency on every page, sold-out and low-stock products, "Often bought
//! together", the total the checkout form confirms (and the 409 when it moved), the rates an
//! order was paid at, and the operator's rates and stock.
use super::*;
use shop_domain::{shipping, Country, Currency, Money};

/// A request with the test session's cookies and the `currency` cookie.
fn send_in(fake: &Fake, currency: &str, method: &str, target: &str, body: &str) -> (Outgoing, String) {
    fake.reset_calls();
    let mut req = request(method, target, body, false);
    req.headers.push(("cookie".into(), format!("sid={SID}; csrf={CSRF}; currency={currency}")));
    let out = block_on(respond(fake, &config(), &req, false));
    let html = String::from_utf8(out.body.clone()).unwrap();
    (out, html)
}

fn get_in(fake: &Fake, currency: &str, target: &str) -> (Outgoing, String) {
    send_in(fake, currency, "GET", target, "")
}

fn post_in(fake: &Fake, currency: &str, target: &str, body: &str) -> (Outgoing, String) {
    send_in(fake, currency, "POST", target, &format!("csrf={CSRF}&{body}"))
}

fn operator(fake: &Fake, method: &str, target: &str, body: &str) -> (u16, Value) {
    let mut req = request(method, target, body, false);
    req.headers.push(("authorization".into(), "Bearer secret".into()));
    let out = block_on(respond(fake, &config(), &req, false));
    assert_eq!(out.header("content-type"), Some("application/json"));
    (out.status, serde_json::from_slice(&out.body).unwrap())
}

/// The value of a hidden input of the page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let at = html.find(&marker).unwrap_or_else(|| panic!("no hidden {name}")) + marker.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// The hidden fields the checkout page sends back with the order.
fn expected_fields(html: &str) -> String {
    ["expected_total", "expected_currency", "expected_items", "expected_country"]
        .map(|name| format!("{name}={}", hidden(html, name)))
        .join("&")
}

fn set_cookies(out: &Outgoing) -> Vec<&str> {
    out.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str()).collect()
}

fn requests_to(fake: &Fake, path: &str) -> Vec<Value> {
    fake.world.borrow().requests.iter().filter(|(p, _)| p == path).map(|(_, r)| r.clone()).collect()
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::Usd).unwrap()
}

fn in_currency(usd_minor: i64, currency: Currency) -> Money {
    rate_table().convert(usd(usd_minor), currency).unwrap()
}

#[test]
fn the_picker_sets_the_cookie_and_goes_back_to_a_page_of_the_shop() {
    let fake = Fake::default();
    let (out, _) = get(&fake, "/currency?code=eur&next=%2Fcart");
    assert_eq!((out.status, out.header("location")), (303, Some("/cart")));
    let cookie = set_cookies(&out).into_iter().find(|c| c.starts_with("currency=")).unwrap();
    assert_eq!(cookie, "currency=EUR; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax");
    assert_eq!(fake.calls(), 0, "choosing a currency asks no service");

    for (query, location) in [
        ("code=XXX&next=%2Fcart", "/cart"),
        ("code=%3Cscript%3E&next=%2F%3Fq%3Dmug", "/?q=mug"),
        ("next=%2Fcart", "/cart"),
    ] {
        let (out, _) = get(&fake, &format!("/currency?{query}"));
        assert_eq!((out.status, out.header("location")), (303, Some(location)), "{query}");
        assert!(set_cookies(&out).iter().all(|c| !c.starts_with("currency=")), "an unknown code changes nothing: {query}");
    }
    for next in ["%2F%2Fevil.example", "https%3A%2F%2Fevil.example", "%2F%5Cevil.example", "cart", ""] {
        let (out, _) = get(&fake, &format!("/currency?code=GBP&next={next}"));
        assert_eq!(out.header("location"), Some("/"), "{next}");
        assert!(set_cookies(&out).iter().any(|c| c.starts_with("currency=GBP;")));
    }
    let (out, _) = get(&fake, "/currency?code=JPY");
    assert_eq!(out.header("location"), Some("/"));
    let secure = Config { secure_cookies: true, ..config() };
    let out = block_on(respond(&fake, &secure, &request("GET", "/currency?code=KWD", "", true), false));
    assert!(set_cookies(&out).contains(&"currency=KWD; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax; Secure"));
    assert_eq!(get(&fake, "/currency?code=EUR&code=GBP").0.status, 400, "a doubled field is a damaged link");
}

#[test]
fn the_header_picker_lists_every_currency_with_the_shoppers_selected_and_comes_back_here() {
    let fake = Fake::default();
    let (_, html) = get_in(&fake, "JPY", "/?category=kitchen&page=1");
    assert!(html.contains(r#"<form class="currency-picker" method="get" action="/currency"><label class="hide-narrow" for="currency-code">Currency</label><select id="currency-code" name="code">"#));
    for c in Currency::ALL {
        let selected = if c == Currency::Jpy { " selected" } else { "" };
        assert!(html.contains(&format!(r#"<option value="{}"{selected}>{} — {}</option>"#, c.code(), c.code(), c.name())), "{c}");
    }
    assert!(html.contains(r#"<input type="hidden" name="next" value="/?category=kitchen&amp;page=1">"#));
    let (_, html) = get_in(&fake, "nonsense", "/cart?notice=added&sku=MUG-TEAL");
    assert!(html.contains(r#"<option value="USD" selected>USD — US dollar</option>"#), "an unknown cookie reads as dollars");
    assert!(html.contains(r#"<input type="hidden" name="next" value="/cart">"#), "the one-off notice is not repeated");
    assert!(html.contains(r#"<button class="btn-quiet" type="submit">Change<span class="visually-hidden"> currency</span></button>"#));
}

#[test]
fn every_page_prices_in_the_shoppers_currency_and_asks_the_catalog_for_it() {
    let fake = Fake::default();
    let mug_jpy = in_currency(1250, Currency::Jpy);
    assert_eq!(mug_jpy.format(), "¥1,891");

    let (out, html) = get_in(&fake, "JPY", "/");
    assert_eq!(out.status, 200);
    assert!(html.contains("¥1,891") && !html.contains("$12.50"), "home");
    let (_, html) = get_in(&fake, "JPY", "/?q=mug");
    assert!(html.contains("¥1,891"), "search");
    let (_, html) = get_in(&fake, "JPY", "/?category=kitchen");
    assert!(html.contains("¥1,891"), "category");
    let (_, html) = get_in(&fake, "JPY", "/product/MUG-TEAL");
    assert!(html.contains(r#"<p class="price">¥1,891</p>"#), "product");
    assert!(html.contains(&format!("Shipping to the United States from {}", shipping::quote(Country::US, 1, Currency::Jpy).format())));
    assert!(fake.calls() <= 2);

    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 2), ("TEE-CORAL".into(), 1)];
    let (_, html) = get_in(&fake, "JPY", "/cart");
    let tee_jpy = in_currency(1999, Currency::Jpy);
    let subtotal = Money::new(mug_jpy.minor() * 2 + tee_jpy.minor(), Currency::Jpy).unwrap();
    let ship = shipping::quote(Country::US, 3, Currency::Jpy);
    assert!(html.contains("¥1,891 each") && html.contains(&Money::new(mug_jpy.minor() * 2, Currency::Jpy).unwrap().format()));
    assert!(html.contains(&format!("<dd>{}</dd>", subtotal.format())) && html.contains(&format!("<dd>{}</dd>", ship.format())));
    let total = Money::new(subtotal.minor() + ship.minor(), Currency::Jpy).unwrap();
    assert!(html.contains(&format!("<dd>{}</dd>", total.format())));
    assert_eq!(fake.calls(), 2);
    let (_, html) = get_in(&fake, "JPY", "/checkout");
    assert!(html.contains(&total.format()), "checkout");

    for path in ["/api/catalog/list_products", "/api/catalog/get_product", "/api/catalog/get_products"] {
        let sent = requests_to(&fake, path);
        assert!(!sent.is_empty() && sent.iter().all(|r| r["currency"] == "JPY"), "{path}: {sent:?}");
    }
    assert!(requests_to(&fake, "/api/catalog/get_product").iter().all(|r| r["recommendations"] == 4));
    let products = requests_to(&fake, "/api/catalog/get_products");
    assert_eq!(products[0]["recommendations"], 4, "the cart page");
    assert_eq!(products[1]["recommendations"], 0, "checkout shows none");
}

#[test]
fn dinars_show_three_decimals_after_their_code_and_yen_none() {
    let fake = Fake::default();
    let mug = in_currency(1250, Currency::Kwd);
    assert_eq!(mug.format(), "KWD\u{a0}3.844");
    let (_, html) = get_in(&fake, "KWD", "/product/MUG-TEAL");
    assert!(html.contains("<p class=\"price\">KWD\u{a0}3.844</p>"));
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 3)];
    let (_, html) = get_in(&fake, "KWD", "/cart");
    assert!(html.contains("KWD\u{a0}11.532"), "3 × 3.844");
    assert!(html.contains(&shipping::quote(Country::US, 3, Currency::Kwd).format()));
    let (_, html) = get_in(&fake, "JPY", "/cart");
    assert!(html.contains("¥5,673") && !html.contains("¥5,673."), "3 × ¥1,891, no decimals");
}

#[test]
fn a_currency_without_a_rate_is_explained_with_the_picker_still_there() {
    let fake = Fake::default();
    for page in ["/", "/product/MUG-TEAL"] {
        let (out, html) = get_in(&fake, "CHF", page);
        assert_eq!(out.status, 400, "{page}");
        assert!(html.contains("There is no exchange rate for CHF yet. Please choose another currency at the top of the page."), "{page}");
        assert!(html.contains(r#"<option value="CHF" selected>"#), "{page}: the picker is there to change it");
    }
}

#[test]
fn stock_is_labelled_and_a_sold_out_product_has_no_add_form() {
    let fake = Fake::default();
    fake.world.borrow_mut().stock.extend([("LAMP-AMBER".to_string(), 0), ("CAP-RED".to_string(), 3)]);
    let (out, html) = get(&fake, "/product/LAMP-AMBER");
    assert_eq!(out.status, 200);
    assert!(!html.contains(r#"action="/cart/add""#) && !html.contains("Add to cart"));
    assert!(html.contains(r#"<p class="stock stock-out">Sold out</p>"#) && html.contains("<strong>Sold out</strong>"));
    let (_, html) = get(&fake, "/product/CAP-RED");
    assert!(html.contains(r#"<p class="stock stock-low">Only 3 left</p>"#) && html.contains(r#"action="/cart/add""#));
    assert!(html.contains(r#"<option value="3">3</option>"#) && !html.contains(r#"<option value="4">"#));
    let (_, html) = get(&fake, "/product/MUG-TEAL");
    assert!(html.contains(r#"<p class="stock stock-in">In stock</p>"#));
    let (_, html) = get(&fake, "/?category=home");
    assert!(html.contains(r#"<span class="card-stock sold-out">Sold out</span>"#), "the grid says so too");
    let (_, html) = get(&fake, "/?category=apparel");
    assert!(html.contains(r#"<span class="card-stock">Only 3 left</span>"#));
}

#[test]
fn an_addition_the_stock_refuses_goes_back_to_the_product_page_which_says_why() {
    let fake = Fake::default();
    fake.world.borrow_mut().stock.extend([("LAMP-AMBER".to_string(), 0), ("CAP-RED".to_string(), 3)]);
    let (out, _) = post(&fake, "/cart/add", "sku=LAMP-AMBER&quantity=1");
    assert_eq!(out.header("location"), Some("/product/LAMP-AMBER?error=stock"));
    let (_, html) = get(&fake, "/product/LAMP-AMBER?error=stock");
    assert!(html.contains(r#"<div class="alert" role="alert"><h2>We couldn't add that to your cart</h2><p>Amber Lamp is sold out.</p></div>"#), "{html}");
    post(&fake, "/cart/add", "sku=CAP-RED&quantity=2");
    let (out, _) = post(&fake, "/cart/add", "sku=CAP-RED&quantity=2");
    assert_eq!(out.header("location"), Some("/product/CAP-RED?error=stock"));
    assert_eq!(fake.world.borrow().cart, vec![("CAP-RED".to_string(), 2)]);
    let (_, html) = get(&fake, "/product/CAP-RED?error=stock");
    assert!(html.contains("Only 3 of Red Cap are left and your cart has 2, so you can add up to 1 more."));
    assert!(html.contains(r#"<option value="1" selected>1</option></select>"#), "only what can still be added is offered");
    assert!(fake.calls() <= 2, "the page reads the stock and the cart again, nothing more");
    let (_, html) = get(&fake, "/product/CAP-RED?error=%3Cb%3Ehi");
    assert!(!html.contains("role=\"alert\"") && !html.contains("hi</"), "only known codes say anything");
}

#[test]
fn cart_lines_say_when_few_are_left_or_none_or_fewer_than_the_line_holds() {
    let fake = Fake::default();
    {
        let mut w = fake.world.borrow_mut();
        w.cart = vec![("LAMP-AMBER".into(), 1), ("CAP-RED".into(), 2), ("TEE-CORAL".into(), 4), ("MUG-TEAL".into(), 1)];
        w.stock.extend([("LAMP-AMBER".to_string(), 0), ("CAP-RED".to_string(), 3), ("TEE-CORAL".to_string(), 2)]);
    }
    let (_, html) = get(&fake, "/cart");
    assert!(html.contains(r#"<p class="line-stock short">Sold out — remove it to check out</p>"#));
    assert!(html.contains(r#"<p class="line-stock">Only 3 left</p>"#));
    assert!(html.contains(r#"<p class="line-stock short">Only 2 left — lower the quantity to 2 or fewer to check out</p>"#));
    assert_eq!(html.matches("line-stock").count(), 3, "nothing for a line with plenty left");
    assert!(html.contains("Change them before you check out."));
}

#[test]
fn often_bought_together_comes_with_the_product_and_the_cart_in_the_same_call() {
    let fake = Fake::default();
    let (_, html) = get(&fake, "/product/MUG-TEAL");
    assert!(!html.contains("Often bought together"), "omitted when there are none");
    fake.world.borrow_mut().recommend = vec!["MUG-TEAL", "TEE-CORAL", "LAMP-AMBER", "CAP-RED"];
    fake.world.borrow_mut().stock.insert("LAMP-AMBER".into(), 0);
    let (_, html) = get_in(&fake, "EUR", "/product/MUG-TEAL");
    assert_eq!(fake.calls(), 2, "the cart and the product with its recommendations");
    let row = &html[html.find("Often bought together").expect("the row")..];
    assert!(html.contains(r#"<section class="recommendations" aria-labelledby="recommendations-title"><h2 id="recommendations-title">Often bought together</h2>"#));
    assert!(row.contains(r#"<h3><a href="/product/TEE-CORAL">Coral Tee</a></h3>"#) && row.contains(r#"<h3><a href="/product/CAP-RED">Red Cap</a></h3>"#));
    assert!(row.contains(&in_currency(1999, Currency::Eur).format()), "priced in the shopper's currency");
    assert!(!row.contains("/product/MUG-TEAL") && !row.contains("Amber Lamp"), "never itself, never sold out");

    fake.world.borrow_mut().cart = vec![("TEE-CORAL".into(), 1)];
    let (_, html) = get(&fake, "/cart");
    assert_eq!(fake.calls(), 2, "the cart and its products with the recommendations");
    let row = &html[html.find("Often bought together").expect("the row on the cart page")..];
    assert!(row.contains("Teal Mug") && row.contains("Red Cap") && !row.contains("/product/TEE-CORAL"));
    fake.world.borrow_mut().recommend.clear();
    let (_, html) = get(&fake, "/cart");
    assert!(!html.contains("Often bought together"));
}

#[test]
fn checkout_sends_the_currency_and_the_total_it_showed() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 2)];
    let (_, html) = get_in(&fake, "EUR", "/checkout");
    let unit = in_currency(1250, Currency::Eur);
    let total = Money::new(unit.minor() * 2 + shipping::quote(Country::US, 2, Currency::Eur).minor(), Currency::Eur).unwrap();
    assert_eq!(hidden(&html, "expected_total"), total.minor().to_string());
    assert_eq!(hidden(&html, "expected_currency"), "EUR");
    assert_eq!((hidden(&html, "expected_items"), hidden(&html, "expected_country")), ("2".to_string(), "US".to_string()));
    assert!(html.contains(&total.format()));
    let (out, _) = post_in(&fake, "EUR", "/checkout", &format!("attempt=e1&{}&{GOOD}", expected_fields(&html)));
    assert_eq!(out.status, 303, "{:?}", out.header("location"));
    let sent = requests_to(&fake, "/api/checkout/place_order");
    assert_eq!(sent[0]["currency"], "EUR");
    assert_eq!(sent[0]["expected_total"], json!({"minor": total.minor(), "currency": "EUR"}));
    let (_, html) = get_in(&fake, "EUR", out.header("location").unwrap());
    assert!(html.contains("Paid in EUR at 1 USD = 0.92 EUR") && html.contains(&total.format()));
}

#[test]
fn the_shipping_in_the_expected_total_follows_the_country_chosen_in_the_form() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    let (_, html) = get_in(&fake, "GBP", "/checkout");
    let uk = GOOD.replace("Springfield", "London").replace("12345", "N1+9GU").replace("country=US", "country=GB");
    // The page priced shipping to the US and lists the total for every destination: the
    // United Kingdom's is the figure sent as the one the shopper saw.
    let total = in_currency(1250, Currency::Gbp).minor() + shipping::quote(Country::GB, 1, Currency::Gbp).minor();
    let total_text = Money::new(total, Currency::Gbp).unwrap().format();
    assert!(html.contains("United Kingdom, ") && html.contains(&total_text), "the page lists the UK total: {html}");
    let (out, _) = post_in(&fake, "GBP", "/checkout", &format!("attempt=g1&{}&{uk}", expected_fields(&html)));
    assert_eq!(out.status, 303, "shipping to the country picked is no surprise to refuse");
    let sent = requests_to(&fake, "/api/checkout/place_order");
    assert_eq!(sent[0]["expected_total"], json!({"minor": total, "currency": "GBP"}));
}

#[test]
fn a_total_that_moved_shows_the_checkout_again_with_the_new_total_to_confirm() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    let (_, html) = get_in(&fake, "JPY", "/checkout");
    let before = hidden(&html, "expected_total");
    fake.world.borrow_mut().price_bump = 100;
    let (out, html) = post_in(&fake, "JPY", "/checkout", &format!("attempt=j1&{}&{GOOD}", expected_fields(&html)));
    assert_eq!(out.status, 409);
    assert!(fake.world.borrow().orders.is_empty());
    let now = in_currency(1350, Currency::Jpy).minor() + shipping::quote(Country::US, 1, Currency::Jpy).minor();
    assert!(html.contains(r#"<div class="alert" role="alert"><h2>Please review your order</h2>"#));
    assert!(html.contains(&format!("it is now {}", Money::new(now, Currency::Jpy).unwrap().format())));
    assert_eq!(hidden(&html, "expected_total"), now.to_string(), "the form now confirms the new total");
    assert_ne!(hidden(&html, "expected_total"), before);
    assert!(html.contains(&format!("<dd>{}</dd>", Money::new(now, Currency::Jpy).unwrap().format())), "the new total is shown");
    assert!(html.contains(r#"value="ada@example.com""#) && !html.contains("4242"), "entries kept, the card never");
    assert!(fake.calls() <= 3, "the order, then the cart priced afresh");
    let (out, _) = post_in(&fake, "JPY", "/checkout", &format!("attempt={}&{}&{GOOD}", hidden(&html, "attempt"), expected_fields(&html)));
    assert_eq!(out.status, 303, "confirmed again at the new total");
}

#[test]
fn a_sold_out_line_at_checkout_is_a_409_with_its_message() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1), ("CAP-RED".into(), 2)];
    let (_, html) = get(&fake, "/checkout");
    fake.world.borrow_mut().stock.extend([("MUG-TEAL".to_string(), 0), ("CAP-RED".to_string(), 1)]);
    let (out, html) = post(&fake, "/checkout", &format!("attempt=s1&{}&{GOOD}", expected_fields(&html)));
    assert_eq!(out.status, 409);
    assert!(html.contains("<h2>Some items are sold out or running low</h2><p>Sold out: Teal Mug; Only 1 left of Red Cap. Change your cart, then place your order again.</p>"));
    assert!(html.contains("Sold out — remove it to check out"), "the summary marks the line");
}

#[test]
fn damaged_expected_total_fields_are_refused_and_old_forms_without_them_still_work() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    for bad in [
        "expected_total=12",
        "expected_total=-5&expected_currency=USD&expected_items=1&expected_country=US",
        "expected_total=1.5&expected_currency=USD&expected_items=1&expected_country=US",
        "expected_total=+15&expected_currency=USD&expected_items=1&expected_country=US",
        "expected_total=99999999999999999999&expected_currency=USD&expected_items=1&expected_country=US",
        "expected_total=100&expected_currency=USD&expected_items=&expected_country=US",
        "expected_total=100&expected_currency=XXX&expected_items=1&expected_country=US",
        "expected_total=100&expected_currency=USD&expected_items=1&expected_country=ZZ",
    ] {
        let (out, _) = post(&fake, "/checkout", &format!("attempt=b1&{bad}&{GOOD}"));
        assert_eq!(out.status, 400, "{bad}");
    }
    assert!(requests_to(&fake, "/api/checkout/place_order").is_empty());
    let (out, _) = post_in(&fake, "CAD", "/checkout", &format!("attempt=o1&{GOOD}"));
    assert_eq!(out.status, 303);
    let sent = requests_to(&fake, "/api/checkout/place_order");
    assert_eq!((sent[0]["currency"].clone(), sent[0]["expected_total"].clone()), (json!("CAD"), Value::Null));
}

#[test]
fn a_declined_card_keeps_the_confirmed_total_in_the_form() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    let (_, page) = get(&fake, "/checkout");
    let declined = GOOD.replace("4242+4242+4242+4242", "4000000000000002");
    let (out, html) = post(&fake, "/checkout", &format!("attempt=d1&{}&{declined}", expected_fields(&page)));
    assert_eq!(out.status, 402);
    assert_eq!(expected_fields(&html), expected_fields(&page));
}

#[test]
fn operator_rates_are_strings_checked_one_by_one() {
    let fake = Fake::default();
    let (status, body) = operator(&fake, "PUT", "/admin/rates", r#"{"rates": {"EUR": 0.9215}}"#);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Give each rate as a string like \"0.9215\"");
    assert_eq!(body["error"]["fields"][0]["field"], "rates.EUR");
    for (input, message) in [
        (r#"{"rates": {"EUR": "0.9215"}, "from": "now"}"#, "Unknown field `from` in the request body"),
        (r#"{"rates": {}}"#, "Give at least one rate, like {\"EUR\": \"0.9215\"}"),
        (r#"{"rates": [["EUR", "0.9"]]}"#, "Give the rates as an object like {\"EUR\": \"0.9215\"}"),
        (r#"{}"#, "Give the rates as an object like {\"EUR\": \"0.9215\"}"),
        (r#"{"rates": {"USD": "1"}}"#, "USD is the base currency: its rate is always 1"),
        (r#"{"rates": {"XXX": "1"}}"#, "Currency must be one of USD, EUR, GBP, JPY, CAD, CHF or KWD"),
        (r#"{"rates": {"EUR": "0.9", "eur": "0.91"}}"#, "EUR is given more than once"),
        (r#"{"rates": {"EUR": "0,92"}}"#, "Enter the rate as a decimal number like 0.9215 (units of the currency per 1 USD)"),
        (r#"{"rates": {"EUR": "0"}}"#, "A rate must be more than 0 and at most 1000000, with at most 6 decimal places"),
        (r#"{"rates": {"EUR": "0.92"}, "valid_from": 5}"#, "Give valid_from as an RFC 3339 time like \"2026-06-01T00:00:00Z\", or leave it out for now"),
        (r#"[1]"#, "The request body must be a JSON object"),
        (r#"{"rates": "#, ""),
    ] {
        let (status, body) = operator(&fake, "PUT", "/admin/rates", input);
        assert_eq!(status, 400, "{input}");
        let said = body["error"]["message"].as_str().unwrap();
        assert!(said.starts_with(message), "{input}: {said}");
    }
    assert!(requests_to(&fake, "/api/catalog_admin/set_rates").is_empty(), "nothing wrong reaches products");

    let (status, body) = operator(&fake, "PUT", "/admin/rates", r#"{"valid_from": "2026-06-01T00:00:00Z", "rates": {"eur": "0.9215", "KWD": "0.3075"}}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["current"][0]["currency"], "EUR");
    let sent = requests_to(&fake, "/api/catalog_admin/set_rates");
    assert_eq!(sent[0], json!({"valid_from": "2026-06-01T00:00:00Z", "rates": [
        {"currency": "EUR", "per_usd": "0.921500"}, {"currency": "KWD", "per_usd": "0.307500"}]}));

    let out = block_on(respond(&fake, &config(), &request("PUT", "/admin/rates", r#"{"rates": {"EUR": "1"}}"#, false), false));
    assert_eq!(out.status, 401, "no token, no rates");
    let out = block_on(respond(&fake, &config(), &request("DELETE", "/admin/rates", "", false), false));
    assert_eq!((out.status, out.header("allow")), (405, Some("PUT")));
}

#[test]
fn operator_stock_is_a_whole_number_for_a_real_sku() {
    let fake = Fake::default();
    let (status, body) = operator(&fake, "PUT", "/admin/stock/cap-red", r#"{"stock": 7}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"sku": "CAP-RED", "stock": 7, "reserved": 0}));
    assert_eq!(requests_to(&fake, "/api/catalog_admin/set_stock")[0], json!({"sku": "CAP-RED", "stock": 7}));
    let (_, html) = get(&fake, "/product/CAP-RED");
    assert!(html.contains("In stock"));
    for input in [r#"{"stock": -1}"#, r#"{"stock": 1.5}"#, r#"{"stock": "7"}"#, r#"{}"#, r#"{"stock": 99999999999}"#] {
        let (status, body) = operator(&fake, "PUT", "/admin/stock/CAP-RED", input);
        assert_eq!(status, 400, "{input}");
        assert_eq!(body["error"]["fields"][0]["field"], "stock", "{input}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("Give the stock as a whole number of units"), "{input}");
    }
    let (status, body) = operator(&fake, "PUT", "/admin/stock/CAP-RED", r#"{"stock": 1, "reserved": 0}"#);
    assert_eq!((status, body["error"]["message"].as_str()), (400, Some("Unknown field `reserved` in the request body")));
    let (status, _) = operator(&fake, "PUT", "/admin/stock/%3Cb%3E", r#"{"stock": 1}"#);
    assert_eq!(status, 400, "not a SKU");
    let (status, _) = operator(&fake, "PUT", "/admin/stock/NOPE-1", r#"{"stock": 1}"#);
    assert_eq!(status, 404);
    let out = block_on(respond(&fake, &config(), &request("PUT", "/admin/stock/CAP-RED", r#"{"stock": 1}"#, false), false));
    assert_eq!(out.status, 401);
}
