//! Saved addresses of the signed-in account: newest use first, one entry per address.
use shop_contract::accounts::{AddressList, DeleteAddressRequest, SaveAddressRequest, SavedAddress, TokenRef};
use shop_contract::ShopError;
use shop_domain::account::AddressId;
use shop_spin::wire::address_from_wire;

use crate::parse::invalid_field;
use crate::sessions::signed_in;
use crate::store::Store;
use crate::world::random16;

pub async fn list_addresses(req: TokenRef) -> Result<AddressList, ShopError> {
    let (account, _) = signed_in(&req.token)?;
    Ok(AddressList { addresses: Store::open()?.addresses(&account)? })
}

/// Saves an address (or marks the same address used now), e.g. after an order.
pub async fn save_address(req: SaveAddressRequest) -> Result<SavedAddress, ShopError> {
    let mut errors = Vec::new();
    let address = address_from_wire(req.address, "address.", &mut errors);
    let Some(address) = address.filter(|_| errors.is_empty()) else {
        return Err(ShopError::invalid_fields(errors));
    };
    let (account, _) = signed_in(&req.token)?;
    Store::open()?.save_address(&account, &AddressId::from_random(random16()?), &address)
}

/// Deletes one of the account's addresses (another account's is "not found", like a missing one).
pub async fn delete_address(req: DeleteAddressRequest) -> Result<AddressList, ShopError> {
    let id = AddressId::parse(&req.address_id).map_err(|e| invalid_field("address_id", e.to_string()))?;
    let (account, _) = signed_in(&req.token)?;
    let store = Store::open()?;
    if !store.delete_address(&account, &id)? {
        return Err(ShopError::not_found("There is no such saved address"));
    }
    Ok(AddressList { addresses: store.addresses(&account)? })
}
