-- Orders in the shopper's currency, and the stock they hold (issue 15).
-- A line's price in the catalog at the time of purchase, in the catalog's currency (the line's
-- `unit_price_minor` is that price converted into the order's currency). NULL on lines stored
-- before this migration: their catalog price was their unit price (read with COALESCE).
ALTER TABLE order_lines ADD COLUMN IF NOT EXISTS catalog_unit_price_minor bigint
    CHECK (catalog_unit_price_minor >= 0);
ALTER TABLE order_lines ADD COLUMN IF NOT EXISTS catalog_currency text
    CHECK ((catalog_currency IS NULL) = (catalog_unit_price_minor IS NULL));
-- The exchange rates the order's prices were converted with, as the catalog answered them: a
-- JSON list of rate-used records (`[{"currency": "EUR", "per_usd": "0.920000", "valid_from":
-- "2026-01-01T00:00:00Z"}]`), rates as decimal strings, never numbers. Empty: no conversion.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS rates text NOT NULL DEFAULT '[]';
-- Set in the same UPDATE that fails an order, cleared once products' inventory.release has given
-- its units back: a failed order whose flag is still set (the release failed, or the request
-- ended first) is released by the reconciler.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS stock_release_due boolean NOT NULL DEFAULT false;
-- What the reconciler looks for, now also failed orders whose stock is still held.
DROP INDEX IF EXISTS orders_unfinished;
CREATE INDEX IF NOT EXISTS orders_unfinished ON orders (reconcile_attempted_at, updated_at)
    WHERE status IN ('pending', 'paid')
       OR (status = 'completed' AND NOT email_sent)
       OR (status = 'failed' AND notice_due AND NOT email_sent)
       OR (status = 'failed' AND stock_release_due);
