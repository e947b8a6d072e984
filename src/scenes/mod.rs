//! The scenes capability: the program scene and the scene list.
//!
//! It follows the shape every capability follows:
//! - its slice of status (current scene, scene list) predates the seam and sits in
//!   `status::model` and `status::update`; its change kinds (`scene_changed`,
//!   `scene_list_changed`) and their callback rules are described in `status::scene_status`;
//! - [`history`]: what the history keeps of it beyond event rows (the scenes table), a hook that
//!   `app` registers;
//! - [`routes`]: its REST routes (`/api/switch-scene/`, `/api/sync-scenes/`), mounted by `app`;
//! - its commands (switch scene, sync scenes) are plain `obs::ObsCommand` variants, and its
//!   history route (`/api/scenes/`) sits with the other history routes in `http::history`.

pub mod history;
pub mod routes;
