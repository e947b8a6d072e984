//! `GET /api/cluster/`: the cluster as this node last read it (at its latest heartbeat): the
//! nodes, each instance's and duty's lease, and which node answered. A hub alone answers 404
//! `not_a_cluster`.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{NodeStarts, DUTIES};
use crate::{
    error::ApiError,
    http::{get_or_head, resource, AppState},
    status::ownership::{ClusterView, LeaseView, Ownership},
};

/// What the route reads: the node's view and what the keeper knows beyond it.
#[derive(Clone, Debug, Default)]
pub struct ClusterInfo {
    pub ownership: Ownership,
    /// The lease length (None alone).
    pub lease: Option<Duration>,
    pub starts: NodeStarts,
}

/// `GET /api/cluster/`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"node": "node-1", "answered_by": "node-1", "lease_ms": 10000,
    "read_at": "2026-11-30T12:00:03Z",
    "nodes": [{"id": "node-1", "address": "http://10.0.0.1:8000", "started_at": "2026-11-30T11:00:00Z",
        "heartbeat_at": "2026-11-30T12:00:03Z", "live": true}],
    "instances": [{"name": "studio", "owner": "node-1", "epoch": 3, "lease_expires_at": "2026-11-30T12:00:13Z"}],
    "duties": [{"name": "duty:schedules", "owner": "node-1", "epoch": 1, "lease_expires_at": "2026-11-30T12:00:13Z"}]}))]
pub struct ClusterReport {
    /// This node's id.
    pub node: String,
    /// The node that answered this request (the same: the route is never forwarded).
    pub answered_by: String,
    pub lease_ms: u64,
    /// When this node last read the cluster (the database's clock); null before its first
    /// heartbeat.
    pub read_at: Option<DateTime<Utc>>,
    pub nodes: Vec<NodeReport>,
    pub instances: Vec<LeaseReport>,
    pub duties: Vec<LeaseReport>,
}

#[derive(Serialize, ToSchema)]
pub struct NodeReport {
    pub id: String,
    /// The base URL the other nodes forward requests to.
    pub address: String,
    pub started_at: Option<DateTime<Utc>>,
    pub heartbeat_at: DateTime<Utc>,
    /// Its heartbeat is younger than a lease.
    pub live: bool,
}

#[derive(Serialize, ToSchema)]
pub struct LeaseReport {
    pub name: String,
    /// The owning node; null while nobody holds it (never taken, released, or a takeover under
    /// way).
    pub owner: Option<String>,
    /// Raised at every change of owner: a former owner's late writes are refused by it.
    pub epoch: u64,
    pub lease_expires_at: Option<DateTime<Utc>>,
}

fn lease_report(name: &str, lease: Option<&LeaseView>) -> LeaseReport {
    LeaseReport {
        name: name.to_string(),
        owner: lease.and_then(|lease| lease.owner.clone()),
        epoch: lease.map_or(0, |lease| lease.epoch),
        lease_expires_at: lease.and_then(|lease| lease.expires_at),
    }
}

/// The report of `view`, listing `instances` (every instance this node knows, owned or not).
pub fn report(
    view: &ClusterView,
    lease: Duration,
    starts: &NodeStarts,
    instances: impl IntoIterator<Item = String>,
) -> ClusterReport {
    ClusterReport {
        node: view.me.clone(),
        answered_by: view.me.clone(),
        lease_ms: u64::try_from(lease.as_millis()).unwrap_or(u64::MAX),
        read_at: view.read_at,
        nodes: view
            .nodes
            .iter()
            .map(|(id, node)| NodeReport {
                id: id.clone(),
                address: node.address.clone(),
                started_at: starts.get(id),
                heartbeat_at: node.heartbeat_at,
                live: node.live,
            })
            .collect(),
        instances: instances
            .into_iter()
            .map(|name| lease_report(&name, view.leases.get(&name)))
            .collect(),
        duties: DUTIES
            .iter()
            .map(|duty| lease_report(duty, view.leases.get(*duty)))
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/cluster", tag = "hub",
    summary = "The cluster: nodes, each instance's owner, epoch and lease expiry",
    responses(
        (status = 200, description = "The cluster as this node read it at its last heartbeat", body = ClusterReport),
        (status = 404, description = "This hub runs alone (`not_a_cluster`)", body = crate::error::ErrorBody),
    ))]
pub async fn cluster(
    state: web::Data<AppState>,
    info: web::Data<ClusterInfo>,
) -> Result<HttpResponse, ApiError> {
    let (Some(view), Some(lease)) = (info.ownership.view(), info.lease) else {
        return Err(ApiError::NotACluster(
            "this hub runs alone: [cluster] node_id is not set".to_string(),
        ));
    };
    let instances = state
        .board
        .current()
        .instances
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(report(&view, lease, &info.starts, instances)))
}

/// Mounts `/api/cluster` (inside `/api`).
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(resource("/cluster", "GET, HEAD").route(get_or_head().to(cluster)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ownership::NodeView;

    #[test]
    fn the_report_lists_every_instance_and_duty_with_its_lease() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let view = ClusterView {
            me: "n1".into(),
            leases: [(
                "studio".to_string(),
                LeaseView {
                    owner: Some("n2".into()),
                    epoch: 4,
                    expires_at: Some(at),
                },
            )]
            .into(),
            nodes: [(
                "n2".to_string(),
                NodeView {
                    address: "http://127.0.0.1:2".into(),
                    heartbeat_at: at,
                    live: true,
                },
            )]
            .into(),
            read_at: Some(at),
        };
        let starts = NodeStarts::default();
        starts.set([("n2".to_string(), at)].into());
        let report = report(
            &view,
            Duration::from_secs(10),
            &starts,
            ["booth".to_string(), "studio".to_string()],
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["node"], "n1");
        assert_eq!(json["answered_by"], "n1");
        assert_eq!(json["lease_ms"], 10_000);
        assert_eq!(json["nodes"][0]["id"], "n2");
        assert_eq!(json["nodes"][0]["started_at"], "2027-01-15T08:00:00Z");
        assert_eq!(json["instances"][0]["name"], "booth");
        assert_eq!(json["instances"][0]["owner"], serde_json::Value::Null);
        assert_eq!(json["instances"][1]["owner"], "n2");
        assert_eq!(json["instances"][1]["epoch"], 4);
        assert_eq!(json["duties"][0]["name"], "duty:schedules");
    }
}
