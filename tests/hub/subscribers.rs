//! The subscriber API (the Rust form of the seed's register_scene_callback), end to end.

use crate::common;

use std::sync::{Arc, Mutex};

use actix::prelude::*;
use common::{eventually, hub_with_fake};
use obs_hub::status::{Change, StatusChanged, Subscribe};

struct Collector(Arc<Mutex<Vec<StatusChanged>>>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<StatusChanged> for Collector {
    type Result = ();
    fn handle(&mut self, change: StatusChanged, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(change);
    }
}

#[actix_web::test]
async fn subscribers_get_numbered_changes_and_only_real_ones() {
    let (hub, fake) = hub_with_fake().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector(seen.clone()).start();
    hub.app_manager.do_send(Subscribe(collector.recipient()));

    assert_eq!(
        hub.post("/api/switch-scene/", r#"{"scene_name": "Live"}"#)
            .await
            .status,
        200
    );
    fake.switch_scene_from_obs("BRB").await;
    // The same scene again is not a change.
    fake.switch_scene_from_obs("BRB").await;
    assert_eq!(hub.post("/api/start-stream/", "").await.status, 200);

    eventually("scene and stream changes delivered", || async {
        let seen = seen.lock().unwrap();
        let scenes: Vec<String> = seen
            .iter()
            .filter_map(|c| match &c.change {
                Change::SceneChanged { scene, .. } => Some(scene.clone()),
                _ => None,
            })
            .collect();
        scenes == ["Live", "BRB"]
            && seen.iter().any(|c| {
                matches!(&c.change, Change::StreamingChanged { is_streaming: true, state } if state == "started")
            })
    })
    .await;
    let seen = seen.lock().unwrap();
    assert!(
        seen.windows(2).all(|pair| pair[1].seq > pair[0].seq),
        "seq grows"
    );
    assert!(seen.iter().all(|c| c.instance == "default"));
    let scene_change = seen
        .iter()
        .find(|c| matches!(c.change, Change::SceneChanged { .. }))
        .unwrap();
    assert_eq!(
        serde_json::to_value(&**scene_change).unwrap()["type"],
        "scene_changed"
    );
}
