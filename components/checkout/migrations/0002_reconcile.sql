-- The reconciler (src/reconcile.rs) drives orders left pending or paid after outages.
-- Who is working on an order, and until when: a reconciler's run, or a shopper's request
-- resuming it. Whoever holds an unexpired lease has the order to itself.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS reconcile_lease text;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS reconcile_lease_until timestamptz;
-- When the reconciler last tried the order: the next run takes the least recently tried first,
-- so orders that keep failing cannot starve the others.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS reconcile_attempted_at timestamptz;
-- Set when the reconciler fails an order: the shopper was not on the page to see it, so a
-- failure notice is owed (sent once: email_sent).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS notice_due boolean NOT NULL DEFAULT false;
-- Set before a paid order's charge is refunded: from then on it can only fail, never complete,
-- even if recording the failure is lost (the next attempt repeats the idempotent refund).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS refund_started boolean NOT NULL DEFAULT false;
-- What the reconciler looks for, without reading every finished order.
CREATE INDEX IF NOT EXISTS orders_unfinished ON orders (reconcile_attempted_at, updated_at)
    WHERE status IN ('pending', 'paid')
       OR (status = 'completed' AND NOT email_sent)
       OR (status = 'failed' AND notice_due AND NOT email_sent);
