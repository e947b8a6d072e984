-- A cluster of hubs on one PostgreSQL database (see crate::cluster). A hub running alone never
-- writes these tables; they exist on SQLite too so that both engines keep one schema
-- (src/db/schema.rs) and the same migration versions.

-- Every node of the cluster, with its last heartbeat (written by the node itself).
CREATE TABLE cluster_nodes (
    node_id TEXT PRIMARY KEY NOT NULL,
    address TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

-- One lease per instance (name = the instance's name) and per hub-wide duty
-- (name = 'duty:...', e.g. 'duty:schedules'). owner NULL: released. epoch grows by one at every
-- change of owner and fences the late writes of a node that lost the lease.
CREATE TABLE cluster_leases (
    name TEXT PRIMARY KEY NOT NULL,
    owner TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMP
);

-- Every numbered change of an instance, with its per-instance sequence number, written by its
-- owner under the lease's epoch: the other nodes read it to relay the change to their clients,
-- and catch up from it after a gap. Pruned after a while.
CREATE TABLE cluster_changes (
    instance TEXT NOT NULL,
    seq BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    node_id TEXT NOT NULL,
    body TEXT NOT NULL,
    happened_at TIMESTAMP NOT NULL,
    PRIMARY KEY (instance, seq)
);

-- Each instance's whole status as its owner last wrote it (JSON), and the per-instance sequence
-- number it is at: what another node serves for that instance.
CREATE TABLE cluster_status (
    instance TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    node_id TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- A delivery is worked on by one node at a time: the node that claimed it, until then.
ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN claimed_until TIMESTAMP;

-- In a cluster, the change's per-instance sequence number (NULL for a hub alone).
ALTER TABLE events ADD COLUMN instance_seq BIGINT;
