//! The dispatcher's working set: stored deliveries waiting for their next attempt, one queue per
//! endpoint, and the rule that decides what happens after an attempt.
//!
//! Plain data and functions: the [`dispatcher`](super::dispatcher) actor only feeds them. Each
//! endpoint has its own queue and its own in-flight count, so a dead or slow endpoint fills its
//! own slots and never the others'.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use rand::Rng;

use super::schedule::{self, Verdict};
/// The delays between attempts (a setting, so it lives with the settings).
pub use crate::config::webhook_settings::RetrySchedule;
use crate::db::source::webhook::NewDelivery;

pub use crate::db::source::webhook::DeliveryStatus;

/// A stored delivery that still has to reach its endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingDelivery {
    pub id: Arc<str>,
    pub endpoint_id: Arc<str>,
    pub event_type: Arc<str>,
    /// The body exactly as stored and signed.
    pub body: Arc<str>,
    /// Attempts made so far (all rounds).
    pub attempts: u32,
    /// Attempts made before the current round of the schedule (a redelivery starts a new one).
    pub round_start: u32,
    pub due: DateTime<Utc>,
}

impl From<NewDelivery> for PendingDelivery {
    /// A delivery just stored: never tried, due at once.
    fn from(new: NewDelivery) -> Self {
        Self {
            id: new.id,
            endpoint_id: new.endpoint_id,
            event_type: new.event_type,
            body: new.body,
            attempts: 0,
            round_start: 0,
            due: new.created_at,
        }
    }
}

/// How one attempt went, as the sender saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptResult {
    /// None when no response came (refused, reset, timed out).
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    pub latency: Duration,
    /// What went wrong, in words (None on success).
    pub error: Option<String>,
}

/// What to do with a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Plan {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// The schedule ran out.
    GiveUp,
    /// 410 Gone: this delivery ends and its endpoint is disabled.
    DisableEndpoint,
    /// The endpoint was disabled or deleted while the attempt was under way.
    EndpointInactive,
}

impl Plan {
    pub fn status(self) -> DeliveryStatus {
        match self {
            Self::Delivered => DeliveryStatus::Delivered,
            Self::RetryAt(_) => DeliveryStatus::Pending,
            Self::GiveUp => DeliveryStatus::Failed,
            Self::DisableEndpoint | Self::EndpointInactive => DeliveryStatus::EndpointDisabled,
        }
    }

    /// The label of `obs_hub_webhook_deliveries_total`.
    pub fn outcome(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::RetryAt(_) => "retry",
            Self::GiveUp => "failed",
            Self::DisableEndpoint => "gone",
            Self::EndpointInactive => "endpoint_disabled",
        }
    }
}

/// Decides the fate of `delivery` whose attempt number `delivery.attempts` just ended with
/// `result`.
pub fn plan(
    delivery: &PendingDelivery,
    result: &AttemptResult,
    schedule: &RetrySchedule,
    endpoint_active: bool,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Plan {
    let verdict = schedule::verdict(result.status, result.retry_after);
    match verdict {
        Verdict::Delivered => return Plan::Delivered,
        Verdict::Gone => return Plan::DisableEndpoint,
        Verdict::Retry { .. } | Verdict::Rejected => {}
    }
    if !endpoint_active {
        return Plan::EndpointInactive;
    }
    let retry_after = match verdict {
        Verdict::Retry { retry_after } => retry_after,
        _ => None,
    };
    let round_attempts = delivery.attempts.saturating_sub(delivery.round_start);
    match schedule::next_delay_in(&schedule.delays, round_attempts, retry_after, rng) {
        Some(delay) => Plan::RetryAt(now + chrono::Duration::from_std(delay).unwrap_or_default()),
        None => Plan::GiveUp,
    }
}

#[derive(Default)]
struct EndpointQueue {
    /// By due time, then arrival (FIFO among equals).
    waiting: BTreeMap<(DateTime<Utc>, u64), PendingDelivery>,
    /// Where each waiting delivery sits in `waiting`.
    keys: HashMap<Arc<str>, (DateTime<Utc>, u64)>,
    in_flight: HashSet<Arc<str>>,
    /// Redeliveries asked for while an attempt was under way: started once it ends.
    again: HashMap<Arc<str>, PendingDelivery>,
}

/// Deliveries waiting or under way, per endpoint.
pub struct Outbox {
    concurrency: usize,
    queues: HashMap<Arc<str>, EndpointQueue>,
    arrivals: u64,
    /// Released while an attempt was under way (see [`Outbox::release`]).
    released: HashSet<Arc<str>>,
}

impl Outbox {
    /// `concurrency`: attempts one endpoint may have under way at once (at least 1).
    pub fn new(concurrency: usize) -> Self {
        Self {
            concurrency: concurrency.max(1),
            queues: HashMap::new(),
            arrivals: 0,
            released: HashSet::new(),
        }
    }

    /// Queues a delivery (a stored one, never yet tried or due again). A delivery already
    /// waiting is moved to the new due time; one under way is handed back by
    /// [`Outbox::finished`] to be queued again.
    pub fn push(&mut self, delivery: PendingDelivery) {
        self.arrivals += 1;
        let queue = self.queues.entry(delivery.endpoint_id.clone()).or_default();
        if queue.in_flight.contains(&delivery.id) {
            queue.again.insert(delivery.id.clone(), delivery);
            return;
        }
        if let Some(key) = queue.keys.remove(&delivery.id) {
            queue.waiting.remove(&key);
        }
        let key = (delivery.due, self.arrivals);
        queue.keys.insert(delivery.id.clone(), key);
        queue.waiting.insert(key, delivery);
    }

    /// Deliveries due at `now` that their endpoint has room for; they count as under way until
    /// [`Outbox::finished`].
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<PendingDelivery> {
        let mut due = Vec::new();
        for queue in self.queues.values_mut() {
            while queue.in_flight.len() < self.concurrency {
                let Some(entry) = queue.waiting.first_entry() else {
                    break;
                };
                if entry.key().0 > now {
                    break;
                }
                let delivery = entry.remove();
                queue.keys.remove(&delivery.id);
                queue.in_flight.insert(delivery.id.clone());
                due.push(delivery);
            }
        }
        due
    }

    /// Frees the slot of an attempt that ended; answers the redelivery asked for meanwhile, if
    /// any (the caller queues it once it has recorded the attempt).
    pub fn finished(&mut self, endpoint_id: &str, delivery_id: &str) -> Option<PendingDelivery> {
        let queue = self.queues.get_mut(endpoint_id)?;
        queue.in_flight.remove(delivery_id);
        let again = queue.again.remove(delivery_id);
        if queue.in_flight.is_empty() && queue.waiting.is_empty() && queue.again.is_empty() {
            self.queues.remove(endpoint_id);
        }
        again
    }

    /// Drops everything waiting for an endpoint (disabled or deleted); attempts under way finish.
    /// Returns how many were dropped.
    pub fn drop_endpoint(&mut self, endpoint_id: &str) -> usize {
        let Some(queue) = self.queues.get_mut(endpoint_id) else {
            return 0;
        };
        let dropped = queue.waiting.len();
        queue.waiting.clear();
        queue.keys.clear();
        queue.again.clear();
        if queue.in_flight.is_empty() {
            self.queues.remove(endpoint_id);
        }
        dropped
    }

    /// Forgets an endpoint (deleted): drops what waits for it and answers the ids of its
    /// attempts under way, which the caller cancels (their deliveries no longer exist).
    pub fn remove_endpoint(&mut self, endpoint_id: &str) -> Vec<Arc<str>> {
        self.queues
            .remove(endpoint_id)
            .map(|queue| queue.in_flight.into_iter().collect())
            .unwrap_or_default()
    }

    /// Lets go of a delivery another node has taken over: dropped if it waits; an attempt under
    /// way finishes (its outcome is not recorded: the claim is not this node's), and is not
    /// queued again.
    pub fn release(&mut self, delivery_id: &str) {
        let mut under_way = false;
        for queue in self.queues.values_mut() {
            if let Some(key) = queue.keys.remove(delivery_id) {
                queue.waiting.remove(&key);
            }
            queue.again.remove(delivery_id);
            under_way |= queue.in_flight.contains(delivery_id);
        }
        if under_way {
            self.released.insert(delivery_id.into());
        }
    }

    /// Whether [`Outbox::release`] let go of this delivery (its attempt's retry is dropped).
    pub fn take_released(&mut self, delivery_id: &str) -> bool {
        self.released.remove(delivery_id)
    }

    /// The deliveries waiting or under way.
    pub fn ids(&self) -> Vec<String> {
        self.queues
            .values()
            .flat_map(|queue| queue.keys.keys().chain(queue.in_flight.iter()))
            .map(|id| id.to_string())
            .collect()
    }

    pub fn is_in_flight(&self, endpoint_id: &str, delivery_id: &str) -> bool {
        self.queues
            .get(endpoint_id)
            .is_some_and(|queue| queue.in_flight.contains(delivery_id))
    }

    /// Deliveries waiting or under way.
    pub fn depth(&self) -> usize {
        self.queues
            .values()
            .map(|queue| queue.waiting.len() + queue.in_flight.len())
            .sum()
    }

    pub fn in_flight(&self) -> usize {
        self.queues
            .values()
            .map(|queue| queue.in_flight.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn delivery(id: &str, endpoint: &str, due: DateTime<Utc>) -> PendingDelivery {
        PendingDelivery {
            id: id.into(),
            endpoint_id: endpoint.into(),
            event_type: "scene_changed".into(),
            body: "{}".into(),
            attempts: 0,
            round_start: 0,
            due,
        }
    }

    fn ids(deliveries: &[PendingDelivery]) -> Vec<&str> {
        deliveries.iter().map(|d| &*d.id).collect()
    }

    #[test]
    fn a_slow_endpoint_fills_only_its_own_slots() {
        let now = Utc::now();
        let mut outbox = Outbox::new(2);
        for n in 0..5 {
            outbox.push(delivery(&format!("slow{n}"), "slow", now));
        }
        outbox.push(delivery("fast0", "fast", now));
        let mut first = ids(&outbox.take_due(now))
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        first.sort();
        assert_eq!(first, ["fast0", "slow0", "slow1"]);
        // The slow endpoint's attempts hang; the fast endpoint keeps going.
        outbox.finished("fast", "fast0");
        outbox.push(delivery("fast1", "fast", now));
        assert_eq!(ids(&outbox.take_due(now)), ["fast1"]);
        assert_eq!(outbox.depth(), 6);
        outbox.finished("slow", "slow0");
        assert_eq!(ids(&outbox.take_due(now)), ["slow2"]);
    }

    #[test]
    fn deliveries_wait_until_due_and_keep_their_order() {
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(5);
        let mut outbox = Outbox::new(4);
        outbox.push(delivery("b", "e", later));
        outbox.push(delivery("a1", "e", now));
        outbox.push(delivery("a2", "e", now));
        assert_eq!(ids(&outbox.take_due(now)), ["a1", "a2"]);
        assert!(outbox.take_due(now).is_empty());
        assert_eq!(ids(&outbox.take_due(later)), ["b"]);
    }

    #[test]
    fn pushing_a_waiting_delivery_again_moves_it() {
        let now = Utc::now();
        let mut outbox = Outbox::new(1);
        outbox.push(delivery("a", "e", now + chrono::Duration::minutes(10)));
        outbox.push(delivery("a", "e", now));
        assert_eq!(outbox.depth(), 1);
        assert_eq!(ids(&outbox.take_due(now)), ["a"]);
        // Under way: a redelivery request does not start a second attempt at once, but is
        // handed back when the attempt ends.
        outbox.push(delivery("a", "e", now));
        assert!(outbox.is_in_flight("e", "a"));
        assert_eq!(outbox.depth(), 1);
        assert!(outbox.take_due(now).is_empty());
        let again = outbox.finished("e", "a").expect("the redelivery");
        assert_eq!(&*again.id, "a");
        assert_eq!(outbox.finished("e", "a"), None);
    }

    #[test]
    fn dropping_an_endpoint_keeps_attempts_under_way() {
        let now = Utc::now();
        let mut outbox = Outbox::new(1);
        outbox.push(delivery("a", "e", now));
        outbox.push(delivery("b", "e", now));
        outbox.take_due(now);
        assert_eq!(outbox.drop_endpoint("e"), 1);
        assert_eq!(outbox.depth(), 1);
        outbox.finished("e", "a");
        assert_eq!(outbox.depth(), 0);
    }

    #[test]
    fn removing_an_endpoint_hands_back_its_attempts_under_way_and_frees_nothing_else() {
        let now = Utc::now();
        let mut outbox = Outbox::new(1);
        outbox.push(delivery("a", "gone", now));
        outbox.push(delivery("b", "gone", now));
        outbox.push(delivery("c", "kept", now));
        assert_eq!(outbox.take_due(now).len(), 2);
        assert_eq!(outbox.remove_endpoint("gone"), [Arc::<str>::from("a")]);
        assert_eq!(
            outbox.depth(),
            1,
            "only the other endpoint's attempt remains"
        );
        assert!(!outbox.is_in_flight("gone", "a"));
        // A late end of the cancelled attempt changes nothing.
        assert_eq!(outbox.finished("gone", "a"), None);
        assert!(outbox.remove_endpoint("gone").is_empty());
    }

    fn result(status: Option<u16>, retry_after: Option<u64>) -> AttemptResult {
        AttemptResult {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            latency: Duration::from_millis(3),
            error: None,
        }
    }

    #[test]
    fn plans_follow_the_schedule_and_the_receivers_answer() {
        let now = Utc::now();
        let schedule = RetrySchedule::default();
        let mut rng = StdRng::seed_from_u64(1);
        let mut tried = delivery("a", "e", now);
        tried.attempts = 1;
        let plan_for = |d: &PendingDelivery, r: AttemptResult, active, rng: &mut StdRng| {
            plan(d, &r, &schedule, active, now, rng)
        };
        assert_eq!(
            plan_for(&tried, result(Some(204), None), true, &mut rng),
            Plan::Delivered
        );
        assert_eq!(
            plan_for(&tried, result(Some(410), None), true, &mut rng),
            Plan::DisableEndpoint
        );
        let Plan::RetryAt(at) = plan_for(&tried, result(None, None), true, &mut rng) else {
            panic!("a refused connection is retried");
        };
        let wait = at - now;
        assert!(
            wait >= chrono::Duration::milliseconds(4500)
                && wait <= chrono::Duration::milliseconds(5500)
        );
        let Plan::RetryAt(at) = plan_for(&tried, result(Some(429), Some(90)), true, &mut rng)
        else {
            panic!("429 is retried");
        };
        assert_eq!(at - now, chrono::Duration::seconds(90));
        assert_eq!(
            plan_for(&tried, result(Some(500), None), false, &mut rng),
            Plan::EndpointInactive
        );
        tried.attempts = 7;
        assert_eq!(
            plan_for(&tried, result(Some(500), None), true, &mut rng),
            Plan::GiveUp
        );
        // A redelivery after giving up starts the schedule again.
        tried.attempts = 8;
        tried.round_start = 7;
        assert!(matches!(
            plan_for(&tried, result(Some(500), None), true, &mut rng),
            Plan::RetryAt(_)
        ));
    }

    #[test]
    fn a_short_schedule_gives_up_sooner() {
        let now = Utc::now();
        let schedule = RetrySchedule {
            delays: vec![Duration::from_millis(10)],
        };
        let mut rng = StdRng::seed_from_u64(3);
        let mut tried = delivery("a", "e", now);
        tried.attempts = 1;
        let failed = result(Some(503), None);
        assert!(matches!(
            plan(&tried, &failed, &schedule, true, now, &mut rng),
            Plan::RetryAt(_)
        ));
        tried.attempts = 2;
        assert_eq!(
            plan(&tried, &failed, &schedule, true, now, &mut rng),
            Plan::GiveUp
        );
    }
}
