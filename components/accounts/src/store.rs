//! Accounts and saved addresses in PostgreSQL (schema: `migrations/`). All SQL of accounts is here.
//! Every read goes through `shop_spin::store::read` / `read_one_row` (Spin 4.0.0-4.0.2 hang on a
//! query that matches no rows).
use shop_contract::accounts::{Account, SavedAddress};
use shop_contract::{MigrationReport, ShopError};
use shop_domain::account::{AccountEmail, AccountId, AddressId};
use shop_domain::account_address::{dedupe_key, MAX_SAVED};
use shop_domain::Address;
use shop_spin::store::{column, migrate, pg_error, read, read_one_row, Migration};
use spin_sdk::pg4::{Connection, ParameterValue as P, Row, RowSet};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "accounts",
    sql: include_str!("../migrations/0001_accounts.sql"),
}];

/// An account with its password hash, as sign-in needs it.
pub struct Credentials {
    pub account: Account,
    pub password_hash: String,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open() -> Result<Self, ShopError> {
        Ok(Store { conn: shop_spin::store::postgres()? })
    }

    pub fn migrate(&self) -> Result<MigrationReport, ShopError> {
        migrate(&self.conn, "accounts", MIGRATIONS)
    }

    /// The account with this email and its password hash, if there is one.
    pub fn credentials(&self, email: &AccountEmail) -> Result<Option<Credentials>, ShopError> {
        let sql = concat!(
            "SELECT account_id, email, password_hash, ",
            shop_spin::rfc3339_utc!("created_at"),
            " AS created_at FROM accounts WHERE email = $1"
        );
        let rows = read(&self.conn, "read credentials", sql, &[P::Str(email.as_str().into())])?;
        first_credentials(&rows)
    }

    /// The account with this id, if there is one.
    pub fn account(&self, id: &AccountId) -> Result<Option<Credentials>, ShopError> {
        let sql = concat!(
            "SELECT account_id, email, password_hash, ",
            shop_spin::rfc3339_utc!("created_at"),
            " AS created_at FROM accounts WHERE account_id = $1"
        );
        let rows = read(&self.conn, "read account", sql, &[P::Str(id.as_str().into())])?;
        first_credentials(&rows)
    }

    /// Whether an account has this email.
    pub fn email_taken(&self, email: &AccountEmail) -> Result<bool, ShopError> {
        let sql = "SELECT 1 AS taken FROM accounts WHERE email = $1";
        let rows = read(&self.conn, "check email", sql, &[P::Str(email.as_str().into())])?;
        Ok(!rows.rows.is_empty())
    }

    /// Creates an account; `None` (nothing stored) when the email is taken, e.g. by a
    /// concurrent sign-up.
    pub fn insert(&self, id: &AccountId, email: &AccountEmail, password_hash: &str) -> Result<Option<Account>, ShopError> {
        let sql = concat!(
            "WITH created AS (INSERT INTO accounts (account_id, email, password_hash) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING RETURNING created_at) SELECT (SELECT ",
            shop_spin::rfc3339_utc!("created_at"),
            " FROM created) AS created_at"
        );
        let params = [P::Str(id.as_str().into()), P::Str(email.as_str().into()), P::Str(password_hash.into())];
        let rows = read_one_row(&self.conn, "create account", sql, &params)?;
        let created_at = match rows.rows().next() {
            Some(row) => column::<Option<String>>(&row, "created_at")?,
            None => None,
        };
        Ok(created_at.map(|created_at| Account {
            account_id: id.to_string(),
            email: email.to_string(),
            created_at,
        }))
    }

    /// Replaces the password hash; `changed` when the shopper changed the password (not when
    /// a sign-in re-hashed it with today's parameters).
    pub fn set_password_hash(&self, id: &AccountId, password_hash: &str, changed: bool) -> Result<(), ShopError> {
        let sql = if changed {
            "UPDATE accounts SET password_hash = $2, password_changed_at = now() WHERE account_id = $1"
        } else {
            "UPDATE accounts SET password_hash = $2 WHERE account_id = $1"
        };
        self.conn
            .execute(sql, &[P::Str(id.as_str().into()), P::Str(password_hash.into())])
            .map_err(|e| pg_error("update password", e))?;
        Ok(())
    }

    /// The account's saved addresses, most recently used first.
    pub fn addresses(&self, account: &AccountId) -> Result<Vec<SavedAddress>, ShopError> {
        let sql = concat!(
            "SELECT address_id, name, street, city, postal_code, country, ",
            shop_spin::rfc3339_utc!("last_used_at"),
            " AS last_used FROM addresses WHERE account_id = $1 ORDER BY last_used_at DESC, address_id DESC"
        );
        let rows = read(&self.conn, "read addresses", sql, &[P::Str(account.as_str().into())])?;
        rows.rows().map(|row| saved_from_row(&row)).collect()
    }

    /// Saves an address, or (the same address again, however typed) marks it used now and
    /// keeps the latest typing; then forgets the least recently used beyond [`MAX_SAVED`].
    pub fn save_address(&self, account: &AccountId, new_id: &AddressId, address: &Address) -> Result<SavedAddress, ShopError> {
        let sql = concat!(
            "INSERT INTO addresses (address_id, account_id, name, street, city, postal_code, country, dedupe_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (account_id, dedupe_key) DO UPDATE SET name = EXCLUDED.name, street = EXCLUDED.street, \
             city = EXCLUDED.city, postal_code = EXCLUDED.postal_code, country = EXCLUDED.country, \
             last_used_at = now() \
             RETURNING address_id, name, street, city, postal_code, country, ",
            shop_spin::rfc3339_utc!("last_used_at"),
            " AS last_used"
        );
        let params = [
            P::Str(new_id.as_str().into()),
            P::Str(account.as_str().into()),
            P::Str(address.name().into()),
            P::Str(address.street().into()),
            P::Str(address.city().into()),
            P::Str(address.postal_code().into()),
            P::Str(address.country().code().into()),
            P::Str(dedupe_key(address)),
        ];
        // An upsert that always inserts or updates: exactly one row.
        let rows = read_one_row(&self.conn, "save address", sql, &params)?;
        let saved = rows.rows().next().map(|row| saved_from_row(&row)).transpose()?;
        let saved = saved.ok_or_else(|| ShopError::internal("Saving an address returned nothing"))?;
        self.conn
            .execute(
                "DELETE FROM addresses WHERE account_id = $1 AND address_id NOT IN \
                 (SELECT address_id FROM addresses WHERE account_id = $1 ORDER BY last_used_at DESC, address_id DESC LIMIT $2)",
                &[P::Str(account.as_str().into()), P::Int64(i64::try_from(MAX_SAVED).unwrap_or(i64::MAX))],
            )
            .map_err(|e| pg_error("trim addresses", e))?;
        Ok(saved)
    }

    /// Deletes one of the account's addresses; false when it has no such address.
    pub fn delete_address(&self, account: &AccountId, id: &AddressId) -> Result<bool, ShopError> {
        let deleted = self
            .conn
            .execute(
                "DELETE FROM addresses WHERE address_id = $1 AND account_id = $2",
                &[P::Str(id.as_str().into()), P::Str(account.as_str().into())],
            )
            .map_err(|e| pg_error("delete address", e))?;
        Ok(deleted > 0)
    }
}

fn first_credentials(rows: &RowSet) -> Result<Option<Credentials>, ShopError> {
    let first = rows.rows().next();
    first
        .map(|row| Ok(Credentials { account: account_from_row(&row)?, password_hash: column(&row, "password_hash")? }))
        .transpose()
}

fn account_from_row(row: &Row<'_>) -> Result<Account, ShopError> {
    Ok(Account { account_id: column(row, "account_id")?, email: column(row, "email")?, created_at: column(row, "created_at")? })
}

fn saved_from_row(row: &Row<'_>) -> Result<SavedAddress, ShopError> {
    Ok(SavedAddress {
        address_id: column(row, "address_id")?,
        address: shop_contract::Address {
            name: column(row, "name")?,
            street: column(row, "street")?,
            city: column(row, "city")?,
            postal_code: column(row, "postal_code")?,
            country: column(row, "country")?,
        },
        last_used_at: column(row, "last_used")?,
    })
}
