-- PostgreSQL twin of migrations/2026-11-30-100000_fleet (see the comments there).

CREATE TABLE instance_groups (
    name TEXT PRIMARY KEY,
    instances TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE managed_instances (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    password TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
