// Charts of the last 10 minutes (uPlot, vendored): bitrate, FPS, CPU and dropped frames. Full
// on load from the hub's stats history, then one point per stats update.

import { clockTime } from "../format.js";

const WINDOW_S = 600;
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
const KEYS = ["t", "kbps", "fps", "cpu", "droppedNetwork", "droppedRender"];
const charts = [];
const seriesByInstance = {};

function seriesFor(name) {
  if (!seriesByInstance[name]) {
    seriesByInstance[name] = { t: [], kbps: [], fps: [], cpu: [], droppedNetwork: [], droppedRender: [], last: null };
  }
  return seriesByInstance[name];
}

// Dropped frames are counters in OBS; the chart shows how many were dropped since the previous
// point, which is what tells that it is happening now. No previous point: 0, not OBS's lifetime
// counter. A counter that went back (OBS restarted): 0 as well.
const droppedSince = (now, before) => (before === undefined || before === null || now < before ? 0 : now - before);

export function init(ctx) {
  window.addEventListener("resize", () => {
    for (const { plot, element } of charts) plot.setSize({ width: chartWidth(element), height: 160 });
  });
  rebuild(ctx);
}

// One point per stats update.
export function sample(ctx, name, status, atMs) {
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
    for (const key of KEYS) series[key].shift();
  }
}

// A page that just opened shows the last 10 minutes at once: the hub keeps them in memory
// (GET .../stats/history). They go before the samples this page has received itself.
export async function loadHistory(ctx, name) {
  let history;
  try {
    history = await ctx.api("GET", ctx.instancePath(name, "stats/history"));
  } catch (_) {
    return; // an older hub: the charts fill as figures arrive
  }
  const series = seriesFor(name);
  const firstLive = series.t.length ? series.t[0] : Infinity;
  const earlier = { t: [], kbps: [], fps: [], cpu: [], droppedNetwork: [], droppedRender: [] };
  let last = null;
  for (const point of history.samples || []) {
    const t = Date.parse(point.at) / 1000;
    if (!(t < firstLive)) continue;
    earlier.t.push(t);
    earlier.kbps.push(point.stream_active ? point.stream_kbits_per_sec : null);
    earlier.fps.push(point.active_fps);
    earlier.cpu.push(point.cpu_usage);
    earlier.droppedNetwork.push(point.stream_active ? droppedSince(point.stream_skipped_frames, last && last.network) : null);
    earlier.droppedRender.push(droppedSince(point.render_skipped_frames, last && last.render));
    last = { network: point.stream_skipped_frames, render: point.render_skipped_frames };
  }
  for (const key of Object.keys(earlier)) series[key] = earlier[key].concat(series[key]);
  ctx.schedule();
}

function chartWidth(element) {
  return Math.max(200, Math.floor(element.getBoundingClientRect().width));
}

export function rebuild(ctx) {
  if (typeof window.uPlot === "undefined") {
    ctx.$("charts-hint").textContent = "Charts could not load (uPlot missing).";
    return;
  }
  for (const chart of charts.splice(0)) chart.plot.destroy();
  const light = window.matchMedia("(prefers-color-scheme: light)").matches;
  const axisColor = light ? "#56606b" : "#9aa6b4";
  const gridColor = light ? "#e3e7ec" : "#262d37";
  for (const spec of CHARTS) {
    const element = ctx.$(spec.id);
    element.replaceChildren();
    const axis = { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor } };
    const plot = new window.uPlot(
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
  render(ctx);
}

// Clock times without the date; seconds only when the charts span little time.
function timeLabels(plot, splits) {
  const withSeconds = plot.scales.x.max - plot.scales.x.min < 180;
  return splits.map((seconds) => {
    const time = clockTime(new Date(seconds * 1000));
    return withSeconds ? time : time.slice(0, 5);
  });
}

export function render(ctx) {
  const selected = ctx.page.selected;
  if (!charts.length || !selected) return;
  const series = seriesFor(selected);
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
  ctx.$("charts-hint").textContent = series.t.length
    ? `${series.t.length} samples; one per poll of OBS.`
    : "Figures arrive with every poll of OBS.";
}
