-- Rules made through the API (issue 20); rules declared in the config file are not stored.
-- `definition` is the rule as written (JSON), validated before it is stored. Types are ones both
-- SQLite and PostgreSQL take.

CREATE TABLE rules (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Up to when each scheduled rule's schedule has been handled (fired or skipped), config rules
-- included: after a restart, the firings between this moment and now were missed.
CREATE TABLE rule_schedule_marks (
    rule_name TEXT PRIMARY KEY NOT NULL,
    handled_until TIMESTAMP NOT NULL
);
