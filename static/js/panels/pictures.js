// Program and preview pictures. The page subscribes to the hub's "picture updated" notices
// (`picture:program`, `picture:preview`) only while it is visible, and loads each new picture
// from the signed URL the notice carries: no token in an <img> URL, and the hub captures only
// while someone watches (README, "Pictures").

const WIDTH = 480;
const TOPICS = { program: `picture:program?width=${WIDTH}`, preview: `picture:preview?width=${WIDTH}` };

const watching = { instance: null, program: null, preview: null };
const shown = { program: null, preview: null }; // etag on screen

export function init(ctx) {
  document.addEventListener("visibilitychange", () => update(ctx));
}

function stop(which) {
  if (watching[which]) watching[which]();
  watching[which] = null;
}

// Subscribes to what should be watched now, and only that.
function update(ctx) {
  const status = ctx.status();
  const visible = document.visibilityState === "visible";
  const name = status && ctx.connected(status) ? status.name : null;
  const want = {
    program: visible && name !== null,
    preview: visible && name !== null && Boolean(status.studio && status.studio.studio_mode),
  };
  if (watching.instance !== name) {
    stop("program");
    stop("preview");
    watching.instance = name;
  }
  for (const which of ["program", "preview"]) {
    if (want[which] && !watching[which]) watching[which] = ctx.socket.watch(name, TOPICS[which]);
    if (!want[which] && watching[which]) stop(which);
  }
}

export function retarget(ctx) {
  shown.program = null;
  shown.preview = null;
  for (const which of ["program", "preview"]) {
    const image = ctx.$(`${which}-picture`);
    image.removeAttribute("src");
    image.hidden = true;
  }
  update(ctx);
}

export function changed(ctx, change) {
  if (change.type === "studio_changed" || change.type === "connection_changed") update(ctx);
}

export function notice(ctx, message) {
  if (message.instance !== watching.instance) return;
  const which = message.topic === TOPICS.program ? "program" : message.topic === TOPICS.preview ? "preview" : null;
  if (!which || !watching[which]) return;
  const data = message.data || {};
  const image = ctx.$(`${which}-picture`);
  const note = ctx.$(`${which}-picture-note`);
  if (data.error) {
    note.textContent = data.message || data.error;
    return;
  }
  note.textContent = "";
  if (data.etag === shown[which] && image.getAttribute("src")) return; // a fresh URL, same picture
  shown[which] = data.etag;
  image.src = data.url;
  image.dataset.etag = data.etag;
  image.hidden = false;
}

export function render(ctx, status) {
  update(ctx);
  const studioMode = Boolean(status.studio && status.studio.studio_mode);
  ctx.$("preview-figure").hidden = !studioMode;
  ctx.$("program-caption").textContent = `Program: ${status.current_scene || "–"}`;
  ctx.$("preview-caption").textContent = `Preview: ${(status.studio && status.studio.preview_scene) || "–"}`;
  if (!ctx.connected(status)) ctx.$("program-picture-note").textContent = "No picture while OBS is not connected.";
}
