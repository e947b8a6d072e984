//! The sources capability against the simulated OBS: scene items (a group resolved as children,
//! visibility changed in OBS reaching the cache), text and settings, media, filters, profiles,
//! scene collections (commands refused with a retry hint during a switch while status reads go
//! on) and hotkeys; every unknown name answered before anything reaches OBS.

use crate::common;

use common::{eventually, hub_with_fake};
use serde_json::{json, Value};

fn item<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .and_then(|items| items.iter().find(|item| item["source_name"] == name))
        .unwrap_or_else(|| panic!("no item {name} in {items:#}"))
}

#[actix_web::test]
async fn scene_items_list_groups_as_children_and_commands_reach_obs() {
    let (hub, fake) = hub_with_fake().await;
    let listed = hub.get("/api/scenes/Live/items").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let items = &listed.body["items"];
    assert_eq!(item(items, "Background")["kind"], "color_source_v3");
    let group = item(items, "Lower third");
    assert_eq!(group["kind"], "group");
    assert_eq!(
        item(&group["children"], "Name")["kind"],
        "text_ft2_source_v2"
    );

    let hidden = hub.post("/api/scenes/Live/items/Title/hide", "").await;
    assert_eq!(hidden.status, 200, "{:?}", hidden.body);
    assert_eq!(hidden.body["item"]["enabled"], false);
    assert_eq!(fake.scene_item_enabled("Live", 2), Some(false));
    let toggled = hub.post("/api/scenes/Live/items/2/toggle", "").await;
    assert_eq!(toggled.body["item"]["enabled"], true, "{:?}", toggled.body);
    assert_eq!(fake.scene_item_enabled("Live", 2), Some(true));

    // An item inside the group, through the per-instance routes.
    let in_group = hub
        .post(
            "/api/instances/default/scenes/Lower%20third/items/Name/hide",
            "",
        )
        .await;
    assert_eq!(in_group.status, 200, "{:?}", in_group.body);
    assert_eq!(fake.scene_item_enabled("Lower third", 4), Some(false));
    let locked = hub.post("/api/scenes/Live/items/Title/lock", "").await;
    assert_eq!(locked.body["item"]["locked"], true, "{:?}", locked.body);
    let after = hub.get("/api/scenes/Live/items").await;
    assert_eq!(item(&after.body["items"], "Title")["locked"], true);
    let group = item(&after.body["items"], "Lower third");
    assert_eq!(item(&group["children"], "Name")["enabled"], false);
}

#[actix_web::test]
async fn visibility_changed_in_obs_reaches_the_cache_and_the_history() {
    let (hub, fake) = hub_with_fake().await;
    let first = hub.get("/api/scenes/Live/items").await;
    assert_eq!(item(&first.body["items"], "Background")["enabled"], true);
    let reads = fake.request_count("GetSceneItemList");
    fake.set_scene_item_enabled_from_obs("Live", 1, false);
    hub.wait_for_path("/api/scenes/Live/items", "the item hidden", |body| {
        item(&body["items"], "Background")["enabled"] == false
    })
    .await;
    // Served from the cache that OBS's event updated, not re-read.
    assert_eq!(fake.request_count("GetSceneItemList"), reads);
    hub.wait_for_path(
        "/api/events/?kind=source_changed",
        "the change in history",
        |body| {
            body["events"].as_array().is_some_and(|events| {
                events.iter().any(|event| {
                    event["payload"]["source_name"] == "Background"
                        && event["payload"]["enabled"] == false
                })
            })
        },
    )
    .await;
}

#[actix_web::test]
async fn unknown_and_ambiguous_names_are_404s_that_never_reach_obs() {
    let (hub, fake) = hub_with_fake().await;
    let cases = [
        (
            "POST",
            "/api/scenes/Nope/items/Title/hide",
            "",
            "unknown_scene",
            "Nope",
        ),
        (
            "POST",
            "/api/scenes/Live/items/Nobody/hide",
            "",
            "unknown_source",
            "Nobody",
        ),
        (
            "POST",
            "/api/scenes/Live/items/99/show",
            "",
            "unknown_source",
            "99",
        ),
        (
            "POST",
            "/api/scenes/Live/items/Logo/hide",
            "",
            "unknown_source",
            "several",
        ),
        (
            "POST",
            "/api/scenes/Live/items/Title/explode",
            "",
            "not_found",
            "explode",
        ),
        (
            "PUT",
            "/api/inputs/Ghost/text",
            r#"{"text": "x"}"#,
            "unknown_source",
            "Ghost",
        ),
        (
            "PATCH",
            "/api/inputs/Ghost/settings",
            r#"{"a": 1}"#,
            "unknown_source",
            "Ghost",
        ),
        (
            "POST",
            "/api/inputs/Ghost/media/play",
            "",
            "unknown_source",
            "Ghost",
        ),
        (
            "POST",
            "/api/inputs/Intro%20clip/media/rewind",
            "",
            "not_found",
            "rewind",
        ),
        (
            "POST",
            "/api/sources/Background/filters/Blur/enable",
            "",
            "unknown_source",
            "Blur",
        ),
        (
            "POST",
            "/api/sources/Ghost/filters/Tint/enable",
            "",
            "unknown_source",
            "Ghost",
        ),
        (
            "PUT",
            "/api/profiles/current",
            r#"{"name": "Nope"}"#,
            "unknown_source",
            "Nope",
        ),
        (
            "PUT",
            "/api/scene-collections/current",
            r#"{"name": "Nope"}"#,
            "unknown_source",
            "Nope",
        ),
        (
            "POST",
            "/api/hotkeys/Nope.Key/trigger",
            "",
            "unknown_source",
            "Nope.Key",
        ),
    ];
    for (method, path, body, code, named) in cases {
        let reply = hub.send(method, path, body).await;
        assert_eq!(reply.status, 404, "{method} {path}: {:?}", reply.body);
        assert_eq!(
            reply.body["error"], code,
            "{method} {path}: {:?}",
            reply.body
        );
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{method} {path}: {message}");
    }
    for request in [
        "SetSceneItemEnabled",
        "SetSceneItemLocked",
        "SetInputSettings",
        "TriggerMediaInputAction",
        "SetSourceFilterEnabled",
        "SetCurrentProfile",
        "SetCurrentSceneCollection",
        "TriggerHotkeyByName",
    ] {
        assert_eq!(fake.request_count(request), 0, "{request} reached OBS");
    }
    assert_eq!(fake.scene_item_enabled("Live", 2), Some(true));
}

#[actix_web::test]
async fn text_and_settings_change_in_obs_and_bad_bodies_are_400s() {
    let (hub, fake) = hub_with_fake().await;
    let text = hub
        .send("PUT", "/api/inputs/Title/text", r#"{"text": "Back in 5"}"#)
        .await;
    assert_eq!(text.status, 200, "{:?}", text.body);
    assert_eq!(text.body["settings"]["text"], "Back in 5");
    assert_eq!(fake.input_settings("Title").unwrap()["text"], "Back in 5");

    let not_text = hub
        .send("PUT", "/api/inputs/Background/text", r#"{"text": "x"}"#)
        .await;
    assert_eq!(not_text.status, 409, "{:?}", not_text.body);
    assert!(not_text.body["message"]
        .as_str()
        .is_some_and(|message| message.contains("color_source_v3")));
    for (method, path, body, field) in [
        ("PUT", "/api/inputs/Title/text", r#"{"txt": "x"}"#, "txt"),
        ("PUT", "/api/inputs/Title/text", r#"{"text": 5}"#, "text"),
        ("PATCH", "/api/inputs/Title/settings", "[1]", "object"),
        (
            "PUT",
            "/api/inputs/Intro%20clip/media/cursor",
            r#"{"ms": -1}"#,
            "ms",
        ),
    ] {
        let reply = hub.send(method, path, body).await;
        assert_eq!(reply.status, 400, "{path} {body}: {:?}", reply.body);
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{path} {body}: {message}");
    }
    assert_eq!(
        fake.request_count("SetInputSettings"),
        1,
        "only the good text"
    );

    let patched = hub
        .send(
            "PATCH",
            "/api/inputs/Background/settings",
            r#"{"color": 4278255360}"#,
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["kind"], "color_source_v3");
    let settings = fake.input_settings("Background").unwrap();
    assert_eq!(settings["color"], json!(4_278_255_360_u64));
    let read = hub.get("/api/inputs/Background/settings").await;
    assert_eq!(read.body["settings"], settings);
}

#[actix_web::test]
async fn media_plays_pauses_and_moves_and_its_state_is_cached() {
    let (hub, fake) = hub_with_fake().await;
    let played = hub.post("/api/inputs/Intro%20clip/media/play", "").await;
    assert_eq!(played.status, 200, "{:?}", played.body);
    assert_eq!(played.body["state"], "playing");
    assert_eq!(
        fake.media_state("Intro clip"),
        Some("OBS_MEDIA_STATE_PLAYING")
    );
    let moved = hub
        .send(
            "PUT",
            "/api/inputs/Intro%20clip/media/cursor",
            r#"{"ms": 1500}"#,
        )
        .await;
    assert_eq!(moved.body["cursor_ms"], 1500, "{:?}", moved.body);
    let paused = hub.post("/api/inputs/Intro%20clip/media/pause", "").await;
    assert_eq!(paused.body["state"], "paused");
    let restarted = hub.post("/api/inputs/Intro%20clip/media/restart", "").await;
    assert_eq!(restarted.body["cursor_ms"], 0, "{:?}", restarted.body);
    let not_media = hub.post("/api/inputs/Title/media/play", "").await;
    assert_eq!(not_media.status, 409, "{:?}", not_media.body);
    assert_eq!(fake.request_count("TriggerMediaInputAction"), 3);
    hub.wait_for_path(
        "/api/events/?kind=source_changed",
        "the media state in history",
        |body| {
            body["events"].as_array().is_some_and(|events| {
                events.iter().any(|event| {
                    event["payload"]["what"] == "media" && event["payload"]["state"] == "paused"
                })
            })
        },
    )
    .await;
}

#[actix_web::test]
async fn filters_profiles_and_hotkeys() {
    let (hub, fake) = hub_with_fake().await;
    let filters = hub.get("/api/sources/Background/filters").await;
    assert_eq!(
        filters.body["filters"][0]["name"], "Tint",
        "{:?}",
        filters.body
    );
    assert_eq!(filters.body["filters"][0]["enabled"], false);
    let enabled = hub
        .post("/api/sources/Background/filters/Tint/enable", "")
        .await;
    assert_eq!(enabled.status, 200, "{:?}", enabled.body);
    assert_eq!(fake.filter_enabled("Background", "Tint"), Some(true));
    hub.post("/api/sources/Background/filters/Tint/disable", "")
        .await;
    assert_eq!(fake.filter_enabled("Background", "Tint"), Some(false));

    let profiles = hub.get("/api/profiles").await;
    assert_eq!(profiles.body["current"], "Untitled", "{:?}", profiles.body);
    let switched = hub
        .send("PUT", "/api/profiles/current", r#"{"name": "Show"}"#)
        .await;
    assert_eq!(switched.status, 200, "{:?}", switched.body);
    assert_eq!(fake.current_profile(), "Show");

    let hotkeys = hub.get("/api/hotkeys").await;
    assert!(hotkeys.body["hotkeys"]
        .as_array()
        .is_some_and(|names| names.contains(&json!("OBSBasic.Screenshot"))));
    let pressed = hub
        .post("/api/hotkeys/OBSBasic.Screenshot/trigger", "")
        .await;
    assert_eq!(pressed.status, 200, "{:?}", pressed.body);
    assert_eq!(fake.request_count("TriggerHotkeyByName"), 1);
}

#[actix_web::test]
async fn during_a_collection_switch_commands_get_503_and_status_reads_go_on() {
    let (hub, fake) = hub_with_fake().await;
    hub.get("/api/scenes/Live/items").await;
    let collections = hub.get("/api/scene-collections").await;
    assert_eq!(
        collections.body["current"], "Untitled",
        "{:?}",
        collections.body
    );

    // The fake holds the switch half-way, as a large collection would take a while to load.
    fake.hold_transitions();
    let switch = hub
        .send(
            "PUT",
            "/api/scene-collections/current",
            r#"{"name": "Show"}"#,
        )
        .await;
    assert_eq!(switch.status, 200, "{:?}", switch.body);
    let cached = hub
        .wait_for_path("/api/scenes/Live/items", "the switch seen", |body| {
            body["collection_changing"] == true
        })
        .await;
    assert_eq!(
        item(&cached["items"], "Title")["enabled"],
        true,
        "served from the cache"
    );
    let refused = hub.post("/api/scenes/Live/items/Title/hide", "").await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "collection_changing");
    assert_eq!(fake.request_count("SetSceneItemEnabled"), 0);
    let status = hub.get("/api/stream-status/").await;
    assert_eq!(status.status, 200, "{:?}", status.body);

    fake.release_transitions();
    eventually("the switch over in OBS", || async {
        fake.current_scene_collection() == "Show"
    })
    .await;
    hub.wait_for_path("/api/scenes/Live/items", "the switch over", |body| {
        body["collection_changing"] == false
    })
    .await;
    let hidden = hub.post("/api/scenes/Live/items/Title/hide", "").await;
    assert_eq!(hidden.status, 200, "{:?}", hidden.body);
}

#[actix_web::test]
async fn openapi_documents_every_sources_route_under_both_prefixes() {
    let (hub, _fake) = hub_with_fake().await;
    let document = hub.get("/api/openapi.json").await.body;
    for (path, method) in [
        ("/scenes/{scene}/items", "get"),
        ("/scenes/{scene}/items/{item}/{action}", "post"),
        ("/inputs/{input}/text", "put"),
        ("/inputs/{input}/settings", "get"),
        ("/inputs/{input}/settings", "patch"),
        ("/inputs/{input}/media", "get"),
        ("/inputs/{input}/media/{action}", "post"),
        ("/inputs/{input}/media/cursor", "put"),
        ("/sources/{source}/filters", "get"),
        ("/sources/{source}/filters/{filter}/{action}", "post"),
        ("/profiles", "get"),
        ("/profiles/current", "put"),
        ("/scene-collections", "get"),
        ("/scene-collections/current", "put"),
        ("/hotkeys", "get"),
        ("/hotkeys/{name}/trigger", "post"),
    ] {
        for prefix in ["/api", "/api/instances/{instance}"] {
            let operation = &document["paths"][format!("{prefix}{path}")][method];
            assert!(
                operation.is_object(),
                "{method} {prefix}{path} undocumented"
            );
            assert!(
                operation["responses"]["404"].is_object(),
                "{method} {prefix}{path}: no 404"
            );
        }
    }
}
