-- PostgreSQL twin of migrations/2026-11-30-070000_tokens_audit (see the comments there).

CREATE TABLE api_tokens (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'control', 'admin')),
    instances TEXT,
    capabilities TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP
);

CREATE TABLE audit_entries (
    id BIGSERIAL PRIMARY KEY,
    happened_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    remote TEXT,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    instance TEXT,
    request TEXT,
    status INTEGER NOT NULL,
    error TEXT,
    duration_ms BIGINT NOT NULL
);

CREATE INDEX audit_entries_happened_at ON audit_entries (happened_at);
CREATE INDEX audit_entries_actor ON audit_entries (actor, id);
