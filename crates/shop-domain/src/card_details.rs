//! The card form as the service contract carries it (`card-details`: number, numeric expiry
//! month and year, security code), validated into a [`Card`] with one error per form field.
//!
//! [`Card::parse`] reports expiry problems on `expiry_month` or `expiry_year`; the contract has a
//! single expiry input, so both are reported as `expiry` here (the first message wins).

use crate::card::{Card, CardInput, YearMonth};
use crate::validation::FieldError;

/// Field name of the card number in [`parse_card_details`] errors.
pub const NUMBER_FIELD: &str = "number";
/// Field name of the expiry date.
pub const EXPIRY_FIELD: &str = "expiry";
/// Field name of the security code.
pub const CVV_FIELD: &str = "cvv";

/// Validates contract card details against `today` (supplied by the caller).
///
/// `expiry_year` is `YY` (0–99, meaning 20YY) or `YYYY` (2000–2099), as [`crate::Expiry::new`]
/// accepts. Errors are on the fields [`NUMBER_FIELD`], [`EXPIRY_FIELD`] and [`CVV_FIELD`],
/// all of them at once.
pub fn parse_card_details(
    number: &str,
    expiry_month: u32,
    expiry_year: u32,
    cvv: &str,
    today: impl Into<YearMonth>,
) -> Result<Card, Vec<FieldError>> {
    // Two-digit padding keeps `7`/`29` meaning 07/2029 in the text parser; other widths
    // (e.g. a 3-digit year) stay invalid there, as they are for `Expiry::new`.
    let input = CardInput {
        number: number.to_owned(),
        expiry_month: format!("{expiry_month:02}"),
        expiry_year: format!("{expiry_year:02}"),
        cvv: cvv.to_owned(),
    };
    Card::parse(&input, today).map_err(|errors| {
        let mut out: Vec<FieldError> = Vec::with_capacity(errors.len());
        for error in errors {
            let field = match error.field.as_str() {
                "expiry_month" | "expiry_year" => EXPIRY_FIELD,
                "number" => NUMBER_FIELD,
                _ => CVV_FIELD,
            };
            if !out.iter().any(|e| e.field == field) {
                out.push(FieldError::new(field, error.message));
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardBrand;

    const TODAY: YearMonth = YearMonth::new(2026, 5);

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn accepts_two_and_four_digit_years() {
        let card = parse_card_details("4242 4242 4242 4242", 12, 2030, "123", TODAY).unwrap();
        assert_eq!(card.brand(), CardBrand::Visa);
        assert_eq!(card.last4(), "4242");
        assert_eq!(card.expiry().year(), 2030);
        let card = parse_card_details("378282246310005", 7, 29, "1234", TODAY).unwrap();
        assert_eq!(card.brand(), CardBrand::Amex);
        assert_eq!((card.expiry().month(), card.expiry().year()), (7, 2029));
    }

    #[test]
    fn the_current_month_is_still_valid() {
        assert!(parse_card_details("4242424242424242", 5, 2026, "123", TODAY).is_ok());
        let errors = parse_card_details("4242424242424242", 4, 2026, "123", TODAY).unwrap_err();
        assert_eq!(
            errors,
            vec![FieldError::new("expiry", "This card has expired")]
        );
    }

    #[test]
    fn reports_every_field_once() {
        let errors = parse_card_details("4242424242424241", 13, 123, "12", TODAY).unwrap_err();
        assert_eq!(fields(&errors), vec!["number", "expiry", "cvv"]);
        assert_eq!(errors[0].message, "This card number is not valid");
    }

    #[test]
    fn expired_years_and_bad_months_are_expiry_errors() {
        for (month, year) in [(0, 2030), (12, 2020), (12, 19), (1, 3000), (1, 100)] {
            let errors =
                parse_card_details("4242424242424242", month, year, "123", TODAY).unwrap_err();
            assert_eq!(fields(&errors), vec!["expiry"], "{month}/{year}");
        }
    }

    #[test]
    fn security_code_length_follows_the_brand() {
        let errors = parse_card_details("378282246310005", 12, 2030, "123", TODAY).unwrap_err();
        assert_eq!(
            errors,
            vec![FieldError::new(
                "cvv",
                "Security code must be the 4 digits on the front of the card"
            )]
        );
        assert!(parse_card_details("5555555555554444", 12, 2030, "1234", TODAY).is_err());
        assert!(parse_card_details("5555555555554444", 12, 2030, "123", TODAY).is_ok());
    }

    #[test]
    fn missing_values_ask_for_input() {
        let errors = parse_card_details("  ", 12, 2030, "", TODAY).unwrap_err();
        assert_eq!(
            errors,
            vec![
                FieldError::new("number", "Enter a card number"),
                FieldError::new("cvv", "Enter the security code"),
            ]
        );
    }
}
