// The audio mixer: one strip per input with audio, the inputs heard in program or preview
// first. Mute is a big button that turns red when muted; the fader is in dB with its value shown
// and works from the keyboard (arrows, Page Up/Down, Home/End). Live meters (peak and magnitude
// per channel) come from the hub's `meters` notices, subscribed only while the page is visible,
// and are drawn once per animation frame.

import { decibels } from "../format.js";
import { mixerOrder } from "../state.js";

const FADER_MIN_DB = -60;
const FADER_MAX_DB = 0;
const SEND_EVERY_MS = 100; // a dragged fader sends at most this often
const METER_FLOOR_DB = -60;

const strips = new Map(); // input name -> {element, parts}
let built = { instance: null, order: "" };
let meterWatch = { instance: null, stop: null };
const levels = new Map(); // input name -> [{peak, magnitude}] in dB, latest from the hub
const drawn = new Map(); // input name -> [{peak, magnitude}] on screen (smoothed)
let frameQueued = false;
const meterTopic = "meters";

export function init(ctx) {
  document.addEventListener("visibilitychange", () => watchMeters(ctx));
}

export function invalidate() {
  built = { instance: null, order: "" };
}

// `audio_changed` "read": the list changed in OBS; read it again (the change carries none).
export async function reread(ctx, instance) {
  try {
    const answer = await ctx.api("GET", ctx.instancePath(instance, "audio/inputs"));
    const status = ctx.page.hub.instances[instance];
    if (status) status.audio = { read: answer.read, inputs: answer.inputs };
    ctx.schedule();
  } catch (_) {
    // the next snapshot carries them
  }
}

function watchMeters(ctx) {
  const status = ctx.status();
  const visible = document.visibilityState === "visible";
  const want = visible && status && ctx.connected(status) && status.audio.inputs.length > 0 ? status.name : null;
  if (meterWatch.instance === want) return;
  if (meterWatch.stop) meterWatch.stop();
  levels.clear();
  meterWatch = { instance: want, stop: want ? ctx.socket.watch(want, meterTopic) : null };
}

// A `meters` notice (about 20 a second): every input's level per channel, in dB (-100 is
// silence, and a muted input reads it).
export function notice(ctx, message) {
  if (message.topic !== meterTopic || message.instance !== meterWatch.instance) return;
  const inputs = (message.data && message.data.inputs) || [];
  for (const input of inputs) {
    const channels = (input.channels || []).map((channel) => ({ peak: floored(channel.peak_db), magnitude: floored(channel.magnitude_db) }));
    levels.set(input.name, channels);
  }
  if (!frameQueued) {
    frameQueued = true;
    requestAnimationFrame(() => drawMeters(ctx));
  }
}

function floored(db) {
  return typeof db === "number" && Number.isFinite(db) ? Math.max(METER_FLOOR_DB, Math.min(0, db)) : METER_FLOOR_DB;
}

// Eases the bars toward the latest levels: rising at once, falling smoothly (as OBS's meters do),
// so about 20 updates a second look continuous at the screen's frame rate.
function drawMeters(ctx) {
  frameQueued = false;
  let moving = false;
  for (const [name, channels] of levels) {
    const strip = strips.get(name);
    if (!strip) continue;
    const before = drawn.get(name) || [];
    const now = channels.map((target, index) => {
      const was = before[index] || { peak: METER_FLOOR_DB, magnitude: METER_FLOOR_DB };
      const ease = (from, to) => (to >= from ? to : from + (to - from) * 0.25);
      const next = { peak: ease(was.peak, target.peak), magnitude: ease(was.magnitude, target.magnitude) };
      if (Math.abs(next.peak - target.peak) > 0.2 || Math.abs(next.magnitude - target.magnitude) > 0.2) moving = true;
      return next;
    });
    drawn.set(name, now);
    paint(strip, now);
  }
  if (moving && !frameQueued) {
    frameQueued = true;
    requestAnimationFrame(() => drawMeters(ctx));
  }
}

function paint(strip, channels) {
  const canvas = strip.parts.meter;
  const width = canvas.clientWidth || 200;
  const height = canvas.clientHeight || 24;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  const rows = Math.max(1, channels.length);
  const row = height / rows;
  const x = (db) => ((db - METER_FLOOR_DB) / -METER_FLOOR_DB) * width;
  channels.forEach((channel, index) => {
    const y = index * row;
    const magnitude = x(channel.magnitude);
    g.fillStyle = channel.magnitude > -9 ? "#e5484d" : channel.magnitude > -20 ? "#f5a524" : "#30a46c";
    g.fillRect(0, y + 1, magnitude, row - 2);
    g.fillStyle = "#e6e9ee";
    g.fillRect(Math.max(0, x(channel.peak) - 2), y + 1, 2, row - 2);
  });
  strip.element.dataset.level = channels.length ? channels[0].magnitude.toFixed(1) : "";
}

function buildStrip(ctx, name) {
  const element = document.createElement("div");
  element.className = "strip";
  element.dataset.input = name;
  const head = document.createElement("div");
  head.className = "strip-head";
  const title = document.createElement("span");
  title.className = "strip-name";
  title.textContent = name;
  const onAir = document.createElement("span");
  onAir.className = "strip-on-air";
  head.append(title, onAir);
  const meter = document.createElement("canvas");
  meter.className = "meter";
  meter.setAttribute("aria-hidden", "true");
  const controls = document.createElement("div");
  controls.className = "strip-controls";
  const mute = document.createElement("button");
  mute.type = "button";
  mute.className = "mute";
  mute.addEventListener("click", () => toggleMute(ctx, element.dataset.input, mute));
  const faderId = `fader-${Math.random().toString(36).slice(2)}`;
  const label = document.createElement("label");
  label.className = "sr";
  label.htmlFor = faderId;
  label.textContent = `Volume of ${name}`;
  const fader = document.createElement("input");
  fader.type = "range";
  fader.id = faderId;
  fader.className = "fader";
  fader.min = String(FADER_MIN_DB);
  fader.max = String(FADER_MAX_DB);
  fader.step = "0.5";
  const value = document.createElement("output");
  value.className = "fader-value";
  value.htmlFor = faderId;
  controls.append(mute, label, fader, value);
  element.append(head, meter, controls);
  const parts = { title, onAir, meter, mute, fader, value, label };
  const strip = { element, parts, sent: 0, timer: null, dragging: false };
  fader.addEventListener("pointerdown", () => (strip.dragging = true));
  fader.addEventListener("pointerup", () => (strip.dragging = false));
  fader.addEventListener("blur", () => (strip.dragging = false));
  fader.addEventListener("input", () => {
    value.textContent = decibels(Number(fader.value));
    sendVolume(ctx, strip, false);
  });
  fader.addEventListener("change", () => {
    strip.dragging = false;
    sendVolume(ctx, strip, true);
  });
  return strip;
}

// Sends the fader's value, at most every SEND_EVERY_MS while it moves, and always its last.
function sendVolume(ctx, strip, final) {
  clearTimeout(strip.timer);
  const wait = SEND_EVERY_MS - (Date.now() - strip.sent);
  if (!final && wait > 0) {
    strip.timer = setTimeout(() => sendVolume(ctx, strip, true), wait);
    return;
  }
  strip.sent = Date.now();
  const status = ctx.status();
  const name = strip.element.dataset.input;
  const db = Number(strip.parts.fader.value);
  // What the page shows comes from the hub's changes only: an answer applied here could land
  // after a newer change (a mute in OBS) and show the older state.
  ctx.api("PUT", ctx.instancePath(status.name, `audio/inputs/${encodeURIComponent(name)}/volume`), { db }).catch((error) =>
    ctx.notify(`Could not set the volume of ${name}: ${error.message}`),
  );
}

async function toggleMute(ctx, name, button) {
  const status = ctx.status();
  if (!status) return;
  const input = status.audio.inputs.find((i) => i.name === name);
  const action = input && input.muted ? "unmute" : "mute";
  button.disabled = true;
  try {
    // The new state comes as the hub's `audio_changed` (see sendVolume).
    await ctx.api("POST", ctx.instancePath(status.name, `audio/inputs/${encodeURIComponent(name)}/${action}`));
  } catch (error) {
    ctx.notify(`Could not ${action} ${name}: ${error.message}`);
  } finally {
    button.disabled = false;
    ctx.schedule();
  }
}

export function render(ctx, status) {
  const { $ } = ctx;
  watchMeters(ctx);
  const order = mixerOrder(status);
  const key = JSON.stringify(order.map((strip) => strip.input.name));
  const list = $("mixer");
  if (built.instance !== status.name || built.order !== key) {
    built = { instance: status.name, order: key };
    const keep = new Map();
    for (const { input } of order) keep.set(input.name, strips.get(input.name) || buildStrip(ctx, input.name));
    strips.clear();
    for (const [name, strip] of keep) strips.set(name, strip);
    list.replaceChildren(...[...keep.values()].map((strip) => strip.element));
  }
  const connected = ctx.connected(status);
  const refused = ctx.refusal("control", "audio", status.name);
  for (const { input, onAir } of order) {
    const { element, parts } = strips.get(input.name);
    const strip = strips.get(input.name);
    element.classList.toggle("muted", input.muted);
    element.classList.toggle("on-air", onAir);
    parts.onAir.textContent = onAir ? "on air" : "";
    parts.mute.textContent = input.muted ? "MUTED" : "Mute";
    parts.mute.setAttribute("aria-pressed", String(input.muted));
    parts.mute.setAttribute("aria-label", input.muted ? `${input.name} is muted: unmute` : `Mute ${input.name}`);
    parts.mute.disabled = !connected;
    parts.fader.disabled = !connected;
    if (!strip.dragging && document.activeElement !== parts.fader) {
      parts.fader.value = String(Math.max(FADER_MIN_DB, Math.min(FADER_MAX_DB, input.volume_db)));
      parts.value.textContent = decibels(input.volume_db);
    }
    ctx.guard([parts.mute, parts.fader], refused);
  }
  const note = $("mixer-refusal");
  note.hidden = !refused;
  note.textContent = refused || "";
  $("mixer-hint").textContent = !order.length
    ? status.audio.read ? "OBS has no inputs with audio." : "Audio inputs are read once OBS is connected."
    : meterWatch.instance && levels.size === 0
      ? "Meters move while an input plays."
      : "";
}
