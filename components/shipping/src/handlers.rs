//! The shipping operations: `get_quote` and `ship_order`.
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use shop_contract::shipping::{Quote, QuoteRequest, ShipRequest, Shipment};
use shop_contract::{FieldError, ShopError};
use shop_domain::{
    shipping, Address, Country, Currency, IdempotencyKey, Quantity,
    ShippingZone, Sku, TrackingId,
};
use shop_spin::store::Redis;

/// Items (sum of quantities) a quote covers.
const QUOTE_ITEMS: std::ops::RangeInclusive<u32> = 1..=999;
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
    if !QUOTE_ITEMS.contains(&req.item_count) {
        errors.push(FieldError::new(
            "item_count",
            format!(
                "The item count must be from {} to {}",
                QUOTE_ITEMS.start(),
                QUOTE_ITEMS.end()
            ),
        ));
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
/// Two concurrent requests with one key race on `SET NX`: only the winner's tracking id exists.
pub async fn ship_order(req: ShipRequest) -> Result<Shipment, ShopError> {
    let ValidShipment { key, order } = validate_shipment(req)?;
    let request = serde_json::to_value(&order)
        .map_err(|e| ShopError::internal(format!("cannot encode a shipment request: {e}")))?;
    let redis = Redis::open()?;
    let name = redis.key(&format!("shipment:{key}"));
    if let Some(earlier) = read_record(&redis, &name)? {
        return replay(earlier, &request);
    }

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
    if redis.set_nx(
        &name,
        &shop_spin::json::encode(&record),
        Some(SHIPMENT_TTL_SECONDS),
    )? {
        let mut fields = Map::new();
        fields.insert("tracking_id".into(), json!(record.shipment.tracking_id));
        fields.insert("idempotency_key".into(), json!(key.as_str()));
        fields.insert("country".into(), json!(order.address.country().code()));
        fields.insert("item_count".into(), json!(item_count));
        fields.insert("cost_minor".into(), json!(cost.minor()));
        fields.insert("currency".into(), json!(cost.currency().code()));
        shop_spin::log::line("info", "shipment created", fields);
        return Ok(record.shipment);
    }
    match read_record(&redis, &name)? {
        Some(winner) => replay(winner, &request),
        None => Err(ShopError::unavailable(
            "The shipment could not be recorded; try again",
        )),
    }
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

fn read_record(redis: &Redis, name: &str) -> Result<Option<ShipmentRecord>, ShopError> {
    let Some(bytes) = redis.get(name)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
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

