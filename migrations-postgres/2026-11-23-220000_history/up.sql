-- PostgreSQL twin of migrations/2026-11-23-220000_history (same tables, same meaning; see the
-- comments there). Ids: SERIAL for diesel's Integer, BIGSERIAL for BigInt; times are UTC
-- `timestamp` (without time zone), as the hub writes them.

CREATE TABLE instances (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE scenes (
    id SERIAL PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    uuid TEXT,
    position INTEGER NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    removed_at TIMESTAMP
);
CREATE UNIQUE INDEX scenes_live_uuid ON scenes (instance_id, uuid)
    WHERE removed_at IS NULL AND uuid IS NOT NULL;
CREATE INDEX scenes_by_instance ON scenes (instance_id, removed_at, position);

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL,
    happened_at TIMESTAMP NOT NULL
);
CREATE INDEX events_by_instance ON events (instance_id, id);
CREATE INDEX events_by_instance_kind ON events (instance_id, kind, id);
CREATE INDEX events_by_kind ON events (kind, id);
CREATE INDEX events_by_time ON events (happened_at);

CREATE TABLE output_sessions (
    id BIGSERIAL PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    output TEXT NOT NULL CHECK (output IN ('stream', 'record')),
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    end_reason TEXT,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    skipped_frames BIGINT,
    total_frames BIGINT,
    peak_kbits_per_sec DOUBLE PRECISION NOT NULL DEFAULT 0,
    output_path TEXT
);
CREATE UNIQUE INDEX output_sessions_one_open ON output_sessions (instance_id, output)
    WHERE ended_at IS NULL;
CREATE INDEX output_sessions_by_output ON output_sessions (output, id);
CREATE INDEX output_sessions_by_instance ON output_sessions (output, instance_id, id);
