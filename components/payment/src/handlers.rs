//! The payment operations: `charge`, `refund` and `settle`.

use serde_json::{json, Map, Value};
use shop_contract::payment::{
    ChargeRequest, Receipt, RefundReceipt, RefundRequest, SettleRequest, Settlement,
};
use shop_contract::{ErrorCode, FieldError, ShopError};
use shop_domain::card::test_card_outcome;
use shop_domain::validation::clean_text;
use shop_domain::{
    Card, ChargeDecision, Currency, IdempotencyKey, Money, TransactionId,
};

use crate::ledger::Ledger;
use crate::record::{closed_key_error, KeyRecord};

/// Longest refund reason kept, in characters.
const REASON_MAX: usize = 500;

/// A charge request that passed validation.
struct ValidCharge {
    key: IdempotencyKey,
    amount: Money,
    card: Card,
}

/// Charges a card once per idempotency key.
///
/// A repeated key answers with the stored receipt (409 if the amount differs); a key closed by
/// `settle` answers 409 and charges nothing. Two concurrent requests with one key race on
/// `SET NX` (with each other and with `settle`): the winner's record decides, the loser answers
/// by it. Declined test cards answer 402 and record nothing.
pub async fn charge(req: ChargeRequest) -> Result<Receipt, ShopError> {
    let charge = validate_charge(&req)?;
    let ledger = Ledger::open()?;
    if let Some(earlier) = ledger.key_record(&charge.key)? {
        return answer_by_record(&ledger, earlier, &charge);
    }
    if let ChargeDecision::Declined(reason) = test_card_outcome(charge.card.number()) {
        log(
            "charge declined",
            &charge,
            [("reason", json!(reason.code()))],
        );
        return Err(ShopError::new(ErrorCode::PaymentDeclined, reason.message()));
    }
    let receipt = Receipt {
        transaction_id: TransactionId::from_random(*uuid::Uuid::new_v4().as_bytes()).to_string(),
        amount: shop_spin::wire::money_to_wire(charge.amount),
        card_brand: charge.card.brand().name().to_string(),
        card_last4: charge.card.last4().to_string(),
    };
    // The transaction is written first under its fresh, unique id; claiming the key then
    // decides whether it happened. A loser removes its transaction and answers by the winner's
    // record: another charge's receipt, or the key closed by `settle` (409, nothing charged).
    ledger.save_transaction(&receipt)?;
    if ledger.claim_charge(&charge.key, &receipt)? {
        log(
            "charge approved",
            &charge,
            [("transaction_id", json!(receipt.transaction_id))],
        );
        return Ok(receipt);
    }
    ledger.forget_transaction(&receipt.transaction_id);
    match ledger.key_record(&charge.key)? {
        Some(winner) => answer_by_record(&ledger, winner, &charge),
        // The winner's record vanished between the two commands (expired): let the caller retry.
        None => Err(ShopError::unavailable(
            "The charge could not be recorded; try again",
        )),
    }
}

/// Answers a charge whose key holds a record already: the earlier receipt, or 409 if closed.
fn answer_by_record(ledger: &Ledger, record: KeyRecord, charge: &ValidCharge) -> Result<Receipt, ShopError> {
    match record {
        KeyRecord::Charged(earlier) => replay(ledger, earlier, charge),
        KeyRecord::Closed { closed_at } => {
            log(
                "charge refused: key closed",
                charge,
                [("closed_at", json!(closed_at))],
            );
            Err(closed_key_error())
        }
    }
}

/// Answers a repeated idempotency key with the earlier receipt, if it was for the same amount.
fn replay(ledger: &Ledger, earlier: Receipt, charge: &ValidCharge) -> Result<Receipt, ShopError> {
    if earlier.amount != shop_spin::wire::money_to_wire(charge.amount) {
        let earlier_amount = Currency::parse(&earlier.amount.currency)
            .ok()
            .and_then(|c| Money::new(earlier.amount.minor, c).ok())
            .map_or_else(
                || format!("{} {}", earlier.amount.minor, earlier.amount.currency),
                |m| m.format(),
            );
        return Err(ShopError::conflict(format!(
            "This idempotency key was already used for a charge of {earlier_amount}"
        )));
    }
    heal_transaction(ledger, &earlier)?;
    Ok(earlier)
}

/// Re-creates the `txn:` record of a charge if it was lost, so the charge can still be refunded.
fn heal_transaction(ledger: &Ledger, charged: &Receipt) -> Result<(), ShopError> {
    let id = TransactionId::parse(&charged.transaction_id)
        .map_err(|_| ShopError::internal("A stored receipt has an invalid transaction id"))?;
    if ledger.transaction(&id)?.is_none() {
        ledger.save_transaction(charged)?;
    }
    Ok(())
}

/// For a caller that lost track of a charge: the charge made with the key if there is one;
/// otherwise the key is closed (`SET NX`, racing any charge in flight), so that no charge can
/// ever be made with it, and `charged` is none. Repeats answer the same.
pub async fn settle(req: SettleRequest) -> Result<Settlement, ShopError> {
    let key = IdempotencyKey::parse(&req.idempotency_key).map_err(|e| {
        ShopError::invalid_fields(vec![FieldError::new("idempotency_key", e.to_string())])
    })?;
    let ledger = Ledger::open()?;
    let record = match ledger.key_record(&key)? {
        Some(record) => record,
        None => {
            let closed_at = shop_spin::log::now();
            if ledger.close_key(&key, &closed_at)? {
                let mut fields = Map::new();
                fields.insert("idempotency_key".into(), json!(key.as_str()));
                fields.insert("closed_at".into(), json!(closed_at));
                shop_spin::log::line("info", "idempotency key closed: nothing charged", fields);
                return Ok(Settlement { charged: None });
            }
            // A charge (or another settle) claimed the key first: answer by what it wrote.
            ledger.key_record(&key)?.ok_or_else(|| {
                ShopError::unavailable("The settlement could not be recorded; try again")
            })?
        }
    };
    match record {
        KeyRecord::Charged(receipt) => {
            heal_transaction(&ledger, &receipt)?;
            Ok(Settlement { charged: Some(receipt) })
        }
        KeyRecord::Closed { .. } => Ok(Settlement { charged: None }),
    }
}

/// Refunds a transaction in full, once: a second refund answers with the first refund receipt.
pub async fn refund(req: RefundRequest) -> Result<RefundReceipt, ShopError> {
    let mut errors = Vec::new();
    let id = TransactionId::parse(&req.transaction_id)
        .map_err(|e| errors.push(FieldError::new("transaction_id", e.to_string())))
        .ok();
    // The reason is optional; when given it is stored in logs, so it must be clean text.
    let reason = match req.reason.trim() {
        "" => Some(String::new()),
        text => clean_text(text, REASON_MAX)
            .map_err(|e| errors.push(FieldError::new("reason", e.message("Reason"))))
            .ok(),
    };
    let (Some(id), Some(reason)) = (id, reason) else {
        return Err(ShopError::invalid_fields(errors));
    };

    let ledger = Ledger::open()?;
    let Some(charged) = ledger.transaction(&id)? else {
        return Err(ShopError::not_found(format!(
            "There is no transaction {id}"
        )));
    };
    if let Some(earlier) = ledger.refund(&id)? {
        return Ok(earlier);
    }
    let refund = RefundReceipt {
        refund_id: format!("rfd_{}", uuid::Uuid::new_v4().simple()),
        transaction_id: id.to_string(),
        amount: charged.amount,
    };
    if ledger.claim_refund(&refund)? {
        let mut fields = Map::new();
        fields.insert("refund_id".into(), json!(refund.refund_id));
        fields.insert("transaction_id".into(), json!(refund.transaction_id));
        fields.insert("amount_minor".into(), json!(refund.amount.minor));
        fields.insert("currency".into(), json!(refund.amount.currency));
        fields.insert("reason".into(), json!(reason));
        shop_spin::log::line("info", "refund", fields);
        return Ok(refund);
    }
    ledger
        .refund(&id)?
        .ok_or_else(|| ShopError::unavailable("The refund could not be recorded; try again"))
}

/// Checks every field, reporting all problems at once (`idempotency_key`, `amount.*`, `card.*`).
fn validate_charge(req: &ChargeRequest) -> Result<ValidCharge, ShopError> {
    let mut errors = Vec::new();
    let key = IdempotencyKey::parse(&req.idempotency_key)
        .map_err(|e| errors.push(FieldError::new("idempotency_key", e.to_string())))
        .ok();
    let amount = match Currency::parse(&req.amount.currency) {
        Err(e) => {
            errors.push(FieldError::new("amount.currency", e.to_string()));
            None
        }
        Ok(_) if req.amount.minor <= 0 => {
            errors.push(FieldError::new(
                "amount.minor",
                "The amount must be more than zero",
            ));
            None
        }
        Ok(currency) => Money::new(req.amount.minor, currency).ok(),
    };
    let card = shop_spin::wire::card_from_wire(&req.card, &mut errors);
    match (key, amount, card) {
        (Some(key), Some(amount), Some(card)) => Ok(ValidCharge { key, amount, card }),
        _ => Err(ShopError::invalid_fields(errors)),
    }
}

/// One log line about a charge; the card appears only as brand and last four digits.
fn log<const N: usize>(msg: &str, charge: &ValidCharge, extra: [(&str, Value); N]) {
    let mut fields = Map::new();
    fields.insert("idempotency_key".into(), json!(charge.key.as_str()));
    fields.insert("amount_minor".into(), json!(charge.amount.minor()));
    fields.insert("currency".into(), json!(charge.amount.currency().code()));
    fields.insert("card_brand".into(), json!(charge.card.brand().code()));
    fields.insert("card_last4".into(), json!(charge.card.last4()));
    for (k, v) in extra {
        fields.insert(k.into(), v);
    }
    shop_spin::log::line("info", msg, fields);
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_contract::{CardDetails, Money as WireMoney};

    fn charge(minor: i64, currency: &str) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: "ORD-0123456789AB".into(),
            amount: WireMoney { minor, currency: currency.into() },
            card: CardDetails { number: "4242424242424242".into(), expiry_month: 12, expiry_year: 2035, cvv: "123".into() },
        }
    }

    #[test]
    fn a_charge_in_every_supported_currency_is_accepted_as_is() {
        for currency in Currency::ALL {
            // ¥8,296, KWD 16.794: the amount is minor units of the currency, never rescaled.
            for minor in [1, 8296, 16_794] {
                let valid = validate_charge(&charge(minor, currency.code())).ok().unwrap_or_else(|| panic!("{currency} refused"));
                assert_eq!(valid.amount, Money::new(minor, currency).unwrap());
            }
        }
        let lower = validate_charge(&charge(16_794, "kwd")).ok().unwrap();
        assert_eq!(lower.amount.format(), "KWD\u{a0}16.794");
    }

    #[test]
    fn an_unsupported_currency_or_no_amount_is_refused_by_field() {
        for (currency, minor, field) in [("XXX", 100, "amount.currency"), ("", 100, "amount.currency"), ("JPY", 0, "amount.minor"), ("KWD", -5, "amount.minor")] {
            let e = validate_charge(&charge(minor, currency)).err().unwrap();
            assert_eq!(e.code, ErrorCode::BadRequest);
            assert_eq!(e.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), [field], "{currency} {minor}");
        }
    }
}
