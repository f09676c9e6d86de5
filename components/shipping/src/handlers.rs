//! The shipping operations: `get_quote` and `ship_order`.
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use shop_contract::shipping::{Quote, QuoteRequest, ShipRequest, Shipment};
use shop_contract::{FieldError, ShopError};
use shop_domain::{
    shipping, Address, Country, Currency, IdempotencyKey, Quantity,
    ShippingZone, Sku, TrackingId,
};
use shop_spin::store::{Commands, Redis};

/// Most lines one shipment may list.
const MAX_SHIP_LINES: usize = 100;
/// How long a shipment is remembered under its idempotency key: 30 days, as payment keeps its
/// charge keys, so that checkout's reconciler, shipping a paid order late, never ships twice.
const SHIPMENT_TTL_SECONDS: i64 = 30 * 24 * 60 * 60;

/// Prices shipping `item_count` items to `country` in `currency`.
pub async fn get_quote(req: QuoteRequest) -> Result<Quote, ShopError> {
    let mut errors = Vec::new();
    let country = Country::parse(&req.country)
        .map_err(|e| errors.push(FieldError::new("country", e.to_string())))
        .ok();
    if !shipping::QUOTE_ITEMS.contains(&req.item_count) {
        errors.push(FieldError::new("item_count", shipping::ItemCountError.to_string()));
    }
    let currency = Currency::parse(&req.currency)
        .map_err(|e| errors.push(FieldError::new("currency", e.to_string())))
        .ok();
    match (country, currency) {
        (Some(country), Some(currency)) if errors.is_empty() => Ok(Quote {
            cost: shop_spin::wire::money_to_wire(shipping::quote(country, req.item_count, currency)),
            zone: ShippingZone::for_country(country).name().to_string(),
        }),
        _ => Err(ShopError::invalid_fields(errors)),
    }
}

/// A ship request that passed validation.
struct ValidShipment {
    key: IdempotencyKey,
    order: Consignment,
}

/// What is shipped, normalised: a repeat of the key is compared with this.
#[derive(Serialize)]
struct Consignment {
    address: Address,
    items: Vec<(Sku, Quantity)>,
    currency: Currency,
}

/// What is stored under `shipment:<idempotency key>`.
#[derive(Serialize, Deserialize)]
struct ShipmentRecord {
    /// The normalised request, so a different request reusing the key is refused.
    request: Value,
    shipment: Shipment,
}

/// Creates a shipment once per idempotency key; a repeat answers with the same shipment.
///
/// One Redis command: `SET shipment:<key> <record> NX GET EX`, which stores the new shipment
/// unless the key holds one, and then answers that one. Two concurrent requests with one key
/// race on it: only the winner's tracking id exists, the loser answers by the winner's record.
pub async fn ship_order(req: ShipRequest) -> Result<Shipment, ShopError> {
    let shipment = validate_shipment(req)?;
    ship_with(&Redis::open()?, shipment)
}

/// The Redis part of [`ship_order`]: one command.
fn ship_with<R: Commands>(redis: &R, shipment: ValidShipment) -> Result<Shipment, ShopError> {
    let ValidShipment { key, order } = shipment;
    let request = serde_json::to_value(&order)
        .map_err(|e| ShopError::internal(format!("cannot encode a shipment request: {e}")))?;
    let name = redis.key(&format!("shipment:{key}"));

    let item_count = order
        .items
        .iter()
        .fold(0_u32, |n, (_, q)| n.saturating_add(q.get()));
    let cost = shipping::quote(order.address.country(), item_count, order.currency);
    let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
    // XOR mixes away the UUID's fixed version bits, leaving 64 random bits for the 60 used.
    let tracking_id = TrackingId::from_random((high ^ low).to_be_bytes());
    let record = ShipmentRecord {
        request: request.clone(),
        shipment: Shipment {
            tracking_id: tracking_id.to_string(),
            cost: shop_spin::wire::money_to_wire(cost),
        },
    };
    let earlier = redis.set_nx_get(
        &name,
        &shop_spin::json::encode(&record),
        Some(SHIPMENT_TTL_SECONDS),
    )?;
    if let Some(earlier) = earlier {
        return replay(decode_record(&name, &earlier)?, &request);
    }
    let mut fields = Map::new();
    fields.insert("tracking_id".into(), json!(record.shipment.tracking_id));
    fields.insert("idempotency_key".into(), json!(key.as_str()));
    fields.insert("country".into(), json!(order.address.country().code()));
    fields.insert("item_count".into(), json!(item_count));
    fields.insert("cost_minor".into(), json!(cost.minor()));
    fields.insert("currency".into(), json!(cost.currency().code()));
    shop_spin::log::line("info", "shipment created", fields);
    Ok(record.shipment)
}

/// Answers a repeated key with the earlier shipment, if it was for the same request.
fn replay(earlier: ShipmentRecord, request: &Value) -> Result<Shipment, ShopError> {
    if &earlier.request == request {
        Ok(earlier.shipment)
    } else {
        Err(ShopError::conflict(
            "This idempotency key was already used for a different shipment",
        ))
    }
}

fn decode_record(name: &str, bytes: &[u8]) -> Result<ShipmentRecord, ShopError> {
    serde_json::from_slice(bytes).map_err(|e| {
        shop_spin::log::error(&format!("shipment record `{name}` is unreadable: {e}"));
        ShopError::internal("A stored shipment is unreadable")
    })
}

/// Checks every field, reporting all problems at once (`idempotency_key`, `address.*`,
/// `items`, `items[i].sku`, `items[i].quantity`, `currency`).
fn validate_shipment(req: ShipRequest) -> Result<ValidShipment, ShopError> {
    let mut errors = Vec::new();
    let key = IdempotencyKey::parse(&req.idempotency_key)
        .map_err(|e| errors.push(FieldError::new("idempotency_key", e.to_string())))
        .ok();
    let address = shop_spin::wire::address_from_wire(req.address, "address.", &mut errors);
    if req.items.is_empty() {
        errors.push(FieldError::new(
            "items",
            "A shipment needs at least one item",
        ));
    } else if req.items.len() > MAX_SHIP_LINES {
        errors.push(FieldError::new(
            "items",
            format!("A shipment can list at most {MAX_SHIP_LINES} items"),
        ));
    }
    let mut items = Vec::with_capacity(req.items.len().min(MAX_SHIP_LINES));
    for (i, item) in req.items.iter().enumerate().take(MAX_SHIP_LINES) {
        let sku = Sku::parse(&item.sku)
            .map_err(|e| errors.push(FieldError::new(format!("items[{i}].sku"), e.to_string())));
        let quantity = Quantity::new(item.quantity).map_err(|e| {
            errors.push(FieldError::new(
                format!("items[{i}].quantity"),
                e.to_string(),
            ))
        });
        if let (Ok(sku), Ok(quantity)) = (sku, quantity) {
            items.push((sku, quantity));
        }
    }
    let currency = Currency::parse(&req.currency)
        .map_err(|e| errors.push(FieldError::new("currency", e.to_string())))
        .ok();
    match (key, address, currency) {
        (Some(key), Some(address), Some(currency)) if errors.is_empty() => Ok(ValidShipment {
            key,
            order: Consignment {
                address,
                items,
                currency,
            },
        }),
        _ => Err(ShopError::invalid_fields(errors)),
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use shop_contract::shipping::ShipItem;
    use shop_contract::{Address as WireAddress, ErrorCode};
    use shop_spin::store::Recorder;
    use spin_sdk::redis::RedisResult;

    fn request(quantity: u32) -> ShipRequest {
        ShipRequest {
            idempotency_key: "ORD-0123456789AB".into(),
            address: WireAddress {
                name: "Ada Lovelace".into(),
                street: "12 Analytical Row".into(),
                city: "London".into(),
                postal_code: "N1 9GU".into(),
                country: "GB".into(),
            },
            items: vec![ShipItem { sku: "kit-mug-teal".into(), quantity }],
            currency: "USD".into(),
        }
    }

    fn ship(quantity: u32, reply: RedisResult) -> (Result<Shipment, ShopError>, Recorder) {
        let redis = Recorder::new(vec![vec![reply]]);
        let result = ship_with(&redis, validate_shipment(request(quantity)).ok().unwrap());
        (result, redis)
    }

    /// A shipment is one Redis command (issue 16): the claim answers what holds the key.
    #[test]
    fn a_shipment_is_one_set_nx_get() {
        let (shipment, redis) = ship(2, RedisResult::Nil);
        let shipment = shipment.unwrap();
        assert!(shipment.tracking_id.starts_with("TRK-"), "{shipment:?}");
        let calls = redis.calls();
        assert_eq!(redis.commands(), ["SET"]);
        assert_eq!(calls[0][1], "test:shop:shipment:ORD-0123456789AB");
        assert_eq!(calls[0][3..], ["NX", "GET", "EX", "2592000"]);
        // What is stored: the normalised request and the shipment, as before.
        let stored: ShipmentRecord = serde_json::from_str(&calls[0][2]).unwrap();
        assert_eq!(stored.shipment, shipment);
        assert_eq!(stored.request["items"], serde_json::json!([["KIT-MUG-TEAL", 2]]));

        // The same request again: the stored shipment, nothing written.
        let again = RedisResult::Binary(calls[0][2].clone().into_bytes());
        let (replayed, redis) = ship(2, again.clone());
        assert_eq!(replayed.unwrap(), shipment);
        assert_eq!(redis.commands(), ["SET"]);
        // Another request with the key: 409.
        let e = ship(3, again).0.unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::Conflict, "This idempotency key was already used for a different shipment"));
        // An unreadable record: 500.
        assert_eq!(ship(2, RedisResult::Binary(b"nope".to_vec())).0.unwrap_err().code, ErrorCode::Internal);
    }
}
