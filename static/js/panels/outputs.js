// Outputs: stream, recording (pause/resume, split, chapter), replay buffer (Save, the last
// saved file) and virtual camera. A stop that viewers or the file would notice asks first.
// Disk space, congestion and dropped frames are warned about before they become a problem.

import { bytes, clock, fmt } from "../format.js";
import { problems } from "../state.js";

const ROUTE = { stream: "stream", record: "record", replay: "replay-buffer", vcam: "virtual-cam" };
const NOUN = { stream: "streaming", record: "recording", replay: "replay buffer", vcam: "virtual camera" };
const ASK = {
  stream: { title: "Stop the live stream?", text: (name) => `Viewers of ${name} will see the stream end.`, yes: "Stop the stream", no: "Keep streaming" },
  record: { title: "Stop the recording?", text: (name) => `The recording of ${name} ends and its file is closed.`, yes: "Stop recording", no: "Keep recording" },
  replay: { title: "Stop the replay buffer?", text: (name) => `What the replay buffer of ${name} holds is lost unless saved first.`, yes: "Stop the buffer", no: "Keep it running" },
  vcam: { title: "Stop the virtual camera?", text: (name) => `Programs using the virtual camera of ${name} lose its picture.`, yes: "Stop the camera", no: "Keep it on" },
};

export function init(ctx) {
  const { $ } = ctx;
  for (const kind of Object.keys(ROUTE)) $(`${kind}-button`).addEventListener("click", () => startOrStop(ctx, kind));
  $("record-pause").addEventListener("click", () => {
    const status = ctx.status();
    if (status) command(ctx, "record", status.record.paused ? "resume" : "pause");
  });
  $("record-split").addEventListener("click", () => command(ctx, "record", "split"));
  $("chapter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("chapter-name").value.trim();
    command(ctx, "record", "chapter", name ? { name } : undefined).then((ok) => {
      if (ok) $("chapter-name").value = "";
    });
  });
  $("replay-save").addEventListener("click", () => command(ctx, "replay", "save"));
}

// Where an output is, as this page shows it: a command on its way wins until OBS confirms.
function outputState(pending, figures) {
  return pending || figures.state || (figures.active ? "started" : "stopped");
}

async function startOrStop(ctx, kind) {
  const status = ctx.status();
  if (!status) return;
  const button = ctx.$(`${kind}-button`);
  const running = button.dataset.running === "true";
  if (running) {
    const ask = ASK[kind];
    const go = await ctx.confirm({ title: ask.title, text: ask.text(status.name), yes: ask.yes, no: ask.no });
    if (!go) return;
  }
  const pending = ctx.pendingFor(status.name);
  pending[kind] = running ? "stopping" : "starting";
  ctx.schedule();
  const ok = await command(ctx, kind, running ? "stop" : "start");
  if (!ok || kind === "replay" || kind === "vcam") pending[kind] = null;
  ctx.schedule();
}

// One output command; answers whether the hub took it.
async function command(ctx, kind, action, body) {
  const status = ctx.status();
  if (!status) return false;
  const instance = status.name;
  try {
    const answer = await ctx.api("POST", ctx.instancePath(instance, `outputs/${ROUTE[kind]}/${action}`), body);
    // The saved file is shown from the hub's output_changed (the one source of what is shown).
    if (answer && answer.output_path && kind === "record") {
      ctx.logEntry({ at: new Date().toISOString(), instance, text: `Recording saved: ${answer.output_path}`, tag: "api" });
    }
    return true;
  } catch (error) {
    ctx.notify(`Could not ${action} the ${NOUN[kind]}: ${error.message}`);
    return false;
  }
}

function setBadge(badge, outputState, reconnecting, activeWord) {
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

function setButton(button, outputState, connected, noun) {
  const busy = outputState === "starting" || outputState === "stopping";
  const running = !busy && outputState !== "stopped" && outputState !== "";
  button.dataset.running = String(running);
  button.disabled = !connected || busy;
  // Classes toggled one by one: `refused` (the token may not use it) is not this function's.
  button.classList.add("action");
  button.classList.toggle("stop", running);
  button.classList.toggle("start", !running);
  button.textContent = busy ? (outputState === "starting" ? "Starting…" : "Stopping…") : `${running ? "Stop" : "Start"} ${noun}`;
}

export function render(ctx, status) {
  const { $ } = ctx;
  const pending = ctx.pendingFor(status.name);
  const connected = ctx.connected(status);
  const now = Date.now();
  // Clocks run on between polls, but not while the hub is lost: they would be guesses.
  const since = ctx.live() && !status.stale ? now - (ctx.page.received[status.name] || now) : 0;
  const refused = ctx.refusal("control", "outputs", status.name);
  ctx.guard(document.querySelectorAll("#outputs-card .output-control"), refused, $("outputs-refusal"));

  const stream = status.stream;
  const streamState = outputState(pending.stream, stream);
  setBadge($("stream-badge"), streamState, stream.reconnecting, "Live");
  $("stream-timecode").textContent = clock(stream.active ? stream.duration_ms + since : 0);
  const dropped = stream.total_frames ? (100 * stream.skipped_frames) / stream.total_frames : 0;
  $("stream-figures").textContent = stream.active
    ? `${fmt(stream.kbits_per_sec, 0)} kbit/s · dropped ${stream.skipped_frames} (${fmt(dropped, 1)} %) · congestion ${fmt(100 * (stream.congestion || 0), 0)} % · ${bytes(stream.bytes)}`
    : "";
  setButton($("stream-button"), streamState, connected, "streaming");

  const record = status.record;
  const recordState = outputState(pending.record, record);
  setBadge($("record-badge"), record.paused && record.active ? "paused" : recordState, false, "Recording");
  $("record-timecode").textContent = clock(record.active && !record.paused ? record.duration_ms + since : record.active ? record.duration_ms : 0);
  $("record-figures").textContent = record.active ? bytes(record.bytes) : record.output_path ? `Last recording: ${record.output_path}` : "";
  setButton($("record-button"), recordState, connected, "recording");
  const recording = record.active && recordState !== "starting" && recordState !== "stopping";
  $("record-more").hidden = !recording;
  $("record-pause").textContent = record.paused ? "Resume" : "Pause";
  $("record-pause").setAttribute("aria-pressed", String(Boolean(record.paused)));
  for (const id of ["record-pause", "record-split", "chapter-go"]) $(id).disabled = !connected;

  const outputs = status.outputs || {};
  side(ctx, "replay", outputs.replay_buffer || {}, pending, connected, "Replay buffer", "Active");
  const saved = outputs.replay_buffer && outputs.replay_buffer.last_saved_path;
  $("replay-saved").textContent = saved ? `Last saved: ${saved}` : "";
  $("replay-save").disabled = !connected || !(outputs.replay_buffer && outputs.replay_buffer.active);
  side(ctx, "vcam", outputs.virtual_cam || {}, pending, connected, "Virtual camera", "On");

  // Warnings before they become a problem.
  const warnings = problems(status).filter((problem) => problem.level < 3);
  const list = $("output-warnings");
  const text = JSON.stringify(warnings);
  if (list.dataset.shown !== text) {
    list.dataset.shown = text;
    list.replaceChildren(
      ...warnings.map((problem) => {
        const item = document.createElement("li");
        item.className = problem.level >= 2 ? "bad" : "warn";
        item.textContent = problem.text;
        return item;
      }),
    );
  }
  const stats = status.stats;
  $("disk-space").textContent = stats && stats.available_disk_space_mb ? `Disk space left: ${bytes(stats.available_disk_space_mb * 1024 * 1024)}` : "";
}

function side(ctx, kind, figures, pending, connected, noun, activeWord) {
  const { $ } = ctx;
  const available = figures.available !== false;
  const state = outputState(pending[kind], figures);
  $(`${kind}-output`).classList.toggle("unavailable", !available);
  $(`${kind}-button`).hidden = !available;
  $(`${kind}-unavailable`).hidden = available;
  setBadge($(`${kind}-badge`), available ? state : "", false, activeWord);
  if (!available) $(`${kind}-badge`).textContent = "Not available";
  setButton($(`${kind}-button`), state, connected, noun.toLowerCase());
  if (pending[kind] && figures.state === pending[kind].replace("ing", "ed")) pending[kind] = null;
}
