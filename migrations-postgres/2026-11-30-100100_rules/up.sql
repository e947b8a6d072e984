-- PostgreSQL twin of migrations/2026-11-30-100000_rules (see the comments there).

CREATE TABLE rules (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE rule_schedule_marks (
    rule_name TEXT PRIMARY KEY NOT NULL,
    handled_until TIMESTAMP NOT NULL
);
