ALTER TABLE events DROP COLUMN instance_seq;
ALTER TABLE webhook_deliveries DROP COLUMN claimed_until;
ALTER TABLE webhook_deliveries DROP COLUMN claimed_by;
DROP TABLE cluster_status;
DROP TABLE cluster_changes;
DROP TABLE cluster_leases;
DROP TABLE cluster_nodes;
