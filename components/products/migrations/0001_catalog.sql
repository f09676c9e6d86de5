-- The catalog. One statement per `;`-terminated line group (see shop_spin::store::statements).
-- Categories and images are closed sets checked by shop-domain on every write, so the table
-- only guards what the database must never hold whatever the writer: negative prices, odd codes.
CREATE TABLE IF NOT EXISTS products (
    sku         text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency    text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    category    text NOT NULL,
    image       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Category pages: filter by category, ordered by name.
CREATE INDEX IF NOT EXISTS products_category_name_idx ON products (category, name, sku);

-- The unfiltered list, ordered by name.
CREATE INDEX IF NOT EXISTS products_name_idx ON products (name, sku);

-- Search is `ILIKE '%text%'` on name and description, which only trigram indexes serve.
-- pg_trgm ships with PostgreSQL's contrib and is a trusted extension, but a server may lack it:
-- then search still works by scanning, so failure is reported as a notice, not an error.
-- (One line, because migration statements end at a line ending in `;`.)
DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE INDEX IF NOT EXISTS products_name_trgm_idx ON products USING gin (name gin_trgm_ops); CREATE INDEX IF NOT EXISTS products_description_trgm_idx ON products USING gin (description gin_trgm_ops); EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm unavailable, catalog search runs without an index: %', SQLERRM; END $$;
