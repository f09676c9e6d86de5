-- Shoppers' accounts. `email` is stored normalised (trimmed, lowercased: shop_domain::account),
-- so the unique constraint is the one account per address. `password_hash` is an Argon2id PHC
-- string (src/hashing.rs); the password itself is never stored. No CHECK constraints on these
-- columns: a violated one would put the whole row, hash included, in the error message.
CREATE TABLE IF NOT EXISTS accounts (
    account_id text PRIMARY KEY,
    email text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_one_per_email UNIQUE (email)
);

-- Saved addresses: one row per account and address (`dedupe_key`: shop_domain::account_address),
-- newest use first. Deleting an account deletes its addresses.
CREATE TABLE IF NOT EXISTS addresses (
    address_id text PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name text NOT NULL,
    street text NOT NULL,
    city text NOT NULL,
    postal_code text NOT NULL,
    country text NOT NULL,
    dedupe_key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT addresses_one_per_account UNIQUE (account_id, dedupe_key)
);

CREATE INDEX IF NOT EXISTS addresses_by_use ON addresses (account_id, last_used_at DESC);
