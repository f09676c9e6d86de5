-- Orders and their lines. Money is integer minor units of the order's currency.
CREATE TABLE IF NOT EXISTS orders (
    order_id text PRIMARY KEY,
    session text NOT NULL,
    -- One checkout attempt (one rendering of the form) makes at most one order.
    attempt_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'paid', 'completed', 'failed')),
    email text NOT NULL,
    ship_name text NOT NULL,
    ship_street text NOT NULL,
    ship_city text NOT NULL,
    ship_postal_code text NOT NULL,
    ship_country text NOT NULL,
    currency text NOT NULL,
    subtotal_minor bigint NOT NULL CHECK (subtotal_minor >= 0),
    shipping_minor bigint NOT NULL CHECK (shipping_minor >= 0),
    total_minor bigint NOT NULL CHECK (total_minor = subtotal_minor + shipping_minor),
    transaction_id text,
    tracking_id text,
    failure text,
    email_sent boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_one_per_attempt UNIQUE (session, attempt_id)
);

CREATE INDEX IF NOT EXISTS orders_by_session ON orders (session, created_at DESC);

CREATE TABLE IF NOT EXISTS order_lines (
    order_id text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    line_no integer NOT NULL CHECK (line_no >= 1),
    sku text NOT NULL,
    name text NOT NULL,
    image text NOT NULL,
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    quantity integer NOT NULL CHECK (quantity >= 1),
    line_total_minor bigint NOT NULL CHECK (line_total_minor = unit_price_minor * quantity),
    PRIMARY KEY (order_id, line_no)
);
