// Scenes, studio mode and the take: the grid puts a scene on preview in studio mode and on
// program otherwise; the Transition button takes the preview with the chosen transition and
// duration. Program and preview are marked on the grid (PGM / PVW).

let transitions = { instance: null, list: [] };

export function init(ctx) {
  const { $ } = ctx;
  $("studio-toggle").addEventListener("click", async () => {
    const status = ctx.status();
    if (!status) return;
    const enabled = !(status.studio && status.studio.studio_mode);
    try {
      await ctx.api("PUT", ctx.instancePath(status.name, "studio-mode"), { enabled });
    } catch (error) {
      ctx.notify(`Could not turn studio mode ${enabled ? "on" : "off"}: ${error.message}`);
    }
  });
  $("transition-button").addEventListener("click", take);
  $("transition-form").addEventListener("submit", (event) => {
    event.preventDefault();
    take();
  });

  async function take() {
    const status = ctx.status();
    if (!status) return;
    const body = {};
    const name = $("transition-select").value;
    if (name) body.transition = name;
    const chosen = transitions.list.find((t) => t.name === name);
    const duration = Number($("transition-duration").value);
    if (!(chosen && chosen.fixed) && Number.isFinite(duration) && duration >= 50) body.duration_ms = Math.min(20000, Math.round(duration));
    ctx.pendingFor(status.name).take = true;
    ctx.schedule();
    try {
      await ctx.api("POST", ctx.instancePath(status.name, "transition"), body);
    } catch (error) {
      ctx.notify(`Could not take ${status.studio.preview_scene || "the preview"} to program: ${error.message}`);
    } finally {
      ctx.pendingFor(status.name).take = false;
      ctx.schedule();
    }
  }
}

async function loadTransitions(ctx, name) {
  transitions = { instance: name, list: [] };
  try {
    const answer = await ctx.api("GET", ctx.instancePath(name, "transitions"));
    if (transitions.instance !== name) return;
    transitions.list = answer.transitions || [];
    ctx.schedule();
  } catch (_) {
    // not connected yet, or an older hub: the picker shows the current transition only
  }
}

export function render(ctx, status) {
  const { $ } = ctx;
  const studio = status.studio || {};
  const studioMode = Boolean(studio.studio_mode);
  const connected = ctx.connected(status);
  const pending = ctx.pendingFor(status.name);
  $("current-scene").textContent = status.current_scene || "–";
  $("preview-line").hidden = !studioMode;
  $("preview-scene-name").textContent = studio.preview_scene || "–";

  // Program and preview are the scenes capability's; studio mode and the take the studio one's.
  const sceneRefusal = ctx.refusal("control", "scenes", status.name);
  const studioRefusal = ctx.refusal("control", "studio", status.name);

  const toggle = $("studio-toggle");
  toggle.setAttribute("aria-pressed", String(studioMode));
  toggle.textContent = studioMode ? "Studio mode on" : "Studio mode off";
  toggle.disabled = !connected || studio.studio_mode === null || studio.studio_mode === undefined;
  ctx.guard(toggle, studioRefusal);

  const grid = $("scene-grid");
  const names = status.scenes.map((scene) => scene.name);
  // Rebuilt only when the list changes, so keyboard focus stays on the button it was on.
  if (grid.dataset.names !== JSON.stringify(names)) {
    grid.dataset.names = JSON.stringify(names);
    grid.replaceChildren(
      ...names.map((name) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "scene";
        button.dataset.scene = name;
        const label = document.createElement("span");
        label.className = "scene-name";
        label.textContent = name;
        const marker = document.createElement("span");
        marker.className = "marker";
        button.append(label, marker);
        button.addEventListener("click", () => pick(ctx, name));
        return button;
      }),
    );
  }
  for (const button of grid.children) {
    const name = button.dataset.scene;
    const program = name === status.current_scene;
    const preview = studioMode && name === studio.preview_scene;
    button.setAttribute("aria-pressed", String(program));
    button.classList.toggle("on-preview", preview);
    button.classList.toggle("pending", pending.scene === name);
    button.querySelector(".marker").textContent = program && preview ? "PGM · PVW" : program ? "PGM" : preview ? "PVW" : "";
    button.disabled = !connected;
  }
  ctx.guard([...grid.children], sceneRefusal, $("scenes-refusal"));
  $("scenes-hint").textContent = !ctx.live()
    ? "Scenes can be switched once the hub is back."
    : !connected
      ? "Scenes can be switched once OBS is connected."
      : !names.length
        ? "OBS reports no scenes."
        : studioMode
          ? "Click a scene to put it on preview, then Transition to take it to program."
          : "Click a scene to put it on program.";

  // The take: studio mode only.
  if (connected && transitions.instance !== status.name) loadTransitions(ctx, status.name);
  $("transition-form").hidden = !studioMode || ctx.guard($("transition-form"), studioRefusal);
  const select = $("transition-select");
  const offered = transitions.list.length ? transitions.list.map((t) => t.name) : [studio.current_transition].filter(Boolean);
  if (select.dataset.names !== JSON.stringify(offered)) {
    select.dataset.names = JSON.stringify(offered);
    select.replaceChildren(
      ...offered.map((name) => {
        const option = document.createElement("option");
        option.value = name;
        option.textContent = name;
        return option;
      }),
    );
  }
  if (document.activeElement !== select && studio.current_transition) select.value = studio.current_transition;
  const duration = $("transition-duration");
  if (document.activeElement !== duration && studio.transition_duration_ms) duration.value = String(studio.transition_duration_ms);
  const chosen = transitions.list.find((t) => t.name === select.value);
  duration.disabled = Boolean(chosen && chosen.fixed);
  const button = $("transition-button");
  // Not held while OBS reports a transition running: a missed "transition ended" must never
  // leave the operator without a take. The label says it instead.
  button.disabled = !connected || !studio.preview_scene || Boolean(pending.take);
  button.textContent = studio.transition_running ? "Transition (one is running)" : "Transition";
}

async function pick(ctx, name) {
  const status = ctx.status();
  if (!status) return;
  const studioMode = Boolean(status.studio && status.studio.studio_mode);
  if (studioMode) {
    if (status.studio.preview_scene === name) return;
    try {
      await ctx.api("PUT", ctx.instancePath(status.name, "preview-scene"), { scene_name: name });
    } catch (error) {
      ctx.notify(`Could not put “${name}” on preview: ${error.message}`);
    }
    return;
  }
  if (status.current_scene === name) return;
  const pending = ctx.pendingFor(status.name);
  pending.scene = name;
  ctx.schedule();
  try {
    await ctx.api("POST", ctx.instancePath(status.name, "switch-scene"), { scene_name: name });
  } catch (error) {
    pending.scene = null;
    ctx.notify(`Could not switch to “${name}”: ${error.message}`);
    ctx.schedule();
  }
}
