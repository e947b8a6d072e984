-- PostgreSQL twin of migrations/2026-11-30-200000_cluster (see the comments there).

CREATE TABLE cluster_nodes (
    node_id TEXT PRIMARY KEY NOT NULL,
    address TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

CREATE TABLE cluster_leases (
    name TEXT PRIMARY KEY NOT NULL,
    owner TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMP
);

CREATE TABLE cluster_changes (
    instance TEXT NOT NULL,
    seq BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    node_id TEXT NOT NULL,
    body TEXT NOT NULL,
    happened_at TIMESTAMP NOT NULL,
    PRIMARY KEY (instance, seq)
);

CREATE TABLE cluster_status (
    instance TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    node_id TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN claimed_until TIMESTAMP;

ALTER TABLE events ADD COLUMN instance_seq BIGINT;
CREATE INDEX webhook_deliveries_claimable ON webhook_deliveries (claimed_until) WHERE status = 'pending';
