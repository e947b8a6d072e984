// The fleet view: every instance as a compact tile (state, program scene, live and recording
// badges, bitrate, dropped frames, a small thumbnail at a low rate), problems first, sortable;
// a click opens the instance in the console below. Each tile names the instance groups it is
// in (GET /api/instance-groups/, read again every minute: groups change rarely) and, on a node of
// a cluster of hubs, the node that owns it (GET /api/cluster/, read every few seconds: owners
// move when a node dies or joins; asked only when the instances carry `instance_seq`, as a
// cluster node's do). Tiles are kept and only their changed text is rewritten, so a hundred
// instances updating every second cost little.

import { fmt } from "../format.js";
import { clusterOwners, fleetOrder, problems } from "../state.js";

const THUMB_WIDTH = 160;
const THUMB_EVERY_MS = 15000; // a thumbnail per tile this often, only while it is on screen
const GROUPS_EVERY_MS = 60000;
const OWNERS_EVERY_MS = 5000;

const tiles = new Map(); // name -> {element, parts, shown, thumbAt, visible}
let order = "";
let observer = null;
let groupsOf = new Map(); // instance -> [group names]
let ownerOf = new Map(); // instance -> "on n2" (a cluster node only)
let alone = false; // GET /api/cluster/ said 404: not a cluster, never asked again

// Which groups each instance is in. A token that may not read them, or a hub without a
// database (503), leaves the tiles without groups rather than failing the view.
async function loadGroups(ctx) {
  if (ctx.$("fleet-card").hidden) return;
  try {
    const groups = await ctx.api("GET", "/api/instance-groups/");
    const next = new Map();
    for (const group of groups) {
      for (const instance of group.instances) {
        next.set(instance, [...(next.get(instance) || []), group.name]);
      }
    }
    groupsOf = next;
  } catch (_) {
    groupsOf = new Map();
  }
  ctx.schedule();
}

// Whether the hub is a node of a cluster: only then do its instances carry `instance_seq`
// (README, "Live updates"). A hub alone is not asked (its 404 would be a console error).
function clustered(hub) {
  return Object.values(hub.instances || {}).some((status) => status && status.instance_seq != null);
}

// Each instance's owner, on a node of a cluster. A hub alone (404 not_a_cluster) is asked once;
// another failure (a token without read scope, a moment's error) leaves the tiles without owners.
async function loadOwners(ctx) {
  if (alone || ctx.$("fleet-card").hidden || !clustered(ctx.page.hub)) return;
  try {
    ownerOf = clusterOwners(await ctx.api("GET", "/api/cluster/"));
  } catch (error) {
    if (error.status === 404) alone = true;
    ownerOf = new Map();
  }
  ctx.schedule();
}

export function init(ctx) {
  ctx.$("fleet-sort").addEventListener("change", () => {
    order = "";
    ctx.schedule();
  });
  observer = new IntersectionObserver((entries) => {
    for (const seen of entries) {
      const tile = tiles.get(seen.target.dataset.instance);
      if (tile) tile.visible = seen.isIntersecting;
    }
    refreshThumbnails(ctx);
  });
  setInterval(() => refreshThumbnails(ctx), 1000);
  setInterval(() => loadGroups(ctx), GROUPS_EVERY_MS);
  setInterval(() => loadOwners(ctx), OWNERS_EVERY_MS);
}

function build(ctx, name) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "tile";
  element.dataset.instance = name;
  const head = document.createElement("span");
  head.className = "tile-head";
  const title = document.createElement("span");
  title.className = "tile-name";
  title.textContent = name;
  const state = document.createElement("span");
  state.className = "badge";
  head.append(title, state);
  const thumb = document.createElement("img");
  thumb.className = "thumb";
  thumb.alt = "";
  thumb.width = THUMB_WIDTH;
  thumb.height = 90;
  thumb.hidden = true;
  const scene = document.createElement("span");
  scene.className = "tile-scene";
  const badges = document.createElement("span");
  badges.className = "tile-badges";
  const figures = document.createElement("span");
  figures.className = "tile-figures";
  const groups = document.createElement("span");
  groups.className = "tile-groups";
  const owner = document.createElement("span");
  owner.className = "tile-owner";
  const problem = document.createElement("span");
  problem.className = "tile-problem";
  element.append(head, thumb, scene, badges, figures, groups, owner, problem);
  element.addEventListener("click", () => {
    ctx.select(name);
    ctx.$("console").scrollIntoView({ block: "start" });
  });
  observer.observe(element);
  return { element, parts: { state, thumb, scene, badges, figures, groups, owner, problem }, shown: "", thumbAt: 0, visible: false };
}

export function render(ctx) {
  const instances = ctx.page.hub.instances;
  const names = Object.keys(instances);
  const card = ctx.$("fleet-card");
  card.hidden = names.length < 2;
  if (card.hidden) return;
  if (!loadGroups.started) {
    loadGroups.started = true;
    loadGroups(ctx);
    loadOwners(ctx);
  }
  const sorted = fleetOrder(instances, ctx.$("fleet-sort").value);
  const live = ctx.live();
  for (const status of sorted) {
    let tile = tiles.get(status.name);
    if (!tile) {
      tile = build(ctx, status.name);
      tiles.set(status.name, tile);
    }
    const found = problems(status);
    const stream = status.stream;
    const connection = live ? status.connection.state : "unknown";
    const words = {
      state: connection,
      scene: status.current_scene || "–",
      badges: [stream.active ? "LIVE" : "", status.record.active ? (status.record.paused ? "REC paused" : "REC") : ""].filter(Boolean).join(" "),
      figures: stream.active ? `${fmt(stream.kbits_per_sec, 0)} kbit/s · dropped ${stream.skipped_frames}` : "",
      groups: [...(groupsOf.get(status.name) || [])].sort().join(", "),
      owner: ownerOf.get(status.name) || "",
      problem: found.length ? found.map((p) => p.text).join(", ") : "",
      level: found.length ? found[0].level : 0,
      selected: status.name === ctx.page.selected,
    };
    const shown = JSON.stringify(words);
    if (tile.shown === shown) continue;
    tile.shown = shown;
    const { parts, element } = tile;
    parts.state.textContent = words.state;
    parts.state.className = `badge ${connection === "connected" ? "ok" : connection === "unknown" ? "unknown" : "bad"}`;
    parts.scene.textContent = words.scene;
    parts.badges.textContent = words.badges;
    parts.badges.classList.toggle("live", stream.active);
    parts.figures.textContent = words.figures;
    parts.groups.textContent = words.groups;
    parts.owner.textContent = words.owner;
    parts.problem.textContent = words.problem;
    element.dataset.level = String(words.level);
    element.setAttribute("aria-current", String(words.selected));
    element.setAttribute("aria-label", `${status.name}: ${words.state}, ${words.scene}${words.badges ? `, ${words.badges}` : ""}${words.problem ? `, ${words.problem}` : ""}`);
  }
  for (const name of [...tiles.keys()]) {
    if (!instances[name]) {
      observer.unobserve(tiles.get(name).element);
      tiles.delete(name);
    }
  }
  const key = sorted.map((status) => status.name).join("\n");
  if (key !== order) {
    order = key;
    ctx.$("fleet").replaceChildren(...sorted.map((status) => tiles.get(status.name).element));
  }
  const down = sorted.filter((status) => status.connection.state !== "connected").length;
  ctx.$("fleet-summary").textContent = `${names.length} instances${down ? `, ${down} not connected` : ", all connected"}`;
}

// Small program thumbnails through signed URLs (POST .../pictures/urls): the token stays out of
// the <img> URL. Only tiles on screen, only while the page is visible, one request at a time.
let fetching = false;
async function refreshThumbnails(ctx) {
  if (fetching || document.visibilityState !== "visible" || ctx.$("fleet-card").hidden) return;
  const instances = ctx.page.hub.instances;
  if (!instances) return;
  const now = Date.now();
  const due = [...tiles.entries()].find(
    ([name, tile]) => tile.visible && now - tile.thumbAt >= THUMB_EVERY_MS && instances[name] && instances[name].connection.state === "connected",
  );
  if (!due) return;
  const [name, tile] = due;
  tile.thumbAt = now;
  fetching = true;
  try {
    const answer = await ctx.api("POST", ctx.instancePath(name, "pictures/urls"), { picture: "program", width: THUMB_WIDTH });
    tile.parts.thumb.src = answer.url;
    tile.parts.thumb.hidden = false;
  } catch (_) {
    tile.parts.thumb.hidden = true; // the tile says what is wrong with the instance
  } finally {
    fetching = false;
  }
  if (!fetching) refreshThumbnails(ctx);
}
