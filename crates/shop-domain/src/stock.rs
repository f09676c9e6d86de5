//! What a shopper is told about stock, and which additions a product's stock allows.

/// At or below this many units left, the shopper is told how many ("Only 3 left").
pub const LOW_STOCK: u32 = 5;

/// The stock message of a product page or a cart line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockLevel {
    /// More than [`LOW_STOCK`] units left.
    InStock,
    /// 1..=[`LOW_STOCK`] units left.
    Low(u32),
    /// None left.
    SoldOut,
}

impl StockLevel {
    /// The level of `available` units.
    pub const fn of(available: u32) -> StockLevel {
        match available {
            0 => StockLevel::SoldOut,
            n if n <= LOW_STOCK => StockLevel::Low(n),
            _ => StockLevel::InStock,
        }
    }

    /// "In stock", "Only 3 left", "Sold out".
    pub fn label(self) -> String {
        match self {
            StockLevel::InStock => "In stock".to_string(),
            StockLevel::Low(n) => format!("Only {n} left"),
            StockLevel::SoldOut => "Sold out".to_string(),
        }
    }

    /// Nothing can be added to a cart.
    pub const fn is_sold_out(self) -> bool {
        matches!(self, StockLevel::SoldOut)
    }
}

/// Why an order's line can't be held, as products' reservation and checkout's price check both
/// word it: "Sold out: Stoneware Coffee Mug" or "Only 2 left of Stoneware Coffee Mug".
pub fn short_message(name: &str, available: u32) -> String {
    match available {
        0 => format!("Sold out: {name}"),
        n => format!("Only {n} left of {name}"),
    }
}

/// Whether a cart line of `wanted` units fits the `available` stock; the error names the
/// product and says how many there are.
pub fn check_available(name: &str, wanted: u32, available: u32) -> Result<(), String> {
    match available {
        0 => Err(format!("{name} is sold out")),
        n if wanted > n => Err(format!("Only {n} of {name} left: you can have at most {n}")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_labels() {
        assert_eq!(StockLevel::of(0), StockLevel::SoldOut);
        assert_eq!(StockLevel::of(1), StockLevel::Low(1));
        assert_eq!(StockLevel::of(LOW_STOCK), StockLevel::Low(LOW_STOCK));
        assert_eq!(StockLevel::of(LOW_STOCK + 1), StockLevel::InStock);
        assert_eq!(StockLevel::of(0).label(), "Sold out");
        assert_eq!(StockLevel::of(3).label(), "Only 3 left");
        assert_eq!(StockLevel::of(500).label(), "In stock");
        assert!(StockLevel::of(0).is_sold_out() && !StockLevel::of(1).is_sold_out());
    }

    #[test]
    fn cart_lines_fit_the_stock() {
        assert_eq!(check_available("Mug", 2, 2), Ok(()));
        assert_eq!(check_available("Mug", 3, 2), Err("Only 2 of Mug left: you can have at most 2".into()));
        assert_eq!(check_available("Mug", 1, 0), Err("Mug is sold out".into()));
        assert_eq!(short_message("Mug", 0), "Sold out: Mug");
        assert_eq!(short_message("Mug", 2), "Only 2 left of Mug");
    }
}
