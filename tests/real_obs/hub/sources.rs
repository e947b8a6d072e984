//! The sources capability against real OBS (30.2 and 32.2), through the hub: a scene made by the
//! test with a colour source, a text source, a media source and a nested scene holding an item,
//! a group holding an item (in a scene collection scripts/real-obs.sh writes before OBS starts:
//! obs-websocket 5 has no request that makes a group), a filter, hotkeys, a second profile and a
//! second scene collection. What the hub does is read back from OBS through a separate obws
//! client. A module of `hub` (tests/real_obs/hub.rs).

use obws::requests::{
    filters::Create as CreateFilter,
    inputs::Create as CreateInput,
    scene_items::{CreateSceneItem, Id, SetEnabled},
    scenes::SceneId,
    sources::SourceId,
};
use serde_json::{json, Value};

use super::{connected_hub, e2e, TestHub};

const SCENE: &str = "hub e2e sources";
const INNER: &str = "hub e2e inner";
const COLOUR: &str = "hub e2e src colour";
const TEXT: &str = "hub e2e src text";
const MEDIA: &str = "hub e2e src media";
const INNER_COLOUR: &str = "hub e2e src inner colour";
const FILTER: &str = "hub e2e tint";
const PROFILE: &str = "hub e2e profile";
const COLLECTION: &str = "hub e2e collection";

fn path(name: &str) -> String {
    name.replace(' ', "%20")
}

/// Makes the scenes, inputs and filter (tolerating those left by an earlier pass).
async fn set_up(obs: &obws::Client) {
    for scene in [SCENE, INNER] {
        if let Err(error) = obs.scenes().create(scene).await {
            eprintln!("{scene}: {error}");
        }
    }
    for (scene, input, kind, settings) in [
        (
            SCENE,
            COLOUR,
            "color_source_v3",
            json!({ "color": 4_282_664_004_u32 }),
        ),
        (
            SCENE,
            TEXT,
            "text_ft2_source_v2",
            json!({ "text": "before" }),
        ),
        (SCENE, MEDIA, "ffmpeg_source", json!({ "local_file": "" })),
        (
            INNER,
            INNER_COLOUR,
            "color_source_v3",
            json!({ "color": 4_278_190_335_u32 }),
        ),
    ] {
        let created = obs
            .inputs()
            .create(CreateInput {
                scene: scene.into(),
                input,
                kind,
                settings: Some(settings),
                enabled: Some(true),
            })
            .await;
        if let Err(error) = created {
            eprintln!("{input}: {error}");
        }
    }
    let nested = obs
        .scene_items()
        .create(CreateSceneItem {
            scene: SceneId::Name(SCENE),
            source: SourceId::Name(INNER),
            enabled: Some(true),
        })
        .await;
    if let Err(error) = nested {
        eprintln!("nested scene: {error}");
    }
    let filter = obs
        .filters()
        .create(CreateFilter::<Value> {
            source: SourceId::Name(COLOUR),
            filter: FILTER,
            kind: "color_filter_v2",
            settings: None,
        })
        .await;
    if let Err(error) = filter {
        eprintln!("{FILTER}: {error}");
    }
}

async fn item_id(obs: &obws::Client, scene: &str, source: &str) -> i64 {
    obs.scene_items()
        .id(Id {
            scene: SceneId::Name(scene),
            source,
            search_offset: None,
        })
        .await
        .unwrap_or_else(|error| panic!("{source} in {scene}: {error:?}"))
}

fn find<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .and_then(|items| items.iter().find(|item| item["source_name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {items:#}"))
}

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn scene_items_text_media_filters_and_hotkeys_through_the_hub() {
    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    set_up(&obs).await;
    let hub = connected_hub(&e2e::password()).await;
    let items_path = format!("/api/scenes/{}/items", path(SCENE));

    let listed = hub.get(&items_path).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(
        find(&listed.body["items"], COLOUR)["kind"],
        "color_source_v3"
    );
    assert_eq!(
        find(&listed.body["items"], TEXT)["kind"],
        "text_ft2_source_v2"
    );
    let nested = find(&listed.body["items"], INNER);
    assert_eq!(nested["kind"], "scene");
    assert_eq!(find(&nested["children"], INNER_COLOUR)["enabled"], true);

    // Shown and hidden through the hub, read back from OBS.
    let colour = item_id(&obs, SCENE, COLOUR).await;
    for (action, shown) in [("hide", false), ("show", true), ("toggle", false)] {
        let reply = hub
            .post(&format!("{items_path}/{}/{action}", path(COLOUR)), "")
            .await;
        assert_eq!(reply.status, 200, "{action}: {:?}", reply.body);
        let in_obs = obs
            .scene_items()
            .enabled(SceneId::Name(SCENE), colour)
            .await
            .unwrap();
        assert_eq!(in_obs, shown, "{action}");
    }
    let inner = item_id(&obs, INNER, INNER_COLOUR).await;
    let in_nested = hub
        .post(
            &format!("/api/scenes/{}/items/{inner}/hide", path(INNER)),
            "",
        )
        .await;
    assert_eq!(in_nested.status, 200, "{:?}", in_nested.body);
    assert!(!obs
        .scene_items()
        .enabled(SceneId::Name(INNER), inner)
        .await
        .unwrap());

    // Hidden in OBS: the hub's cache follows OBS's event.
    let text = item_id(&obs, SCENE, TEXT).await;
    obs.scene_items()
        .set_enabled(SetEnabled {
            scene: SceneId::Name(SCENE),
            item_id: text,
            enabled: false,
        })
        .await
        .unwrap();
    hub.wait_for_path(&items_path, "the text hidden in OBS", |body| {
        find(&body["items"], TEXT)["enabled"] == false
    })
    .await;

    // The text changed through the hub and read back from OBS.
    let changed = hub
        .send(
            "PUT",
            &format!("/api/inputs/{}/text", path(TEXT)),
            r#"{"text": "Hello from the hub"}"#,
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let settings = obs
        .inputs()
        .settings::<Value>(obws::requests::inputs::InputId::Name(TEXT))
        .await
        .unwrap();
    assert_eq!(settings.settings["text"], "Hello from the hub");
    let not_text = hub
        .send(
            "PUT",
            &format!("/api/inputs/{}/text", path(COLOUR)),
            r#"{"text": "x"}"#,
        )
        .await;
    assert_eq!(not_text.status, 409, "{:?}", not_text.body);

    // A media source without a file: the action is taken and its state answered.
    let media = hub
        .post(&format!("/api/inputs/{}/media/stop", path(MEDIA)), "")
        .await;
    assert_eq!(media.status, 200, "{:?}", media.body);
    assert!(media.body["state"].is_string(), "{:?}", media.body);

    // The filter, enabled and disabled through the hub.
    for (action, enabled) in [("enable", true), ("disable", false)] {
        let reply = hub
            .post(
                &format!(
                    "/api/sources/{}/filters/{}/{action}",
                    path(COLOUR),
                    path(FILTER)
                ),
                "",
            )
            .await;
        assert_eq!(reply.status, 200, "{action}: {:?}", reply.body);
        let in_obs = obs
            .filters()
            .get(SourceId::Name(COLOUR), FILTER)
            .await
            .unwrap();
        assert_eq!(in_obs.enabled, enabled, "{action}");
    }

    let hotkeys = hub.get("/api/hotkeys").await;
    assert!(
        hotkeys.body["hotkeys"]
            .as_array()
            .is_some_and(|names| names.iter().any(|name| name == "OBSBasic.StartStreaming")),
        "{:?}",
        hotkeys.body
    );
    let unknown = hub.post("/api/hotkeys/hub.e2e.nothing/trigger", "").await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
}

/// Switches through the hub and waits until OBS says it is there.
async fn switch(hub: &TestHub, route: &str, name: &str) {
    let reply = hub
        .send("PUT", route, &json!({ "name": name }).to_string())
        .await;
    assert_eq!(reply.status, 200, "{route} {name}: {:?}", reply.body);
}

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn profiles_and_scene_collections_switch_and_status_reads_go_on() {
    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    let hub = connected_hub(&e2e::password()).await;

    // Creating a profile switches OBS to it; the hub switches back (the replay buffer is
    // enabled in Untitled's basic.ini, which the outputs tests need).
    if let Err(error) = obs.profiles().create(PROFILE).await {
        eprintln!("{PROFILE}: {error}");
    }
    let profiles = hub.get("/api/profiles").await;
    assert!(
        profiles.body["names"]
            .as_array()
            .is_some_and(|names| names.iter().any(|name| name == PROFILE)),
        "{:?}",
        profiles.body
    );
    for name in [PROFILE, "Untitled"] {
        switch(&hub, "/api/profiles/current", name).await;
        e2e::wait_for("OBS on the profile", || async {
            (obs.profiles().current().await.ok().as_deref() == Some(name)).then_some(())
        })
        .await;
    }

    if let Err(error) = obs.scene_collections().create(COLLECTION).await {
        eprintln!("{COLLECTION}: {error}");
    }
    for name in [COLLECTION, "Untitled"] {
        let switching = switch(&hub, "/api/scene-collections/current", name);
        // The hub keeps answering status reads while OBS switches.
        let reads = async {
            for _ in 0..20 {
                let status = hub.get("/api/stream-status/").await;
                assert_eq!(status.status, 200, "{:?}", status.body);
            }
        };
        futures_util::join!(switching, reads);
        e2e::wait_for("OBS on the collection", || async {
            (obs.scene_collections().current().await.ok().as_deref() == Some(name)).then_some(())
        })
        .await;
        hub.wait_for("the hub connected after the switch", |status| {
            status["connected"] == true
        })
        .await;
    }
    let collections = hub
        .wait_for_path("/api/scene-collections", "the switch over", |body| {
            body["current"] == "Untitled"
        })
        .await;
    assert!(
        collections["names"]
            .as_array()
            .is_some_and(|names| names.iter().any(|name| name == COLLECTION)),
        "{collections:?}"
    );
    // Commands work again once the switch is over.
    let items = hub
        .wait_for_path("/api/hotkeys", "commands answered again", |body| {
            body["hotkeys"].is_array()
        })
        .await;
    assert!(items["hotkeys"].is_array());
}

/// The scene collection scripts/real-obs.sh writes before OBS starts: a scene holding a real
/// group (obs-websocket 5 cannot make one) that holds a colour source.
const GROUPS: &str = "hub e2e groups";
const GROUP_SCENE: &str = "hub e2e group scene";
const GROUP: &str = "hub e2e group";
const GROUP_COLOUR: &str = "hub e2e group colour";

/// Switches OBS to `name` through the hub and waits until OBS is there and the hub answers
/// commands again (the outputs tests need the collection they started with back).
async fn switch_collection(hub: &TestHub, obs: &obws::Client, name: &str) {
    switch(hub, "/api/scene-collections/current", name).await;
    e2e::wait_for("OBS on the collection", || async {
        (obs.scene_collections().current().await.ok().as_deref() == Some(name)).then_some(())
    })
    .await;
    hub.wait_for_path("/api/scene-collections", "the switch over", |body| {
        body["current"] == name
    })
    .await;
    hub.wait_for_path("/api/hotkeys", "commands answered again", |body| {
        body["hotkeys"].is_array()
    })
    .await;
}

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn a_group_holding_an_item_is_listed_shown_and_hidden_through_the_hub() {
    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    let hub = connected_hub(&e2e::password()).await;
    switch_collection(&hub, &obs, GROUPS).await;

    // The group is listed with its item as a child.
    let items_path = format!("/api/scenes/{}/items", path(GROUP_SCENE));
    let listed = hub
        .wait_for_path(&items_path, "the group's scene listed", |body| {
            body["items"].is_array()
        })
        .await;
    let group = find(&listed["items"], GROUP);
    assert_eq!(group["kind"], "group", "{listed:#}");
    let child = find(&group["children"], GROUP_COLOUR);
    assert_eq!(child["kind"], "color_source_v3", "{listed:#}");
    assert_eq!(child["enabled"], true, "{listed:#}");
    let group_id = item_id(&obs, GROUP_SCENE, GROUP).await;
    let child_id = item_id(&obs, GROUP, GROUP_COLOUR).await;
    assert_eq!(group["id"], group_id, "{listed:#}");
    assert_eq!(child["id"], child_id, "{listed:#}");

    // The item inside the group, hidden and shown through the hub (by name, then by id), read
    // back from OBS.
    let child_path = format!("/api/scenes/{}/items", path(GROUP));
    for (item, action, shown) in [
        (path(GROUP_COLOUR), "hide", false),
        (child_id.to_string(), "show", true),
        (path(GROUP_COLOUR), "toggle", false),
    ] {
        let reply = hub.post(&format!("{child_path}/{item}/{action}"), "").await;
        assert_eq!(reply.status, 200, "{action}: {:?}", reply.body);
        let in_obs = obs
            .scene_items()
            .enabled(SceneId::Name(GROUP), child_id)
            .await
            .unwrap();
        assert_eq!(in_obs, shown, "{action} {item}");
    }
    hub.wait_for_path(&items_path, "the hidden child in the listing", |body| {
        find(&find(&body["items"], GROUP)["children"], GROUP_COLOUR)["enabled"] == false
    })
    .await;

    // The group itself, hidden and shown through the hub, read back from OBS.
    for (action, shown) in [("hide", false), ("show", true)] {
        let reply = hub
            .post(&format!("{items_path}/{}/{action}", path(GROUP)), "")
            .await;
        assert_eq!(reply.status, 200, "{action}: {:?}", reply.body);
        let in_obs = obs
            .scene_items()
            .enabled(SceneId::Name(GROUP_SCENE), group_id)
            .await
            .unwrap();
        assert_eq!(in_obs, shown, "{action} the group");
    }

    // Shown in OBS: the hub's cache follows OBS's event for an item inside a group.
    obs.scene_items()
        .set_enabled(SetEnabled {
            scene: SceneId::Name(GROUP),
            item_id: child_id,
            enabled: true,
        })
        .await
        .unwrap();
    hub.wait_for_path(&items_path, "the child shown in OBS", |body| {
        find(&find(&body["items"], GROUP)["children"], GROUP_COLOUR)["enabled"] == true
    })
    .await;

    switch_collection(&hub, &obs, "Untitled").await;
}
