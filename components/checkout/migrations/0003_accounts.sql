-- Shopper accounts: the account an order belongs to (the shopper was signed in, or claimed the
-- orders of their guest session on signing up or in); NULL for a guest's order.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS account_id text;
-- "Your orders" of an account, from every device, newest first, paged by (created_at, order_id):
-- one index range scan per page.
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account_id, created_at DESC, order_id DESC)
    WHERE account_id IS NOT NULL;
-- A session's orders are paged the same way; this replaces orders_by_session (same prefix).
CREATE INDEX IF NOT EXISTS orders_by_session_page ON orders (session, created_at DESC, order_id DESC);
DROP INDEX IF EXISTS orders_by_session;
