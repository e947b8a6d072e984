// obs-hub dashboard: follows the hub's live WebSocket (/ws) and acts through its REST API.
// Plain JavaScript, no build step. The protocol is in the README ("Live updates (WebSocket)"):
// a snapshot, then numbered changes; a gap in the numbers means "ask for a fresh snapshot".
"use strict";

(() => {
  const WINDOW_S = 600; // charts keep the last 10 minutes
  const LOG_LIMIT = 200;
  const TOKEN_KEY = "obs-hub-token";
  const RECONNECT_MIN_MS = 500;
  const RECONNECT_MAX_MS = 10000;

  const $ = (id) => document.getElementById(id);

  const state = {
    snapshot: null, // {seq, running, since, instances: {name: status}}
    seq: 0,
    selected: null,
    received: {}, // name -> Date.now() of the last figures (to run the timecodes between polls)
    pending: {}, // name -> {scene, stream, record}: actions sent, not yet confirmed by OBS
    series: {}, // name -> chart data
    log: [],
    socket: null,
    attempt: 0,
    retryAt: 0,
    token: readToken(),
    may: null, // GET /api/tokens/self: what this browser's token may do (null: not known)
  };

  // ---------------------------------------------------------------- API token
  // Kept in localStorage so the person types it once per browser. Sent as a Bearer header on
  // REST calls and as ?token= on the WebSocket (a browser cannot set headers there).
  function readToken() {
    try {
      return localStorage.getItem(TOKEN_KEY);
    } catch (_) {
      return null;
    }
  }

  function askForToken(message) {
    // The hub is there but refuses us: no point retrying until the person gives a token.
    state.needToken = true;
    clearTimeout(state.retryTimer);
    $("lost-banner").hidden = true;
    setLink("lost", "API token needed");
    const form = $("token-form");
    const wasHidden = form.hidden;
    form.hidden = false;
    $("pair-form").hidden = false;
    $("token-error").textContent = state.token
      ? "The hub did not accept the token this browser had; please enter it again."
      : message || "";
    if (wasHidden) $("token-input").focus();
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token-input").value.trim();
    state.needToken = false;
    try {
      localStorage.setItem(TOKEN_KEY, state.token);
    } catch (_) {
      // private mode: the token lasts for this page only
    }
    $("token-form").hidden = true;
    $("pair-form").hidden = true;
    $("token-input").value = "";
    reconnectNow();
    loadOptionalPanels();
    loadPermissions();
  });

  // ---------------------------------------------------------------- what the token may do
  // The hub says (GET /api/tokens/self, issue 19); controls the token may not use are dimmed
  // and say why when clicked or hovered, rather than failing with 403. Until the hub has
  // answered (or on a hub without the route) nothing is held back: the hub decides anyway.
  async function loadPermissions() {
    try {
      state.may = await api("GET", "/api/tokens/self/");
    } catch (_) {
      state.may = null;
    }
    const status = selectedStatus();
    if (status) {
      renderScenes(status);
      renderOutputs(status);
      renderConnection(status);
    }
  }

  // Why this browser's token may not do something (null: it may, or it is not known).
  function refusal(scope, capability, instance) {
    const may = state.may;
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

  // Marks a control the token may not use: still clickable, so that a click says why.
  function holdBack(button, reason) {
    if (reason) {
      button.dataset.refusal = reason;
      button.title = reason;
      button.setAttribute("aria-disabled", "true");
      button.disabled = false;
    } else if (button.dataset.refusal) {
      delete button.dataset.refusal;
      button.removeAttribute("title");
      button.removeAttribute("aria-disabled");
    }
    button.classList.toggle("refused", Boolean(reason));
  }

  // One listener, before the controls' own: a held-back control explains itself instead.
  document.addEventListener(
    "click",
    (event) => {
      const held = event.target instanceof Element && event.target.closest("[data-refusal]");
      if (!held) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      notify(held.dataset.refusal);
    },
    true,
  );

  // ---------------------------------------------------------------- pairing
  // A phone gets the token from a single-use code (POST /api/pair/), typed or carried by the QR
  // code in the address's fragment (#pair=...), which the browser never sends to a server.
  function keepToken(token) {
    state.token = token;
    state.needToken = false;
    try {
      localStorage.setItem(TOKEN_KEY, token);
    } catch (_) {
      // private mode: the token lasts for this page only
    }
    $("token-form").hidden = true;
    $("pair-form").hidden = true;
    loadPermissions();
  }

  async function pair(code) {
    const body = await api("POST", "/api/pair/", { code });
    keepToken(body.token);
    reconnectNow();
    loadOptionalPanels();
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

  // ---------------------------------------------------------------- REST
  async function api(method, path, body) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new Error(`The hub did not answer (${error.message}).`);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      // not JSON: the status says enough
    }
    if (response.status === 401) askForToken(data && data.message);
    if (!response.ok) {
      const error = new Error((data && data.message) || `The hub answered ${response.status}.`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // The QR code is made by the hub (GET /api/qr-code), from the address only (and a pairing
  // code's fragment): never the token.
  $("qr-address").value = `${window.location.origin}/`;
  $("qr-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("pair-code").hidden = true;
    showQr($("qr-address").value);
  });
  $("pair-code-button").addEventListener("click", async () => {
    try {
      const body = await api("POST", "/api/pairing-code/");
      const address = new URL($("qr-address").value);
      address.hash = `pair=${body.code}`;
      $("pair-code").textContent = `Pairing code ${body.code}, valid ${body.expires_in_s} s, once.`;
      $("pair-code").hidden = false;
      await showQr(address.toString());
    } catch (error) {
      notify(error.message);
    }
  });

  async function showQr(text) {
    // POSTed: an address with a pairing code stays out of request lines (logs, proxies).
    const headers = { "content-type": "application/json" };
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    try {
      const response = await fetch("/api/qr-code/", { method: "POST", headers, body: JSON.stringify({ text }) });
      if (response.status === 401) askForToken();
      if (!response.ok) {
        const data = await response.json().catch(() => null);
        throw new Error((data && data.message) || `The hub answered ${response.status}.`);
      }
      const image = $("qr-image");
      image.src = `data:image/svg+xml,${encodeURIComponent(await response.text())}`;
      image.hidden = false;
    } catch (error) {
      notify(error.message);
    }
  }

  function instancePath(name, route) {
    return `/api/instances/${encodeURIComponent(name)}/${route}/`;
  }

  function notify(message) {
    $("notice-text").textContent = message;
    $("notice").hidden = false;
  }
  $("notice-close").addEventListener("click", () => {
    $("notice").hidden = true;
  });

  // ---------------------------------------------------------------- WebSocket
  function socketUrl() {
    const url = new URL("/ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (state.token) url.searchParams.set("token", state.token);
    return url.toString();
  }

  function connect() {
    clearTimeout(state.retryTimer);
    let opened = false;
    const socket = new WebSocket(socketUrl());
    state.socket = socket;
    setLink("connecting", "Connecting to the hub…");
    socket.addEventListener("open", () => {
      opened = true;
      state.attempt = 0;
      state.lostReason = "";
      $("lost-banner").hidden = true;
      setLink("live", "Live updates");
      scheduleRender();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      receive(message);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      // A refused upgrade has no readable status: ask the REST API whether a token is needed.
      if (!opened) api("GET", "/api/obs-manager/status/").catch(() => {});
      scheduleReconnect(event.reason);
    });
  }

  function scheduleReconnect(reason) {
    if (state.needToken) return;
    state.attempt += 1;
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (state.attempt - 1));
    const delay = base / 2 + Math.random() * (base / 2); // jitter: many tabs do not return at once
    state.retryAt = Date.now() + delay;
    // Failed retries have no reason: keep the one the hub gave when it closed the socket.
    if (reason) state.lostReason = reason;
    state.retryTimer = setTimeout(connect, delay);
    setLink("lost", "Hub lost");
    $("lost-banner").hidden = false;
    renderLostBanner();
    scheduleRender();
  }

  function hubLive() {
    return state.socket !== null && state.socket.readyState === WebSocket.OPEN;
  }

  function reconnectNow() {
    if (state.socket) state.socket.close();
    state.socket = null;
    state.attempt = 0;
    connect();
  }
  $("reconnect-now").addEventListener("click", reconnectNow);

  function renderLostBanner() {
    if ($("lost-banner").hidden) return;
    const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    const why = state.lostReason ? ` (${state.lostReason})` : "";
    const lost = state.snapshot
      ? `Lost the connection to the hub${why}. What you see may be out of date. `
      : `Cannot reach the hub${why}. `;
    $("lost-text").textContent = lost + (seconds > 0 ? `Reconnecting in ${seconds} s…` : "Reconnecting…");
  }

  function setLink(kind, text) {
    const element = $("link-state");
    element.className = `link-state ${kind}`;
    element.textContent = text;
  }

  function send(message) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(message));
    }
  }

  // ---------------------------------------------------------------- protocol
  function receive(message) {
    if (message.type === "snapshot") {
      takeSnapshot(message);
      return;
    }
    if (message.type === "error") {
      notify(`The hub did not understand the page: ${message.message}`);
      return;
    }
    if (typeof message.seq !== "number" || state.snapshot === null) return;
    if (message.seq <= state.seq) return; // already part of what we hold
    if (message.seq !== state.seq + 1) {
      // A change went missing: start again from a fresh snapshot rather than guess.
      logEntry({ at: new Date().toISOString(), text: `Missed updates ${state.seq + 1}–${message.seq - 1}; resynchronising`, tag: "page" });
      state.seq = Number.MAX_SAFE_INTEGER; // ignore the rest until the snapshot comes
      send({ type: "resync" });
      return;
    }
    state.seq = message.seq;
    apply(message);
    scheduleRender();
  }

  function takeSnapshot(snapshot) {
    const first = state.snapshot === null;
    state.snapshot = snapshot;
    state.seq = snapshot.seq;
    const now = Date.now();
    for (const [name, status] of Object.entries(snapshot.instances)) {
      state.received[name] = now;
      addSample(name, status, now);
    }
    const names = Object.keys(snapshot.instances);
    if (!state.selected || !snapshot.instances[state.selected]) {
      const fromHash = decodeURIComponent(window.location.hash.replace(/^#instance=/, ""));
      // Open on a working instance when there is one: default if it is connected, else the first
      // connected one, else default or the first.
      const connected = names.filter((name) => snapshot.instances[name].connection.state === "connected");
      const fallback = connected.includes("default") ? "default" : connected[0] || (names.includes("default") ? "default" : names[0] || null);
      state.selected = snapshot.instances[fromHash] ? fromHash : fallback;
    }
    if (first) for (const name of names) loadStatsHistory(name);
    logEntry({ at: new Date().toISOString(), text: first ? "Connected to the hub" : "Resynchronised with the hub", tag: "page" });
    renderPicker();
    scheduleRender();
    refreshConnectionDetails();
  }

  // Applies one change to the cached status, as the hub did (src/status/update.rs).
  function apply(change) {
    const status = state.snapshot.instances[change.instance];
    if (!status) {
      send({ type: "resync" }); // an instance we do not know: our picture is incomplete
      return;
    }
    const pending = pendingFor(change.instance);
    switch (change.type) {
      case "scene_changed":
        status.current_scene = change.scene;
        pending.scene = null;
        break;
      case "scene_list_changed":
        status.scenes = change.scenes.map((name) => ({ name }));
        break;
      case "streaming_changed":
        status.stream.active = change.is_streaming;
        status.stream.state = change.state;
        if (change.state !== "starting" && change.state !== "stopping") pending.stream = null;
        if (!change.is_streaming) status.stream.kbits_per_sec = 0;
        break;
      case "recording_changed":
        status.record.active = change.is_recording;
        status.record.state = change.state;
        status.record.output_path = change.output_path;
        if (change.state !== "starting" && change.state !== "stopping") pending.record = null;
        break;
      case "connection_changed":
        status.connection.state = change.state;
        status.connection.last_error = change.error;
        status.stale = !change.connected;
        if (change.connected) {
          status.connection.next_attempt_at = null;
        } else {
          refreshConnectionDetails();
        }
        break;
      case "stats_updated":
        status.stats = change.stats;
        status.stream = change.stream;
        status.record = change.record;
        status.stale = false;
        state.received[change.instance] = Date.now();
        addSample(change.instance, status, Date.parse(change.at) || Date.now());
        break;
      default:
        break; // a newer hub's change kind: the next snapshot will carry its effect
    }
    if (change.type !== "stats_updated" || $("log-stats").checked) {
      logEntry({ at: change.at, instance: change.instance, text: describe(change), tag: change.source });
    }
  }

  // Changes do not carry the retry schedule (next_attempt_at, attempts): while an instance is
  // down, read it from the REST status, which is served from the same cache.
  let detailsTimer = null;
  function refreshConnectionDetails() {
    if (detailsTimer) return;
    const poll = async () => {
      detailsTimer = null;
      if (!state.snapshot) return;
      const down = Object.values(state.snapshot.instances).some((s) => s.connection.state !== "connected");
      if (!down) return;
      try {
        const status = await api("GET", "/api/obs-manager/status/");
        for (const view of status.instances || []) {
          const known = state.snapshot.instances[view.name];
          if (!known) continue;
          known.connection.next_attempt_at = view.next_attempt_at;
          known.connection.reconnect_attempts = view.reconnect_attempts;
          known.connection.last_error = view.last_error;
          known.connection.obs_version = view.obs_version;
          known.connection.websocket_version = view.websocket_version;
        }
        scheduleRender();
      } catch (_) {
        // the banner or the token form already says what is wrong
      }
      detailsTimer = setTimeout(poll, 3000);
    };
    detailsTimer = setTimeout(poll, 200);
  }

  function pendingFor(name) {
    if (!state.pending[name]) state.pending[name] = { scene: null, stream: null, record: null };
    return state.pending[name];
  }

  // ---------------------------------------------------------------- words
  // Where a log line came from, in words (the hub's `source`, or this page's own notes).
  const SOURCES = {
    obs_event: "from OBS",
    poll: "from OBS",
    connection: "from the hub",
    api: "from the hub",
    callback: "from a callback",
    page: "from this page",
  };

  function describe(change) {
    switch (change.type) {
      case "scene_changed":
        return change.previous ? `Scene: ${change.scene} (was ${change.previous})` : `Scene: ${change.scene}`;
      case "scene_list_changed":
        return `Scene list changed: ${change.scenes.length} scenes`;
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
        return `Stats: ${fmt(change.stats && change.stats.active_fps, 1)} fps, ${fmt(change.stream.kbits_per_sec, 0)} kbit/s`;
      default:
        return change.type || "event";
    }
  }

  function connectionWord(connectionState) {
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

  function fmt(value, digits) {
    return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
  }

  function clock(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}`;
  }

  function bytes(count) {
    if (!count) return "0 B";
    const units = ["B", "KB", "MB", "GB", "TB"];
    const power = Math.min(units.length - 1, Math.floor(Math.log(count) / Math.log(1024)));
    return `${(count / 1024 ** power).toFixed(power ? 1 : 0)} ${units[power]}`;
  }

  // 24-hour clock time, as OBS and the charts show it.
  function clockTime(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  function timeOf(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : clockTime(date);
  }

  // The hub's error texts are phrases ("cannot reach OBS: ..."): make them read as sentences.
  function sentence(text) {
    const trimmed = String(text).trim();
    const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
    return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
  }

  function secondsUntil(iso) {
    if (!iso) return null;
    const at = Date.parse(iso);
    return Number.isNaN(at) ? null : Math.ceil((at - Date.now()) / 1000);
  }

  // ---------------------------------------------------------------- rendering
  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }

  function selectedStatus() {
    return state.snapshot && state.selected ? state.snapshot.instances[state.selected] : null;
  }

  function render() {
    const status = selectedStatus();
    if (!status) return;
    renderConnection(status);
    renderScenes(status);
    renderOutputs(status);
    renderCharts();
    renderPickerStates();
    if (!hubLive()) markUnknown();
  }

  // While the hub is lost nothing on the page is known to be true any more: the badges say
  // so in grey rather than keep a green "connected" (issue 18 item 6).
  function markUnknown() {
    for (const id of ["conn-badge", "stream-badge", "record-badge"]) {
      const badge = $(id);
      badge.className = "badge unknown";
      badge.textContent = "unknown";
    }
    const reason = $("conn-reason");
    reason.textContent = "Unknown while the hub is lost: the figures below are the last known.";
    reason.className = "reason problem";
  }

  function renderPicker() {
    const names = Object.keys(state.snapshot.instances);
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
    select.value = state.selected;
  }

  function renderPickerStates() {
    for (const option of $("instance-select").options) {
      const status = state.snapshot.instances[option.value];
      const word = hubLive() ? connectionWord(status && status.connection.state) : "unknown";
      if (status) option.textContent = `${option.value} (${word})`;
    }
  }

  $("instance-select").addEventListener("change", (event) => {
    state.selected = event.target.value;
    history.replaceState(null, "", `#instance=${encodeURIComponent(state.selected)}`);
    rebuildCharts();
    scheduleRender();
  });

  function renderConnection(status) {
    const connection = status.connection;
    const badge = $("conn-badge");
    const kind = {
      connected: "ok",
      connecting: "warn",
      reconnecting: "warn",
      auth_failed: "bad",
      incompatible: "bad",
      stopped: "",
      kicked: "bad",
    }[connection.state];
    badge.className = `badge ${kind || ""}`;
    badge.textContent = {
      connected: "connected",
      connecting: "connecting",
      reconnecting: "reconnecting",
      auth_failed: "wrong password",
      incompatible: "OBS too old",
      stopped: "stopped",
      kicked: "kicked",
    }[connection.state] || connection.state;
    $("conn-name").textContent = `${status.name} · ${status.host}:${status.port}`;

    const retry = secondsUntil(connection.next_attempt_at);
    const attempt = connection.reconnect_attempts ? ` (attempt ${connection.reconnect_attempts + 1})` : "";
    const retryText = retry === null ? "" : retry > 0 ? ` Next try in ${retry} s${attempt}.` : ` Trying again now${attempt}…`;
    const error = connection.last_error ? ` ${sentence(connection.last_error)}` : "";
    let reason;
    switch (connection.state) {
      case "connected":
        reason = `Connected${connection.obs_version ? ` to OBS ${connection.obs_version}` : ""}.`;
        break;
      case "connecting":
        reason = `Connecting to OBS at ${status.host}:${status.port}…`;
        break;
      case "reconnecting":
        reason = `${error.trim() || "Lost OBS."}${retryText || " Reconnecting…"}`;
        break;
      case "auth_failed":
        // The hub's message already names the fix: say it once.
        reason = `${error.trim() || "OBS refused the password."} Retried slowly, because every failed login alerts the OBS machine.${retryText}`;
        break;
      case "incompatible":
        reason = `This OBS is too old for the hub.${error}${retryText}`;
        break;
      case "stopped":
        reason = "Disconnected on request.";
        break;
      case "kicked":
        reason = "Kicked from OBS's WebSocket session list. The hub does not reconnect on its own after a kick: connect it again when you want it back.";
        break;
      default:
        reason = connection.state;
    }
    const reasonElement = $("conn-reason");
    reasonElement.textContent = reason;
    reasonElement.className = connection.state === "connected" ? "reason" : "reason problem";
    $("conn-start").hidden = connection.state !== "stopped" && connection.state !== "kicked";
    holdBack($("conn-start"), refusal("admin", null, status.name));

    const facts = [];
    if (connection.obs_version) facts.push(["OBS", `${connection.obs_version} (obs-websocket ${connection.websocket_version || "?"})`]);
    if (connection.connected_since) facts.push(["Connected since", timeOf(connection.connected_since)]);
    if (status.stale) facts.push(["Figures", "last known (link down)"]);
    $("conn-facts").replaceChildren(
      ...facts.flatMap(([term, value]) => {
        const dt = document.createElement("dt");
        dt.textContent = term;
        const dd = document.createElement("dd");
        dd.textContent = value;
        return [dt, dd];
      }),
    );
  }

  $("conn-start").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await api("POST", instancePath(state.selected, "obs-manager/start"));
    } catch (error) {
      notify(`Could not connect ${state.selected}: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });

  function renderScenes(status) {
    $("current-scene").textContent = status.current_scene || "–";
    const grid = $("scene-grid");
    const pending = pendingFor(status.name);
    const connected = status.connection.state === "connected" && hubLive();
    const names = status.scenes.map((scene) => scene.name);
    const sceneRefusal = refusal("control", "scenes", status.name);
    // Rebuilt only when the list changes, so keyboard focus stays on the button it was on.
    if (grid.dataset.names !== JSON.stringify(names)) {
      grid.dataset.names = JSON.stringify(names);
      grid.replaceChildren(
        ...names.map((name) => {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "scene";
          button.dataset.scene = name;
          button.textContent = name;
          button.addEventListener("click", () => switchScene(name));
          return button;
        }),
      );
    }
    for (const button of grid.children) {
      const name = button.dataset.scene;
      button.setAttribute("aria-pressed", String(name === status.current_scene));
      button.classList.toggle("pending", pending.scene === name);
      button.disabled = !connected;
      holdBack(button, sceneRefusal);
    }
    $("scenes-hint").textContent = sceneRefusal
      ? sceneRefusal
      : !hubLive()
      ? "Scenes can be switched once the hub is back."
      : connected
        ? names.length
          ? "Click a scene to put it on program."
          : "OBS reports no scenes."
        : "Scenes can be switched once OBS is connected.";
  }

  async function switchScene(name) {
    const instance = state.selected;
    const status = selectedStatus();
    if (!status || status.current_scene === name) return;
    pendingFor(instance).scene = name;
    scheduleRender();
    try {
      await api("POST", instancePath(instance, "switch-scene"), { scene_name: name });
    } catch (error) {
      pendingFor(instance).scene = null;
      notify(`Could not switch to “${name}”: ${error.message}`);
      scheduleRender();
    }
  }

  function renderOutputs(status) {
    const pending = pendingFor(status.name);
    const connected = status.connection.state === "connected" && hubLive();
    const now = Date.now();
    // Clocks run on between polls, but not while the hub is lost: they would be guesses.
    const since = hubLive() && !status.stale ? now - (state.received[status.name] || now) : 0;

    const stream = status.stream;
    const streamState = pending.stream || stream.state || (stream.active ? "started" : "stopped");
    setOutputBadge($("stream-badge"), streamState, stream.reconnecting, "Live");
    // OBS reports the output's duration at each poll; between polls the clock runs on here.
    $("stream-timecode").textContent = clock(stream.active ? stream.duration_ms + since : 0);
    const dropped = stream.total_frames ? (100 * stream.skipped_frames) / stream.total_frames : 0;
    $("stream-figures").textContent = stream.active
      ? `${fmt(stream.kbits_per_sec, 0)} kbit/s · dropped ${stream.skipped_frames} (${fmt(dropped, 1)} %) · ${bytes(stream.bytes)}`
      : "";
    setOutputButton($("stream-button"), streamState, connected, "streaming");
    holdBack($("stream-button"), refusal("control", "outputs", status.name));

    const record = status.record;
    const recordState = pending.record || record.state || (record.active ? "started" : "stopped");
    setOutputBadge($("record-badge"), recordState, false, record.paused ? "Paused" : "Recording");
    $("record-timecode").textContent = clock(record.active && !record.paused ? record.duration_ms + since : record.active ? record.duration_ms : 0);
    $("record-figures").textContent = record.active
      ? bytes(record.bytes)
      : record.output_path
        ? `Last recording: ${record.output_path}`
        : "";
    setOutputButton($("record-button"), recordState, connected, "recording");
    holdBack($("record-button"), refusal("control", "outputs", status.name));
  }

  function setOutputBadge(badge, outputState, reconnecting, activeWord) {
    let text = "Off";
    let kind = "";
    if (reconnecting || outputState === "reconnecting") {
      text = "Reconnecting";
      kind = "warn";
    } else if (outputState === "started" || outputState === "resumed") {
      text = activeWord;
      kind = "live";
    } else if (outputState === "paused") {
      text = "Paused";
      kind = "warn";
    } else if (outputState === "starting") {
      text = "Starting…";
      kind = "warn";
    } else if (outputState === "stopping") {
      text = "Stopping…";
      kind = "warn";
    }
    badge.textContent = text;
    badge.className = `badge ${kind}`;
  }

  function setOutputButton(button, outputState, connected, noun) {
    const busy = outputState === "starting" || outputState === "stopping";
    const running = !busy && outputState !== "stopped" && outputState !== "";
    button.dataset.running = String(running);
    button.disabled = !connected || busy;
    button.className = `action ${running ? "stop" : "start"}`;
    button.textContent = busy
      ? outputState === "starting" ? "Starting…" : "Stopping…"
      : `${running ? "Stop" : "Start"} ${noun}`;
  }

  async function outputAction(kind) {
    const instance = state.selected;
    const button = $(`${kind}-button`);
    const running = button.dataset.running === "true";
    if (kind === "stream" && running && !(await confirmStop())) return;
    const route = `${running ? "stop" : "start"}-${kind === "stream" ? "stream" : "record"}`;
    pendingFor(instance)[kind] = running ? "stopping" : "starting";
    scheduleRender();
    try {
      const answer = await api("POST", instancePath(instance, route));
      if (answer && answer.output_path) logEntry({ at: new Date().toISOString(), instance, text: `Recording saved: ${answer.output_path}`, tag: "api" });
    } catch (error) {
      notify(`Could not ${route.replace("-", " ")}: ${error.message}`);
      pendingFor(instance)[kind] = null;
      scheduleRender();
    }
  }
  $("stream-button").addEventListener("click", () => outputAction("stream"));
  $("record-button").addEventListener("click", () => outputAction("record"));

  function confirmStop() {
    const dialog = $("confirm-stop");
    $("confirm-text").textContent = `Viewers of ${state.selected} will see the stream end.`;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "stop"), { once: true });
      dialog.returnValue = "cancel";
      dialog.showModal();
    });
  }

  // ---------------------------------------------------------------- charts
  const CHARTS = [
    { id: "chart-bitrate", series: [{ label: "kbit/s", key: "kbps", stroke: "#4ea1ff" }] },
    { id: "chart-fps", series: [{ label: "fps", key: "fps", stroke: "#30a46c" }] },
    { id: "chart-cpu", series: [{ label: "CPU %", key: "cpu", stroke: "#f5a524" }] },
    {
      id: "chart-dropped",
      series: [
        { label: "network", key: "droppedNetwork", stroke: "#e5484d" },
        { label: "rendering", key: "droppedRender", stroke: "#b48ef7" },
      ],
    },
  ];
  const charts = [];

  function seriesFor(name) {
    if (!state.series[name]) {
      state.series[name] = { t: [], kbps: [], fps: [], cpu: [], droppedNetwork: [], droppedRender: [], last: null };
    }
    return state.series[name];
  }

  // Dropped frames are counters in OBS; the chart shows how many were dropped since the previous
  // point, which is what tells that it is happening now. No previous point (undefined, or null
  // before the first sample): 0, not OBS's lifetime counter. A counter that went back (OBS
  // restarted): 0 as well.
  const droppedSince = (now, before) => (before === undefined || before === null || now < before ? 0 : now - before);

  // One point per stats update.
  function addSample(name, status, atMs) {
    const series = seriesFor(name);
    const stats = status.stats;
    if (!stats) return;
    const t = atMs / 1000;
    if (series.t.length && t <= series.t[series.t.length - 1]) return;
    const last = series.last;
    series.t.push(t);
    series.kbps.push(status.stream.active ? status.stream.kbits_per_sec : null);
    series.fps.push(stats.active_fps);
    series.cpu.push(stats.cpu_usage);
    series.droppedNetwork.push(status.stream.active ? droppedSince(status.stream.skipped_frames, last && last.network) : null);
    series.droppedRender.push(droppedSince(stats.render_skipped_frames, last && last.render));
    series.last = { network: status.stream.skipped_frames, render: stats.render_skipped_frames };
    const oldest = t - WINDOW_S;
    while (series.t.length && series.t[0] < oldest) {
      for (const key of ["t", "kbps", "fps", "cpu", "droppedNetwork", "droppedRender"]) series[key].shift();
    }
  }

  // A page that just opened shows the last 10 minutes at once: the hub keeps them in memory
  // (GET .../stats/history/). They go before the samples this page has received itself.
  async function loadStatsHistory(name) {
    let history;
    try {
      history = await api("GET", instancePath(name, "stats/history"));
    } catch (_) {
      return; // an older hub: the charts fill as figures arrive
    }
    const series = seriesFor(name);
    const firstLive = series.t.length ? series.t[0] : Infinity;
    const earlier = { t: [], kbps: [], fps: [], cpu: [], droppedNetwork: [], droppedRender: [] };
    let last = null;
    for (const sample of history.samples || []) {
      const t = Date.parse(sample.at) / 1000;
      if (!(t < firstLive)) continue;
      earlier.t.push(t);
      earlier.kbps.push(sample.stream_active ? sample.stream_kbits_per_sec : null);
      earlier.fps.push(sample.active_fps);
      earlier.cpu.push(sample.cpu_usage);
      earlier.droppedNetwork.push(sample.stream_active ? droppedSince(sample.stream_skipped_frames, last && last.network) : null);
      earlier.droppedRender.push(droppedSince(sample.render_skipped_frames, last && last.render));
      last = { network: sample.stream_skipped_frames, render: sample.render_skipped_frames };
    }
    for (const key of Object.keys(earlier)) series[key] = earlier[key].concat(series[key]);
    scheduleRender();
  }

  function chartWidth(element) {
    return Math.max(200, Math.floor(element.getBoundingClientRect().width));
  }

  function rebuildCharts() {
    if (typeof uPlot === "undefined") {
      $("charts-hint").textContent = "Charts could not load (uPlot missing).";
      return;
    }
    for (const chart of charts.splice(0)) chart.plot.destroy();
    const light = window.matchMedia("(prefers-color-scheme: light)").matches;
    const axisColor = light ? "#56606b" : "#9aa6b4";
    const gridColor = light ? "#e3e7ec" : "#262d37";
    for (const spec of CHARTS) {
      const element = $(spec.id);
      element.replaceChildren();
      const axis = { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor } };
      const plot = new uPlot(
        {
          width: chartWidth(element),
          height: 160,
          // Names only: values follow the cursor, which a phone does not have.
          legend: { show: spec.series.length > 1, live: false },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true }, y: { range: (_, min, max) => [0, Math.max(1, max * 1.15)] } },
          axes: [{ ...axis, space: 70, values: timeLabels }, { ...axis, size: 52 }],
          series: [{}, ...spec.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: false }, spanGaps: false }))],
        },
        [[], ...spec.series.map(() => [])],
        element,
      );
      charts.push({ spec, plot, element });
    }
    renderCharts();
  }

  // Clock times without the date; seconds only when the charts span little time.
  function timeLabels(plot, splits) {
    const withSeconds = plot.scales.x.max - plot.scales.x.min < 180;
    return splits.map((seconds) => {
      const time = clockTime(new Date(seconds * 1000));
      return withSeconds ? time : time.slice(0, 5);
    });
  }

  function renderCharts() {
    if (!charts.length || !state.selected) return;
    const series = seriesFor(state.selected);
    const now = Date.now() / 1000;
    // The window grows from the first sample to 10 minutes, so a fresh page shows its first
    // minutes across the whole width instead of a sliver at the right edge.
    const first = series.t.length ? series.t[0] : now;
    const min = Math.max(now - WINDOW_S, Math.min(first, now - 10));
    for (const { spec, plot } of charts) {
      plot.batch(() => {
        plot.setData([series.t, ...spec.series.map((s) => series[s.key])], false);
        plot.setScale("x", { min, max: now });
      });
    }
    $("charts-hint").textContent = series.t.length
      ? `${series.t.length} samples; one per poll of OBS.`
      : "Figures arrive with every poll of OBS.";
  }

  window.addEventListener("resize", () => {
    for (const { plot, element } of charts) plot.setSize({ width: chartWidth(element), height: 160 });
  });

  // ---------------------------------------------------------------- event log
  function logEntry(entry) {
    state.log.unshift(entry);
    if (state.log.length > LOG_LIMIT) state.log.length = LOG_LIMIT;
    const item = logItem(entry);
    const list = $("log");
    list.prepend(item);
    while (list.children.length > LOG_LIMIT) list.lastElementChild.remove();
  }

  function logItem(entry) {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = entry.at;
    time.textContent = timeOf(entry.at);
    const what = document.createElement("span");
    what.className = "what";
    const multi = state.snapshot && Object.keys(state.snapshot.instances).length > 1;
    what.textContent = multi && entry.instance ? `${entry.instance}: ${entry.text}` : entry.text;
    if (entry.tag) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = SOURCES[entry.tag] || entry.tag;
      what.append(tag);
    }
    item.append(time, what);
    return item;
  }

  // ---------------------------------------------------------------- optional panels
  // Stored history and webhook health come from other parts of the hub; their panels appear
  // only where the hub answers their routes (not with persistence off, for instance).
  // obs-hub demo: a button that pauses its scripted show, which would otherwise switch the scene
  // the person just picked.
  function showDemoButton(show) {
    const button = $("demo-show");
    button.hidden = !(show && show.available);
    if (button.hidden) return;
    button.setAttribute("aria-pressed", String(show.paused));
    button.textContent = show.paused ? "Resume the demo show" : "Pause the demo show";
    holdBack(button, refusal("control", "demo"));
  }
  $("demo-show").addEventListener("click", async () => {
    const paused = $("demo-show").getAttribute("aria-pressed") !== "true";
    try {
      showDemoButton(await api("POST", "/api/demo/show/", { paused }));
    } catch (error) {
      notify(error.message);
    }
  });

  async function loadOptionalPanels() {
    try {
      showDemoButton(await api("GET", "/api/demo/show/"));
    } catch (_) {
      showDemoButton(null);
    }
    try {
      const body = await api("GET", "/api/events/?limit=50");
      const events = Array.isArray(body && body.events) ? body.events : [];
      $("history").replaceChildren(
        ...events.map((event) => {
          // A stored event is the change as it was pushed: its payload, named by `kind`.
          const change = { ...(event.payload || {}), type: event.kind };
          return logItem({ at: event.happened_at, instance: event.instance, text: describe(change), tag: event.source });
        }),
      );
      $("history-card").hidden = false;
    } catch (_) {
      $("history-card").hidden = true;
    }
    try {
      const body = await api("GET", "/api/webhooks/");
      const hooks = Array.isArray(body && body.webhooks) ? body.webhooks : [];
      const items = await Promise.all(hooks.map(webhookItem));
      if (!items.length) {
        const none = document.createElement("li");
        none.textContent = "No webhooks registered (POST /api/webhooks/, or [[webhooks]] in the config file).";
        items.push(none);
      }
      $("webhooks").replaceChildren(...items);
      $("webhooks-card").hidden = false;
    } catch (_) {
      $("webhooks-card").hidden = true;
    }
  }

  // One endpoint: where it posts, whether it is on, and how its latest delivery went.
  async function webhookItem(hook) {
    const item = document.createElement("li");
    const parts = [hook.url];
    parts.push(hook.enabled ? "enabled" : `disabled${hook.disabled_reason ? `: ${hook.disabled_reason}` : ""}`);
    try {
      const log = await api("GET", `/api/webhooks/${encodeURIComponent(hook.id)}/deliveries/?limit=1`);
      const last = log && Array.isArray(log.deliveries) ? log.deliveries[0] : null;
      if (last) {
        const when = timeOf(last.delivered_at || last.created_at);
        parts.push(`last delivery ${last.status}${when ? ` at ${when}` : ""} after ${last.attempts} attempt${last.attempts === 1 ? "" : "s"}`);
      } else {
        parts.push("nothing delivered yet");
      }
    } catch (_) {
      parts.push("delivery log unavailable");
    }
    item.textContent = parts.join(" · ");
    return item;
  }

  // Both panels are snapshots of slower-moving things: refreshed every half minute.
  setInterval(() => {
    if (hubLive()) loadOptionalPanels();
  }, 30000);

  // ---------------------------------------------------------------- start
  setInterval(() => {
    renderLostBanner();
    const status = selectedStatus();
    if (status) {
      renderOutputs(status); // the timecodes run between polls
      if (status.connection.state !== "connected") renderConnection(status); // retry countdown
      renderCharts(); // the time axis moves
    }
  }, 1000);

  window.addEventListener("DOMContentLoaded", () => {
    rebuildCharts();
    connect();
    loadOptionalPanels();
    loadPermissions();
  });
})();
