//! Fuzz target bodies: each takes arbitrary bytes, feeds them to one of the shop's pure parsers,
//! and asserts the properties that must hold for any input (a panic is a finding). Used by
//! cargo-fuzz (`fuzz/fuzz_targets/*.rs`) and, on stable, by `tests/e2e/tests/e2e/fuzz_bodies.rs`.
use shop_domain::card_details::parse_card_details;
use shop_domain::card::{luhn_valid, CardNumber};
use shop_domain::{Address, AddressInput, Cart, Currency, LineUpdate, Money, Quantity, Sku, MAX_LINES};

/// Splits fuzz input into `n` text fields at `0xFF` bytes (never valid UTF-8, so never in a field).
fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = data.split(|b| *b == 0xFF).take(n).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    out.resize(n, String::new());
    out
}

/// Card numbers, expiry and security code: a card that parses is Luhn-valid, has a brand, and
/// its last four are the last four digits typed; parsing never panics.
pub fn card_number(data: &[u8]) {
    let f = fields(data, 4);
    if let Ok(number) = CardNumber::parse(&f[0]) {
        let digits = number.expose_digits();
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "digits only: {digits:?}");
        assert!(luhn_valid(digits), "a parsed number passes Luhn: {digits}");
        assert!(digits.ends_with(number.last4()) && number.last4().len() == 4);
        let typed: String = f[0].chars().filter(char::is_ascii_digit).collect();
        assert_eq!(typed, digits, "the digits are the ones typed");
        assert!(!number.masked().contains(&digits[..digits.len().saturating_sub(4)]) || digits.len() <= 4, "masked hides the number");
        // Parsing its own digits gives the same card.
        assert_eq!(CardNumber::parse(digits).map(|n| n.expose_digits().to_string()).ok().as_deref(), Some(digits));
    }
    let month = f[1].trim().parse::<u32>().unwrap_or(u32::MAX);
    let year = f[2].trim().parse::<u32>().unwrap_or(0);
    let today = shop_domain::card::YearMonth::new(2030, 6);
    if let Ok(card) = parse_card_details(&f[0], month, year, &f[3], today) {
        assert!((1..=12).contains(&card.expiry().month()));
        assert!(!card.expiry().is_expired(today), "an accepted card is not expired");
        let cvv = card.cvv().expose_secret();
        assert!((3..=4).contains(&cvv.len()) && cvv.bytes().all(|b| b.is_ascii_digit()));
        assert!(!format!("{card:?}").contains(card.number().expose_digits()), "Debug never shows the whole number");
    }
}

/// Addresses: a parsed address re-parses to itself (normalisation is idempotent), keeps within
/// the documented lengths and carries no control characters.
pub fn address(data: &[u8]) {
    let f = fields(data, 5);
    let input = AddressInput { name: f[0].clone(), street: f[1].clone(), city: f[2].clone(), postal_code: f[3].clone(), country: f[4].clone() };
    match Address::parse(input) {
        Ok(a) => {
            let again = Address::parse(a.to_input()).expect("a parsed address parses again");
            assert_eq!(again, a, "normalisation is idempotent");
            for (text, max) in [(a.name(), Address::NAME_MAX), (a.street(), Address::STREET_MAX), (a.city(), Address::CITY_MAX), (a.postal_code(), Address::POSTAL_MAX)] {
                assert!(text.chars().count() <= max, "{text:?} longer than {max}");
                assert!(!text.chars().any(char::is_control), "control character in {text:?}");
                assert!(!text.trim().is_empty() && text.trim() == text, "trimmed and not empty: {text:?}");
            }
        }
        Err(errors) => assert!(!errors.is_empty(), "a refusal names a field"),
    }
}

/// Money parsing: an accepted amount formats back to text that parses to the same amount, and
/// the arithmetic never overflows silently.
pub fn money(data: &[u8]) {
    let f = fields(data, 3);
    let currency = Currency::parse(&f[1]).unwrap_or(Currency::ALL[usize::from(data.first().copied().unwrap_or(0)) % Currency::ALL.len()]);
    if let Ok(m) = Money::parse_decimal(&f[0], currency) {
        assert!(m.minor() >= 0);
        let text = m.to_decimal_string();
        assert_eq!(Money::parse_decimal(&text, currency).ok(), Some(m), "{text} round-trips");
        let _ = m.format();
        if let Ok(other) = Money::parse_decimal(&f[2], currency) {
            match m.checked_add(other) {
                Ok(sum) => assert_eq!(sum.minor(), m.minor() + other.minor()),
                Err(_) => assert!(m.minor().checked_add(other.minor()).is_none_or(|s| s > 0), "refused only on overflow or limit"),
            }
            if let Ok(diff) = m.checked_sub(other) {
                assert!(diff.minor() >= 0 && diff.minor() == m.minor() - other.minor());
            }
        }
        for q in [1u32, 2, 99] {
            if let Ok(total) = m.multiply(Quantity::new(q).unwrap()) {
                assert_eq!(i128::from(total.minor()), i128::from(m.minor()) * i128::from(q));
            }
        }
    }
}

/// Exchange rates and conversion (`amount`, `from`, `to`, `from rate`, `to rate` at `0xFF`): a
/// rate that parses is in range and prints to text that parses back to it; a conversion never
/// panics, is in the target currency, is the exact quotient rounded half to even (within half a
/// minor unit of it, checked in 128-bit integers), never decreases when the amount grows, and
/// converting to the same currency changes nothing.
pub fn exchange(data: &[u8]) {
    use shop_domain::exchange::{convert, PerUsd};
    let f = fields(data, 5);
    let pick = |i: usize| Currency::ALL[usize::from(data.get(i).copied().unwrap_or(0)) % Currency::ALL.len()];
    let from = Currency::parse(&f[1]).unwrap_or(pick(0));
    let to = Currency::parse(&f[2]).unwrap_or(pick(1));
    let rates: Vec<PerUsd> = [&f[3], &f[4]].into_iter().filter_map(|t| PerUsd::parse(t).ok()).collect();
    for r in &rates {
        assert!(r.micros() > 0 && r.micros() <= 1_000_000_000_000, "in range: {}", r.micros());
        assert_eq!(PerUsd::parse(&r.to_decimal_string()).ok(), Some(*r), "round-trips");
        assert_eq!(PerUsd::parse(&r.to_short_string()).ok(), Some(*r), "short form round-trips");
    }
    let (Ok(amount), [from_rate, to_rate, ..]) = (Money::parse_decimal(&f[0], from), rates.as_slice()) else {
        return;
    };
    let Ok(converted) = convert(amount, *from_rate, to, *to_rate) else {
        return;
    };
    assert_eq!(converted.currency(), to);
    let num = i128::from(amount.minor()) * i128::from(to_rate.micros()) * 10_i128.pow(to.exponent());
    let den = i128::from(from_rate.micros()) * 10_i128.pow(from.exponent());
    // |converted − num/den| ≤ 1/2, i.e. |2·converted·den − 2·num| ≤ den.
    let gap = (2 * i128::from(converted.minor()) * den - 2 * num).abs();
    assert!(gap <= den, "{amount:?} → {converted:?} is not the rounded quotient");
    if let Ok(more) = Money::new(amount.minor().saturating_add(1), from) {
        if let Ok(bigger) = convert(more, *from_rate, to, *to_rate) {
            assert!(bigger.minor() >= converted.minor(), "monotonic");
        }
    }
    assert_eq!(convert(amount, *from_rate, from, *from_rate).ok(), Some(amount), "same currency, same rate: unchanged");
}

/// Cart commands (add / set / update with `LineUpdate` / remove) applied in sequence: every line
/// stays within 1..=99, SKUs stay unique, the line count within `MAX_LINES`, and the item count
/// is the sum of the quantities; a refused command changes nothing.
pub fn cart_commands(data: &[u8]) {
    let skus: Vec<Sku> = (0..60).map(|i| Sku::parse(&format!("FUZ-ITEM-{i}")).expect("a valid SKU")).collect();
    let mut cart = Cart::new();
    for chunk in data.chunks(3) {
        let [op, which, arg] = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&1)];
        let sku = &skus[usize::from(which) % skus.len()];
        let before = cart.clone();
        let outcome = match op % 4 {
            0 => Quantity::new(u32::from(arg)).map_err(|_| ()).and_then(|q| cart.add(sku, q).map(|_| ()).map_err(|_| ())),
            1 => Quantity::new(u32::from(arg)).map_err(|_| ()).and_then(|q| cart.set_quantity(sku, q).map_err(|_| ())),
            2 => {
                let text = String::from_utf8_lossy(&data[..usize::from(arg).min(data.len()).min(8)]).into_owned();
                let typed = if arg % 2 == 0 { arg.to_string() } else { text };
                LineUpdate::parse(&typed).map_err(|_| ()).and_then(|u| cart.update(sku, u).map_err(|_| ()))
            }
            _ => {
                cart.remove(sku);
                Ok(())
            }
        };
        if outcome.is_err() {
            assert_eq!(cart, before, "a refused command changed the cart");
        }
        assert!(cart.line_count() <= MAX_LINES);
        let mut seen = std::collections::HashSet::new();
        let mut sum = 0u32;
        for line in cart.lines() {
            assert!(seen.insert(line.sku.clone()), "duplicate line");
            assert!((1..=99).contains(&line.quantity.get()));
            sum += line.quantity.get();
        }
        assert_eq!(cart.item_count(), sum);
    }
    // Quantity and LineUpdate parsing of the raw text never panic and agree with each other.
    let text = String::from_utf8_lossy(data);
    match (Quantity::parse(&text), LineUpdate::parse(&text)) {
        (Ok(q), Ok(LineUpdate::Set(u))) => assert_eq!(q, u),
        (Ok(_), other) => panic!("a quantity that is no line update: {other:?}"),
        (Err(_), Ok(LineUpdate::Set(_))) => panic!("a line update that is no quantity"),
        _ => {}
    }
}

/// The frontend's strict form decoder, against a reference decoder written here: never panics;
/// accepts exactly the inputs the reference accepts; every field has the reference's value; and
/// an accepted form re-encodes to a body that decodes to the same form.
pub fn form_decode(data: &[u8]) {
    use frontend::forms::{encode_component, Form};
    fn reference(raw: &[u8]) -> Option<String> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return None;
                    }
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    let mut expected: Option<Vec<(String, String)>> = Some(Vec::new());
    if data.len() > frontend::forms::MAX_FORM_BYTES {
        expected = None;
    }
    for pair in data.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let Some(fields) = expected.as_mut() else { break };
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        match (reference(name), reference(value)) {
            (Some(n), Some(v)) if !fields.iter().any(|(k, _)| *k == n) => fields.push((n, v)),
            _ => expected = None,
        }
    }
    let parsed = Form::parse(data);
    match (&parsed, &expected) {
        (Ok(form), Some(fields)) => {
            for (n, v) in fields {
                assert_eq!(form.get(n), Some(v.as_str()), "field {n:?}");
            }
            let body: Vec<String> = fields.iter().map(|(n, v)| format!("{}={}", encode_component(n), encode_component(v))).collect();
            let again = Form::parse(body.join("&").as_bytes()).expect("a re-encoded form decodes");
            assert_eq!(&again, form, "re-encoding round-trips");
        }
        (Err(_), None) => {}
        (got, want) => panic!("decoder and reference disagree on {data:?}: {got:?} vs {want:?}"),
    }
}

/// The services' strict JSON decoding (`shop_spin::json::decode`) on a few request types:
/// never panics; whatever it accepts encodes and decodes to the same value; unknown fields are
/// always refused.
pub fn json_decode(data: &[u8]) {
    use shop_contract::{accounts, carts, catalog, catalog_admin, checkout, inventory, payment};
    fn check<T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
        if let Ok(v) = shop_spin::json::decode::<T>(data) {
            let bytes = shop_spin::json::encode(&v);
            let again: T = shop_spin::json::decode(&bytes).expect("an encoded request decodes");
            assert_eq!(again, v);
            // Anything accepted had no unknown field: adding one is refused.
            if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                map.insert("zz_unknown".into(), serde_json::Value::Null);
                assert!(shop_spin::json::decode::<T>(serde_json::Value::Object(map).to_string().as_bytes()).is_err());
            }
        }
    }
    check::<carts::AddItemRequest>(data);
    check::<catalog::ListProductsRequest>(data);
    check::<catalog::GetProductsRequest>(data);
    check::<payment::ChargeRequest>(data);
    check::<checkout::PlaceOrderRequest>(data);
    check::<catalog::GetProductRequest>(data);
    check::<catalog_admin::SetRatesRequest>(data);
    check::<inventory::ReserveRequest>(data);
    check::<carts::MergeCartRequest>(data);
    check::<checkout::ListOrdersRequest>(data);
    check::<checkout::ClaimOrdersRequest>(data);
    check::<accounts::Credentials>(data);
    check::<accounts::SaveAddressRequest>(data);
}

/// Sign-up and sign-in fields (`email`, `password`, `client` at `0xFF`): an accepted email is
/// lowercase, trimmed, at most 254 characters, free of control characters, and parses to itself;
/// an accepted new password is also an accepted typed one, is 12+ characters, at most 256 bytes,
/// free of control characters, and is never the email; a typed password over 256 bytes or with
/// a control character is always refused; an accepted client address prints as an IP address
/// that parses to itself. Nothing panics, and no error message repeats the password.
pub fn credentials(data: &[u8]) {
    use shop_domain::account::{AccountEmail, ClientAddr};
    use shop_domain::password::{Password, MAX_BYTES, MIN_CHARS};
    let f = fields(data, 3);
    let email = AccountEmail::parse(&f[0]).ok();
    if let Some(e) = &email {
        let text = e.as_str();
        assert_eq!(text, text.to_lowercase(), "lowercase");
        assert_eq!(text, text.trim(), "trimmed");
        assert!(text.chars().count() <= 254 && !text.chars().any(char::is_control), "{text:?}");
        assert_eq!(AccountEmail::parse(text).ok().as_ref(), Some(e), "normalising is idempotent");
    }
    let given = Password::parse_given(&f[1]);
    match &given {
        Ok(p) => assert_eq!(p.expose_secret(), f[1].as_bytes(), "a password is taken exactly as typed"),
        Err(e) => assert!(f[1].len() < 8 || !e.to_string().contains(f[1].as_str()), "a refusal repeats the password"),
    }
    if f[1].len() > MAX_BYTES || f[1].chars().any(char::is_control) {
        assert!(given.is_err(), "too long or with a control character, yet accepted");
    }
    if let Ok(p) = Password::parse_new(&f[1], email.as_ref()) {
        assert!(given.is_ok(), "a new password is a valid typed one");
        assert!(f[1].chars().count() >= MIN_CHARS && p.expose_secret().len() <= MAX_BYTES);
        if let Some(e) = &email {
            assert_ne!(f[1].to_lowercase().trim(), e.as_str(), "the email as a password");
        }
        assert_eq!(format!("{p:?}"), "Password(<secret>)", "Debug shows the password");
    }
    if let Ok(client) = ClientAddr::parse(&f[2]) {
        let text = client.to_string();
        assert_eq!(ClientAddr::parse(&text), Ok(client), "{text}");
        assert!(text.parse::<std::net::IpAddr>().is_ok(), "{text}");
    }
}

/// Stored session records and sign-in counters, read back from arbitrary bytes (the store is
/// shared, so anything may be there): decoding never panics, a decoded record round-trips
/// through its encoding, its state at any time is consistent (an active session's time to live is positive
/// and never reaches past 30 days from its start); the sign-in schedule never panics, and a
/// refusal always asks for 1 s to 15 minutes.
pub fn account_records(data: &[u8]) {
    use shop_domain::account_session::{SessionRecord, SessionState, ABSOLUTE_SECONDS};
    use shop_domain::signin_limit::{Decision, PER_ACCOUNT, PER_CLIENT};
    let f = fields(data, 3);
    let now = f[1].trim().parse::<i64>().unwrap_or(1_800_000_000);
    if let Some(record) = SessionRecord::decode(&f[0]) {
        assert_eq!(SessionRecord::decode(&record.encode()).as_ref(), Some(&record), "a record round-trips");
        match record.state(now) {
            SessionState::Active { ttl_seconds, .. } => {
                assert!(ttl_seconds > 0, "an active session expires later");
                assert!(now.saturating_add(ttl_seconds) <= record.created_at.saturating_add(ABSOLUTE_SECONDS), "past 30 days");
            }
            SessionState::Ended => {}
        }
    }
    let numbers: Vec<i64> = f[2].split(' ').map(|n| n.parse().unwrap_or(0)).collect();
    let (claimed, last, now_ms) = (numbers[0], numbers.get(1).copied(), numbers.get(2).copied().unwrap_or(0));
    for limit in [PER_ACCOUNT, PER_CLIENT] {
        if let Decision::Refused { retry_after_seconds } = limit.decide_claimed(claimed, last, now_ms) {
            assert!(claimed > i64::from(limit.free_failures), "refused within the free failures");
            assert!(retry_after_seconds >= 1);
            // At most the longest wait, unless the last attempt is in the future (a clock that went back).
            assert!(retry_after_seconds <= 900 || last.is_some_and(|l| l > now_ms), "{retry_after_seconds}");
        }
    }
}
