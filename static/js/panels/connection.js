// The OBS connection card: the link's state with its reason in words, and "connect again".

import { secondsUntil, sentence, timeOf } from "../format.js";

const KIND = { connected: "ok", connecting: "warn", reconnecting: "warn", auth_failed: "bad", incompatible: "bad", stopped: "", kicked: "bad" };
const BADGE = {
  connected: "connected",
  connecting: "connecting",
  reconnecting: "reconnecting",
  auth_failed: "wrong password",
  incompatible: "OBS too old",
  stopped: "stopped",
  kicked: "kicked",
};

export function init(ctx) {
  ctx.$("conn-start").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    const name = ctx.page.selected;
    button.disabled = true;
    try {
      await ctx.api("POST", ctx.instancePath(name, "obs-manager/start"));
    } catch (error) {
      ctx.notify(`Could not connect ${name}: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });
}

function reasonOf(status) {
  const connection = status.connection;
  const retry = secondsUntil(connection.next_attempt_at);
  const attempt = connection.reconnect_attempts ? ` (attempt ${connection.reconnect_attempts + 1})` : "";
  const retryText = retry === null ? "" : retry > 0 ? ` Next try in ${retry} s${attempt}.` : ` Trying again now${attempt}…`;
  const error = connection.last_error ? ` ${sentence(connection.last_error)}` : "";
  switch (connection.state) {
    case "connected":
      return `Connected${connection.obs_version ? ` to OBS ${connection.obs_version}` : ""}.`;
    case "connecting":
      return `Connecting to OBS at ${status.host}:${status.port}…`;
    case "reconnecting":
      return `${error.trim() || "Lost OBS."}${retryText || " Reconnecting…"}`;
    case "auth_failed":
      // The hub's message already names the fix: say it once.
      return `${error.trim() || "OBS refused the password."} Retried slowly, because every failed login alerts the OBS machine.${retryText}`;
    case "incompatible":
      return `This OBS is too old for the hub.${error}${retryText}`;
    case "stopped":
      return "Disconnected on request.";
    case "kicked":
      return "Kicked from OBS's WebSocket session list. The hub does not reconnect on its own after a kick: connect it again when you want it back.";
    default:
      return connection.state;
  }
}

export function render(ctx, status) {
  const { $ } = ctx;
  const connection = status.connection;
  const badge = $("conn-badge");
  badge.className = `badge ${KIND[connection.state] || ""}`;
  badge.textContent = BADGE[connection.state] || connection.state;
  $("conn-name").textContent = `${status.name} · ${status.host}:${status.port}`;
  const reason = $("conn-reason");
  reason.textContent = reasonOf(status);
  reason.className = connection.state === "connected" ? "reason" : "reason problem";
  const start = $("conn-start");
  start.hidden = (connection.state !== "stopped" && connection.state !== "kicked") || Boolean(ctx.refusal("admin", null, status.name));

  const facts = [];
  if (connection.obs_version) facts.push(["OBS", `${connection.obs_version} (obs-websocket ${connection.websocket_version || "?"})`]);
  if (connection.connected_since) facts.push(["Connected since", timeOf(connection.connected_since)]);
  if (status.stale) facts.push(["Figures", "last known (link down)"]);
  if (status.sources && status.sources.profile) facts.push(["Profile", status.sources.profile]);
  if (status.sources && status.sources.scene_collection) facts.push(["Scene collection", status.sources.scene_collection]);
  const text = JSON.stringify(facts);
  const list = $("conn-facts");
  if (list.dataset.facts === text) return;
  list.dataset.facts = text;
  list.replaceChildren(
    ...facts.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      return [dt, dd];
    }),
  );
}

// While the hub is lost nothing on the page is known to be true any more: the badges say so in
// grey rather than keep a green "connected".
export function markUnknown(ctx) {
  for (const badge of document.querySelectorAll("#conn-badge, #stream-badge, #record-badge, #replay-badge, #vcam-badge")) {
    badge.className = "badge unknown";
    badge.textContent = "unknown";
  }
  const reason = ctx.$("conn-reason");
  reason.textContent = "Unknown while the hub is lost: the figures below are the last known.";
  reason.className = "reason problem";
}

// Changes do not carry the retry schedule (next_attempt_at, attempts): while an instance is
// down, read it from the REST status, which is served from the same cache.
let detailsTimer = null;
export function refreshDetails(ctx) {
  if (detailsTimer) return;
  const poll = async () => {
    detailsTimer = null;
    const instances = ctx.page.hub.instances;
    if (!instances) return;
    const down = Object.values(instances).some((s) => s.connection.state !== "connected");
    if (!down) return;
    try {
      const status = await ctx.api("GET", "/api/instances/");
      for (const view of status.instances || []) {
        const known = ctx.page.hub.instances[view.name];
        if (!known) continue;
        // Fields no change carries (state.js UNCARRIED): the page fills them in place.
        known.connection.next_attempt_at = view.next_attempt_at;
        known.connection.reconnect_attempts = view.reconnect_attempts;
        known.connection.last_error = view.last_error;
        known.connection.obs_version = view.obs_version;
        known.connection.websocket_version = view.websocket_version;
      }
      ctx.schedule();
    } catch (_) {
      // the banner or the token form already says what is wrong
    }
    detailsTimer = setTimeout(poll, 3000);
  };
  detailsTimer = setTimeout(poll, 200);
}
