// The tables of migrations/ as diesel sees them (what `diesel print-schema` would write, kept by
// hand; `queries::tests` select every column of every table, so a drift fails the tests).

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

diesel::joinable!(scenes -> instances (instance_id));
diesel::joinable!(events -> instances (instance_id));
diesel::joinable!(output_sessions -> instances (instance_id));

diesel::allow_tables_to_appear_in_same_query!(instances, scenes, events, output_sessions);
