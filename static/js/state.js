// The page's picture of the hub: a snapshot, then numbered changes (README, "Live updates").
// Pure functions only (no DOM, no network), so that `node --test` runs them on the fixtures the
// Rust tests share (tests/fixtures/dashboard/): the rules here are the hub's own, from
// src/status/update.rs and the status slices beside it, applied to what the changes carry.

// Fields of an instance's status that no change carries (the hub fills them from polls and its
// manager); the page keeps the snapshot's values and the shared fixtures do not compare them.
export const UNCARRIED = [
  "seq",
  "last_event_at",
  "last_poll_at",
  "connection.reconnect_attempts",
  "connection.next_attempt_at",
  "connection.obs_version",
  "connection.websocket_version",
];

// The kinds of change that change an instance's status (applyChange knows them all).
const STATUS_KINDS = new Set([
  "scene_changed",
  "scene_list_changed",
  "streaming_changed",
  "recording_changed",
  "connection_changed",
  "stats_updated",
  "output_changed",
  "source_changed",
  "studio_changed",
  "audio_changed",
]);

export function emptyHub() {
  return { seq: 0, running: false, since: null, instances: null };
}

// One message from the WebSocket. Answers the new hub state and what the page must do:
// `resync` (a gap or an unknown instance: ask for a fresh snapshot), `change` (the change that
// was applied), `snapshot` (a fresh snapshot replaced everything), `audioRead` (the instance
// whose audio inputs must be read again: an `audio_changed` "read" carries no inputs).
export function receive(hub, message) {
  if (message.type === "snapshot") {
    return {
      hub: { seq: message.seq, running: message.running, since: message.since, instances: message.instances },
      snapshot: true,
    };
  }
  if (typeof message.seq !== "number" || hub.instances === null) return { hub };
  if (message.seq <= hub.seq) return { hub }; // already part of what we hold
  if (message.seq !== hub.seq + 1) {
    // A change went missing: start again from a fresh snapshot rather than guess. Everything up
    // to the snapshot is ignored (its seq is above any change on its way).
    return { hub: { ...hub, seq: Number.MAX_SAFE_INTEGER }, resync: true, gap: [hub.seq + 1, message.seq - 1] };
  }
  const status = hub.instances[message.instance];
  if (!status) {
    // A change of an instance this page does not know: its picture is incomplete, unless the
    // change is of a kind that changes no status (a rule's firing, a newer hub's kind).
    if (STATUS_KINDS.has(message.type)) return { hub: { ...hub, seq: Number.MAX_SAFE_INTEGER }, resync: true };
    return { hub: { ...hub, seq: message.seq }, change: message };
  }
  const next = applyChange(status, message);
  return {
    hub: { ...hub, seq: message.seq, instances: { ...hub.instances, [message.instance]: next } },
    change: message,
    audioRead: message.type === "audio_changed" && message.what === "read" ? message.instance : undefined,
  };
}

// One change applied to one instance's status, as the hub applied it: a new status object, the
// old one untouched.
export function applyChange(previous, change) {
  const status = structuredClone(previous);
  switch (change.type) {
    case "scene_changed":
      status.current_scene = change.scene;
      break;
    case "scene_list_changed":
      status.scenes = Array.isArray(change.scene_details) && change.scene_details.length === change.scenes.length
        ? change.scene_details
        : change.scenes.map((name) => ({ name, uuid: null })); // history rows before issue 11
      break;
    case "streaming_changed":
      status.stream.active = change.is_streaming;
      status.stream.state = change.state;
      if (!change.is_streaming) status.stream.kbits_per_sec = 0;
      break;
    case "recording_changed":
      if (change.output_path !== null && change.output_path !== undefined) status.record.output_path = change.output_path;
      if (change.state === "paused") status.record.paused = true;
      if (change.state === "resumed" || change.state === "stopped") status.record.paused = false;
      status.record.active = change.is_recording;
      status.record.state = change.state;
      break;
    case "connection_changed":
      applyConnection(status, change);
      break;
    case "stats_updated":
      // Figures read from OBS: the hub reads only over a live link, and its first read after
      // connecting (which ends `stale` there) always brings new figures (OBS's frame counters).
      status.stale = false;
      status.stats = change.stats;
      status.stream = change.stream;
      status.record = change.record;
      break;
    case "output_changed":
      applyOutput(status, change);
      break;
    case "source_changed":
      applySource(status, change);
      break;
    case "studio_changed":
      status.studio = {
        studio_mode: change.studio_mode,
        preview_scene: change.preview_scene,
        current_transition: change.current_transition,
        transition_duration_ms: change.transition_duration_ms,
        transition_running: change.transition_running,
      };
      break;
    case "audio_changed":
      applyAudio(status, change);
      break;
    default:
      return previous; // a newer hub's kind: the next snapshot carries its effect
  }
  status.last_updated = change.at;
  return status;
}

function applyConnection(status, change) {
  const connection = status.connection;
  if (change.connected) {
    if (connection.state !== change.state) connection.connected_since = change.at;
    // Still stale: the figures are current once the full read that follows has come (below).
    connection.next_attempt_at = null;
  } else {
    connection.connected_since = null;
    status.stale = true;
    status.stream.kbits_per_sec = 0;
  }
  connection.state = change.state;
  connection.last_error = change.error;
}

function applyOutput(status, change) {
  const side = status.outputs && status.outputs[change.output];
  if (!side) return; // stream and record: their figures come with their own changes
  if (change.state === "saved") {
    side.last_saved_path = change.path;
    return;
  }
  side.available = true; // an event about the output proves it exists
  side.active = change.active;
  side.state = change.state;
}

function applySource(status, change) {
  const sources = status.sources;
  switch (change.what) {
    case "scene_item": {
      const item = (sources.scene_items[change.scene] || []).find((candidate) => candidate.id === change.item_id);
      if (item) {
        item.enabled = change.enabled;
        item.locked = change.locked;
      }
      break;
    }
    case "media": {
      const playback = sources.media[change.input] || { state: "", cursor_ms: null, duration_ms: null };
      sources.media[change.input] = { ...playback, state: change.state, cursor_ms: null };
      break;
    }
    case "profile":
      sources.profile = change.profile;
      break;
    case "scene_collection":
      if (change.changing) {
        sources.collection_changing = true;
        break;
      }
      if (sources.scene_collection !== change.scene_collection) {
        // Items and media belong to the collection they were read from.
        sources.scene_items = {};
        sources.media = {};
      }
      sources.collection_changing = false;
      sources.scene_collection = change.scene_collection;
      break;
    default:
      break; // filters are not part of the status
  }
}

function applyAudio(status, change) {
  const inputs = status.audio.inputs;
  const at = inputs.findIndex((input) => input.name === change.input);
  switch (change.what) {
    case "read":
      break; // the page reads the inputs again (receive() says so)
    case "removed":
      if (at >= 0) inputs.splice(at, 1);
      break;
    case "renamed": {
      // The change names the input by its new name; the old one is found by its uuid.
      const old = inputs.findIndex((input) => change.state && input.uuid && input.uuid === change.state.uuid);
      if (old >= 0) inputs[old] = change.state;
      break;
    }
    default:
      if (at >= 0 && change.state) inputs[at] = change.state;
      break;
  }
}

// ---------------------------------------------------------------- derived views
// The sources of a scene, following groups and nested scenes as far as their items are known.
export function sourcesIn(status, scene, depth = 0, found = new Set()) {
  const items = (status.sources && status.sources.scene_items[scene]) || [];
  for (const item of items) {
    found.add(item.source_name);
    if ((item.kind === "group" || item.kind === "scene") && depth < 4) sourcesIn(status, item.source_name, depth + 1, found);
  }
  return found;
}

// The mixer's strips: the inputs heard in program or preview first (OBS's order kept within
// each part), then the rest.
export function mixerOrder(status) {
  const inputs = (status.audio && status.audio.inputs) || [];
  const onAir = sourcesIn(status, status.current_scene);
  if (status.studio && status.studio.preview_scene) sourcesIn(status, status.studio.preview_scene, 0, onAir);
  const first = inputs.filter((input) => onAir.has(input.name));
  const rest = inputs.filter((input) => !onAir.has(input.name));
  return first.map((input) => ({ input, onAir: true })).concat(rest.map((input) => ({ input, onAir: false })));
}

// What is wrong with an instance, worst first: the fleet view puts problems first.
// 3: OBS unreachable, 2: an output in trouble (reconnecting, dropping frames, disk nearly full),
// 1: a warning (congestion, low disk), 0: fine.
export const DISK_LOW_MB = 5 * 1024;
export const DISK_CRITICAL_MB = 1024;
export const DROPPED_WARN_PERCENT = 1;
export const CONGESTION_WARN = 0.3;

export function problems(status) {
  const found = [];
  if (status.connection.state !== "connected") found.push({ level: 3, text: `OBS ${status.connection.state}` });
  const stream = status.stream || {};
  const stats = status.stats || {};
  if (stream.reconnecting || stream.state === "reconnecting") found.push({ level: 2, text: "stream reconnecting" });
  if (stream.active && stream.total_frames > 0) {
    const percent = (100 * stream.skipped_frames) / stream.total_frames;
    if (percent >= DROPPED_WARN_PERCENT) found.push({ level: 2, text: `dropping frames (${percent.toFixed(1)} %)` });
  }
  if (stream.active && stream.congestion >= CONGESTION_WARN) found.push({ level: 1, text: `congestion ${Math.round(stream.congestion * 100)} %` });
  if (typeof stats.available_disk_space_mb === "number" && stats.available_disk_space_mb > 0) {
    if (stats.available_disk_space_mb < DISK_CRITICAL_MB) found.push({ level: 2, text: "disk almost full" });
    else if (stats.available_disk_space_mb < DISK_LOW_MB) found.push({ level: 1, text: "disk space low" });
  }
  return found.sort((a, b) => b.level - a.level);
}

export function severity(status) {
  const found = problems(status);
  return found.length ? found[0].level : 0;
}

// The fleet's tiles in order: by `key` (name, scene, bitrate, dropped), problems always first.
export function fleetOrder(instances, key = "name") {
  const value = {
    name: (s) => s.name,
    scene: (s) => s.current_scene || "",
    bitrate: (s) => -(s.stream && s.stream.active ? s.stream.kbits_per_sec : 0),
    dropped: (s) => -((s.stream && s.stream.skipped_frames) || 0),
  }[key] || ((s) => s.name);
  return Object.values(instances).sort((a, b) => {
    const worse = severity(b) - severity(a);
    if (worse) return worse;
    const x = value(a);
    const y = value(b);
    if (x < y) return -1;
    if (x > y) return 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

// Who owns each instance in a cluster of hubs, from GET /api/cluster/ (README, "A cluster of
// hubs"): instance name -> the words its fleet tile shows ("on n2", "on n1, this node",
// "on n2, not live", "unowned"). Empty for anything else, such as a hub alone.
export function clusterOwners(answer) {
  const owners = new Map();
  if (!answer || !Array.isArray(answer.instances)) return owners;
  const live = new Map((answer.nodes || []).map((node) => [node.id, node.live === true]));
  for (const lease of answer.instances) {
    if (!lease || typeof lease.name !== "string") continue;
    let words = "unowned";
    if (lease.owner) {
      words = `on ${lease.owner}`;
      if (lease.owner === answer.node) words += ", this node";
      else if (live.get(lease.owner) === false) words += ", not live";
    }
    owners.set(lease.name, words);
  }
  return owners;
}
