-- The reconciler (src/reconcile.rs) drives orders left pending or paid after outages.
-- Its lease on an order it is working on: another reconciler skips the order until it expires.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS reconcile_lease_until timestamptz;
-- Set when the reconciler fails an order: the shopper was not on the page to see it, so a
-- failure notice is owed (sent once: email_sent).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS notice_due boolean NOT NULL DEFAULT false;
-- What the reconciler looks for, without reading every finished order.
CREATE INDEX IF NOT EXISTS orders_unfinished ON orders (updated_at)
    WHERE status IN ('pending', 'paid') OR NOT email_sent;
