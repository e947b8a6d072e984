-- The hub's history: instances, their scenes as OBS had them, every status change, and
-- stream/record sessions. Timestamps are UTC, stored as diesel's TIMESTAMP text
-- ("YYYY-MM-DD HH:MM:SS.f"), which sorts in time order.

CREATE TABLE instances (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);

CREATE TABLE scenes (
    id INTEGER PRIMARY KEY NOT NULL,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- OBS 30+ gives every scene a uuid; renames are recognised by it.
    uuid TEXT,
    -- 0 = top of OBS's Scenes dock.
    position INTEGER NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    removed_at TIMESTAMP
);
-- A scene OBS still has is exactly one row.
CREATE UNIQUE INDEX scenes_live_uuid ON scenes (instance_id, uuid)
    WHERE removed_at IS NULL AND uuid IS NOT NULL;
CREATE INDEX scenes_by_instance ON scenes (instance_id, removed_at, position);

CREATE TABLE events (
    -- Rowid: grows in the order the hub observed the changes (newest first = id DESC).
    id INTEGER PRIMARY KEY NOT NULL,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    -- The hub's sequence number (restarts at 1 with the hub; ties the row to live pushes).
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    -- obs_event | poll | connection | api | callback
    source TEXT NOT NULL,
    -- The change as JSON, as subscribers receive it.
    payload TEXT NOT NULL,
    happened_at TIMESTAMP NOT NULL
);
CREATE INDEX events_by_instance ON events (instance_id, id);
CREATE INDEX events_by_instance_kind ON events (instance_id, kind, id);
CREATE INDEX events_by_kind ON events (kind, id);
-- Time filters and retention pruning.
CREATE INDEX events_by_time ON events (happened_at);

-- Stream and record sessions share one shape, so they share one table.
CREATE TABLE output_sessions (
    id INTEGER PRIMARY KEY NOT NULL,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    output TEXT NOT NULL CHECK (output IN ('stream', 'record')),
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    -- Last time the hub saw the output active with these figures.
    updated_at TIMESTAMP NOT NULL,
    -- stopped: the hub saw OBS stop it; found_stopped: the hub found it over when it looked
    -- again (after its own restart or a lost link), and closed it with the last known figures.
    end_reason TEXT,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    -- Streams only (OBS reports no frame counts for recordings).
    skipped_frames BIGINT,
    total_frames BIGINT,
    peak_kbits_per_sec DOUBLE NOT NULL DEFAULT 0,
    -- Recordings only: the file OBS wrote.
    output_path TEXT
);
CREATE UNIQUE INDEX output_sessions_one_open ON output_sessions (instance_id, output)
    WHERE ended_at IS NULL;
CREATE INDEX output_sessions_by_output ON output_sessions (output, id);
CREATE INDEX output_sessions_by_instance ON output_sessions (output, instance_id, id);
