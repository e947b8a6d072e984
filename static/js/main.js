// obs-hub operator console: follows the hub's live WebSocket (/ws) and acts through its REST
// API. ES modules, no build step. state.js holds the protocol's rules (pure, tested with
// `node --test`); socket.js the connection; api.js the REST calls; panels/ one renderer each.

import { createApi, instancePath, keepToken, readToken } from "./api.js";
import { LiveSocket } from "./socket.js";
import { emptyHub, receive } from "./state.js";
import { describe } from "./format.js";
import * as connection from "./panels/connection.js";
import * as scenes from "./panels/scenes.js";
import * as pictures from "./panels/pictures.js";
import * as outputs from "./panels/outputs.js";
import * as mixer from "./panels/mixer.js";
import * as sources from "./panels/sources.js";
import * as charts from "./panels/charts.js";
import * as log from "./panels/log.js";
import * as fleet from "./panels/fleet.js";
import * as extras from "./panels/extras.js";
import * as rules from "./panels/rules.js";

const $ = (id) => document.getElementById(id);

const page = {
  hub: emptyHub(),
  selected: null,
  token: readToken(),
  needToken: false,
  may: null, // GET /api/tokens/self: what this browser's token may do (null: not known)
  received: {}, // name -> Date.now() of the last figures (the timecodes run between polls)
  pending: {}, // name -> {scene, stream, record, ...}: actions sent, not yet confirmed by OBS
  lostReason: "",
};

const api = createApi({ token: () => page.token, onUnauthorized: (message) => askForToken(message) });

const socket = new LiveSocket({
  token: () => page.token,
  handlers: {
    onOpen() {
      page.lostReason = "";
      $("lost-banner").hidden = true;
      setLink("live", "Live updates");
      schedule();
    },
    onMessage: take,
    onClose({ opened, reason }) {
      // A refused upgrade has no readable status: ask the REST API whether a token is needed.
      if (!opened) api("GET", "/api/tokens/self/").catch(() => {});
      if (page.needToken) {
        socket.pause();
        return;
      }
      if (reason) page.lostReason = reason;
      setLink("lost", "Hub lost");
      $("lost-banner").hidden = false;
      renderLostBanner();
      schedule();
    },
  },
});

// What every panel is given: the page's state and the few things they share.
const ctx = {
  $,
  api,
  socket,
  page,
  instancePath,
  status: () => (page.hub.instances && page.selected ? page.hub.instances[page.selected] : null),
  live: () => socket.live(),
  connected: (status) => status.connection.state === "connected" && socket.live(),
  pendingFor(name) {
    if (!page.pending[name]) page.pending[name] = {};
    return page.pending[name];
  },
  schedule: () => schedule(),
  notify,
  confirm: confirmAction,
  refusal,
  guard,
  logEntry: (entry) => log.entry(ctx, entry),
  select: (name) => select(name),
};

// ---------------------------------------------------------------- API token
function askForToken(message) {
  // The hub is there but refuses us: no point retrying until the person gives a token.
  page.needToken = true;
  socket.pause();
  $("lost-banner").hidden = true;
  setLink("lost", "API token needed");
  const form = $("token-form");
  const wasHidden = form.hidden;
  form.hidden = false;
  $("pair-form").hidden = false;
  $("token-error").textContent = page.token
    ? "The hub did not accept the token this browser had; please enter it again."
    : message || "";
  if (wasHidden) $("token-input").focus();
}

function useToken(token) {
  page.token = token;
  page.needToken = false;
  keepToken(token);
  $("token-form").hidden = true;
  $("pair-form").hidden = true;
  socket.reconnectNow();
  loadPermissions().then(() => {
    extras.load(ctx);
    rules.load(ctx);
  });
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  $("token-input").value = "";
  useToken(token);
});

// A phone gets the token from a single-use code (POST /api/pair/), typed or carried by the QR
// code in the address's fragment (#pair=...), which the browser never sends to a server.
async function pair(code) {
  const body = await api("POST", "/api/pair/", { code });
  useToken(body.token);
}

$("pair-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await pair($("pair-input").value.trim());
    $("pair-input").value = "";
  } catch (error) {
    $("token-error").textContent = error.message;
  }
});

const pairMatch = /^#pair=([A-Za-z0-9-]{4,16})$/.exec(window.location.hash);
if (pairMatch) {
  // Out of the address at once, so the code stays in neither the history nor a bookmark.
  history.replaceState(null, "", window.location.pathname + window.location.search);
  pair(pairMatch[1]).catch((error) => notify(`Pairing failed: ${error.message}`));
}

// ---------------------------------------------------------------- what the token may do
// The hub says (GET /api/tokens/self). Controls the token may not use are hidden, and the panel
// says why in one line; until the hub has answered nothing is hidden: the hub decides anyway.
async function loadPermissions() {
  try {
    page.may = await api("GET", "/api/tokens/self/");
  } catch (_) {
    page.may = null;
  }
  schedule();
}

// Why this browser's token may not do something (null: it may, or it is not known).
function refusal(scope, capability, instance) {
  const may = page.may;
  if (!may || !Array.isArray(may.scopes)) return null;
  const who = may.token ? `The token “${may.token.name}”` : "This browser";
  if (!may.scopes.includes(scope)) {
    const has = may.scopes[may.scopes.length - 1] || "no";
    return `${who} has the ${has} scope; this needs the ${scope} scope.`;
  }
  if (capability && scope === "control" && !(may.capabilities || []).includes(capability)) {
    return `${who} may not use ${capability} commands (only: ${(may.capabilities || []).join(", ") || "none"}).`;
  }
  if (instance && Array.isArray(may.instances) && !may.instances.includes(instance)) {
    return `${who} may not act on the instance ${instance} (only: ${may.instances.join(", ")}).`;
  }
  return null;
}

// Hides the controls the token may not use; `note` (an element) says why.
function guard(elements, reason, note) {
  const list = elements instanceof Element ? [elements] : Array.from(elements);
  for (const element of list) {
    if (element) element.classList.toggle("refused", Boolean(reason));
  }
  if (note) {
    note.hidden = !reason;
    note.textContent = reason || "";
  }
  return Boolean(reason);
}

// ---------------------------------------------------------------- protocol
function take(message) {
  if (message.type === "notice") {
    pictures.notice(ctx, message);
    mixer.notice(ctx, message);
    return;
  }
  if (message.type === "error") {
    notify(`The hub did not understand the page: ${message.message}`);
    return;
  }
  const first = page.hub.instances === null;
  const step = receive(page.hub, message);
  page.hub = step.hub;
  if (step.resync) {
    if (step.gap) ctx.logEntry({ at: new Date().toISOString(), text: `Missed updates ${step.gap[0]}–${step.gap[1]}; resynchronising`, tag: "page" });
    socket.send({ type: "resync" });
    return;
  }
  if (step.snapshot) {
    tookSnapshot(first);
    return;
  }
  const change = step.change;
  if (!change) return;
  changed(change);
  if (step.audioRead) mixer.reread(ctx, step.audioRead);
}

function tookSnapshot(first) {
  const instances = page.hub.instances;
  const now = Date.now();
  for (const [name, status] of Object.entries(instances)) {
    page.received[name] = now;
    charts.sample(ctx, name, status, now);
  }
  const names = Object.keys(instances);
  if (!page.selected || !instances[page.selected]) {
    const fromHash = decodeURIComponent(window.location.hash.replace(/^#instance=/, ""));
    // Open on a working instance when there is one: default if it is connected, else the first
    // connected one, else default or the first.
    const connected = names.filter((name) => instances[name].connection.state === "connected");
    const fallback = connected.includes("default") ? "default" : connected[0] || (names.includes("default") ? "default" : names[0] || null);
    page.selected = instances[fromHash] ? fromHash : fallback;
  }
  if (first) for (const name of names) charts.loadHistory(ctx, name);
  ctx.logEntry({ at: new Date().toISOString(), text: first ? "Connected to the hub" : "Resynchronised with the hub", tag: "page" });
  renderPicker();
  connection.refreshDetails(ctx);
  sources.invalidate(ctx);
  mixer.invalidate(ctx);
  schedule();
}

function changed(change) {
  const pending = ctx.pendingFor(change.instance);
  switch (change.type) {
    case "scene_changed":
      pending.scene = null;
      break;
    case "streaming_changed":
      if (change.state !== "starting" && change.state !== "stopping") pending.stream = null;
      break;
    case "recording_changed":
      if (change.state !== "starting" && change.state !== "stopping") pending.record = null;
      break;
    case "connection_changed":
      if (!change.connected) connection.refreshDetails(ctx);
      break;
    case "stats_updated":
      page.received[change.instance] = Date.now();
      charts.sample(ctx, change.instance, page.hub.instances[change.instance], Date.parse(change.at) || Date.now());
      break;
    default:
      break;
  }
  rules.changed(ctx, change);
  if (change.instance === page.selected) {
    sources.changed(ctx, change);
    pictures.changed(ctx, change);
  }
  if (change.type !== "stats_updated" || $("log-stats").checked) {
    ctx.logEntry({ at: change.at, instance: change.instance, text: describe(change), tag: change.source });
  }
  schedule();
}

// ---------------------------------------------------------------- page furniture
function notify(message) {
  $("notice-text").textContent = message;
  $("notice").hidden = false;
}
$("notice-close").addEventListener("click", () => {
  $("notice").hidden = true;
});

function setLink(kind, text) {
  const element = $("link-state");
  element.className = `link-state ${kind}`;
  element.textContent = text;
}

function renderLostBanner() {
  if ($("lost-banner").hidden) return;
  const seconds = Math.max(0, Math.ceil((socket.retryAt - Date.now()) / 1000));
  const why = page.lostReason ? ` (${page.lostReason})` : "";
  const lost = page.hub.instances
    ? `Lost the connection to the hub${why}. What you see may be out of date. `
    : `Cannot reach the hub${why}. `;
  $("lost-text").textContent = lost + (seconds > 0 ? `Reconnecting in ${seconds} s…` : "Reconnecting…");
}
$("reconnect-now").addEventListener("click", () => socket.reconnectNow());

// Asks before a stop that viewers would notice; answers whether to go ahead.
function confirmAction({ title, text, yes, no }) {
  const dialog = $("confirm-stop");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-stop-button").textContent = yes;
  $("confirm-keep-button").textContent = no;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "stop"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

function renderPicker() {
  const names = Object.keys(page.hub.instances);
  const select = $("instance-select");
  $("picker").hidden = names.length < 2;
  select.replaceChildren(
    ...names.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }),
  );
  select.value = page.selected;
}

function renderPickerStates() {
  for (const option of $("instance-select").options) {
    const status = page.hub.instances[option.value];
    const word = socket.live() ? (status && status.connection.state) : "unknown";
    if (status) option.textContent = `${option.value} (${word})`;
  }
}

function select(name) {
  if (!page.hub.instances || !page.hub.instances[name]) return;
  page.selected = name;
  $("instance-select").value = name;
  history.replaceState(null, "", `#instance=${encodeURIComponent(name)}`);
  charts.rebuild(ctx);
  sources.invalidate(ctx);
  mixer.invalidate(ctx);
  pictures.retarget(ctx);
  schedule();
}
$("instance-select").addEventListener("change", (event) => select(event.target.value));

// ---------------------------------------------------------------- rendering
let queued = false;
function schedule() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => {
    queued = false;
    render();
  });
}

function render() {
  if (!page.hub.instances) return;
  fleet.render(ctx);
  const status = ctx.status();
  if (!status) return;
  connection.render(ctx, status);
  scenes.render(ctx, status);
  pictures.render(ctx, status);
  outputs.render(ctx, status);
  mixer.render(ctx, status);
  sources.render(ctx, status);
  charts.render(ctx);
  renderPickerStates();
  extras.render(ctx);
  rules.render(ctx);
  if (!socket.live()) connection.markUnknown(ctx);
}

// ---------------------------------------------------------------- start
setInterval(() => {
  renderLostBanner();
  const status = ctx.status();
  if (status) {
    outputs.render(ctx, status); // the timecodes run between polls
    if (status.connection.state !== "connected") connection.render(ctx, status); // retry countdown
    charts.render(ctx); // the time axis moves
    if (!socket.live()) connection.markUnknown(ctx);
  }
}, 1000);

for (const panel of [connection, scenes, pictures, outputs, mixer, sources, charts, log, fleet, extras, rules]) {
  if (panel.init) panel.init(ctx);
}
setLink("connecting", "Connecting to the hub…");
socket.connect();
// What the token may do first: the optional panels ask only for what it may read.
loadPermissions().then(() => {
  extras.load(ctx);
  rules.load(ctx);
});
