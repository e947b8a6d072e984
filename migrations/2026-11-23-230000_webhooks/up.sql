-- Webhooks out: endpoints, the delivery outbox and every attempt. A delivery row is written
-- before its first attempt, so a hub restart (or SIGKILL) resumes what was pending.
-- Timestamps are UTC in diesel's TIMESTAMP text form, as in the history tables.

CREATE TABLE webhook_endpoints (
    -- ep_<32 hex>
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    -- whsec_<base64>; NULL only for callback endpoints while no callback secret is set (unsigned).
    secret TEXT,
    -- JSON array of event type names.
    event_types TEXT NOT NULL,
    -- NULL: every instance.
    instance TEXT,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    -- config: [[webhooks]] in the config file; callback: OBS_CALLBACK_BASE_URL; api: POST /api/webhooks/
    source TEXT NOT NULL CHECK (source IN ('config', 'callback', 'api')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    -- Rowid: the order deliveries were made in (newest first = seq DESC).
    seq INTEGER PRIMARY KEY NOT NULL,
    -- msg_<32 hex>: the webhook-id header, the same on every attempt.
    id TEXT NOT NULL UNIQUE,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- The body exactly as sent (and signed).
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'endpoint_disabled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    -- Attempts made before the current round of the retry schedule (a redelivery starts a new one).
    round_start INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, seq);
-- Pruning of finished deliveries.
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (created_at);

CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY NOT NULL,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    -- 1 for the first attempt of the delivery.
    n INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    -- NULL when no response came (connection refused, timeout).
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, n);
