//! Prometheus metrics (`GET /metrics`).
//!
//! One process-wide set, because the things measured live in different actors (connections, the
//! status manager, the WebSocket sessions, the database writer) and a metric is a counter bump,
//! not a message. Label values are bounded: instance names come from the config, route labels are
//! route patterns (not raw paths), event types come from a fixed list.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::connection_state::ConnectionState;

pub struct Metrics {
    registry: Registry,
    /// 1 for the state an instance is in, 0 for the others.
    pub connection_state: IntGaugeVec,
    pub reconnects: IntCounterVec,
    pub obs_events: IntCounterVec,
    pub status_changes: IntCounterVec,
    pub obs_request_seconds: HistogramVec,
    pub http_requests: IntCounterVec,
    pub websocket_clients: IntGauge,
    pub webhook_deliveries: IntCounterVec,
    pub webhook_outbox_depth: IntGauge,
    pub db_write_seconds: HistogramVec,
    pub db_write_errors: IntCounter,
    /// Cluster: changes this node numbered but could not write, its lease having moved on.
    pub cluster_fenced_changes: IntCounter,
    /// A cluster node's id (1 while it runs as that node).
    pub cluster_node: IntGaugeVec,
    /// 1 for each lease (an instance or a duty) the cluster node holds.
    pub cluster_leases: IntGaugeVec,
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// Removes the series of `vec` whose `instance` label is `instance` (whatever their other labels).
fn forget<T: prometheus::core::MetricVecBuilder>(
    vec: &prometheus::core::MetricVec<T>,
    instance: &str,
) {
    use prometheus::core::Collector;
    for family in vec.collect() {
        for metric in family.get_metric() {
            let labels: std::collections::HashMap<&str, &str> = metric
                .get_label()
                .iter()
                .map(|pair| (pair.name(), pair.value()))
                .collect();
            if labels.get("instance") == Some(&instance) {
                // Only fails for a series that is gone already.
                let _ = vec.remove(&labels);
            }
        }
    }
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|error| panic!("metric {name} is malformed: {error}"));
    register(registry, metric)
}

fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    // Only fails on a duplicate name, which is a programming error caught by the first test run.
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|error| panic!("metric registered twice: {error}"));
    metric
}

impl Metrics {
    // The `expect`s below are on constant metric definitions, checked by the first test run.
    fn new() -> Self {
        let registry = Registry::new_custom(Some("obs_hub".into()), None)
            .expect("the prefix is a valid metric name");
        let seconds_buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        Self {
            connection_state: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new(
                        "connection_state",
                        "1 for the state each OBS instance is in",
                    ),
                    &["instance", "state"],
                )
                .expect("valid"),
            ),
            reconnects: counter_vec(
                &registry,
                "reconnects_total",
                "Links to OBS lost or attempts failed, per instance",
                &["instance"],
            ),
            obs_events: counter_vec(
                &registry,
                "obs_events_total",
                "Events received from OBS, by instance and event type",
                &["instance", "type"],
            ),
            status_changes: counter_vec(
                &registry,
                "status_changes_total",
                "Status changes published to subscribers, by kind",
                &["instance", "kind"],
            ),
            obs_request_seconds: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new("obs_request_seconds", "Latency of requests to OBS")
                        .buckets(seconds_buckets.clone()),
                    &["instance", "request"],
                )
                .expect("valid"),
            ),
            http_requests: counter_vec(
                &registry,
                "http_requests_total",
                "HTTP requests by route pattern, method and status",
                &["route", "method", "status"],
            ),
            websocket_clients: register(
                &registry,
                IntGauge::new("websocket_clients", "Browsers connected to /ws").expect("valid"),
            ),
            webhook_deliveries: counter_vec(
                &registry,
                "webhook_deliveries_total",
                "Webhook delivery attempts by outcome",
                &["outcome"],
            ),
            webhook_outbox_depth: register(
                &registry,
                IntGauge::new(
                    "webhook_outbox_depth",
                    "Webhook deliveries waiting to be sent",
                )
                .expect("valid"),
            ),
            db_write_seconds: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new("db_write_seconds", "Latency of database write batches")
                        .buckets(seconds_buckets),
                    &["table"],
                )
                .expect("valid"),
            ),
            db_write_errors: register(
                &registry,
                IntCounter::new("db_write_errors_total", "Failed database write batches")
                    .expect("valid"),
            ),
            cluster_fenced_changes: register(
                &registry,
                IntCounter::new(
                    "cluster_fenced_changes_total",
                    "Changes dropped unwritten because this node no longer held the lease",
                )
                .expect("valid"),
            ),
            cluster_node: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new("cluster_node_info", "1: this hub runs as this cluster node"),
                    &["node"],
                )
                .expect("valid"),
            ),
            cluster_leases: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new(
                        "cluster_lease_held",
                        "1 for each lease (an instance, or a duty such as duty:schedules) this \
                         cluster node holds",
                    ),
                    &["node", "lease"],
                )
                .expect("valid"),
            ),
            registry,
        }
    }

    /// A cluster node's leases, as it holds them now: the series of the others it held are
    /// dropped (a gauge left at 1 would claim it still holds them).
    pub fn set_cluster_leases<'a>(&self, node: &str, held: impl IntoIterator<Item = &'a str>) {
        use prometheus::core::Collector;
        self.cluster_node.with_label_values(&[node]).set(1);
        let held: std::collections::BTreeSet<&str> = held.into_iter().collect();
        for family in self.cluster_leases.collect() {
            for metric in family.get_metric() {
                let labels: std::collections::HashMap<&str, &str> = metric
                    .get_label()
                    .iter()
                    .map(|pair| (pair.name(), pair.value()))
                    .collect();
                let lease = labels.get("lease").copied().unwrap_or_default();
                if labels.get("node") == Some(&node) && !held.contains(lease) {
                    let _ = self.cluster_leases.remove(&labels);
                }
            }
        }
        for lease in held {
            self.cluster_leases.with_label_values(&[node, lease]).set(1);
        }
    }

    pub fn set_connection_state(&self, instance: &str, state: ConnectionState) {
        for candidate in ConnectionState::ALL {
            self.connection_state
                .with_label_values(&[instance, candidate.as_str()])
                .set(i64::from(candidate == state));
        }
    }

    /// Drops every series labelled with `instance`: it was removed from the hub (issue 20), and
    /// a gauge left at its last value would claim it still is in that state.
    pub fn forget_instance(&self, instance: &str) {
        forget(&self.connection_state, instance);
        forget(&self.reconnects, instance);
        forget(&self.obs_events, instance);
        forget(&self.status_changes, instance);
        forget(&self.obs_request_seconds, instance);
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            log::error!("encoding metrics failed: {error}");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_the_state_gauge() {
        // A registry of its own: other tests of this binary drive instances through the
        // process-wide one (one named "studio" among them) while this one reads.
        let metrics = Metrics::new();
        metrics.set_connection_state("studio", ConnectionState::Connected);
        metrics.set_connection_state("studio", ConnectionState::Reconnecting);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE obs_hub_connection_state gauge"),
            "{text}"
        );
        assert!(
            text.contains(r#"obs_hub_connection_state{instance="studio",state="reconnecting"} 1"#)
        );
        assert!(text.contains(r#"obs_hub_connection_state{instance="studio",state="connected"} 0"#));
    }

    #[test]
    fn a_cluster_node_shows_its_id_and_only_the_leases_it_holds() {
        let metrics = Metrics::new();
        metrics.set_cluster_leases("n1", ["studio", "booth", "duty:schedules"]);
        metrics.set_cluster_leases("n2", ["other"]);
        metrics.set_cluster_leases("n1", ["booth"]);
        let text = metrics.render();
        assert!(
            text.contains(r#"obs_hub_cluster_node_info{node="n1"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"obs_hub_cluster_lease_held{lease="booth",node="n1"} 1"#),
            "{text}"
        );
        assert!(!text.contains(r#"lease="studio""#), "{text}");
        assert!(!text.contains(r#"lease="duty:schedules""#), "{text}");
        assert!(
            text.contains(r#"obs_hub_cluster_lease_held{lease="other",node="n2"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn a_removed_instance_leaves_no_series_behind() {
        let metrics = Metrics::new();
        for instance in ["gone", "stays"] {
            metrics.set_connection_state(instance, ConnectionState::Connected);
            metrics.reconnects.with_label_values(&[instance]).inc();
            metrics
                .status_changes
                .with_label_values(&[instance, "scene_changed"])
                .inc();
        }
        metrics.forget_instance("gone");
        let text = metrics.render();
        assert!(!text.contains(r#"instance="gone""#), "{text}");
        assert!(
            text.contains(r#"obs_hub_connection_state{instance="stays",state="connected"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"obs_hub_reconnects_total{instance="stays"} 1"#),
            "{text}"
        );
    }
}
