// Every table of migrations/ as diesel sees them (what `diesel print-schema` would write, kept by
// hand; `queries::tests` and `webhooks::store`'s tests select every column of every table, so a
// drift fails the tests): history (instances, scenes, events, output_sessions) and the webhook
// outbox (webhook_endpoints, webhook_deliveries, webhook_attempts).
//
// Column types are kept to those diesel maps on both SQLite and PostgreSQL (Integer, BigInt,
// Double, Bool, Text, Timestamp, Nullable): this one file is the schema of both engines
// (migrations/ and migrations-postgres/ create the same tables; PostgreSQL keeps microseconds).
// Avoided, and why:
// - Timestamptz, Jsonb/Json, Uuid, Array: PostgreSQL only. Times are UTC `Timestamp`s (the hub
//   writes `naive_utc()`), JSON payloads and the endpoints' event type lists are `Text`, ids are
//   `Text` (`ep_...`, `msg_...`).
// - Unsigned<..>, TinyInt, SmallInt: MySQL only / not mapped the same way by SQLite's dynamic
//   types; counts and sizes are BigInt, small numbers Integer.
// - Binary (bytea vs BLOB) works on both but is not needed: secrets are stored as their text.

diesel::table! {
    instances (id) {
        id -> Integer,
        name -> Text,
        host -> Text,
        port -> Integer,
        first_seen -> Timestamp,
        last_seen -> Timestamp,
    }
}

diesel::table! {
    scenes (id) {
        id -> Integer,
        instance_id -> Integer,
        name -> Text,
        uuid -> Nullable<Text>,
        position -> Integer,
        first_seen -> Timestamp,
        last_seen -> Timestamp,
        removed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        instance_id -> Integer,
        seq -> BigInt,
        kind -> Text,
        source -> Text,
        payload -> Text,
        happened_at -> Timestamp,
        /// In a cluster, the change's per-instance sequence number (None for a hub alone).
        instance_seq -> Nullable<BigInt>,
    }
}

diesel::table! {
    output_sessions (id) {
        id -> BigInt,
        instance_id -> Integer,
        output -> Text,
        started_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        end_reason -> Nullable<Text>,
        duration_ms -> BigInt,
        bytes -> BigInt,
        skipped_frames -> Nullable<BigInt>,
        total_frames -> Nullable<BigInt>,
        peak_kbits_per_sec -> Double,
        output_path -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Integer,
        name -> Text,
        secret_hash -> Text,
        scope -> Text,
        instances -> Nullable<Text>,
        capabilities -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_entries (id) {
        id -> BigInt,
        happened_at -> Timestamp,
        actor -> Text,
        remote -> Nullable<Text>,
        method -> Text,
        route -> Text,
        instance -> Nullable<Text>,
        request -> Nullable<Text>,
        status -> Integer,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}

diesel::table! {
    instance_groups (name) {
        name -> Text,
        instances -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    managed_instances (name) {
        name -> Text,
        host -> Text,
        port -> Integer,
        password -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        secret -> Nullable<Text>,
        event_types -> Text,
        instance -> Nullable<Text>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        source -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (seq) {
        seq -> BigInt,
        id -> Text,
        endpoint_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        round_start -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        /// In a cluster: the node working on the delivery, until `claimed_until`.
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> Text,
        n -> Integer,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(scenes -> instances (instance_id));
diesel::joinable!(events -> instances (instance_id));
diesel::joinable!(output_sessions -> instances (instance_id));

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(instances, scenes, events, output_sessions);
diesel::allow_tables_to_appear_in_same_query!(
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts
);

diesel::table! {
    rules (id) {
        id -> Integer,
        name -> Text,
        definition -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    rule_schedule_marks (rule_name) {
        rule_name -> Text,
        handled_until -> Timestamp,
    }
}

// A cluster of hubs (migration 2026-11-30-200000_cluster; written only by cluster nodes).

diesel::table! {
    cluster_nodes (node_id) {
        node_id -> Text,
        address -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::table! {
    cluster_leases (name) {
        name -> Text,
        owner -> Nullable<Text>,
        epoch -> BigInt,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    cluster_changes (instance, seq) {
        instance -> Text,
        seq -> BigInt,
        epoch -> BigInt,
        node_id -> Text,
        body -> Text,
        happened_at -> Timestamp,
    }
}

diesel::table! {
    cluster_status (instance) {
        instance -> Text,
        seq -> BigInt,
        epoch -> BigInt,
        node_id -> Text,
        status -> Text,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    cluster_nodes,
    cluster_leases,
    cluster_changes,
    cluster_status
);
