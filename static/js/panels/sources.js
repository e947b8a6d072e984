// The program scene's sources: every item with a visibility toggle, groups and nested scenes
// expandable, text sources editable, media sources with play/pause/restart/stop. The items are
// read once per scene (GET .../scenes/{scene}/items) and then kept by the live changes.

const TEXT_KINDS = /^text_/;
const MEDIA_KINDS = new Set(["ffmpeg_source", "vlc_source"]);

let tree = { instance: null, scene: null, items: null, loading: false };
let open = new Set(); // expanded containers, kept across re-renders
let editing = null; // the input whose text is being edited

export function invalidate() {
  tree = { instance: null, scene: null, items: null, loading: false };
}

export function changed(ctx, change) {
  if (change.type === "scene_changed" || change.type === "scene_list_changed") return; // render() sees the scene
  if (change.type === "source_changed" && change.what === "scene_collection" && !change.changing) invalidate();
  if (change.type === "source_changed" && change.what === "scene_item" && tree.items) {
    const item = find(tree.items, tree.scene, change.scene, change.item_id);
    if (item) {
      item.enabled = change.enabled;
      item.locked = change.locked;
    } else {
      invalidate(); // an item this page never read: read the scene again
    }
  }
}

// The item `id` of `container` in the tree (the scene itself, or a group or nested scene).
function find(items, scene, container, id) {
  for (const item of items) {
    if (container === scene && item.id === id) return item;
    const inside = find(item.children || [], item.source_name, container, id);
    if (inside) return inside;
  }
  return null;
}

async function load(ctx, status) {
  const scene = status.current_scene;
  tree = { instance: status.name, scene, items: null, loading: true };
  try {
    const answer = await ctx.api("GET", ctx.instancePath(status.name, `scenes/${encodeURIComponent(scene)}/items`));
    if (tree.instance !== status.name || tree.scene !== scene) return;
    tree.items = answer.items || [];
    // The mixer puts the inputs of program first: it reads the same items from the status.
    const known = ctx.page.hub.instances[status.name];
    if (known) learn(known.sources.scene_items, scene, tree.items);
    for (const name of mediaNames(tree.items)) readMedia(ctx, status.name, name);
  } catch (error) {
    tree.error = error.message;
  } finally {
    tree.loading = false;
    ctx.schedule();
  }
}

function learn(sceneItems, container, items) {
  sceneItems[container] = items.map(({ children, ...item }) => item);
  for (const item of items) if (item.children && item.children.length) learn(sceneItems, item.source_name, item.children);
}

function mediaNames(items, found = new Set()) {
  for (const item of items) {
    if (MEDIA_KINDS.has(item.kind)) found.add(item.source_name);
    mediaNames(item.children || [], found);
  }
  return found;
}

async function readMedia(ctx, instance, name) {
  try {
    const answer = await ctx.api("GET", ctx.instancePath(instance, `inputs/${encodeURIComponent(name)}/media`));
    const status = ctx.page.hub.instances[instance];
    if (status) status.sources.media[name] = { state: answer.state, cursor_ms: answer.cursor_ms, duration_ms: answer.duration_ms };
    ctx.schedule();
  } catch (_) {
    // the state shows once OBS reports it
  }
}

export function render(ctx, status) {
  const { $ } = ctx;
  if (!ctx.connected(status)) {
    $("sources-hint").textContent = "Sources show once OBS is connected.";
    return;
  }
  if (!status.current_scene) return;
  if ((tree.instance !== status.name || tree.scene !== status.current_scene) && !tree.loading) load(ctx, status);
  $("sources-scene").textContent = status.current_scene;
  if (!tree.items) {
    $("sources-hint").textContent = tree.error ? `Could not read the items: ${tree.error}` : "Reading the items…";
    return;
  }
  $("sources-hint").textContent = tree.items.length ? "" : "This scene has no sources.";
  const may = {
    items: !ctx.refusal("control", "items", status.name),
    text: !ctx.refusal("control", "text", status.name),
    media: !ctx.refusal("control", "media", status.name),
  };
  const note = $("sources-refusal");
  const refused = ctx.refusal("control", "items", status.name);
  note.hidden = !refused;
  note.textContent = refused || "";
  const key = JSON.stringify([tree.items, status.sources.media, may, [...open], editing]);
  const list = $("sources");
  if (list.dataset.key === key) return; // nothing moved: keep focus
  // A text being typed is not thrown away by another item's change; it is redrawn once saved.
  if (editing && list.contains(document.activeElement)) return;
  list.dataset.key = key;
  list.replaceChildren(...rows(ctx, status, tree.items, tree.scene, may));
}

// Items top first, as OBS lists them.
function rows(ctx, status, items, container, may) {
  return [...items].sort((a, b) => b.index - a.index).map((item) => row(ctx, status, item, container, may));
}

function row(ctx, status, item, container, may) {
  const li = document.createElement("li");
  li.className = `source${item.enabled ? "" : " hidden-item"}`;
  li.dataset.source = item.source_name;
  li.dataset.itemId = String(item.id);
  const line = document.createElement("div");
  line.className = "source-line";
  const eye = document.createElement("button");
  eye.type = "button";
  eye.className = "visibility";
  eye.setAttribute("aria-pressed", String(item.enabled));
  eye.setAttribute("aria-label", `${item.enabled ? "Hide" : "Show"} ${item.source_name}`);
  eye.textContent = item.enabled ? "Shown" : "Hidden";
  eye.hidden = !may.items;
  eye.addEventListener("click", () => setVisible(ctx, status.name, container, item, !item.enabled));
  const name = document.createElement("span");
  name.className = "source-name";
  name.textContent = item.source_name;
  const kind = document.createElement("span");
  kind.className = "source-kind";
  kind.textContent = item.locked ? `${item.kind} · locked` : item.kind;
  line.append(eye, name, kind);
  li.append(line);

  if (TEXT_KINDS.test(item.kind) && may.text) li.append(textEditor(ctx, status.name, item.source_name));
  if (MEDIA_KINDS.has(item.kind)) li.append(mediaControls(ctx, status, item.source_name, may.media));
  if (item.kind === "group" || item.kind === "scene") {
    const details = document.createElement("details");
    details.open = open.has(item.source_name);
    details.addEventListener("toggle", () => {
      if (details.open) open.add(item.source_name);
      else open.delete(item.source_name);
    });
    const summary = document.createElement("summary");
    summary.textContent = `${item.kind === "group" ? "Group" : "Scene"}: ${(item.children || []).length} items`;
    const inner = document.createElement("ul");
    inner.className = "sources";
    inner.append(...rows(ctx, status, item.children || [], item.source_name, may));
    details.append(summary, inner);
    li.append(details);
  }
  return li;
}

async function setVisible(ctx, instance, container, item, enabled) {
  try {
    await ctx.api("POST", ctx.instancePath(instance, `scenes/${encodeURIComponent(container)}/items/${item.id}/${enabled ? "show" : "hide"}`));
  } catch (error) {
    ctx.notify(`Could not ${enabled ? "show" : "hide"} ${item.source_name}: ${error.message}`);
  }
}

function textEditor(ctx, instance, input) {
  const wrap = document.createElement("div");
  wrap.className = "text-edit";
  if (editing !== input) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "edit-text";
    button.textContent = "Edit text";
    button.addEventListener("click", () => {
      editing = input;
      ctx.schedule();
    });
    wrap.append(button);
    return wrap;
  }
  const form = document.createElement("form");
  form.className = "row";
  const id = `text-${input.replace(/\W/g, "-")}`;
  const label = document.createElement("label");
  label.className = "sr";
  label.htmlFor = id;
  label.textContent = `Text of ${input}`;
  const field = document.createElement("input");
  field.id = id;
  field.className = "text-value";
  field.placeholder = "Reading…";
  ctx.api("GET", ctx.instancePath(instance, `inputs/${encodeURIComponent(input)}/settings`)).then(
    (answer) => {
      if (!field.value) field.value = (answer.settings && answer.settings.text) || "";
      field.placeholder = "";
    },
    () => (field.placeholder = ""),
  );
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  cancel.addEventListener("click", () => {
    editing = null;
    ctx.schedule();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await ctx.api("PUT", ctx.instancePath(instance, `inputs/${encodeURIComponent(input)}/text`), { text: field.value });
      editing = null;
      ctx.schedule();
    } catch (error) {
      ctx.notify(`Could not change the text of ${input}: ${error.message}`);
    }
  });
  form.append(label, field, save, cancel);
  wrap.append(form);
  queueMicrotask(() => field.focus());
  return wrap;
}

function mediaControls(ctx, status, input, allowed) {
  const wrap = document.createElement("div");
  wrap.className = "media";
  const playback = status.sources.media[input];
  const state = document.createElement("span");
  state.className = "media-state";
  state.textContent = playback ? playback.state : "–";
  wrap.append(state);
  if (!allowed) return wrap;
  for (const [action, label] of [["play", "Play"], ["pause", "Pause"], ["restart", "Restart"], ["stop", "Stop"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.media = action;
    button.textContent = label;
    button.addEventListener("click", async () => {
      try {
        await ctx.api("POST", ctx.instancePath(status.name, `inputs/${encodeURIComponent(input)}/media/${action}`));
      } catch (error) {
        ctx.notify(`Could not ${action} ${input}: ${error.message}`);
      }
    });
    wrap.append(button);
  }
  return wrap;
}
