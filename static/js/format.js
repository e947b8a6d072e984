// Figures and states in words, as the panels show them. Pure functions.

export function fmt(value, digits) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

export function clock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}`;
}

export function bytes(count) {
  if (!count) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  const power = Math.min(units.length - 1, Math.floor(Math.log(count) / Math.log(1024)));
  return `${(count / 1024 ** power).toFixed(power ? 1 : 0)} ${units[power]}`;
}

// 24-hour clock time, as OBS and the charts show it.
export function clockTime(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function timeOf(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : clockTime(date);
}

// The hub's error texts are phrases ("cannot reach OBS: ..."): make them read as sentences.
export function sentence(text) {
  const trimmed = String(text).trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

export function secondsUntil(iso) {
  if (!iso) return null;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? null : Math.ceil((at - Date.now()) / 1000);
}

export function connectionWord(connectionState) {
  return {
    connecting: "connecting",
    connected: "connected",
    reconnecting: "reconnecting",
    auth_failed: "refused the password",
    incompatible: "is not supported",
    stopped: "disconnected on request",
    kicked: "was kicked from OBS (start it to reconnect)",
  }[connectionState] || connectionState;
}

// Volume in dB as OBS shows it: -100 and below is silence.
export function decibels(db) {
  return typeof db !== "number" || db <= -100 ? "-∞ dB" : `${db > 0 ? "+" : ""}${db.toFixed(1)} dB`;
}

// Where a log line came from, in words (the hub's `source`, or this page's own notes).
export const SOURCES = {
  obs_event: "from OBS",
  poll: "from OBS",
  connection: "from the hub",
  api: "from the hub",
  callback: "from a callback",
  page: "from this page",
  rule: "from a rule",
};

export function describe(change) {
  switch (change.type) {
    case "scene_changed":
      return change.previous ? `Scene: ${change.scene} (was ${change.previous})` : `Scene: ${change.scene}`;
    case "scene_list_changed":
      return `Scene list changed: ${(change.scenes || []).length} scenes`;
    case "streaming_changed":
      return `Stream ${change.state}`;
    case "recording_changed":
      // The path is the finished file's: only news when a recording has just stopped.
      return change.output_path && change.state === "stopped"
        ? `Recording ${change.state}: ${change.output_path}`
        : `Recording ${change.state}`;
    case "connection_changed":
      return `OBS ${connectionWord(change.state)}${change.error ? `: ${change.error}` : ""}`;
    case "stats_updated":
      return `Stats: ${fmt(change.stats && change.stats.active_fps, 1)} fps, ${fmt(change.stream && change.stream.kbits_per_sec, 0)} kbit/s`;
    case "output_changed": {
      const name = { replay_buffer: "Replay buffer", virtual_cam: "Virtual camera", record: "Recording" }[change.output] || change.output;
      if (change.state === "saved") return `Replay saved: ${change.path}`;
      if (change.state === "file_changed") return `Recording goes on in ${change.path}`;
      return `${name} ${change.state}`;
    }
    case "source_changed":
      switch (change.what) {
        case "scene_item":
          return `${change.source_name || `Item ${change.item_id}`} ${change.enabled ? "shown" : "hidden"} in ${change.scene}${change.locked ? " (locked)" : ""}`;
        case "media":
          return `Media ${change.input}: ${change.state}`;
        case "filter":
          return `Filter ${change.filter} on ${change.source} ${change.enabled ? "enabled" : "disabled"}`;
        case "profile":
          return `Profile: ${change.profile}`;
        case "scene_collection":
          return change.changing ? `Switching to scene collection ${change.scene_collection}…` : `Scene collection: ${change.scene_collection}`;
        default:
          return "Sources changed";
      }
    case "studio_changed":
      return change.studio_mode
        ? `Studio mode: preview ${change.preview_scene || "–"}, ${change.current_transition || "no transition"}${change.transition_running ? " running" : ""}`
        : "Studio mode off";
    case "audio_changed":
      if (change.what === "read") return "Audio inputs read again";
      if (change.what === "removed") return `Audio input ${change.input} removed`;
      if (change.what === "muted" && change.state) return `${change.input} ${change.state.muted ? "muted" : "unmuted"}`;
      if (change.what === "volume" && change.state) return `${change.input} at ${decibels(change.state.volume_db)}`;
      return `${change.input}: ${change.what.replace("_", " ")}`;
    case "rule_fired":
      return `Rule ${change.rule}: ${change.outcome}${change.reason ? ` (${change.reason})` : ""}`;
    default:
      return change.type || "event";
  }
}
