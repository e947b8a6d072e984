-- Scoped API tokens managed through the API, and the audit trail of state-changing requests
-- (issue 19). Timestamps are UTC in diesel's TIMESTAMP text form, as in the history tables;
-- types are ones both SQLite and PostgreSQL take (BIGINT ids, TEXT, TIMESTAMP, INTEGER).

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    -- Hex SHA-256 of the secret. The secret is 256 random bits, so a plain (unsalted, fast)
    -- hash is enough: there is nothing to guess from it. The secret itself is never stored.
    secret_hash TEXT NOT NULL UNIQUE,
    -- The highest scope: read, control or admin (each includes those below).
    scope TEXT NOT NULL CHECK (scope IN ('read', 'control', 'admin')),
    -- JSON arrays; NULL: no narrowing.
    instances TEXT,
    capabilities TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP
);

CREATE TABLE audit_entries (
    id INTEGER PRIMARY KEY NOT NULL,
    happened_at TIMESTAMP NOT NULL,
    -- token:<name>, rule:<name> (issue 20), or anonymous (a hub without tokens).
    actor TEXT NOT NULL,
    remote TEXT,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    instance TEXT,
    -- The JSON body with secrets redacted; NULL when there was none.
    request TEXT,
    status INTEGER NOT NULL,
    error TEXT,
    duration_ms BIGINT NOT NULL
);

CREATE INDEX audit_entries_happened_at ON audit_entries (happened_at);
CREATE INDEX audit_entries_actor ON audit_entries (actor, id);
