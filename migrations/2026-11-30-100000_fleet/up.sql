-- Instance groups and OBS instances made through the API while the hub runs (issue 20). The
-- config file's groups and instances are not stored here: they are read from the file at
-- every start. Types are ones both SQLite and PostgreSQL take (TEXT, INTEGER, TIMESTAMP).

CREATE TABLE instance_groups (
    name TEXT PRIMARY KEY NOT NULL,
    -- JSON array of instance names, in the order given.
    instances TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE managed_instances (
    name TEXT PRIMARY KEY NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    -- The obs-websocket password, kept as the config file keeps it (the hub must send it);
    -- never answered back nor logged. NULL: OBS asks for none.
    password TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
