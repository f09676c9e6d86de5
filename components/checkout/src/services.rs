//! The services checkout calls, by their base URLs in variables (`<service>_url`).
use shop_contract::ShopError;
use shop_spin::rpc::Upstream;

pub struct Services {
    pub products: Upstream,
    /// Products' stock reservations (`/api/inventory/...`), served where the catalog is
    /// (`products_url`).
    pub inventory: Upstream,
    pub carts: Upstream,
    pub payment: Upstream,
    pub shipping: Upstream,
    pub email: Upstream,
}

impl Services {
    pub fn from_config() -> Result<Self, ShopError> {
        Ok(Services {
            products: Upstream::from_config("products")?,
            inventory: Upstream::from_config("products")?,
            carts: Upstream::from_config("carts")?,
            payment: Upstream::from_config("payment")?,
            shipping: Upstream::from_config("shipping")?,
            email: Upstream::from_config("email")?,
        })
    }
}
