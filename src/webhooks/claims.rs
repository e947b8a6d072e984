//! Webhook deliveries in a cluster: each pending delivery is worked on by one node at a time,
//! the one whose claim it carries (`claimed_by`, until `claimed_until`, on the database's
//! clock). A node claims the deliveries it stores, renews its claims every heartbeat, and takes
//! over the expired claims of a node that died (or lost the database); an attempt's outcome is
//! recorded only under the node's own claim. The delivery's id, its `webhook-id`, never changes,
//! so a receiver sees a taken-over delivery as the same message.
//!
//! The queries are `db::queries::webhooks::claims`; the dispatcher runs [`heartbeat`] on its
//! writer thread and applies what it found.

use std::{sync::Arc, time::Duration};

use diesel::QueryResult;

use super::{endpoint::Endpoint, outbox::PendingDelivery, store};
use crate::{
    config::Settings,
    db::{backend::Conn, queries::webhooks::claims},
};

/// Deliveries taken over per heartbeat at most (the rest at the next ones).
const TAKE_PER_HEARTBEAT: i64 = 1_000;

/// This node's part in the cluster's deliveries.
#[derive(Clone, Debug)]
pub struct Claims {
    pub node: Arc<str>,
    /// How long a claim lasts without renewal (the cluster's lease).
    pub lease: Duration,
}

impl Claims {
    /// None: the hub runs alone and every delivery is its own.
    pub fn of(settings: &Settings) -> Option<Self> {
        settings.cluster.as_ref().map(|cluster| Self {
            node: cluster.node_id.as_str().into(),
            lease: cluster.lease,
        })
    }

    /// How often claims are renewed and expired ones looked for: three times a lease, so
    /// that a claim outlives two missed renewals.
    pub fn heartbeat(&self) -> Duration {
        self.lease / 3
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// Claims deliveries just stored or made pending again.
    pub fn claim(&self, conn: &mut Conn, ids: &[&str]) -> QueryResult<()> {
        claims::claim(conn, ids, &self.node, self.lease_ms())
    }
}

/// What a heartbeat found.
pub struct Heartbeat {
    /// Of the deliveries this node works on, those another node has taken over.
    pub lost: Vec<String>,
    /// Deliveries taken over from other nodes (their claims expired).
    pub taken: Vec<PendingDelivery>,
    /// Every endpoint, as stored (endpoints made or changed through another node included).
    pub endpoints: Vec<Endpoint>,
}

/// One heartbeat's work, in one transaction: renew this node's claims, find which of
/// `working_on` are no longer its own, take over expired claims, read the endpoints.
pub fn heartbeat(
    conn: &mut Conn,
    claims: &Claims,
    working_on: &[String],
) -> QueryResult<Heartbeat> {
    claims::renew(conn, &claims.node, claims.lease_ms())?;
    let lost = claims::lost(conn, working_on, &claims.node)?;
    let taken = claims::take_expired(conn, &claims.node, claims.lease_ms(), TAKE_PER_HEARTBEAT)?
        .into_iter()
        .map(store::pending_from_row)
        .collect();
    Ok(Heartbeat {
        lost,
        taken,
        endpoints: store::all_endpoints(conn)?,
    })
}
