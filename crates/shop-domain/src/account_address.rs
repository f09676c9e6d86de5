//! Saved addresses: when two are the same address.
//!
//! A shopper who types an address they already saved (perhaps with other capitals or spacing)
//! should not get a second entry: the store keeps one row per [`dedupe_key`] and account.

use crate::address::Address;

/// The most addresses one account keeps; saving another forgets the least recently used.
pub const MAX_SAVED: usize = 20;

/// What identifies an address for de-duplication: every field lowercased, with runs of
/// whitespace made one space (the parsed [`Address`] is already trimmed, its postal code and
/// country normalised). Fields are joined with a character no field may contain.
pub fn dedupe_key(address: &Address) -> String {
    let fold = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    [
        fold(address.name()),
        fold(address.street()),
        fold(address.city()),
        fold(address.postal_code()),
        address.country().code().to_owned(),
    ]
    .join("\u{1f}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AddressInput;

    fn address(name: &str, street: &str, postal_code: &str) -> Address {
        Address::parse(AddressInput {
            name: name.into(),
            street: street.into(),
            city: "London".into(),
            postal_code: postal_code.into(),
            country: "gb".into(),
        })
        .unwrap()
    }

    #[test]
    fn the_same_address_typed_differently_is_one() {
        let a = address("Ada Lovelace", "12 St James's Square", "SW1Y 4JH");
        let b = address(" ada  LOVELACE ", "12 st james's   square", "sw1y4jh ");
        assert_ne!(dedupe_key(&a), dedupe_key(&b), "postal codes differ in a space: another code");
        let c = address(" ada  LOVELACE ", "12 st james's   square", "sw1y 4jh ");
        assert_eq!(dedupe_key(&a), dedupe_key(&c));
        assert_eq!(dedupe_key(&a), "ada lovelace\u{1f}12 st james's square\u{1f}london\u{1f}sw1y 4jh\u{1f}GB");
    }

    #[test]
    fn other_addresses_are_other() {
        let a = address("Ada Lovelace", "12 St James's Square", "SW1Y 4JH");
        assert_ne!(dedupe_key(&a), dedupe_key(&address("Ada Lovelace", "13 St James's Square", "SW1Y 4JH")));
        assert_ne!(dedupe_key(&a), dedupe_key(&address("Ada King", "12 St James's Square", "SW1Y 4JH")));
    }
}
