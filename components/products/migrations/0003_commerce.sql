-- Stock, reservations, exchange rates and what is bought together (issue 15).
-- One statement per `;`-terminated line group (see shop_spin::store::statements); every statement
-- is safe on a database that already has some of this (IF NOT EXISTS, ON CONFLICT DO NOTHING).

-- Units that can still be sold: what the operator set, less what orders hold. Never negative,
-- whatever the writer: a reservation that would take it below zero fails as a whole.
ALTER TABLE products ADD COLUMN IF NOT EXISTS stock integer NOT NULL DEFAULT 1000 CONSTRAINT products_stock_nonnegative CHECK (stock >= 0);

-- Units held by orders that have not failed (pending, paid, completed): the best-seller signal.
ALTER TABLE products ADD COLUMN IF NOT EXISTS units_sold integer NOT NULL DEFAULT 0 CONSTRAINT products_units_sold_nonnegative CHECK (units_sold >= 0);

-- Two seed products start low, so the pages show every stock state: a few left, and sold out.
UPDATE products SET stock = 3 WHERE sku = 'OFF-STICKER-CORAL';
UPDATE products SET stock = 0 WHERE sku = 'HOM-LAMP-AMBER';

-- The units each order holds, one row per order and product. Rows are never deleted: a released
-- row stays (released = true) so that the order id cannot reserve again.
CREATE TABLE IF NOT EXISTS stock_reservations (
    order_id    text NOT NULL,
    sku         text NOT NULL REFERENCES products (sku),
    quantity    integer NOT NULL CHECK (quantity > 0),
    released    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    PRIMARY KEY (order_id, sku)
);

-- One row per order that reserved, or was released: every reserve and release takes this row
-- first, so a release waits for a reserve of the same order still in flight (and then frees what
-- it took), a reserve waits for a release in flight (and then refuses), and an order released
-- before it ever reserved can never reserve afterwards. Written only with its reservation rows.
CREATE TABLE IF NOT EXISTS stock_orders (
    order_id   text PRIMARY KEY,
    released   boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What a product's orders hold (set_stock answers it): only the unreleased rows.
CREATE INDEX IF NOT EXISTS stock_reservations_held_idx ON stock_reservations (sku) WHERE NOT released;

-- Units of a currency per 1 USD, in millionths (exact; never a float). A rate is in force from
-- its valid_from until a later one of the same currency is; earlier ones stay on record. USD is
-- the base and has no row. The primary key serves "the latest valid_from <= now() per currency".
CREATE TABLE IF NOT EXISTS exchange_rates (
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$' AND currency <> 'USD'),
    per_usd_micros bigint NOT NULL CHECK (per_usd_micros > 0 AND per_usd_micros <= 1000000000000),
    valid_from     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (currency, valid_from)
);

-- The starting rates. An operator's rates for the same instant are kept.
INSERT INTO exchange_rates (currency, per_usd_micros, valid_from) VALUES
('EUR', 920000, '2026-01-01T00:00:00Z'),
('GBP', 790000, '2026-01-01T00:00:00Z'),
('JPY', 151250000, '2026-01-01T00:00:00Z'),
('CAD', 1360000, '2026-01-01T00:00:00Z'),
('CHF', 880000, '2026-01-01T00:00:00Z'),
('KWD', 307500, '2026-01-01T00:00:00Z')
ON CONFLICT (currency, valid_from) DO NOTHING;

-- How many orders not failed hold both products; both directions are stored, so the
-- recommendations of a product are one primary-key range.
CREATE TABLE IF NOT EXISTS co_purchases (
    sku    text NOT NULL,
    other  text NOT NULL,
    orders integer NOT NULL DEFAULT 0 CHECK (orders >= 0),
    PRIMARY KEY (sku, other),
    CHECK (sku <> other)
);

-- Recommendations' fallbacks: the best sellers of a category, and of the whole catalog.
CREATE INDEX IF NOT EXISTS products_category_sold_idx ON products (category, units_sold DESC, sku);
CREATE INDEX IF NOT EXISTS products_sold_idx ON products (units_sold DESC, sku);
