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

use shop_spin::store::Commands;

use crate::ledger::{Claim, Ledger};
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
/// `settle` answers 409 and charges nothing. Two concurrent requests with one key race on one
/// atomic script that claims the key (with each other and with `settle`'s `SET NX`): the
/// winner's record decides, the loser answers by it. Declined test cards answer 402 and record
/// nothing.
pub async fn charge(req: ChargeRequest) -> Result<Receipt, ShopError> {
    let charge = validate_charge(&req)?;
    charge_with(&Ledger::open()?, &charge)
}

/// The Redis part of [`charge`]: one command for a new charge or a declined card (two for a
/// replay, which re-creates a lost transaction record).
fn charge_with<R: Commands>(ledger: &Ledger<R>, charge: &ValidCharge) -> Result<Receipt, ShopError> {
    if let ChargeDecision::Declined(reason) = test_card_outcome(charge.card.number()) {
        // A key that holds a record answers by it, whatever the card; otherwise the decline.
        if let Some(earlier) = ledger.key_record(&charge.key)? {
            return answer_by_record(ledger, earlier, charge);
        }
        log(
            "charge declined",
            charge,
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
    // The key is claimed and the transaction written under its fresh, unique id in one step;
    // when the key holds a record already (an earlier charge, or the key closed by `settle`),
    // nothing is written and the answer is by that record.
    match ledger.charge(&charge.key, &receipt)? {
        Claim::Claimed => {
            log(
                "charge approved",
                charge,
                [("transaction_id", json!(receipt.transaction_id))],
            );
            Ok(receipt)
        }
        Claim::Taken(earlier) => answer_by_record(ledger, earlier, charge),
    }
}

/// Answers a charge whose key holds a record already: the earlier receipt, or 409 if closed.
fn answer_by_record<R: Commands>(ledger: &Ledger<R>, record: KeyRecord, charge: &ValidCharge) -> Result<Receipt, ShopError> {
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
fn replay<R: Commands>(ledger: &Ledger<R>, earlier: Receipt, charge: &ValidCharge) -> Result<Receipt, ShopError> {
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
fn heal_transaction<R: Commands>(ledger: &Ledger<R>, charged: &Receipt) -> Result<(), ShopError> {
    TransactionId::parse(&charged.transaction_id)
        .map_err(|_| ShopError::internal("A stored receipt has an invalid transaction id"))?;
    ledger.heal_transaction(charged)
}

/// For a caller that lost track of a charge: the charge made with the key if there is one;
/// otherwise the key is closed (`SET NX GET`, racing any charge in flight), so that no charge
/// can ever be made with it, and `charged` is none. Repeats answer the same.
pub async fn settle(req: SettleRequest) -> Result<Settlement, ShopError> {
    let key = IdempotencyKey::parse(&req.idempotency_key).map_err(|e| {
        ShopError::invalid_fields(vec![FieldError::new("idempotency_key", e.to_string())])
    })?;
    settle_with(&Ledger::open()?, &key)
}

/// The Redis part of [`settle`]: one command (two when it finds a charge: the transaction
/// record is re-created if it was lost).
fn settle_with<R: Commands>(ledger: &Ledger<R>, key: &IdempotencyKey) -> Result<Settlement, ShopError> {
    let closed_at = shop_spin::log::now();
    let Some(record) = ledger.close_key(key, &closed_at)? else {
        let mut fields = Map::new();
        fields.insert("idempotency_key".into(), json!(key.as_str()));
        fields.insert("closed_at".into(), json!(closed_at));
        shop_spin::log::line("info", "idempotency key closed: nothing charged", fields);
        return Ok(Settlement { charged: None });
    };
    // A charge (or another settle) claimed the key first: answer by what it wrote.
    match record {
        KeyRecord::Charged(receipt) => {
            heal_transaction(ledger, &receipt)?;
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
    refund_with(&Ledger::open()?, &id, &reason)
}

/// The Redis part of [`refund`]: `MGET` of the transaction and its refund, then (for a first
/// refund) `SET NX GET` of the refund.
fn refund_with<R: Commands>(ledger: &Ledger<R>, id: &TransactionId, reason: &str) -> Result<RefundReceipt, ShopError> {
    let (Some(charged), earlier) = ledger.transaction_and_refund(id)? else {
        return Err(ShopError::not_found(format!(
            "There is no transaction {id}"
        )));
    };
    if let Some(earlier) = earlier {
        return Ok(earlier);
    }
    let refund = RefundReceipt {
        refund_id: format!("rfd_{}", uuid::Uuid::new_v4().simple()),
        transaction_id: id.to_string(),
        amount: charged.amount,
    };
    if let Some(earlier) = ledger.claim_refund(&refund)? {
        // A concurrent refund of the same transaction got there first.
        return Ok(earlier);
    }
    let mut fields = Map::new();
    fields.insert("refund_id".into(), json!(refund.refund_id));
    fields.insert("transaction_id".into(), json!(refund.transaction_id));
    fields.insert("amount_minor".into(), json!(refund.amount.minor));
    fields.insert("currency".into(), json!(refund.amount.currency));
    fields.insert("reason".into(), json!(reason));
    shop_spin::log::line("info", "refund", fields);
    Ok(refund)
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

    use shop_spin::store::Recorder;
    use spin_sdk::redis::RedisResult;

    const TXN: &str = "txn_00112233445566778899aabbccddeeff";

    fn bin(b: &[u8]) -> RedisResult {
        RedisResult::Binary(b.to_vec())
    }

    fn stored_receipt(minor: i64) -> Receipt {
        Receipt { transaction_id: TXN.into(), amount: WireMoney { minor, currency: "USD".into() }, card_brand: "Visa".into(), card_last4: "4242".into() }
    }

    fn charging(minor: i64, card: &str, replies: Vec<Vec<RedisResult>>) -> (Result<Receipt, ShopError>, Recorder) {
        let mut req = charge(minor, "USD");
        req.card.number = card.into();
        let valid = validate_charge(&req).ok().unwrap();
        let ledger = Ledger::on(Recorder::new(replies));
        let result = charge_with(&ledger, &valid);
        (result, ledger.into_redis())
    }

    /// The Redis commands of a charge are part of its contract (issue 16): a first charge is one
    /// script that claims the key and writes the transaction together.
    #[test]
    fn a_first_charge_is_one_redis_command() {
        let (receipt, redis) = charging(4598, "4242424242424242", vec![vec![RedisResult::Int64(1)]]);
        let receipt = receipt.unwrap();
        assert!(redis.is_done());
        let calls = redis.calls();
        assert_eq!(redis.commands(), ["EVAL"]);
        let txn_key = format!("test:shop:txn:{}", receipt.transaction_id);
        assert_eq!(calls[0][1..5], ["<script>", "2", "test:shop:charge:ORD-0123456789AB", txn_key.as_str()]);
        let stored = shop_spin::json::encode(&receipt);
        let stored = String::from_utf8_lossy(&stored);
        // The key's record and the transaction are both the bare receipt, as they always were.
        assert_eq!(calls[0][5..], [stored.as_ref(), "2592000", stored.as_ref(), "7776000"]);
        assert_eq!((receipt.amount.minor, receipt.card_last4.as_str()), (4598, "4242"));
    }

    #[test]
    fn a_repeated_key_answers_by_its_record() {
        let earlier = shop_spin::json::encode(&stored_receipt(4598));
        // Same amount: the earlier receipt; its transaction record is re-created if it was lost.
        let (receipt, redis) = charging(4598, "4242424242424242", vec![vec![RedisResult::Int64(0), bin(&earlier)], vec![RedisResult::Nil]]);
        assert_eq!(receipt.unwrap(), stored_receipt(4598));
        assert_eq!(redis.commands(), ["EVAL", "SET"]);
        let heal = &redis.calls()[1];
        assert_eq!(heal[1], format!("test:shop:txn:{TXN}"));
        assert_eq!(heal[3..], ["NX", "EX", "7776000"]);

        // Another amount: 409, nothing more sent.
        let (refused, redis) = charging(100, "4242424242424242", vec![vec![RedisResult::Int64(0), bin(&earlier)]]);
        let e = refused.unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::Conflict, "This idempotency key was already used for a charge of $45.98"));
        assert_eq!(redis.commands(), ["EVAL"]);

        // A closed key: 409, nothing charged.
        let closed = br#"{"closed_at":"2030-01-02T03:04:05Z"}"#;
        let (refused, redis) = charging(4598, "4242424242424242", vec![vec![RedisResult::Int64(0), bin(closed)]]);
        assert_eq!(refused.unwrap_err(), closed_key_error());
        assert_eq!(redis.commands(), ["EVAL"]);

        // An unreadable record is a bug (500), not a charge.
        let (broken, _) = charging(4598, "4242424242424242", vec![vec![RedisResult::Int64(0), bin(b"{}")]]);
        assert_eq!(broken.unwrap_err().code, ErrorCode::Internal);
    }

    #[test]
    fn a_declined_card_reads_the_key_once_and_records_nothing() {
        let (declined, redis) = charging(4598, "4000000000000002", vec![vec![RedisResult::Nil]]);
        assert_eq!(declined.unwrap_err().code, ErrorCode::PaymentDeclined);
        assert_eq!(redis.calls(), [vec!["GET", "test:shop:charge:ORD-0123456789AB"]]);
        // A key that was charged before answers its receipt, as it always did.
        let earlier = shop_spin::json::encode(&stored_receipt(4598));
        let (receipt, redis) = charging(4598, "4000000000000002", vec![vec![bin(&earlier)], vec![RedisResult::Status("OK".into())]]);
        assert_eq!(receipt.unwrap(), stored_receipt(4598));
        assert_eq!(redis.commands(), ["GET", "SET"]);
    }

    #[test]
    fn settle_closes_a_free_key_in_one_command_and_answers_a_taken_one_by_its_record() {
        let key = IdempotencyKey::parse("ORD-0123456789AB").unwrap();
        let ledger = Ledger::on(Recorder::new(vec![vec![RedisResult::Nil]]));
        assert_eq!(settle_with(&ledger, &key).unwrap(), Settlement { charged: None });
        let redis = ledger.into_redis();
        let call = &redis.calls()[0];
        assert_eq!(call[..2], ["SET", "test:shop:charge:ORD-0123456789AB"]);
        assert!(call[2].starts_with(r#"{"closed_at":""#), "{call:?}");
        assert_eq!(call[3..], ["NX", "GET", "EX", "2592000"]);

        let earlier = shop_spin::json::encode(&stored_receipt(4598));
        let ledger = Ledger::on(Recorder::new(vec![vec![bin(&earlier)], vec![RedisResult::Nil]]));
        assert_eq!(settle_with(&ledger, &key).unwrap(), Settlement { charged: Some(stored_receipt(4598)) });
        assert_eq!(ledger.into_redis().commands(), ["SET", "SET"]);

        let closed = br#"{"closed_at":"2030-01-02T03:04:05Z"}"#;
        let ledger = Ledger::on(Recorder::new(vec![vec![bin(closed)]]));
        assert_eq!(settle_with(&ledger, &key).unwrap(), Settlement { charged: None });
        assert_eq!(ledger.into_redis().commands(), ["SET"]);
    }

    #[test]
    fn a_refund_is_a_read_and_a_claim() {
        let id = TransactionId::parse(TXN).unwrap();
        let txn = shop_spin::json::encode(&stored_receipt(4598));
        let ledger = Ledger::on(Recorder::new(vec![vec![bin(&txn), RedisResult::Nil], vec![RedisResult::Nil]]));
        let refund = refund_with(&ledger, &id, "").unwrap();
        assert_eq!((refund.transaction_id.as_str(), refund.amount.minor), (TXN, 4598));
        let redis = ledger.into_redis();
        assert_eq!(redis.commands(), ["MGET", "SET"]);
        assert_eq!(redis.calls()[0][1..], [format!("test:shop:txn:{TXN}"), format!("test:shop:refund:{TXN}")]);
        assert_eq!(redis.calls()[1][3..], ["NX", "GET", "EX", "7776000"]);

        // Refunded before, or meanwhile: the first refund.
        let first = RefundReceipt { refund_id: "rfd_1".into(), transaction_id: TXN.into(), amount: stored_receipt(4598).amount };
        let stored = shop_spin::json::encode(&first);
        let ledger = Ledger::on(Recorder::new(vec![vec![bin(&txn), bin(&stored)]]));
        assert_eq!(refund_with(&ledger, &id, "").unwrap(), first);
        let ledger = Ledger::on(Recorder::new(vec![vec![bin(&txn), RedisResult::Nil], vec![bin(&stored)]]));
        assert_eq!(refund_with(&ledger, &id, "").unwrap(), first);

        // No transaction: 404, whatever else is stored.
        let ledger = Ledger::on(Recorder::new(vec![vec![RedisResult::Nil, bin(b"not json")]]));
        assert_eq!(refund_with(&ledger, &id, "").unwrap_err().code, ErrorCode::NotFound);
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
